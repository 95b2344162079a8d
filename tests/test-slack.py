#!/usr/bin/python3
"""parleyd on a fake Slack (tests/fake/slack.py), over Socket Mode.

Asserts: auth.test and one apps.connections.open per connection; every
envelope acknowledged once, and a stored event only once it is in the
inbox; chat.postMessage with the channel, the thread and escaped text;
the bot's own, other bots', edited, deleted and other events ignored;
a redelivered event answered once; malformed and oversized frames
survived; 429 waits Retry-After; ok:false errors retried or refused as
Slack means them; refresh_requested opens the next connection before
closing the old one, too_many_websockets closes first; a silent
connection is replaced; an ack lost before kill -9 is redelivered and
answered once; invalid_auth stops the adapter while the console answers;
tokens appear in no log."""
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

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
APP_TOKEN = "xapp-1-A1-fakeappsecret"
BOT_TOKEN = "xoxb-1-fakebotsecret"
HELP_FIRST = "I answer questions, and these commands:"
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


ts_counter = [100]


def new_ts():
    ts_counter[0] += 1
    return f"1700000000.{ts_counter[0]:06d}"


def dm(channel, text, **extra):
    return dict({"type": "message", "channel_type": "im", "channel": channel, "user": "U1",
                 "text": text, "ts": new_ts()}, **extra)


def mention(channel, text, **extra):
    return dict({"type": "app_mention", "channel": channel, "user": "U1", "text": text,
                 "ts": new_ts()}, **extra)


class Daemon:
    def __init__(self, tmp, fake, name, console=False, extra=""):
        self.tmp = tmp
        self.fake = fake
        self.err_path = os.path.join(tmp, f"{name}.err")
        self.out_path = os.path.join(tmp, f"{name}.out")
        self.conf = os.path.join(tmp, f"{name}.conf")
        self.db = os.path.join(tmp, "state", "parley.db")
        with open(self.conf, "w") as f:
            f.write(f"[parleyd]\nstate_dir = {tmp}/state\nlog_level = debug\n"
                    f"shutdown_timeout_ms = 3000\n"
                    f"[slack]\nenabled = true\napp_token_file = {tmp}/app-token\n"
                    f"bot_token_file = {tmp}/bot-token\napi_url = {fake.api_url}\n"
                    f"ping_timeout_ms = 1500\n{extra}")
            if console:
                f.write("[console]\nenabled = true\nuser = tester\n")
        self.writer = None
        stdin = subprocess.DEVNULL
        if console:
            fifo = os.path.join(tmp, f"{name}.in")
            os.mkfifo(fifo)
            stdin = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.proc = subprocess.Popen([PARLEYD, "--config", self.conf, "--foreground"],
                                     stdin=stdin, stdout=open(self.out_path, "w"),
                                     stderr=open(self.err_path, "w"))
        if console:
            self.writer = open(fifo, "w")
            os.close(stdin)

    def err(self):
        with open(self.err_path) as f:
            return f.read()

    def out(self):
        with open(self.out_path) as f:
            return f.read()

    def stop(self):
        if self.writer:
            self.writer.close()
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "hung"


def posts(fake, channel):
    return fake.entries("post", channel=channel)


def answered(fake, channel, n=1, timeout_s=10):
    return wait_until(lambda: len(posts(fake, channel)) >= n, timeout_s)


def acks(fake, envelope_id):
    return fake.entries("ack", envelope_id=envelope_id)


def in_inbox(db, event_id):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT count(*) FROM inbox WHERE adapter = 'slack' AND "
                              "event_id = ?", (event_id,)).fetchone()
        finally:
            con.close()
        return row[0] == 1
    except sqlite3.Error:
        return False


