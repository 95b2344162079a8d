#!/usr/bin/python3
"""kill -9 during a burst of Telegram updates, then a restart.

300 updates from 150 chats arrive at once; parleyd is killed with
SIGKILL once a third of the replies have gone out.  After the restart
every update is answered, the first poll starts from the stored cursor,
the inbox holds each update once, and the only replies sent twice are the
ones Telegram had taken before the kill but parleyd had not yet recorded
as sent: exactly those, counted from the fake server's log and the
database at the moment of the kill."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
from telegram_harness import Checks, Daemon, FakeTelegram, config_text, db, private_message  # noqa

CHATS = 150
PER_CHAT = 2
TOTAL = CHATS * PER_CHAT

t = Checks()


def replies(log):
    """(chat_id, replied-to message id) of every successful sendMessage,
    with its time."""
    out = []
    for e in log:
        if e["method"] == "sendMessage" and e["status"] == 200:
            rp = e["params"].get("reply_parameters") or {}
            out.append(((int(e["params"]["chat_id"]), rp.get("message_id")), e["t"]))
    return out


def settled_log(fake, quiet_s=0.5, timeout_s=10):
    """The fake's log once it has stopped growing for quiet_s: requests the
    killed daemon wrote before it died may still wait in the fake's sockets
    (under load the fake reads them, and stamps them, after the kill)."""
    log, since = fake.log(), time.monotonic()
    deadline = since + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = fake.log()
        if len(now) != len(log):
            log, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return log


def main():
    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeTelegram(tmp)
        state = os.path.join(tmp, "state")
        dbpath = os.path.join(state, "parley.db")
        conf = config_text(state, fake, "send_per_second = 100000\n")
        conf = conf.replace("log_level = debug", "log_level = info")

        updates = []
        for n in range(PER_CHAT):
            for c in range(CHATS):
                text = "/help" if (c + n) % 2 == 0 else "hello there"
                updates.append(private_message(text, chat_id=5000 + c, message_id=n + 1,
                                               update_id=1 + len(updates)))
        expected = {(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in updates}

        daemon = Daemon(tmp, conf, name="first")
        try:
            fake.wait_for(lambda log: any(e["method"] == "getUpdates" for e in log),
                          what="the first poll")
            fake.add_updates(updates)
            fake.wait_for(lambda log: len(replies(log)) >= TOTAL // 3, timeout=30,
                          what="a third of the replies")
        except TimeoutError as e:
            t.check(str(e), False)
        daemon.kill9()

        log = settled_log(fake)
        before = replies(log)
        con = db(dbpath)
        sent_at_kill = con.execute("SELECT count(*) FROM outbox WHERE status = 'sent'"
                                   ).fetchone()[0]
        cursor = con.execute("SELECT cursor FROM cursors WHERE adapter = 'telegram'").fetchone()
        stored_at_kill = con.execute("SELECT count(*) FROM inbox").fetchone()[0]
        con.close()
        print(f"killed with {stored_at_kill} stored, {len(before)} replies taken by Telegram, "
              f"{sent_at_kill} recorded as sent", file=sys.stderr)
        t.check("killed mid-burst", TOTAL // 3 <= len(before) < TOTAL, len(before))
        log_len = len(log)

        daemon = Daemon(tmp, conf, name="second")
        try:
            fake.wait_for(lambda log: {k for k, _ in replies(log)} >= expected, timeout=40,
                          what="every update answered after the restart")
        except TimeoutError as e:
            t.check(str(e), False)
        time.sleep(1.0)
        rc = daemon.stop()
        t.eq("restart: exit status", 0, rc)

        log = fake.log()
        after_polls = [e for e in log[log_len:] if e["method"] == "getUpdates"]
        first_offset = after_polls[0]["params"].get("offset") if after_polls else None
        t.eq("the first poll after the restart starts at the stored cursor",
             int(cursor[0]) if cursor else None, first_offset)

        all_replies = replies(log)
        counts = {}
        for k, _ in all_replies:
            counts[k] = counts.get(k, 0) + 1
        t.eq("every update answered", set(), expected - set(counts))
        t.eq("no reply to anything else", set(), set(counts) - expected)
        twice = {k for k, n in counts.items() if n > 1}
        t.check("nothing answered three times", all(n <= 2 for n in counts.values()))
        t.check("at most one reply sent twice per chat (the one in flight)",
                len({chat for chat, _ in twice}) == len(twice))
        t.eq("replies sent twice: exactly those taken before the kill and not yet recorded",
             len(before) - sent_at_kill, len(twice))
        t.eq("each reply sent twice was first sent before the kill", set(),
             twice - {k for k, _ in before})

        con = db(dbpath)
        t.eq("inbox: each update once", TOTAL, con.execute("SELECT count(*) FROM inbox"
                                                          ).fetchone()[0])
        t.eq("inbox: all answered", 0, con.execute("SELECT count(*) FROM inbox WHERE "
                                                   "status != 'done'").fetchone()[0])
        t.eq("outbox: one reply each, all sent", (TOTAL, TOTAL),
             con.execute("SELECT count(*), sum(status = 'sent') FROM outbox").fetchone())
        t.eq("cursor after the last update", (str(TOTAL + 1),),
             con.execute("SELECT cursor FROM cursors WHERE adapter = 'telegram'").fetchone())
        con.close()
        print(f"{len(twice)} reply(ies) sent twice", file=sys.stderr)
        fake.stop()
        if t.failures:
            sys.stderr.write(daemon.stderr()[-3000:])
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
