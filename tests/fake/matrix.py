#!/usr/bin/python3
"""A fake Matrix homeserver for parley's tests (standard library only).

Listens on 127.0.0.1 with a port the OS picks and writes the port to the
file named by --port-file.  It keeps one event stream: the since/next_batch
tokens are "s<position>", and a /sync with since waits (up to its timeout)
for events after that position.  Client-server endpoints the adapter uses:
login (m.login.password), account/whoami, profile, account_data m.direct,
sync, join, rooms/{id}/leave, rooms/{id}/send/m.room.message/{txnId} (a
repeated txnId of the same access token answers the first event id and
adds nothing, as the spec requires).

Tests script it through /_control/ endpoints (JSON bodies):
  POST /_control/setup   {"users": {"@u:s": "password"}, "tokens": {"tok": "@u:s"},
                          "displayname": {...}, "direct": {...}}
  POST /_control/room    {"room_id", "members": [...]}     the bot is joined
  POST /_control/event   {"room_id", "sender", "content", "type"?} -> {"event_id"}
  POST /_control/invite  {"room_id", "inviter", "invitee", "is_direct"}
  POST /_control/revoke  {"user"}                        its tokens stop working
  POST /_control/limited {"room_id"}                      next sync marks it limited
  POST /_control/fault   {"path": "/sync", "kind": ..., "count": 1, ...} kinds:
        "429" (retry_after_s for the header, retry_after_ms for the body),
        "500", "403", "unknown_token", "slow" (delay_s), "drop",
        "malformed", "big" (a valid sync answer padded to size bytes),
        "hold_after" (a send is stored, then the answer waits delay_s)
  GET  /_control/log     every request: method, path, query, body, time
  GET  /_control/events  every event of the stream with its txn_id
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/_matrix/client/v3"


class State:
    def __init__(self):
        self.lock = threading.Condition()
        self.users = {}            # user id -> password
        self.tokens = {}           # access token -> user id
        self.displayname = {}
        self.direct = {}           # user -> m.direct content
        self.rooms = {}            # room id -> {"members": set, "joined": set}
        self.stream = []           # events: dict with room_id, txn_id
        self.limited = set()
        self.txns = {}             # (token, txn) -> event id
        self.faults = []
        self.log = []
        self.next_id = 1
        self.devices = 0

    def add_event(self, room_id, sender, content, type_="m.room.message", txn_id=None):
        event_id = f"$ev{self.next_id}:fake"
        self.next_id += 1
        self.stream.append({
            "room_id": room_id, "event_id": event_id, "sender": sender, "type": type_,
            "content": content, "origin_server_ts": int(time.time() * 1000),
            "txn_id": txn_id,
        })
        self.lock.notify_all()
        return event_id

    def take_fault(self, path):
        for f in self.faults:
            if path.startswith(API + f["path"]) or f["path"] in path:
                f["count"] -= 1
                if f["count"] <= 0:
                    self.faults.remove(f)
                return f
        return None


STATE = State()


class Handler(BaseHTTPRequestHandler):
    # Head and body in one write: separate small writes meet Nagle's
    # algorithm and delayed ACKs and cost every request about 40 ms.
    wbufsize = -1
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, text, extra=None):
        body = {"errcode": code, "error": text}
        body.update(extra or {})
        self.reply(status, body)

    def user(self):
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        return token, STATE.tokens.get(token)

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<not json>"

        if path.startswith("/_control/"):
            return self.control(method, path, body)

        with STATE.lock:
            entry = {"method": method, "path": path, "query": query, "time": time.time(),
                     "body": body if not path.endswith("/login") else "<hidden>",
                     "auth": self.headers.get("Authorization") is not None}
            STATE.log.append(entry)
            self.entry = entry
            fault = STATE.take_fault(path)

        self.entry = entry
        if fault:
            entry["fault"] = fault["kind"]
            if self.apply_fault(fault, method, path, query, body):
                return
        self.route(method, path, query, body)

    def apply_fault(self, fault, method, path, query, body):
        """Answers the request as the fault says; False to answer normally
        (after a delay)."""
        kind = fault["kind"]
        if kind == "429":
            headers = {}
            extra = {}
            if "retry_after_s" in fault:
                headers["Retry-After"] = str(fault["retry_after_s"])
            if "retry_after_ms" in fault:
                extra["retry_after_ms"] = fault["retry_after_ms"]
            body = {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests"}
            body.update(extra)
            self.reply(429, body, headers)
        elif kind == "500":
            self.error(500, "M_UNKNOWN", "Internal server error")
        elif kind == "403":
            self.error(403, "M_FORBIDDEN", "You are not invited to this room.")
        elif kind == "unknown_token":
            self.error(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.")
        elif kind == "malformed":
            self.reply(200, None, raw=b'{"next_batch": "s1", "rooms": {')
        elif kind == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif kind == "slow":
            time.sleep(fault.get("delay_s", 1))
            return False
        elif kind == "big":
            self.sync(query, pad=fault.get("size", 5 * 1024 * 1024))
        elif kind == "hold_after":
            self.route(method, path, query, body, hold_s=fault.get("delay_s", 10))
        else:
            raise ValueError(kind)
        return True

    def control(self, method, path, body):
        s = STATE
        with s.lock:
            if path == "/_control/log":
                return self.reply(200, s.log)
            if path == "/_control/events":
                return self.reply(200, s.stream)
            body = body or {}
            if path == "/_control/setup":
                s.users.update(body.get("users", {}))
                s.tokens.update(body.get("tokens", {}))
                s.displayname.update(body.get("displayname", {}))
                s.direct.update(body.get("direct", {}))
                return self.reply(200, {})
            if path == "/_control/room":
                s.rooms[body["room_id"]] = {"members": set(body["members"]),
                                            "joined": set(body["members"])}
                return self.reply(200, {})
            if path == "/_control/event":
                eid = s.add_event(body["room_id"], body["sender"], body["content"],
                                  body.get("type", "m.room.message"))
                return self.reply(200, {"event_id": eid})
            if path == "/_control/invite":
                room = s.rooms.setdefault(body["room_id"], {"members": set(), "joined": set()})
                room["members"].add(body["inviter"])
                room["joined"].add(body["inviter"])
                s.stream.append({"room_id": body["room_id"], "type": "_invite",
                                 "sender": body["inviter"], "invitee": body["invitee"],
                                 "is_direct": body.get("is_direct", False), "txn_id": None})
                s.lock.notify_all()
                return self.reply(200, {})
            if path == "/_control/revoke":
                for t in [t for t, u in s.tokens.items() if u == body["user"]]:
                    del s.tokens[t]
                return self.reply(200, {})
            if path == "/_control/limited":
                s.limited.add(body["room_id"])
                return self.reply(200, {})
            if path == "/_control/fault":
                f = dict(body)
                f.setdefault("count", 1)
                s.faults.append(f)
                return self.reply(200, {})
        self.error(404, "M_UNRECOGNIZED", "no such control")

    def route(self, method, path, query, body, hold_s=0):
        if path == API + "/login" and method == "POST":
            return self.login(body)
        token, user = self.user()
        if user is None:
            return self.error(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.")
        parts = path[len(API):].split("/")
        if path == API + "/account/whoami":
            return self.reply(200, {"user_id": user, "device_id": "DEV"})
        if parts[1] == "profile":
            name = STATE.displayname.get(parts[2])
            if name is None:
                return self.error(404, "M_NOT_FOUND", "Profile not found")
            return self.reply(200, {"displayname": name})
        if parts[1] == "user" and parts[3:] == ["account_data", "m.direct"]:
            with STATE.lock:
                if method == "PUT":
                    STATE.direct[user] = body
                    return self.reply(200, {})
                if user not in STATE.direct:
                    return self.error(404, "M_NOT_FOUND", "Account data not found")
                return self.reply(200, STATE.direct[user])
        if path == API + "/sync":
            return self.sync(query, user=user)
        if parts[1] == "join" and method == "POST":
            with STATE.lock:
                room = STATE.rooms.get(parts[2])
                if room is None or user not in room["members"] and not any(
                        e["type"] == "_invite" and e["room_id"] == parts[2] and
                        e["invitee"] == user for e in STATE.stream):
                    return self.error(403, "M_FORBIDDEN", "You are not invited to this room.")
                room["members"].add(user)
                room["joined"].add(user)
            return self.reply(200, {"room_id": parts[2]})
        if parts[1] == "rooms" and parts[3] == "leave":
            return self.reply(200, {})
        if parts[1] == "rooms" and parts[3] == "send" and method == "PUT":
            return self.send(token, user, parts[2], parts[4], parts[5], body, hold_s)
        self.error(404, "M_UNRECOGNIZED", "Unrecognized request")

    def login(self, body):
        ident = (body or {}).get("identifier", {})
        user = ident.get("user")
        if (body or {}).get("type") != "m.login.password" or STATE.users.get(user) is None \
                or STATE.users[user] != body.get("password"):
            return self.error(403, "M_FORBIDDEN", "Invalid username or password")
        with STATE.lock:
            STATE.devices += 1
            device = f"DEVICE{STATE.devices}"
            token = f"syt_login_{STATE.devices}"
            STATE.tokens[token] = user
        self.reply(200, {"user_id": user, "access_token": token, "device_id": device})

    def send(self, token, user, room_id, type_, txn, content, hold_s):
        with STATE.lock:
            room = STATE.rooms.get(room_id)
            if room is None or user not in room["joined"]:
                return self.error(403, "M_FORBIDDEN", "not in the room")
            if not isinstance(content, dict):
                return self.error(400, "M_NOT_JSON", "Content not JSON.")
            event_id = STATE.txns.get((token, txn))
            if event_id is None:
                event_id = STATE.add_event(room_id, user, content, type_, txn_id=txn)
                STATE.txns[(token, txn)] = event_id
        if hold_s:
            time.sleep(hold_s)
        self.reply(200, {"event_id": event_id})

    def sync(self, query, user=None, pad=0):
        since = query.get("since")
        timeout_s = int(query.get("timeout", "0")) / 1000.0
        pos = int(since[1:]) if since else 0
        s = STATE
        deadline = time.monotonic() + timeout_s
        with s.lock:
            while since and len(s.stream) <= pos and time.monotonic() < deadline:
                s.lock.wait(deadline - time.monotonic())
            events = s.stream[pos:]
            end = len(s.stream)
            join = {}
            invite = {}
            for e in events:
                room = s.rooms.get(e["room_id"])
                if e["type"] == "_invite":
                    if e["invitee"] == user and user not in room["joined"]:
                        invite[e["room_id"]] = {"invite_state": {"events": [
                            {"type": "m.room.name", "state_key": "", "sender": e["sender"],
                             "content": {"name": "A room"}},
                            {"type": "m.room.member", "state_key": user, "sender": e["sender"],
                             "content": {"membership": "invite",
                                         "is_direct": e["is_direct"]}},
                        ]}}
                    continue
                if room is None or (user and user not in room["joined"]):
                    continue
                r = join.setdefault(e["room_id"], {
                    "timeline": {"events": [], "limited": False, "prev_batch": f"p{pos}"},
                    "summary": {"m.joined_member_count": len(room["joined"])},
                })
                ev = {k: v for k, v in e.items() if k not in ("room_id", "txn_id")}
                if e["txn_id"] and e["sender"] == user:
                    ev["unsigned"] = {"transaction_id": e["txn_id"]}
                r["timeline"]["events"].append(ev)
            for room_id in list(s.limited):
                if room_id in join:
                    join[room_id]["timeline"]["limited"] = True
                    s.limited.discard(room_id)
            self.entry["next_batch"] = f"s{end}"
            answer = {"next_batch": f"s{end}", "rooms": {"join": join, "invite": invite}}
            if since is None or pos == 0:
                answer["account_data"] = {"events": []}
            if pad:
                answer["account_data"] = {"events": [
                    {"type": "org.example.padding", "content": {"pad": "x" * pad}}]}
        self.reply(200, answer)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up (a cancelled poll, parleyd killed) is part
        # of the tests, not an error of the fake.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", required=True)
    args = p.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
