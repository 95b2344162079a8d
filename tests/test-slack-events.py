#!/usr/bin/python3
"""parleyd's Slack adapter in Events API mode, on the daemon's HTTP server,
with the fake Slack's Web API (tests/fake/slack.py) for auth.test and
chat.postMessage.

Asserts: url_verification answered with its challenge; unsigned, wrongly
signed and stale requests refused with 401 and never stored; an event
answered 200 only once it is in the inbox, well within Slack's 3 s; a
retry (X-Slack-Retry-Num) of the same event_id answered 200 and replied to
once; the bot's own message ignored; the reply posted in the mention's
thread."""
import hashlib
import hmac
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

top_srcdir = os.environ.get("top_srcdir", os.path.dirname(os.path.abspath(__file__)) + "/..")
top_builddir = os.environ.get("top_builddir", ".")
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(top_srcdir, "tests", "fake"))
try:
    import websockets  # noqa: F401
except ImportError:
    print("SKIP: python3-websockets is not installed (apt-get install python3-websockets)",
          file=sys.stderr)
    sys.exit(77)
import slack as fake_slack  # noqa: E402

PARLEYD = os.path.join(top_builddir, "src", "parleyd")
BOT_TOKEN = "xoxb-1-fakebotsecret"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
failures = 0
checks = 0


def check(what, ok, detail=""):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print(f"FAIL: {what} {detail}", file=sys.stderr)


def wait_until(pred, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = pred()
        if r:
            return r
        time.sleep(0.02)
    return pred()


def post(url, payload, secret=SECRET, ts=None, retry=None, sign=True):
    body = json.dumps(payload).encode()
    ts = str(int(time.time()) if ts is None else ts)
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": ts}
    if sign:
        mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
        headers["X-Slack-Signature"] = "v0=" + mac.hexdigest()
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), time.monotonic() - t0
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), time.monotonic() - t0


def callback(event, event_id):
    return {"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()), "event": event}


def inbox_has(db, event_id):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT count(*) FROM inbox WHERE event_id = ?",
                           (event_id,)).fetchone()[0]
    finally:
        con.close()


with tempfile.TemporaryDirectory() as tmp:
    with open(os.path.join(tmp, "bot-token"), "w") as f:
        f.write(BOT_TOKEN + "\n")
    with open(os.path.join(tmp, "secret"), "w") as f:
        f.write(SECRET + "\n")
    fake = fake_slack.FakeSlack("xapp-unused", BOT_TOKEN)
    fake.start()
    conf = os.path.join(tmp, "parleyd.conf")
    with open(conf, "w") as f:
        f.write(f"[parleyd]\nstate_dir = {tmp}/state\nlog_level = debug\n"
                f"[http]\nenabled = true\naddress = 127.0.0.1\nport = 0\n"
                f"[slack]\nenabled = true\nmode = events\nevents_path = /slack/events\n"
                f"signing_secret_file = {tmp}/secret\nbot_token_file = {tmp}/bot-token\n"
                f"api_url = {fake.api_url}\n")
    err_path = os.path.join(tmp, "err")
    proc = subprocess.Popen([PARLEYD, "--config", conf, "--foreground"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(err_path, "w"))

    def err():
        with open(err_path) as f:
            return f.read()

    ok = wait_until(lambda: re.search(r"HTTP on 127\.0\.0\.1 port (\d+)", err()) and
                    "signed in as user UBOT" in err())
    check("listening and signed in", ok, err())
    port = re.search(r"HTTP on 127\.0\.0\.1 port (\d+)", err()).group(1) if ok else "1"
    url = f"http://127.0.0.1:{port}/slack/events"
    db = os.path.join(tmp, "state", "parley.db")

    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    status, body, _ = post(url, {"type": "url_verification", "token": "x",
                                 "challenge": challenge})
    check("url_verification answered with the challenge",
          (status, body) == (200, challenge), repr((status, body)))

    mention = {"type": "app_mention", "user": "U1", "text": "<@UBOT> help",
               "ts": "1700000000.000100", "channel": "C1"}
    status, _, _ = post(url, callback(mention, "EvBAD1"), sign=False)
    check("unsigned request refused", status == 401, repr(status))
    status, _, _ = post(url, callback(mention, "EvBAD2"), secret="another-secret")
    check("wrong secret refused", status == 401, repr(status))
    status, _, _ = post(url, callback(mention, "EvBAD3"), ts=int(time.time()) - 301)
    check("stale timestamp refused", status == 401, repr(status))
    check("refused requests not stored",
          [inbox_has(db, e) for e in ("EvBAD1", "EvBAD2", "EvBAD3")] == [0, 0, 0])

    status, _, elapsed = post(url, callback(mention, "EvGOOD1"))
    stored = inbox_has(db, "EvGOOD1")
    check("event answered 200", status == 200, repr(status))
    check("200 only once the event is in the inbox", stored == 1, repr(stored))
    check("200 well within 3 s", elapsed < 2.0, repr(elapsed))

    status, _, _ = post(url, callback(mention, "EvGOOD1"), retry=1)
    check("retry answered 200", status == 200, repr(status))

    own = {"type": "message", "channel_type": "im", "user": "UBOT", "text": "help",
           "ts": "1700000000.000200", "channel": "D1"}
    status, _, _ = post(url, callback(own, "EvOWN"))
    check("own message answered 200", status == 200, repr(status))
    check("own message not stored", inbox_has(db, "EvOWN") == 0)

    sentinel = {"type": "message", "channel_type": "im", "user": "U1", "text": "help",
                "ts": "1700000000.000300", "channel": "D2"}
    post(url, callback(sentinel, "EvSENT"))
    wait_until(lambda: fake.entries("post", channel="D2"))
    time.sleep(0.3)
    posts = fake.entries("post", channel="C1")
    check("mention answered once, in its thread",
          [(p["thread_ts"], p["text"].split("\n")[0]) for p in posts] ==
          [("1700000000.000100", "I answer questions, and these commands:")], repr(posts))
    check("own message not answered", fake.entries("post", channel="D1") == [])

    proc.send_signal(signal.SIGTERM)
    try:
        status = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = "hung"
    check("exit status after SIGTERM", status == 0, repr(status))
    check("the secret is in no log", SECRET not in err() and "fakebotsecret" not in err())
    if failures:
        print(err(), file=sys.stderr)

print(f"{checks} checks, {failures} failed", file=sys.stderr)
sys.exit(1 if failures or not checks else 0)
