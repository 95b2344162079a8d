#!/usr/bin/python3
"""A fake Slack for parley's tests: the Web API over HTTP and Socket Mode
over WebSocket, on loopback, on ports the OS chooses.

Web API (http://127.0.0.1:HTTP_PORT/api/METHOD): auth.test (bot token),
apps.connections.open (app token; each URL it returns is good for one
connection) and chat.postMessage (bot token, JSON body).  Socket Mode
(ws://127.0.0.1:WS_PORT/link/?ticket=N): "hello" on connect, then the
envelopes the test sends; every frame the client sends is logged, and an
envelope that was not acknowledged is delivered again on the next
connection, as Slack does.

A test imports this module, starts FakeSlack, and drives it with its
methods (thread-safe); every request, connection, ack and close is in
fake.log, a list of dicts with a monotonic time "t" and a "kind".  Run as
a program, it serves until killed and writes its two ports to a file:
    slack.py PORT_FILE APP_TOKEN BOT_TOKEN
"""
import asyncio
import http
import itertools
import json
import sys
import threading
import time
import urllib.parse

import websockets
import websockets.exceptions
import websockets.legacy.server


class Conn:
    def __init__(self, cid, ws):
        self.id = cid
        self.ws = ws
        self.closed = False
        self.frozen = False


