#!/usr/bin/python3
"""The Matrix adapter against tests/fake/matrix.py: since tokens (none on
the first sync, then the stored next_batch, also after a restart), nothing
old answered, invites joined (a 403 retried), replies as m.notice rich
replies with the outbox key as txnId, own events / notices / edits ignored,
group rooms answered only when addressed, 429 waits honoured, sync faults
survived, a retried or re-sent reply deduplicated by its txnId (also after
kill -9 and a restart), a password login kept in a 0600 session file, and a
refused token failing only this adapter while the console answers."""
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

top_srcdir = os.environ.get("top_srcdir", ".")
top_builddir = os.environ.get("top_builddir", ".")
PARLEYD = os.path.join(top_builddir, "src", "parleyd")
FAKE = os.path.join(top_srcdir, "tests", "fake", "matrix.py")
BOT = "@parley:fake"
ALICE = "@alice:fake"
TOKEN = "syt_secret_token_0123456789"
failures = 0
checks = 0
spawned = []        # every process started, killed if a run ends early


def check(what, ok, detail=""):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print(f"FAIL: {what} {detail}", file=sys.stderr)
    return ok


def wait_until(what, fn, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    check(what, False, "(timed out)")
    return None


class Fake:
    def __init__(self, tmp):
        port_file = os.path.join(tmp, "port")
        self.proc = subprocess.Popen(["/usr/bin/python3", FAKE, "--port-file", port_file])
        spawned.append(self.proc)
        wait_until("fake server up", lambda: os.path.exists(port_file))
        with open(port_file) as f:
            self.url = f"http://127.0.0.1:{f.read().strip()}"

    def ctl(self, what, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_control/" + what, data=data,
                                     method="POST" if data else "GET")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def log(self, prefix="", method=None):
        return [e for e in self.ctl("log") if e["path"].startswith(prefix) and
                (method is None or e["method"] == method)]

    def syncs(self):
        return self.log("/_matrix/client/v3/sync")

    def sends(self):
        return self.log("/_matrix/client/v3/rooms/", "PUT")

    def bot_events(self):
        return [e for e in self.ctl("events") if e["sender"] == BOT]

    def say(self, room, text, sender=ALICE, **content):
        c = {"msgtype": "m.text", "body": text}
        c.update(content)
        return self.ctl("event", {"room_id": room, "sender": sender, "content": c})["event_id"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Daemon:
    def __init__(self, tmp, conf, name, stdin=subprocess.DEVNULL):
        self.err_path = os.path.join(tmp, name + ".err")
        self.out_path = os.path.join(tmp, name + ".out")
        self.proc = subprocess.Popen([PARLEYD, "--config", conf, "--foreground"], stdin=stdin,
                                     stdout=open(self.out_path, "w"),
                                     stderr=open(self.err_path, "w"))
        spawned.append(self.proc)

    def err(self):
        with open(self.err_path) as f:
            return f.read()

    def out(self):
        with open(self.out_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "hung"


def write_conf(tmp, url, extra="", console=False):
    conf = os.path.join(tmp, "parleyd.conf")
    with open(conf, "w") as f:
        f.write(f"""[parleyd]
state_dir = {tmp}/state
log_level = debug
shutdown_timeout_ms = 3000

[console]
enabled = {"true" if console else "false"}

[matrix]
enabled = true
homeserver_url = {url}/
user_id = {BOT}
sync_timeout_ms = 1000
{extra}
""")
    return conf


def reply_of(fake, event_id):
    """The bot's events answering event_id."""
    return [e for e in fake.bot_events()
            if e["content"].get("m.relates_to", {}).get("m.in_reply_to", {})
            .get("event_id") == event_id]


def main_run(tmp):
    """One homeserver, two runs of the daemon with a token file."""
    fake = Fake(tmp)
    token_file = os.path.join(tmp, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    fake.ctl("setup", {"tokens": {TOKEN: BOT}, "displayname": {BOT: "Parley"}})
    fake.ctl("room", {"room_id": "!dm:fake", "members": [BOT, ALICE]})
    fake.ctl("room", {"room_id": "!group:fake", "members": [BOT, ALICE, "@bob:fake"]})
    old = fake.say("!dm:fake", "help")
    fake.ctl("invite", {"room_id": "!inv:fake", "inviter": ALICE, "invitee": BOT,
                        "is_direct": True})
    fake.ctl("fault", {"path": "/join", "kind": "403"})
    fake.ctl("invite", {"room_id": "!evil:fake", "inviter": "@eve:evil", "invitee": BOT})
    conf = write_conf(tmp, fake.url, f"access_token_file = {token_file}\n"
                      "allowed_inviters = @alice:fake, :friendly\n")
    db = os.path.join(tmp, "state", "parley.db")

    d = Daemon(tmp, conf, "run1")
    wait_until("three syncs", lambda: len(fake.syncs()) >= 3)
    syncs = fake.syncs()
    check("first sync has no since", "since" not in syncs[0]["query"], repr(syncs[0]))
    check("first sync asks no wait", syncs[0]["query"].get("timeout") == "0", repr(syncs[0]))
    check("second sync resumes at the first next_batch",
          syncs[1]["query"].get("since") == syncs[0].get("next_batch"),
          f"{syncs[1]['query']} after {syncs[0]}")
    filt = json.loads(syncs[1]["query"]["filter"])
    check("inline filter keeps the timeline to messages",
          filt["room"]["timeline"]["types"] == ["m.room.message"], repr(filt))
    check("sync timeout passed", syncs[1]["query"].get("timeout") == "1000")
    check("whoami before sync", [e["path"] for e in fake.log()][0] ==
          "/_matrix/client/v3/account/whoami")

    # The invite: a 403 first, then joined; it is a direct chat.
    joins = wait_until("join retried", lambda: [e for e in fake.log("/_matrix/client/v3/join/")
                                                if "fault" not in e] and
                       fake.log("/_matrix/client/v3/join/"))
    check("join tried twice", len(joins) == 2, repr(joins))
    check("first join refused", joins[0].get("fault") == "403")
    check("join path", joins[-1]["path"] == "/_matrix/client/v3/join/!inv:fake")
    check("join waited for the backoff", joins[1]["time"] - joins[0]["time"] >= 0.9,
          f"{joins[1]['time'] - joins[0]['time']:.2f}")
    check("invite from outside allowed_inviters declined",
          wait_until("leave", lambda: fake.log("/_matrix/client/v3/rooms/!evil:fake/leave")))
    check("and not joined", not fake.log("/_matrix/client/v3/join/!evil:fake"))
    direct = wait_until("m.direct updated",
                        lambda: fake.log("/_matrix/client/v3/user/@parley:fake/account_data/"
                                         "m.direct", "PUT"))
    check("m.direct names the room", direct and direct[-1]["body"] == {ALICE: ["!inv:fake"]},
          repr(direct))

    # The old message of the first sync is not answered.
    q1 = fake.say("!dm:fake", "help")
    r1 = wait_until("reply to help", lambda: reply_of(fake, q1))
    check("old message unanswered", not reply_of(fake, old))
    if r1:
        c = r1[0]["content"]
        check("reply is a notice", c["msgtype"] == "m.notice", repr(c))
        check("reply text", c["body"].startswith("I answer questions, and these commands:"),
              repr(c["body"][:80]))
        check("txnId is the 32-hex idempotency key", re.fullmatch(r"[0-9a-f]{32}",
              r1[0]["txn_id"] or ""), repr(r1[0]["txn_id"]))
        check("one reply", len(r1) == 1)

    # Own events, notices and edits are no questions; a direct room answers
    # without a mention.
    n_before = len(fake.bot_events())
    fake.say("!dm:fake", "help", sender=BOT)
    fake.say("!dm:fake", "help", sender="@otherbot:fake", msgtype="m.notice")
    fake.say("!dm:fake", "* help", **{"m.new_content": {"msgtype": "m.text", "body": "help"},
                                       "m.relates_to": {"rel_type": "m.replace",
                                                        "event_id": q1}})
    fake.say("!group:fake", "help")
    q2 = fake.say("!group:fake", "Parley: help")
    r2 = wait_until("addressed group message answered", lambda: reply_of(fake, q2))
    time.sleep(0.5)
    check("own, notice, edit and unaddressed group messages ignored",
          len(fake.bot_events()) == n_before + 2, f"{len(fake.bot_events()) - n_before} new")
    check("reply to the addressed message only", len(r2 or []) == 1)
    if r2:
        check("mention stripped before the command",
              r2[0]["content"]["body"].startswith("I answer questions"))
        # A reply to the bot addresses it; the quoted fallback is no text.
        q2b = fake.say("!group:fake", f"> <{BOT}> I answer questions\n\nhelp",
                       **{"m.relates_to": {"m.in_reply_to": {"event_id": r2[0]["event_id"]}}})
        r2b = wait_until("reply to a reply", lambda: reply_of(fake, q2b))
        check("reply fallback removed", r2b and
              r2b[0]["content"]["body"].startswith("I answer questions"), repr(r2b))

    # The invited room works.
    q3 = fake.say("!inv:fake", "hello")
    r3 = wait_until("reply in the joined room", lambda: reply_of(fake, q3))
    if r3:
        check("no-model answer", r3[0]["content"]["body"].startswith("No model is loaded"),
              repr(r3[0]["content"]["body"]))

    # A 500 on send: retried with the same txnId, one event.
    fake.ctl("fault", {"path": "/send/", "kind": "500"})
    q4 = fake.say("!dm:fake", "help")
    r4 = wait_until("reply after a 500", lambda: reply_of(fake, q4))
    tries = [e for e in fake.sends() if r4 and e["path"].endswith("/" + r4[0]["txn_id"])]
    check("500 then retry with the same txnId", len(tries) == 2 and
          tries[0].get("fault") == "500", repr(tries))
    check("exactly one event after the retry", len(r4 or []) == 1)

    # 429 on send with Retry-After: 2 s.
    fake.ctl("fault", {"path": "/send/", "kind": "429", "retry_after_s": 2})
    q5 = fake.say("!dm:fake", "help")
    r5 = wait_until("reply after a 429", lambda: reply_of(fake, q5), 10)
    tries = [e for e in fake.sends() if r5 and e["path"].endswith("/" + r5[0]["txn_id"])]
    check("429 then one retry", len(tries) == 2, repr(tries))
    if len(tries) == 2:
        check("Retry-After honoured", tries[1]["time"] - tries[0]["time"] >= 2.0,
              f"{tries[1]['time'] - tries[0]['time']:.2f}")

    # 429 on sync with retry_after_ms only.
    n = len(fake.syncs())
    fake.ctl("fault", {"path": "/sync", "kind": "429", "retry_after_ms": 1500})
    wait_until("sync after a 429", lambda: len(fake.syncs()) >= n + 3)
    s = fake.syncs()[n:]
    limited = [i for i, e in enumerate(s) if e.get("fault") == "429"]
    if check("sync 429 seen", limited, repr(s)):
        i = limited[0]
        check("retry_after_ms honoured", s[i + 1]["time"] - s[i]["time"] >= 1.5,
              f"{s[i + 1]['time'] - s[i]['time']:.2f}")
        check("same since after the 429", s[i + 1]["query"].get("since") ==
              s[i]["query"].get("since"))

    # With both, Retry-After wins over retry_after_ms.
    n = len(fake.syncs())
    fake.ctl("fault", {"path": "/sync", "kind": "429", "retry_after_s": 2,
                       "retry_after_ms": 100})
    wait_until("sync after a 429 with both", lambda: len(fake.syncs()) >= n + 3)
    s = fake.syncs()[n:]
    limited = [i for i, e in enumerate(s) if e.get("fault") == "429"]
    if check("second sync 429 seen", limited, repr(s)):
        i = limited[0]
        check("Retry-After preferred", s[i + 1]["time"] - s[i]["time"] >= 2.0,
              f"{s[i + 1]['time'] - s[i]['time']:.2f}")

    # Sync faults: each is survived and the next question answered.
    for fault in ({"kind": "500"}, {"kind": "malformed"}, {"kind": "drop"},
                  {"kind": "big", "size": 5 * 1024 * 1024}):
        n = len([e for e in fake.syncs() if e.get("fault")])
        fake.ctl("fault", dict(fault, path="/sync"))
        wait_until(f"sync fault {fault['kind']} met",
                   lambda: len([e for e in fake.syncs() if e.get("fault")]) > n)
        q = fake.say("!dm:fake", "help")
        check(f"answered after a sync fault {fault['kind']}",
              wait_until(f"reply after {fault['kind']}", lambda: reply_of(fake, q), 10))
    # A sync not answered within 1.5 x timeout + 2 s is abandoned.
    fake.ctl("fault", {"path": "/sync", "kind": "slow", "delay_s": 6})
    wait_until("slow sync abandoned", lambda: "sync failed: Connection timed out" in d.err())
    q = fake.say("!dm:fake", "help")
    check("answered after an abandoned sync",
          wait_until("reply after a slow sync", lambda: reply_of(fake, q), 10))
    faults = [e.get("fault") for e in fake.syncs() if e.get("fault")]
    check("every sync fault was met", faults == ["429", "429", "500", "malformed", "drop",
                                                 "big", "slow"], repr(faults))

    # A limited timeline is logged as a gap.
    fake.ctl("limited", {"room_id": "!dm:fake"})
    q = fake.say("!dm:fake", "help")
    wait_until("reply after a gap", lambda: reply_of(fake, q))
    check("gap logged", "gap in the timeline" in d.err(), d.err()[-2000:])

    # A reply over the event limit goes out in parts: txnIds KEY, KEY-2.
    long_a = "".join(f"Zebra sentence number {i} is here. " for i in range(1200))
    long_b = "".join(f"Another zebra line {i} goes on. " for i in range(1300))
    for text in (long_a, long_b):
        qa = fake.say("!dm:fake", text)
        wait_until("long message answered", lambda: reply_of(fake, qa))
    q7 = fake.say("!dm:fake", "search zebra")
    first = wait_until("long search answered", lambda: reply_of(fake, q7))
    if first:
        key = first[0]["txn_id"]
        parts = wait_until("second part", lambda: [e for e in fake.bot_events()
                                                   if e["txn_id"] in (key, key + "-2",
                                                                      key + "-3")][1:] and
                           [e for e in fake.bot_events()
                            if e["txn_id"] in (key, key + "-2", key + "-3")])
        check("two parts", parts and [e["txn_id"] for e in parts] == [key, key + "-2"],
              repr([e["txn_id"] for e in parts or []]))
        if parts and len(parts) == 2:
            sizes = [len(e["content"]["body"].encode()) for e in parts]
            check("parts under 60000 bytes", max(sizes) <= 60000, repr(sizes))
            check("only the first part is a rich reply",
                  "m.relates_to" not in parts[1]["content"])
            # Cuts drop only the blanks at them.
            joined = re.sub(r"\s+", "", parts[0]["content"]["body"] +
                            parts[1]["content"]["body"])
            check("both messages in the parts", re.sub(r"\s+", "", long_a) in joined and
                  re.sub(r"\s+", "", long_b) in joined)
            check("first part cut at a sentence end",
                  parts[0]["content"]["body"].endswith("here.") or
                  parts[0]["content"]["body"].endswith("on."),
                  repr(parts[0]["content"]["body"][-40:]))

    status = d.stop()
    check("first run exits cleanly", status == 0, repr(status))
    err1 = d.err()
    check("token never logged", TOKEN not in err1)

    con = sqlite3.connect(db)
    cursor = con.execute("SELECT cursor FROM cursors WHERE adapter = 'matrix'").fetchone()
    con.close()
    check("cursor stored", cursor and re.fullmatch(r"s\d+", cursor[0]), repr(cursor))

    # Restart: the first sync resumes at the stored position; a message that
    # came while down is answered, and nothing is answered twice.
    q6 = fake.say("!dm:fake", "help")
    n = len(fake.syncs())
    n_events = len(fake.bot_events())
    d = Daemon(tmp, conf, "run2")
    r6 = wait_until("reply to a message sent while down", lambda: reply_of(fake, q6))
    s = fake.syncs()[n]
    check("restart resumes at the stored next_batch",
          cursor and s["query"].get("since") == cursor[0], f"{s['query']} vs {cursor}")
    time.sleep(0.5)
    check("only the new message answered", len(fake.bot_events()) == n_events + 1,
          f"{len(fake.bot_events()) - n_events} new")
    check("second run exits cleanly", d.stop() == 0)
    fake.stop()


def crash_run(tmp):
    """Password login; kill -9 while a send is answered slowly; the restart
    sends the same txnId again and the homeserver keeps one event."""
    fake = Fake(tmp)
    pw = os.path.join(tmp, "password")
    with open(pw, "w") as f:
        f.write("hunter2-secret\n")
    fake.ctl("setup", {"users": {BOT: "hunter2-secret"}})
    fake.ctl("room", {"room_id": "!dm:fake", "members": [BOT, ALICE]})
    conf = write_conf(tmp, fake.url, f"password_file = {pw}\nrich_replies = false\n"
                      "reply_msgtype = text\n")
    session = os.path.join(tmp, "state", "matrix-session.json")

    d = Daemon(tmp, conf, "crash1")
    wait_until("two syncs", lambda: len(fake.syncs()) >= 2)
    check("one login", len(fake.log("/_matrix/client/v3/login")) == 1)
    check("session kept with mode 0600", os.path.exists(session) and
          stat.S_IMODE(os.stat(session).st_mode) == 0o600)
    fake.ctl("fault", {"path": "/send/", "kind": "hold_after", "delay_s": 30})
    q = fake.say("!dm:fake", "help")
    sent = wait_until("send reached the server", lambda: fake.sends())
    d.proc.kill()
    d.proc.wait()

    d = Daemon(tmp, conf, "crash2")
    wait_until("send repeated after the restart", lambda: len(fake.sends()) >= 2)
    sends = fake.sends()
    check("same txnId after kill -9", len(sends) == 2 and sent and
          sends[1]["path"] == sends[0]["path"], repr([e["path"] for e in sends]))
    events = [e for e in fake.bot_events()]
    check("exactly one event for the reply", len(events) == 1, repr(events))
    if events:
        c = events[0]["content"]
        check("reply_msgtype text", c["msgtype"] == "m.text", repr(c))
        check("no rich reply when off", "m.relates_to" not in c, repr(c))
    check("kept session reused, no second login",
          len(fake.log("/_matrix/client/v3/login")) == 1)

    # The session's token revoked: parleyd logs in again and answers.
    fake.ctl("revoke", {"user": BOT})
    q2 = fake.say("!dm:fake", "help")
    r2 = wait_until("answered after logging in again",
                    lambda: [e for e in fake.bot_events() if e["txn_id"] and
                             e["content"]["body"].startswith("I answer")][1:], 15)
    check("logged in a second time", len(fake.log("/_matrix/client/v3/login")) == 2)
    with open(session) as f:
        check("new session kept", json.load(f)["access_token"] == "syt_login_2")
    check("one answer to the question", len(r2 or []) == 1, repr(q2))
    check("crash restart exits cleanly", d.stop() == 0)
    for name in ("crash1", "crash2"):
        with open(os.path.join(tmp, name + ".err")) as f:
            text = f.read()
        check(f"password and token not logged ({name})",
              "hunter2" not in text and "syt_login" not in text)
    con = sqlite3.connect(os.path.join(tmp, "state", "parley.db"))
    rows = con.execute("SELECT status FROM outbox").fetchall()
    con.close()
    check("outbox rows sent", rows == [("sent",), ("sent",)], repr(rows))
    fake.stop()


def bad_token_run(tmp):
    """A refused token fails the Matrix adapter; the console answers."""
    fake = Fake(tmp)
    token_file = os.path.join(tmp, "token")
    with open(token_file, "w") as f:
        f.write("syt_revoked_token\n")
    conf = write_conf(tmp, fake.url, f"access_token_file = {token_file}\n", console=True)
    fifo = os.path.join(tmp, "in")
    os.mkfifo(fifo)
    rd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = open(fifo, "w")
    d = Daemon(tmp, conf, "badtoken", stdin=rd)
    os.close(rd)
    wait_until("adapter failed", lambda: "refused the access token" in d.err())
    writer.write("help\n")
    writer.flush()
    wait_until("console answers", lambda: "I answer questions" in d.out())
    check("no sync with a refused token", not fake.syncs())
    check("token not logged", "syt_revoked_token" not in d.err())
    writer.close()
    try:
        status = d.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        status = "hung"
        d.proc.kill()
    check("exits at the end of console input", status == 0, repr(status))
    fake.stop()


def down_run(tmp):
    """A homeserver that is down: whoami is retried with a growing wait, and
    a stop while waiting is clean."""
    fake = Fake(tmp)
    url = fake.url
    fake.stop()             # nothing listens on its port now
    token_file = os.path.join(tmp, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    conf = write_conf(tmp, url, f"access_token_file = {token_file}\n")
    d = Daemon(tmp, conf, "down")
    lines = wait_until("three tries", lambda: re.findall(
        r"whoami failed: Connection refused; retrying in ([0-9.]+) s", d.err())[2:] and
        re.findall(r"whoami failed: Connection refused; retrying in ([0-9.]+) s", d.err()),
        15)
    if lines:
        waits = [float(w) for w in lines[:3]]
        check("backoff grows", waits[0] <= 1.0 and 1.0 <= waits[2] <= 4.0 and
              waits[2] > waits[0], repr(waits))
    check("stop while waiting to retry", d.stop() == 0)


def config_run(tmp):
    """Configuration mistakes stop parleyd with the key and file named."""
    conf = os.path.join(tmp, "parleyd.conf")
    cases = [
        ("", "homeserver_url is required"),
        ("homeserver_url = ftp://x\naccess_token_file = /nonexistent\n",
         "homeserver_url must start with https://"),
        ("homeserver_url = http://127.0.0.1:9\n",
         "needs access_token_file, the systemd credential matrix-token, or password_file"),
        ("homeserver_url = http://127.0.0.1:9\naccess_token_file = /nonexistent/token\n",
         "cannot read the access token from /nonexistent/token"),
        ("homeserver_url = http://127.0.0.1:9\nuser_id = parley\n",
         "user_id 'parley' is not a full Matrix user id"),
        ("homeserver_url = http://127.0.0.1:9\npassword_file = pw\n",
         "password_file needs user_id"),
        ("homeserver_url = http://127.0.0.1:9\naccess_token_file = tok\n"
         "allowed_inviters = alice\n", "allowed_inviters: 'alice' is neither"),
    ]
    with open(os.path.join(tmp, "tok"), "w") as f:
        f.write("syt_x\n")
    for extra, wanted in cases:
        with open(conf, "w") as f:
            f.write(f"[parleyd]\nstate_dir = {tmp}/state\n[matrix]\nenabled = true\n{extra}")
        p = subprocess.run([PARLEYD, "--config", conf, "--foreground"], capture_output=True,
                           text=True, timeout=10, env=dict(os.environ, CREDENTIALS_DIRECTORY=""))
        check(f"refused: {wanted}", p.returncode != 0 and wanted in p.stderr, p.stderr)


for run in (config_run, down_run, main_run, crash_run, bad_token_run):
    with tempfile.TemporaryDirectory() as tmp:
        before = failures
        try:
            run(tmp)
        except Exception as e:     # a failed check, not a crash of the test
            check(f"{run.__name__} ran to its end", False, repr(e))
        finally:
            for proc in spawned:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            spawned.clear()
        if failures > before:
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".err"):
                    with open(os.path.join(tmp, name)) as f:
                        print(f"--- {name} (last lines)\n" + "".join(f.readlines()[-30:]),
                              file=sys.stderr)

print(f"{checks} checks, {failures} failed", file=sys.stderr)
sys.exit(1 if failures or not checks else 0)
