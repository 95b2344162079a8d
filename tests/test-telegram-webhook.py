#!/usr/bin/python3
"""parleyd's Telegram adapter in webhook mode, then switched back to polling.

setWebhook carries the URL, the secret token and allowed_updates; no
getUpdates is made.  On the webhook: a wrong or missing secret token is
refused (401), other methods and paths are refused (405, 404), a body
over the server's limit is refused (413), a body that is not JSON gets a
400; a good update gets its 200 only once it is in the database, and a
repeat of it is answered 200 but replied to once; an edit is acknowledged
and not stored.  A restart in polling mode deletes the webhook first."""
import json
import os
import re
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
from telegram_harness import (Checks, Daemon, FakeTelegram, config_text, db,  # noqa
                              private_message)

SECRET = "s3cret-Token_for-tests"
WEBHOOK_URL = "https://bot.example.test/tg/hook"

t = Checks()


def post(url, body, secret=None, method="POST"):
    """(status, body) of one request to the daemon's webhook."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data if method == "POST" else None, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def declared_too_long(base, path):
    """The status the server answers to a Content-Length over its limit,
    before any of the body is sent."""
    host, port = base[len("http://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
                  f"Content-Length: {1024 * 1024 + 1}\r\n\r\n".encode())
        answer = s.recv(200).decode("latin-1")
    return answer.split(" ")[1] if answer.startswith("HTTP/1.1 ") else answer


def inbox_count(dbpath, event_id=None):
    con = db(dbpath)
    if event_id is None:
        n = con.execute("SELECT count(*) FROM inbox").fetchone()[0]
    else:
        n = con.execute("SELECT count(*) FROM inbox WHERE event_id = ?",
                        (str(event_id),)).fetchone()[0]
    con.close()
    return n


def main():
    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeTelegram(tmp)
        state = os.path.join(tmp, "state")
        dbpath = os.path.join(state, "parley.db")
        with open(os.path.join(tmp, "secret"), "w") as f:
            f.write(SECRET + "\n")
        os.chmod(os.path.join(tmp, "secret"), 0o600)
        conf = config_text(state, fake,
                           f"mode = webhook\nwebhook_url = {WEBHOOK_URL}\n"
                           "webhook_secret_file = secret\n",
                           "[http]\nenabled = true\naddress = 127.0.0.1\nport = 0\n")
        daemon = Daemon(tmp, conf)
        try:
            run_webhook(fake, daemon, dbpath)
        except (TimeoutError, OSError) as e:
            t.check(f"webhook run: {e}", False)
        rc = daemon.stop()
        t.eq("webhook run: exit status", 0, rc)
        err = daemon.stderr()
        t.check("the secret token is never logged", SECRET not in err)

        # The same state in polling mode: the webhook is removed first.
        daemon = Daemon(tmp, config_text(state, fake), name="polling")
        try:
            log = fake.wait_for(lambda log: any(e["method"] == "getUpdates" for e in log),
                                what="polling after webhook mode")
            methods = [e["method"] for e in log if e["method"] and e["method"] != "sendMessage"]
            tail = methods[methods.index("setWebhook") + 1:]
            t.eq("switch to polling: getMe, getWebhookInfo, deleteWebhook, getUpdates",
                 ["getMe", "getWebhookInfo", "deleteWebhook", "getUpdates"], tail[:4])
            t.eq("the webhook is gone", "", fake.state()["webhook_url"])
            t.check("the switch is logged",
                    daemon.wait_stderr("webhook removed: switched to long polling"))
        except TimeoutError as e:
            t.check(str(e), False)
        t.eq("polling run: exit status", 0, daemon.stop())
        fake.stop()
        if t.failures:
            sys.stderr.write(err[-4000:] + daemon.stderr()[-2000:])
    return t.finish()


def run_webhook(fake, daemon, dbpath):
    t.check("the route is logged", daemon.wait_stderr("webhook on the HTTP server at /tg/hook"))
    t.check("connected", daemon.wait_stderr("telegram: connected"))
    m = re.search(r"HTTP on 127\.0\.0\.1 port (\d+)", daemon.stderr())
    base, path = f"http://127.0.0.1:{m.group(1)}", "/tg/hook"
    url = base + path

    log = fake.log()
    sets = [e for e in log if e["method"] == "setWebhook"]
    t.eq("setWebhook once", 1, len(sets))
    params = sets[0]["params"] if sets else {}
    t.eq("setWebhook url", WEBHOOK_URL, params.get("url"))
    t.eq("setWebhook secret_token", SECRET, params.get("secret_token"))
    t.eq("setWebhook allowed_updates", ["message", "channel_post"], params.get("allowed_updates"))
    t.eq("pending updates kept", False, params.get("drop_pending_updates"))
    t.eq("no getUpdates in webhook mode", [], [e for e in log if e["method"] == "getUpdates"])

    update = private_message("/help", chat_id=1101, message_id=5, update_id=500)
    t.eq("wrong secret: 401", 401, post(url, update, secret="wrong")[0])
    t.eq("no secret: 401", 401, post(url, update)[0])
    t.eq("a secret one character short: 401", 401, post(url, update, secret=SECRET[:-1])[0])
    t.eq("refused updates are not stored", 0, inbox_count(dbpath))
    t.eq("GET: 405", 405, post(url, update, secret=SECRET, method="GET")[0])
    t.eq("another path: 404", 404, post(base + "/elsewhere", update, secret=SECRET)[0])
    t.eq("not JSON: 400", 400, post(url, b"{not json", secret=SECRET)[0])
    t.eq("a body over 1 MiB: 413 before it is sent", "413", declared_too_long(base, path))

    status, _ = post(url, update, secret=SECRET)
    t.eq("right secret: 200", 200, status)
    t.eq("stored before the 200", 1, inbox_count(dbpath, 500))
    status, _ = post(url, update, secret=SECRET)
    t.eq("the same update again: 200", 200, status)

    edit = {"update_id": 501, "edited_message": update["message"]}
    t.eq("an edit: 200", 200, post(url, edit, secret=SECRET)[0])
    t.eq("an edit is not stored", 0, inbox_count(dbpath, 501))

    fake.wait_for(lambda log: any(e["method"] == "sendMessage" for e in log),
                  what="the webhook update's reply")
    time.sleep(1.5)
    replies = [e for e in fake.log() if e["method"] == "sendMessage"]
    t.eq("answered once", 1, len(replies))
    t.eq("one inbox row for the repeated update", 1, inbox_count(dbpath))
    if replies:
        t.eq("reply to the webhook message", {"message_id": 5, "allow_sending_without_reply": True},
             replies[0]["params"].get("reply_parameters"))


if __name__ == "__main__":
    sys.exit(main())