class FakeSlack:
    def __init__(self, app_token, bot_token, bot_user="UBOT", bot_id="BBOT"):
        self.app_token = app_token
        self.bot_token = bot_token
        self.bot_user = bot_user
        self.bot_id = bot_id
        self.log = []
        self.lock = threading.Lock()
        self.auth_error = None           # auth.test answers ok:false with it
        self.auth_errors = []            # likewise, one for each of the next calls
        self.open_error = None           # apps.connections.open likewise
        # (status, headers, body), or None for a normal answer, for the next posts
        self.post_responses = []
        self.drop_acks = set()           # envelope ids whose ack is "lost"
        self.on_ack = None               # called (envelope_id, event_id) on the loop thread
        self.event_of = {}               # envelope_id -> event_id
        self.conns = {}
        self.tickets = {}                # ticket -> used?
        self.unacked = {}                # envelope_id -> (envelope, conn id)
        self.ids = itertools.count(1)
        self.ts = itertools.count(1)
        self.loop = None
        self.http_port = None
        self.ws_port = None
        self.thread = None

    # ---- running ----

    def start(self):
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)
        if not self.http_port:
            raise RuntimeError("the fake Slack did not start")

    def _run(self, ready):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve(ready))
        self.loop.run_forever()

    async def _serve(self, ready):
        http = await asyncio.start_server(self._http_client, "127.0.0.1", 0)
        self.http_port = http.sockets[0].getsockname()[1]
        ws = await websockets.serve(self._ws_client, "127.0.0.1", 0,
                                    process_request=self._ws_check,
                                    ping_interval=None, max_size=None)
        self.ws_port = ws.sockets[0].getsockname()[1]
        ready.set()

    def call(self, fn, *args):
        """Runs fn(*args) on the fake's loop and returns its result."""
        async def run():
            r = fn(*args)
            if asyncio.iscoroutine(r):
                r = await r
            return r
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    @property
    def api_url(self):
        return f"http://127.0.0.1:{self.http_port}/api"

    def record(self, kind, **fields):
        with self.lock:
            self.log.append(dict(t=time.monotonic(), kind=kind, **fields))

    def entries(self, kind, **match):
        with self.lock:
            return [e for e in self.log if e["kind"] == kind
                    and all(e.get(k) == v for k, v in match.items())]

    # ---- Web API ----

    async def _http_client(self, reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    h = (await reader.readline()).decode("latin-1").rstrip("\r\n")
                    if not h:
                        break
                    name, _, value = h.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra, answer = self._api(method, target, headers, body)
                data = json.dumps(answer).encode() if answer is not None else b""
                head = [f"HTTP/1.1 {status} X", "Content-Type: application/json",
                        f"Content-Length: {len(data)}"]
                head += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        writer.close()

    def _api(self, method, target, headers, body):
        path = urllib.parse.urlparse(target).path
        name = path.rsplit("/", 1)[-1]
        auth = headers.get("authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None

        if name == "auth.test":
            self.record("auth.test", token_ok=token == self.bot_token)
            if token != self.bot_token:
                return 200, {}, {"ok": False, "error": "invalid_auth"}
            error = self.auth_errors.pop(0) if self.auth_errors else self.auth_error
            if error:
                return 200, {}, {"ok": False, "error": error}
            return 200, {}, {"ok": True, "user_id": self.bot_user, "bot_id": self.bot_id,
                             "team_id": "T1", "user": "parley"}

        if name == "apps.connections.open":
            self.record("connections.open", token_ok=token == self.app_token)
            if token != self.app_token:
                return 200, {}, {"ok": False, "error": "invalid_auth"}
            if self.open_error:
                return 200, {}, {"ok": False, "error": self.open_error}
            ticket = str(next(self.ids))
            self.tickets[ticket] = False
            return 200, {}, {"ok": True,
                             "url": f"ws://127.0.0.1:{self.ws_port}/link/?ticket={ticket}"}

        if name == "chat.postMessage":
            try:
                req = json.loads(body)
            except ValueError:
                req = {}
            entry = dict(token_ok=token == self.bot_token, channel=req.get("channel"),
                         text=req.get("text"), thread_ts=req.get("thread_ts"),
                         content_type=headers.get("content-type"))
            scripted = self.post_responses.pop(0) if self.post_responses else None
            if scripted:
                status, extra, answer = scripted
                self.record("post", status=status, error=(answer or {}).get("error"), **entry)
                return status, extra, answer
            if token != self.bot_token:
                self.record("post", status=200, error="invalid_auth", **entry)
                return 200, {}, {"ok": False, "error": "invalid_auth"}
            ts = f"1800000000.{next(self.ts):06d}"
            self.record("post", status=200, error=None, ts=ts, **entry)
            return 200, {}, {"ok": True, "channel": req.get("channel"), "ts": ts}

        self.record("unknown", path=path)
        return 404, {}, {"ok": False, "error": "unknown_method"}

    # ---- Socket Mode ----

    async def _ws_check(self, path, headers):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
        ticket = query.get("ticket", [""])[0]
        if self.tickets.get(ticket) is not False:
            self.record("ws_refused", ticket=ticket)
            return http.HTTPStatus.FORBIDDEN, [], b"this URL was used or never issued\n"
        self.tickets[ticket] = True
        return None

    async def _ws_client(self, ws, path):
        conn = Conn(next(self.ids), ws)
        self.conns[conn.id] = conn
        self.record("ws_open", conn=conn.id)
        await ws.send(json.dumps({"type": "hello", "num_connections": len(self.live()),
                                  "connection_info": {"app_id": "A1"}}))
        # Envelopes whose connection went without an ack come again here.
        for envelope_id, (env, cid) in list(self.unacked.items()):
            if cid not in self.conns or self.conns[cid].closed:
                env["retry_attempt"] += 1
                env["retry_reason"] = "timeout"
                self.unacked[envelope_id] = (env, conn.id)
                self.record("redeliver", conn=conn.id, envelope_id=envelope_id)
                await ws.send(json.dumps(env))
        try:
            async for message in ws:
                self._on_frame(conn, message)
        except websockets.exceptions.ConnectionClosed:
            pass
        conn.closed = True
        self.record("ws_close", conn=conn.id, code=ws.close_code)

    def _on_frame(self, conn, message):
        try:
            frame = json.loads(message)
            envelope_id = frame["envelope_id"]
        except (ValueError, KeyError, TypeError):
            self.record("bad_frame", conn=conn.id, frame=message)
            return
        self.record("ack", conn=conn.id, envelope_id=envelope_id)
        if envelope_id in self.drop_acks:
            self.drop_acks.discard(envelope_id)
            self.record("ack_dropped", conn=conn.id, envelope_id=envelope_id)
            return
        self.unacked.pop(envelope_id, None)
        if self.on_ack:
            self.on_ack(envelope_id, self.event_of.get(envelope_id))

    def live(self):
        return [c for c in self.conns.values() if not c.closed and not c.frozen]

    def newest(self):
        live = self.live()
        return live[-1] if live else None

    async def _send(self, data, conn=None):
        conn = conn or self.newest()
        if conn is None:
            raise RuntimeError("no connection to send on")
        await conn.ws.send(data)
        return conn

    # ---- what a test calls ----

    def send_event(self, event, event_id=None, drop_ack=False):
        """Sends an events_api envelope; returns (envelope_id, event_id)."""
        envelope_id = f"env-{next(self.ids)}"
        event_id = event_id or f"Ev{next(self.ids):08d}"
        env = {"envelope_id": envelope_id, "type": "events_api",
               "accepts_response_payload": False, "retry_attempt": 0, "retry_reason": "",
               "payload": {"token": "verification", "team_id": "T1", "api_app_id": "A1",
                           "type": "event_callback", "event_id": event_id,
                           "event_time": int(time.time()), "event": event}}
        if drop_ack:
            self.drop_acks.add(envelope_id)

        self.event_of[envelope_id] = event_id

        async def go():
            conn = await self._send(json.dumps(env))
            self.unacked[envelope_id] = (env, conn.id)
            self.record("envelope", conn=conn.id, envelope_id=envelope_id, event_id=event_id)
        self.call(go)
        return envelope_id, event_id

    def send_raw(self, data):
        """Sends a frame as it is: text (str) or binary (bytes)."""
        self.call(self._send, data)

    def send_bad_opcode(self):
        """Writes a frame with a reserved opcode (0x3) straight to the socket."""
        def go():
            conn = self.newest()
            conn.ws.transport.write(bytes([0x83, 0x02]) + b"hi")
        self.call(go)

    def disconnect(self, reason):
        """Sends "disconnect" with reason on the newest connection; returns its id."""
        async def go():
            conn = await self._send(json.dumps({"type": "disconnect", "reason": reason,
                                                "debug_info": {"host": "fake"}}))
            self.record("disconnect_sent", conn=conn.id, reason=reason)
            return conn.id
        return self.call(go)

    def freeze(self):
        """The newest connection stops reading and answering: pings go unanswered."""
        def go():
            conn = self.newest()
            conn.frozen = True
            conn.ws.transport.pause_reading()
            self.record("frozen", conn=conn.id)
            return conn.id
        return self.call(go)

    def close_frozen(self):
        def go():
            for conn in self.conns.values():
                if conn.frozen and not conn.closed:
                    conn.ws.transport.abort()
        self.call(go)


def main():
    if len(sys.argv) != 4:
        print("usage: slack.py PORT_FILE APP_TOKEN BOT_TOKEN", file=sys.stderr)
        return 2
    fake = FakeSlack(sys.argv[2], sys.argv[3])
    fake.start()
    with open(sys.argv[1], "w") as f:
        f.write(f"{fake.http_port} {fake.ws_port}\n")
    fake.thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
