#!/usr/bin/python3
"""A fake Telegram Bot API server for parley's tests and benchmarks.

Standard library only, loopback only.  It serves the methods parleyd
uses (getMe, getWebhookInfo, deleteWebhook, setWebhook, getUpdates,
sendMessage) for one bot token, keeps a queue of updates to deliver, and
records every request it gets.  A test scripts it through control
endpoints on the same port:

  POST /control/updates   a JSON list of updates to queue; one without
                          update_id gets the next free id
  POST /control/faults    a JSON list of faults to inject, matched in order:
        {"method": "sendMessage" | "getUpdates" | ... | "*",
         "kind": "status" | "drop" | "garbage" | "big" | "hang" | "delay",
         "count": 1,               times it applies (default 1)
         "chat_id": -100,          only for requests to this chat
         "status": 429, "retry_after": 1, "description": "...",   (status)
         "bytes": 5000000,         (big: a valid JSON answer this long)
         "seconds": 0.5}           (delay, then the normal answer)
  GET  /control/log[?since=N]  the requests seen: method, path without the
                          token, params, monotonic time t, answer status,
                          fault applied
  GET  /control/state     webhook URL, queued updates, counts

The port (chosen by the OS) is written to --port-file once it listens.
--script FILE takes the same "updates" and "faults" lists at start.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import time
import urllib.parse

BOT_ID = 777
BOT_USERNAME = "parley_bot"
TEXT_UNITS_MAX = 4096
REQUEST_BODY_MAX = 16 << 20


def utf16_units(text):
    return len(text.encode("utf-16-le")) // 2


class Fake:
    def __init__(self, token):
        self.token = token
        self.updates = []               # queued, not yet confirmed
        self.next_update_id = 1
        self.faults = []
        self.log = []
        self.webhook_url = ""
        self.webhook_secret = None
        self.message_ids = 1000
        self.changed = asyncio.Condition()
        self.poll_generation = 0        # a new getUpdates ends the previous one

    # ---- scripting ----

    def add_updates(self, updates):
        for u in updates:
            u = dict(u)
            if "update_id" not in u:
                u["update_id"] = self.next_update_id
            self.next_update_id = max(self.next_update_id, u["update_id"] + 1)
            self.updates.append(u)

    def add_faults(self, faults):
        for f in faults:
            f = dict(f)
            f.setdefault("count", 1)
            f.setdefault("method", "*")
            self.faults.append(f)

    def take_fault(self, method, params):
        for f in self.faults:
            if f["count"] <= 0:
                continue
            if f["method"] not in ("*", method):
                continue
            if "chat_id" in f and str(params.get("chat_id")) != str(f["chat_id"]):
                continue
            f["count"] -= 1
            return f
        return None

    # ---- the Bot API ----

    @staticmethod
    def error(status, description, retry_after=None):
        body = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return status, body

    async def get_updates(self, params):
        if self.webhook_url:
            return self.error(409, "Conflict: can't use getUpdates method while webhook is "
                              "active; use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset", 0) or 0)
        limit = max(1, min(100, int(params.get("limit", 100) or 100)))
        timeout = float(params.get("timeout", 0) or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

        self.poll_generation += 1
        generation = self.poll_generation
        async with self.changed:
            self.changed.notify_all()
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in self.updates if u["update_id"] >= offset][:limit]
            if ready:
                return 200, {"ok": True, "result": ready}
            if generation != self.poll_generation:
                return self.error(409, "Conflict: terminated by other getUpdates request; "
                                  "make sure that only one bot instance is running")
            left = deadline - time.monotonic()
            if left <= 0:
                return 200, {"ok": True, "result": []}
            async with self.changed:
                try:
                    await asyncio.wait_for(self.changed.wait(), left)
                except asyncio.TimeoutError:
                    pass

    def send_message(self, params):
        chat_id = params.get("chat_id")
        text = params.get("text")
        if chat_id is None or chat_id == "":
            return self.error(400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            return self.error(400, "Bad Request: message text is empty")
        if utf16_units(text) > TEXT_UNITS_MAX:
            return self.error(400, "Bad Request: message is too long")
        if "parse_mode" in params:
            return self.error(400, "Bad Request: this fake refuses parse_mode")
        self.message_ids += 1
        message = {"message_id": self.message_ids, "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private"}, "text": text,
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "Parley",
                            "username": BOT_USERNAME}}
        return 200, {"ok": True, "result": message}

    async def call(self, method, params):
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": BOT_ID, "is_bot": True,
                                                 "first_name": "Parley",
                                                 "username": BOT_USERNAME}}
        if method == "getWebhookInfo":
            return 200, {"ok": True, "result": {"url": self.webhook_url,
                                                 "has_custom_certificate": False,
                                                 "pending_update_count": len(self.updates)}}
        if method == "deleteWebhook":
            self.webhook_url = ""
            self.webhook_secret = None
            return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}
        if method == "setWebhook":
            url = params.get("url", "")
            if not url.startswith("https://"):
                return self.error(400, "Bad Request: bad webhook: HTTPS url must be provided "
                                  "for webhook")
            self.webhook_url = url
            self.webhook_secret = params.get("secret_token")
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method == "getUpdates":
            return await self.get_updates(params)
        if method == "sendMessage":
            return self.send_message(params)
        return self.error(404, "Not Found: method not found")


def parse_params(query, headers, body):
    params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
    ctype = headers.get("content-type", "")
    if body:
        if ctype.startswith("application/json"):
            params.update(json.loads(body))
        elif ctype.startswith("application/x-www-form-urlencoded"):
            params.update({k: v[-1] for k, v in
                           urllib.parse.parse_qs(body.decode()).items()})
    for key in ("allowed_updates", "reply_parameters"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    if length > REQUEST_BODY_MAX:
        raise ValueError("request body too large")
    body = await reader.readexactly(length) if length else b""
    return method, target, headers, body


def response_bytes(status, body, content_type="application/json"):
    if not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body, ensure_ascii=False).encode()
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
              409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error",
              502: "Bad Gateway"}.get(status, "Status")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class Server:
    def __init__(self, fake):
        self.fake = fake

    async def control(self, method, path, query, body):
        fake = self.fake
        if path == "/control/updates" and method == "POST":
            fake.add_updates(json.loads(body))
            async with fake.changed:
                fake.changed.notify_all()
            return 200, {"ok": True, "next_update_id": fake.next_update_id}
        if path == "/control/faults" and method == "POST":
            fake.add_faults(json.loads(body))
            return 200, {"ok": True}
        if path == "/control/log":
            since = int(urllib.parse.parse_qs(query).get("since", ["0"])[0])
            return 200, fake.log[since:]
        if path == "/control/state":
            return 200, {"webhook_url": fake.webhook_url,
                         "webhook_secret": fake.webhook_secret,
                         "queued": len(fake.updates),
                         "next_update_id": fake.next_update_id,
                         "requests": len(fake.log),
                         "faults_left": sum(f["count"] for f in fake.faults)}
        return 404, {"ok": False, "description": "no such control endpoint"}

    async def handle(self, reader, writer):
        try:
            while True:
                try:
                    method, target, headers, body = await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    return
                try:
                    keep = await self.answer(method, target, headers, body, writer)
                except ConnectionError:
                    return
                if not keep:
                    return
        finally:
            writer.close()

    async def answer(self, method, target, headers, body, writer):
        fake = self.fake
        url = urllib.parse.urlsplit(target)
        path = url.path
        if path.startswith("/control/"):
            status, out = await self.control(method, path, url.query, body)
            writer.write(response_bytes(status, out))
            await writer.drain()
            return True

        entry = {"t": time.monotonic(), "http_method": method, "method": None,
                 "path": None, "token_ok": False, "params": {}, "status": None,
                 "fault": None}
        fake.log.append(entry)

        parts = path.split("/")
        if len(parts) != 3 or not parts[1].startswith("bot"):
            entry["path"] = path
            entry["status"] = 404
            writer.write(response_bytes(*Fake.error(404, "Not Found")))
            await writer.drain()
            return True
        token, api_method = parts[1][3:], parts[2]
        entry["method"] = api_method
        entry["path"] = "/bot<token>/" + api_method
        entry["token_ok"] = token == fake.token
        try:
            params = parse_params(url.query, headers, body)
        except (ValueError, json.JSONDecodeError):
            entry["status"] = 400
            writer.write(response_bytes(*Fake.error(400, "Bad Request: can't parse JSON")))
            await writer.drain()
            return True
        entry["params"] = params

        if not entry["token_ok"]:
            entry["status"] = 401
            writer.write(response_bytes(*Fake.error(401, "Unauthorized")))
            await writer.drain()
            return True

        fault = fake.take_fault(api_method, params)
        if fault:
            entry["fault"] = fault["kind"]
            kind = fault["kind"]
            if kind == "drop":
                entry["status"] = "drop"
                return False
            if kind == "hang":
                entry["status"] = "hang"
                await asyncio.sleep(float(fault.get("seconds", 3600)))
                return False
            if kind == "garbage":
                entry["status"] = 200
                writer.write(response_bytes(200, b"<html>not JSON</html>", "text/html"))
                await writer.drain()
                return True
            if kind == "big":
                size = int(fault.get("bytes", 5_000_000))
                head = b'{"ok":true,"result":[],"padding":"'
                pad = b"x" * max(0, size - len(head) - 2)
                entry["status"] = 200
                writer.write(response_bytes(200, head + pad + b'"}'))
                await writer.drain()
                return True
            if kind == "status":
                status, out = Fake.error(int(fault["status"]),
                                         fault.get("description", "Injected fault"),
                                         fault.get("retry_after"))
                entry["status"] = status
                writer.write(response_bytes(status, out))
                await writer.drain()
                return True
            if kind == "delay":
                await asyncio.sleep(float(fault.get("seconds", 1)))

        status, out = await fake.call(api_method, params)
        entry["status"] = status
        if api_method == "sendMessage" and status == 200:
            entry["message_id"] = out["result"]["message_id"]
        try:
            writer.write(response_bytes(status, out))
            await writer.drain()
        except ConnectionError:
            return False
        return True


async def main_async(args):
    fake = Fake(args.token)
    if args.script:
        with open(args.script) as f:
            script = json.load(f)
        fake.add_updates(script.get("updates", []))
        fake.add_faults(script.get("faults", []))
    server = Server(fake)
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0, limit=REQUEST_BODY_MAX * 2,
                                     backlog=1024)
    port = srv.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.rename(tmp, args.port_file)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with srv:
        await stop.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--token", default="123456:TEST-token-abcdefghijklmnopqrstuvwxyz")
    parser.add_argument("--script")
    args = parser.parse_args()
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
