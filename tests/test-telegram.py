#!/usr/bin/python3
"""parleyd's Telegram adapter in long-polling mode against the fake Bot API.

Start-up (getMe, getWebhookInfo, the first getUpdates), a batch of varied
updates (private chats, groups addressed by mention, command or reply,
edits and unknown updates skipped, channel posts, captions), the offsets
and the stored cursor, replies with reply_parameters and no parse_mode,
long replies split in UTF-16 units, receive faults (500, garbage, dropped
connection, 409, 429, a 5 MB answer, a poll that hangs), send faults
(429 with retry_after, 400, 500, a 429 in the middle of a split reply),
per-chat and per-group spacing, and the token kept out of the log."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
from telegram_harness import (BOT_ID, TOKEN, Checks, Daemon, FakeTelegram, config_text,  # noqa
                              console_reply, db, group_message, private_message, utf16_units)

# The replies expected, as the console gives them (set in main()).
HELP_EN = HELP_ZH = NO_MODEL_EN = None
SPLIT_UNITS = 64

t = Checks()


def sends(log, chat_id):
    return [e for e in log if e["method"] == "sendMessage" and
            str(e["params"].get("chat_id")) == str(chat_id)]


def sent_ok(log, chat_id):
    return [e for e in sends(log, chat_id) if e["status"] == 200]


def polls(log):
    return [e for e in log if e["method"] == "getUpdates"]


def inbox(dbpath, update_id):
    con = db(dbpath)
    row = con.execute("SELECT chat_id, user_id, user_name, message_id, text, direct, "
                      "addressed, sent_at_ms FROM inbox WHERE event_id = ?",
                      (str(update_id),)).fetchone()
    con.close()
    return row


def wait_inbox(dbpath, update_id, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if inbox(dbpath, update_id):
                return True
        except Exception:
            pass
        time.sleep(0.05)
    return False


def after_fault(fake, kind, since, method="getUpdates", timeout=15):
    """The first request from log index since on that met the fault, and
    the next request of the same method, once one has succeeded after it."""
    def ready(log):
        entries = [e for e in log[since:] if e["method"] == method]
        for i, e in enumerate(entries):
            if e["fault"] == kind:
                later = [x for x in entries[i + 1:] if x["status"] == 200 and not x["fault"]]
                return bool(later)
        return False

    log = fake.wait_for(ready, timeout, f"recovery after a {kind} fault on {method}")
    entries = [e for e in log[since:] if e["method"] == method]
    for i, e in enumerate(entries):
        if e["fault"] == kind:
            return e, entries[i + 1]
    return None, None


def test_startup(fake):
    log = fake.wait_for(lambda log: polls(log), what="the first getUpdates")
    t.eq("start-up calls", ["getMe", "getWebhookInfo", "getUpdates"],
         [e["method"] for e in log[:3]])
    first = polls(log)[0]["params"]
    t.check("the first poll has no offset (nothing stored yet)", "offset" not in first, first)
    t.eq("limit", 100, first.get("limit"))
    t.eq("long-poll timeout", 2, first.get("timeout"))
    t.eq("allowed_updates", ["message", "channel_post"], first.get("allowed_updates"))


def test_batch(fake, dbpath):
    mention = [{"type": "mention", "offset": 0, "length": 11}]
    updates = [
        private_message("/start", chat_id=1001, message_id=11, update_id=1),
        group_message("hello everyone", chat_id=-2001, message_id=21, update_id=2),
        group_message("@parley_bot what is up", chat_id=-2002, message_id=22,
                      entities=mention, update_id=3),
        group_message("/help@parley_bot", chat_id=-2003, message_id=23, update_id=4,
                      entities=[{"type": "bot_command", "offset": 0, "length": 16}]),
        group_message("thanks", chat_id=-2004, message_id=24, update_id=5,
                      reply_to={"message_id": 5, "date": 1, "chat": {"id": -2004},
                                "from": {"id": BOT_ID, "is_bot": True, "first_name": "P"}}),
        {"update_id": 6, "edited_message": private_message("/start edited", chat_id=1001,
                                                           message_id=11)["message"]},
        {"update_id": 7, "message_reaction": {"chat": {"id": 1001}, "message_id": 11,
                                              "new_reaction": [{"type": "emoji",
                                                                "emoji": "👍"}]}},
        {"update_id": 8, "message": {"message_id": 9, "text": "no chat here"}},
        group_message("news of the day", chat_id=-1003, message_id=25, update_id=9,
                      kind="channel_post", chat_type="channel"),
        private_message("帮助", chat_id=1005, message_id=30, update_id=10),
        private_message("hello bot", chat_id=1006, message_id=31, update_id=11),
        group_message("@PARLEY_BOT  help", chat_id=-2005, message_id=32, update_id=12,
                      entities=mention),
        {"update_id": 13, "message": {"message_id": 33, "date": 1700000000,
                                      "chat": {"id": 1007, "type": "private"},
                                      "from": {"id": 1007, "first_name": "Cy"},
                                      "photo": [{"file_id": "x"}], "caption": "help"}},
        {"update_id": 14, "message": {"message_id": 34, "date": 1700000000,
                                      "chat": {"id": 1008, "type": "private"},
                                      "from": {"id": 1008, "first_name": "Di"},
                                      "sticker": {"file_id": "y"}, "unknown_field": 1}},
    ]
    fake.add_updates(updates)
    log = fake.wait_for(lambda log: any(e["params"].get("offset") == 15 for e in polls(log))
                        and sent_ok(log, 1007) and sent_ok(log, 1006) and sent_ok(log, -2005),
                        what="the batch's replies and the next offset")

    con = db(dbpath)
    ids = sorted(int(r[0]) for r in con.execute("SELECT event_id FROM inbox"))
    cursor = con.execute("SELECT cursor FROM cursors WHERE adapter = 'telegram'").fetchone()
    con.close()
    t.eq("stored updates (edits, reactions, chatless and textless skipped)",
         [1, 2, 3, 4, 5, 9, 10, 11, 12, 13], ids)
    t.eq("cursor stored with the batch", ("15",), cursor)

    row = inbox(dbpath, 1)
    t.eq("private: chat, user, name, message id, text, direct, addressed, date",
         ("1001", "1001", "Ann", "11", "/start", 1, 1, 1700000000000), row)
    t.eq("group, not addressed", ("-2001", "3001", "Bob Stone", 0, 0),
         (row := inbox(dbpath, 2)) and (row[0], row[1], row[2], row[5], row[6]))
    t.eq("mention: addressed, the name taken out of the text", ("what is up", 0, 1),
         (row := inbox(dbpath, 3)) and (row[4], row[5], row[6]))
    t.eq("/help@bot: addressed", ("/help@parley_bot", 1), inbox(dbpath, 4)[4:7:2])
    t.eq("a reply to the bot: addressed", 1, inbox(dbpath, 5)[6])
    t.eq("channel post: not addressed, named after the channel", ("Test group", 0, 0),
         (row := inbox(dbpath, 9)) and (row[2], row[5], row[6]))
    t.eq("mention in other case", ("help", 1), (row := inbox(dbpath, 12)) and (row[4], row[6]))
    t.eq("caption taken as text", "help", inbox(dbpath, 13)[4])

    first = sent_ok(log, 1001)[0]["params"]
    t.eq("reply text", HELP_EN, first["text"])
    t.eq("reply_parameters", {"message_id": 11, "allow_sending_without_reply": True},
         first.get("reply_parameters"))
    t.check("no parse_mode", "parse_mode" not in first, first)
    t.eq("/help@bot answered in its group", HELP_EN, sent_ok(log, -2003)[0]["params"]["text"])
    t.eq("Chinese help", HELP_ZH, sent_ok(log, 1005)[0]["params"]["text"])
    t.eq("caption answered", HELP_EN, sent_ok(log, 1007)[0]["params"]["text"])
    t.eq("free text: the responder's answer", NO_MODEL_EN,
         sent_ok(log, 1006)[0]["params"]["text"])
    t.eq("nothing sent for the sticker", [], sends(log, 1008))
    t.eq("a group message not addressed is not answered", [], sends(log, -2001))
    t.eq("a channel post not addressed is not answered", [], sends(log, -1003))
    con = db(dbpath)
    stored = con.execute("SELECT platform_message_id, status FROM outbox WHERE chat_id = '1001'"
                         ).fetchone()
    con.close()
    t.eq("Telegram's message id is recorded", (str(sent_ok(log, 1001)[0]["message_id"]), "sent"),
         stored)


def test_receive_faults(fake, daemon, dbpath):
    next_id = [100]
    since = [0]

    def deliver(fault, times=1):
        since[0] = len(fake.log())
        fake.add_faults([fault] * times)
        next_id[0] += 1
        fake.add_updates([private_message("/help", chat_id=4000 + next_id[0],
                                          message_id=1, update_id=next_id[0])])
        e, nxt = after_fault(fake, fault["kind"], since[0])
        t.check(f"{fault['kind']}: update stored after the fault",
                wait_inbox(dbpath, next_id[0]))
        return e, nxt

    e, nxt = deliver({"method": "getUpdates", "kind": "status", "status": 500,
                      "description": "Internal Server Error"})
    t.eq("500: the retry keeps the offset", e["params"].get("offset"), nxt["params"].get("offset"))
    t.check("500: backed off", nxt["t"] - e["t"] >= 0.2, nxt["t"] - e["t"])

    e, nxt = deliver({"method": "getUpdates", "kind": "garbage"})
    t.eq("not JSON: the retry keeps the offset", e["params"].get("offset"),
         nxt["params"].get("offset"))

    e, nxt = deliver({"method": "getUpdates", "kind": "drop"})
    t.eq("dropped connection: the retry keeps the offset", e["params"].get("offset"),
         nxt["params"].get("offset"))

    e, nxt = deliver({"method": "getUpdates", "kind": "status", "status": 409,
                      "description": "Conflict: terminated by other getUpdates request"},
                     times=2)
    log = fake.log()[since[0]:]
    conflicts = [x for x in log if x["method"] == "getUpdates" and x["status"] == 409]
    t.eq("409: two conflicts met", 2, len(conflicts))
    t.check("409: backed off between tries", conflicts[1]["t"] - conflicts[0]["t"] >= 0.2)
    t.check("409: the daemon says why", "another poller for this bot or a webhook" in
            daemon.stderr())
    t.check("409: still running", daemon.proc.poll() is None)

    e, nxt = deliver({"method": "getUpdates", "kind": "status", "status": 429,
                      "retry_after": 1, "description": "Too Many Requests: retry after 1"})
    t.check("429: waited retry_after (1 s)", nxt["t"] - e["t"] >= 1.0, nxt["t"] - e["t"])

    e, nxt = deliver({"method": "getUpdates", "kind": "big", "bytes": 5_000_000})
    t.eq("5 MB answer: refused, asked for fewer updates", 50, nxt["params"].get("limit"))
    t.eq("5 MB answer: same offset", e["params"].get("offset"), nxt["params"].get("offset"))

    e, nxt = deliver({"method": "getUpdates", "kind": "hang", "seconds": 30})
    t.check("a poll that hangs is abandoned after timeout + margin (2 + 1 s)",
            3.0 <= nxt["t"] - e["t"] < 6.0, nxt["t"] - e["t"])


def test_send_faults(fake, dbpath):
    fake.add_faults([
        {"method": "sendMessage", "chat_id": 1010, "kind": "status", "status": 429,
         "retry_after": 1, "description": "Too Many Requests: retry after 1"},
        {"method": "sendMessage", "chat_id": 1011, "kind": "status", "status": 400,
         "description": "Bad Request: chat not found"},
        {"method": "sendMessage", "chat_id": 1012, "kind": "status", "status": 500,
         "description": "Internal Server Error"},
        {"method": "sendMessage", "chat_id": 1013, "kind": "drop"},
    ])
    fake.add_updates([private_message("/help", chat_id=c, message_id=7, update_id=200 + i)
                      for i, c in enumerate((1010, 1011, 1012, 1013))])
    log = fake.wait_for(lambda log: sent_ok(log, 1010) and sent_ok(log, 1012) and
                        sent_ok(log, 1013), what="replies after send faults")

    tries = sends(log, 1010)
    t.eq("429 then success", [429, 200], [x["status"] for x in tries])
    t.check("429: the retry waited retry_after (1 s)", tries[1]["t"] - tries[0]["t"] >= 1.0,
            tries[1]["t"] - tries[0]["t"])
    t.eq("500 then success", [500, 200], [x["status"] for x in sends(log, 1012)])
    t.eq("dropped, then sent again", ["drop", 200], [x["status"] for x in sends(log, 1013)])

    time.sleep(1.5)
    t.eq("400 chat not found: one try, no retry", [400],
         [x["status"] for x in sends(fake.log(), 1011)])
    con = db(dbpath)
    row = con.execute("SELECT status, last_error FROM outbox WHERE chat_id = '1011'").fetchone()
    con.close()
    t.check("400: the outbox row is failed, with Telegram's reason",
            row and row[0] == "failed" and "chat not found" in (row[1] or ""), row)


def test_spacing(fake):
    fake.add_updates([private_message("/help", chat_id=1020, message_id=m, update_id=300 + m)
                      for m in (1, 2)] +
                     [group_message("/help@parley_bot", chat_id=-2010, message_id=m,
                                    update_id=310 + m,
                                    entities=[{"type": "bot_command", "offset": 0,
                                               "length": 16}]) for m in (1, 2)])
    log = fake.wait_for(lambda log: len(sent_ok(log, 1020)) == 2 and
                        len(sent_ok(log, -2010)) == 2, what="spaced replies")
    a, b = sent_ok(log, 1020)
    t.check("one chat: replies at least 1 s apart", b["t"] - a["t"] >= 0.95, b["t"] - a["t"])
    a, b = sent_ok(log, -2010)
    t.check("one group at 30 a minute: replies at least 2 s apart", b["t"] - a["t"] >= 1.95,
            b["t"] - a["t"])


def test_split(fake, dbpath):
    """max_text_units = 64: the help text goes out in parts."""
    fake.add_faults([
        # The second part of a split reply meets a 429: the first is not sent again.
        {"method": "sendMessage", "chat_id": 1031, "kind": "delay", "seconds": 0},
        {"method": "sendMessage", "chat_id": 1031, "kind": "status", "status": 429,
         "retry_after": 1, "description": "Too Many Requests: retry after 1"},
    ])
    fake.add_updates([private_message("/help", chat_id=c, message_id=9, update_id=400 + i)
                      for i, c in enumerate((1030, 1031))])
    n_units = utf16_units(HELP_EN)

    def complete(log, chat):
        words = " ".join(x["params"]["text"] for x in sent_ok(log, chat)).split()
        return words == HELP_EN.split()

    log = fake.wait_for(lambda log: complete(log, 1030) and complete(log, 1031),
                        what="split replies")
    parts = sent_ok(log, 1030)
    texts = [p["params"]["text"] for p in parts]
    t.check("split: as many parts as needed", len(parts) >= n_units // SPLIT_UNITS + 1,
            (len(parts), n_units))
    t.check("split: each part within max_text_units",
            all(utf16_units(x) <= SPLIT_UNITS for x in texts), texts)
    t.check("split: every part but the last at least half full",
            all(utf16_units(x) >= SPLIT_UNITS // 2 for x in texts[:-1]), texts)
    t.check("split: cut between lines", all("\n" not in x[-1:] for x in texts), texts)
    t.eq("split: only the first part is a reply",
         [True] + [False] * (len(parts) - 1), ["reply_parameters" in p["params"] for p in parts])
    con = db(dbpath)
    stored = con.execute("SELECT platform_message_id FROM outbox WHERE chat_id = '1030'"
                         ).fetchone()
    con.close()
    t.eq("split: the last part's message id is recorded", (str(parts[-1]["message_id"]),),
         stored)

    tries = sends(log, 1031)
    t.eq("429 on part 2: part 1 once, part 2 twice, then the rest",
         [200, 429] + [200] * (len(parts) - 1), [x["status"] for x in tries])
    t.eq("the retry resumed at part 2", tries[1]["params"]["text"], tries[2]["params"]["text"])
    t.check("the retry waited retry_after", tries[2]["t"] - tries[1]["t"] >= 1.0)


def main():
    global HELP_EN, HELP_ZH, NO_MODEL_EN
    with tempfile.TemporaryDirectory() as tmp:
        HELP_EN = console_reply(tmp, "help")
        HELP_ZH = console_reply(tmp, "帮助")
        NO_MODEL_EN = console_reply(tmp, "hello bot")
        fake = FakeTelegram(tmp)
        state = os.path.join(tmp, "state")
        dbpath = os.path.join(state, "parley.db")
        daemon = Daemon(tmp, config_text(state, fake, "group_send_per_minute = 30\n"))
        try:
            test_startup(fake)
            test_batch(fake, dbpath)
            test_receive_faults(fake, daemon, dbpath)
            test_send_faults(fake, dbpath)
            test_spacing(fake)
        except TimeoutError as e:
            t.check(str(e), False)
        rc = daemon.stop()
        t.eq("exit status after SIGTERM", 0, rc)
        err = daemon.stderr()

        daemon = Daemon(tmp, config_text(state, fake, f"max_text_units = {SPLIT_UNITS}\n"),
                        name="split")
        try:
            test_split(fake, dbpath)
        except TimeoutError as e:
            t.check(str(e), False)
        finally:
            t.eq("split run: exit status", 0, daemon.stop())
            final_log = fake.log()
            fake.stop()
        err += daemon.stderr()
        t.check("the token is never logged (debug level)", TOKEN not in err and
                TOKEN.split(":")[1] not in err)
        t.check("every request carried the token",
                all(e["token_ok"] for e in final_log if e["method"]))
        if t.failures:
            sys.stderr.write(err[-6000:])
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