def sql(db, query, *args):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def main_run(tmp, fake):
    d = Daemon(tmp, fake, "main")
    ok = wait_until(lambda: fake.entries("ws_open"))
    check("a connection opens", ok, d.err())
    if not ok:
        d.stop()
        return
    check("auth.test once, with the bot token",
          [e["token_ok"] for e in fake.entries("auth.test")] == [True])
    check("connections.open once, with the app token",
          [e["token_ok"] for e in fake.entries("connections.open")] == [True])

    # Every ack: was the event in the inbox by then?
    ack_saw_inbox = {}

    def on_ack(envelope_id, event_id):
        ack_saw_inbox[envelope_id] = in_inbox(d.db, event_id)
    fake.on_ack = on_ack
    send = fake.send_event

    # A mention in a channel: answered in a thread started at it.
    m = mention("C1", "<@UBOT> help")
    env_help, ev_help = send(m)
    answered(fake, "C1")
    p = posts(fake, "C1")
    check("mention answered once", len(p) == 1, repr(p))
    check("mention answered in a thread at the mention", p and p[0]["thread_ts"] == m["ts"],
          repr(p))
    check("help text", p and p[0]["text"].split("\n")[0] == HELP_FIRST, repr(p))
    check("posted as JSON with the bot token",
          p and p[0]["token_ok"] and p[0]["content_type"].startswith("application/json"),
          repr(p))
    check("mention acked once", len(acks(fake, env_help)) == 1)
    check("mention acked after it was in the inbox", ack_saw_inbox.get(env_help) is True,
          repr(ack_saw_inbox))

    # A direct message, escaped both ways; no thread.
    env, _ = send(dm("D1", "search &lt;b&amp;c&gt;"))
    answered(fake, "D1")
    p = posts(fake, "D1")
    check("reply escaped", p and p[0]["text"] ==
          'None of your messages here match "&lt;b&amp;c&gt;".', repr(p))
    check("DM answered without a thread", p and p[0]["thread_ts"] is None, repr(p))
    check("DM stored as direct, unescaped", sql(d.db, "SELECT text, direct, addressed FROM "
          "inbox WHERE chat_id = 'D1'") == [("search <b&c>", 1, 1)])

    # Threads: a mention in a thread, and a thread_broadcast in a DM.
    m = mention("C3", "<@UBOT> help", thread_ts="1699999999.000001")
    send(m)
    b = dm("D2", "help", subtype="thread_broadcast", thread_ts="1699999999.000002")
    send(b)
    answered(fake, "C3")
    answered(fake, "D2")
    check("mention in a thread answered there",
          [x["thread_ts"] for x in posts(fake, "C3")] == ["1699999999.000001"])
    check("thread_broadcast answered in its thread",
          [x["thread_ts"] for x in posts(fake, "D2")] == ["1699999999.000002"])

    # Ignored: acked at once, never stored, never answered.
    ignored = [
        dm("D4", "help", user="UBOT"),
        dm("D4", "help", user="U9", bot_id="BBOT"),
        dm("D4", "help", user=None, bot_id="B2", subtype="bot_message"),
        dm("D4", "help", subtype="message_changed"),
        dm("D4", "help", subtype="message_deleted"),
        dm("D4", "help", subtype="channel_join"),
        dict(dm("C4", "<@UBOT> help"), channel_type="channel"),
        {"type": "reaction_added", "user": "U1", "reaction": "thumbsup"},
        mention("C4", "<@UBOT>"),
    ]
    ignored_envs = [send(e)[0] for e in ignored]
    # The same event again, in a new envelope, as Slack redelivers.
    env_dup, _ = send(mention("C1", "<@UBOT> help"), event_id=ev_help)
    env_sentinel, _ = send(dm("D5", "help"))
    answered(fake, "D5")
    wait_until(lambda: all(acks(fake, e) for e in ignored_envs + [env_dup]))
    check("ignored events each acked once",
          [len(acks(fake, e)) for e in ignored_envs] == [1] * len(ignored_envs))
    check("ignored events not stored",
          [ack_saw_inbox.get(e) for e in ignored_envs] == [False] * len(ignored_envs),
          repr([ack_saw_inbox.get(e) for e in ignored_envs]))
    check("ignored events not answered", posts(fake, "D4") + posts(fake, "C4") == [])
    check("redelivered event acked", len(acks(fake, env_dup)) == 1)
    check("redelivered event answered once", len(posts(fake, "C1")) == 1)

    # Malformed frames and a 5 MB one are skipped; the connection stays.
    opens = len(fake.entries("connections.open"))
    fake.send_raw("not json {")
    fake.send_raw(b"\x00\x01binary")
    fake.send_raw('{"type": "events_api", "envelope_id": "' + "x" * (5 * 1024 * 1024) + '"}')
    fake.send_raw('{"type": "events_api"}')
    send(dm("D6", "help"))
    check("answered after malformed and huge frames", answered(fake, "D6"))
    check("same connection after malformed frames",
          len(fake.entries("connections.open")) == opens)
    check("huge frame reported", "a message longer than 1048576 bytes" in d.err())

    # 429 with Retry-After: the next try waits for it.
    fake.call(lambda: fake.post_responses.append(
        (429, {"Retry-After": "2"}, {"ok": False, "error": "ratelimited"})))
    send(dm("D7", "help"))
    answered(fake, "D7", 2, 10)
    p = posts(fake, "D7")
    check("429 then success", [x["status"] for x in p] == [429, 200], repr(p))
    check("Retry-After honoured", len(p) == 2 and p[1]["t"] - p[0]["t"] >= 2.0,
          repr([x["t"] for x in p]))

    # ok:false ratelimited is retried; channel_not_found is refused for good.
    fake.call(lambda: fake.post_responses.append((200, {}, {"ok": False,
                                                            "error": "ratelimited"})))
    send(dm("D8", "help"))
    answered(fake, "D8", 2, 10)
    check("ratelimited retried", [x["error"] for x in posts(fake, "D8")] == ["ratelimited", None])
    fake.call(lambda: fake.post_responses.append((200, {}, {"ok": False,
                                                            "error": "channel_not_found"})))
    send(dm("D9", "help"))
    answered(fake, "D9")
    wait_until(lambda: sql(d.db, "SELECT status FROM outbox WHERE chat_id = 'D9'") ==
               [("failed",)], 5)
    check("channel_not_found marks the reply failed",
          sql(d.db, "SELECT status FROM outbox WHERE chat_id = 'D9'") == [("failed",)])
    time.sleep(1.5)
    check("channel_not_found not retried", len(posts(fake, "D9")) == 1)

    # A reply over 4,000 characters goes in parts; a part that must be
    # retried is posted again alone.
    words = [" ".join(f"w{i}x{j}" for j in range(420)) for i in range(3)]
    for w in words:
        send(dm("DZ", "zebra " + w))
    answered(fake, "DZ", 3)
    fake.call(lambda: fake.post_responses.extend(
        [None, (429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})]))
    send(dm("DZ", "search zebra"))
    answered(fake, "DZ", 3 + 4, 15)
    p = posts(fake, "DZ")[3:]
    check("long reply: part, 429, the part again, last part",
          [(x["status"], x["text"] == p[1]["text"]) for x in p] ==
          [(200, False), (429, True), (200, True), (200, False)], repr(p))
    parts = [x["text"] for x in p if x["status"] == 200]
    check("long reply: each part under 4,000 characters",
          all(0 < len(t) <= 4000 for t in parts), repr([len(t) for t in parts]))
    tokens = " ".join(parts).split()
    check("long reply: every word once, in order, none cut",
          all([t for t in tokens if t.startswith(f"w{i}x")] ==
              [f"w{i}x{j}" for j in range(420)] for i in range(3)), repr([t[:60] for t in parts]))
    check("long reply: newest message first",
          tokens.index("w2x0") < tokens.index("w1x0") < tokens.index("w0x0"))
    check("long reply: parts threaded alike", all(x["thread_ts"] is None for x in p))

    # refresh_requested: the next connection opens before this one closes.
    opens = len(fake.entries("connections.open"))
    n_ws = len(fake.entries("ws_open"))
    old = fake.disconnect("refresh_requested")
    wait_until(lambda: len(fake.entries("ws_open")) > n_ws and fake.entries("ws_close", conn=old))
    new_open = fake.entries("ws_open")[n_ws:]
    closed = fake.entries("ws_close", conn=old)
    check("refresh: one connections.open", len(fake.entries("connections.open")) == opens + 1)
    check("refresh: new connection before the old closes",
          new_open and closed and new_open[0]["t"] < closed[0]["t"], repr((new_open, closed)))
    send(dm("DA", "help"))
    check("answered on the new connection", answered(fake, "DA"))

    # too_many_websockets: close first, then open.
    opens = len(fake.entries("connections.open"))
    n_ws = len(fake.entries("ws_open"))
    old = fake.disconnect("too_many_websockets")
    wait_until(lambda: len(fake.entries("ws_open")) > n_ws)
    closed = fake.entries("ws_close", conn=old)
    reopen = fake.entries("connections.open")[opens:]
    check("too_many_websockets: old closed before the next open",
          closed and reopen and closed[0]["t"] < reopen[0]["t"], repr((closed, reopen)))

    # A connection that stops answering pings is replaced.
    n_ws = len(fake.entries("ws_open"))
    fake.freeze()
    t0 = time.monotonic()
    ok = wait_until(lambda: len(fake.entries("ws_open")) > n_ws, 8)
    check("silent connection replaced", ok, d.err()[-2000:])
    check("replaced after the ping timeout", ok and time.monotonic() - t0 >= 1.0)
    fake.close_frozen()
    send(dm("DB", "help"))
    check("answered after the dead connection", answered(fake, "DB"))

    # A frame lws cannot parse (reserved opcode) drops the connection;
    # another opens.
    n_ws = len(fake.entries("ws_open"))
    fake.send_bad_opcode()
    check("reconnects after a protocol error",
          wait_until(lambda: len(fake.entries("ws_open")) > n_ws, 8))
    send(dm("DC", "help"))
    check("answered after the protocol error", answered(fake, "DC"))

    refused = fake.entries("ws_refused")
    check("every URL used once", refused == [], repr(refused))
    stored = [e for e in ack_saw_inbox if e not in ignored_envs]
    check("every stored event acked after the inbox commit",
          all(ack_saw_inbox[e] for e in stored), repr(ack_saw_inbox))
    envs = [e["envelope_id"] for e in fake.entries("envelope")]
    check("every envelope acked exactly once",
          [len(acks(fake, e)) for e in envs] == [1] * len(envs))
    fake.on_ack = None

    status = d.stop()
    check("exit status after SIGTERM", status == 0, repr(status))
    err = d.err()
    check("no token in the log", APP_TOKEN not in err and BOT_TOKEN not in err
          and "fakeappsecret" not in err and "fakebotsecret" not in err)


def kill_run(tmp, fake):
    """The ack of an answered event is lost, parleyd is killed; the
    redelivered envelope is acked and not answered again."""
    d = Daemon(tmp, fake, "kill")
    n_ws = len(fake.entries("ws_open"))
    wait_until(lambda: fake.live())
    env, ev = fake.send_event(dm("DK", "help"), drop_ack=True)
    check("answered before the kill", answered(fake, "DK"))
    wait_until(lambda: fake.entries("ack_dropped", envelope_id=env))
    # A kill between the post and its "sent" mark would post again at the
    # restart (at least once); this test is about the envelope.
    wait_until(lambda: sql(d.db, "SELECT status FROM outbox WHERE chat_id = 'DK'") ==
               [("sent",)])
    d.proc.kill()
    d.proc.wait()

    d = Daemon(tmp, fake, "kill2")
    ok = wait_until(lambda: fake.entries("redeliver", envelope_id=env), 10)
    check("unacked envelope redelivered after the restart", ok)
    wait_until(lambda: len(acks(fake, env)) >= 2)
    check("redelivery acked once", len(acks(fake, env)) == 2 and
          len(fake.entries("ack_dropped", envelope_id=env)) == 1)
    fake.send_event(dm("DL", "help"))
    answered(fake, "DL")
    check("killed event answered once", len(posts(fake, "DK")) == 1)
    check("one connection per start", len(fake.entries("ws_open")) >= n_ws + 2)

    # invalid_auth on a send stops the adapter; the reply stays pending.
    fake.call(lambda: fake.post_responses.append((200, {}, {"ok": False,
                                                            "error": "invalid_auth"})))
    fake.send_event(dm("DX", "help"))
    ok = wait_until(lambda: "stopped: chat.postMessage: invalid_auth" in d.err())
    check("invalid_auth on a send stops the adapter", ok, d.err()[-2000:])
    check("its reply stays pending for the next start",
          sql(d.db, "SELECT status FROM outbox WHERE chat_id = 'DX'") == [("pending",)])
    check("connections closed after invalid_auth", wait_until(lambda: not fake.live()))
    check("exit status after SIGTERM", d.stop() == 0)


def auth_run(tmp):
    """invalid_auth: the Slack adapter stops; the console keeps answering."""
    fake = fake_slack.FakeSlack(APP_TOKEN, BOT_TOKEN)
    fake.auth_error = "invalid_auth"
    fake.start()
    d = Daemon(tmp, fake, "auth", console=True)
    ok = wait_until(lambda: "stopped: auth.test: invalid_auth" in d.err())
    check("invalid_auth stops the adapter", ok, d.err())
    d.writer.write("help\n")
    d.writer.flush()
    ok = wait_until(lambda: HELP_FIRST in d.out())
    check("the console still answers", ok, d.out())
    check("no connection opened", fake.entries("connections.open") == [])
    check("console exit status", d.stop() == 0)


def auth_retry_run(tmp):
    """A temporary auth.test failure is retried before any connection."""
    fake = fake_slack.FakeSlack(APP_TOKEN, BOT_TOKEN)
    fake.auth_errors = ["internal_error"]
    fake.start()
    d = Daemon(tmp, fake, "retry")
    ok = wait_until(lambda: fake.entries("ws_open"))
    check("connected after a failed auth.test", ok, d.err())
    calls = fake.entries("auth.test")
    opens = fake.entries("connections.open")
    check("auth.test tried twice", len(calls) == 2, repr(calls))
    check("no connection before auth.test succeeded",
          len(opens) == 1 and len(calls) == 2 and opens[0]["t"] > calls[1]["t"])
    check("retry after the backoff's wait", len(calls) == 2 and
          calls[1]["t"] - calls[0]["t"] >= 0.4)
    check("exit status after SIGTERM", d.stop() == 0)


def token_check(tmp):
    """A token of the wrong kind stops start-up, naming the key, not the token."""
    bad = os.path.join(tmp, "bad-token")
    with open(bad, "w") as f:
        f.write("xoxp-user-token-secret\n")
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write(f"[parleyd]\nstate_dir = {tmp}/bad-state\n[slack]\nenabled = true\n"
                f"app_token_file = {tmp}/app-token\nbot_token_file = {bad}\n")
    r = subprocess.run([PARLEYD, "--config", conf, "--foreground"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=10)
    check("wrong token kind refused", r.returncode != 0, repr(r.returncode))
    check("error names the key and file",
          f"bot_token_file: {bad} does not hold one token starting with xoxb-" in r.stderr,
          r.stderr)
    check("error does not show the token", "user-token-secret" not in r.stderr)


with tempfile.TemporaryDirectory() as tmp:
    for name, token in (("app-token", APP_TOKEN), ("bot-token", BOT_TOKEN)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(token + "\n")
    fake = fake_slack.FakeSlack(APP_TOKEN, BOT_TOKEN)
    fake.start()
    main_run(tmp, fake)
    kill_run(tmp, fake)
    auth_run(tmp)
    auth_retry_run(tmp)
    token_check(tmp)
    if failures:
        for e in fake.log:
            print(e if e["kind"] != "post" else dict(e, text=e["text"][:40]),
                  file=sys.stderr)

print(f"{checks} checks, {failures} failed", file=sys.stderr)
sys.exit(1 if failures or not checks else 0)
