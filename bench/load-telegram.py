#!/usr/bin/python3
"""bench/load-telegram.py: parleyd answering a steady stream of Telegram
updates through the fake Bot API server (tests/fake/telegram.py).

    bench/load-telegram.py [--mode polling|webhook] [--rate 1000]
                           [--seconds 10] [--chats 3000] [--cpus 0,1]
                           [--connections 40] [--text "hello there"]

Updates from --chats private chats arrive at --rate a second for
--seconds.  In polling mode they are queued in the fake server and parleyd
long-polls them; in webhook mode this script posts them to parleyd's
webhook over --connections connections at once (Telegram's default
max_connections is 40).  parleyd answers and sends each reply with
sendMessage to the fake.  Printed beside the targets (1,000 replies/s on
2 cores, p99 under 250 ms, RSS under 100 MB, none lost or duplicated):
replies a second, reply latency percentiles (from the update's arrival to
the fake receiving the reply), parleyd's peak RSS and CPU time, and lost
and duplicated replies (bench/loadlib.py prints the report).

Without --model the daemon runs without a model: free text gets the
no-model answer, so this measures the adapter, the core and the store, not
decoding.  With --model FILE (a model from parley train, e.g. at the seed
sizes from bench/compare.sh) parleyd answers with it, and --prompts FILE
sends the prompts of a prompt<TAB>reply file in turn (real questions give
real reply lengths).  OPENBLAS_* is not set for parleyd.  Not part
of make check: figures, not pass/fail.  Run from a built tree (top_builddir
names the build directory when it is not the source tree)."""
import argparse
import http.client
import json
import os
import queue
import re
import sys
import tempfile
import threading
import time

top = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("top_srcdir", top)
sys.path.insert(0, os.path.join(top, "tests", "lib"))
sys.path.insert(0, os.path.join(top, "bench"))
import loadlib  # noqa: E402
from telegram_harness import FakeTelegram, PARLEYD, config_text, private_message  # noqa

SECRET = "bench-secret"


class WebhookSender:
    """Posts updates to parleyd's webhook from a pool of threads, each with
    its own kept-alive connection, as Telegram does."""

    def __init__(self, port, connections):
        self.port = port
        self.queue = queue.Queue()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, daemon=True)
                        for _ in range(connections)]
        for th in self.threads:
            th.start()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while True:
            update = self.queue.get()
            if update is None:
                return
            body = json.dumps(update).encode()
            for attempt in range(5):
                try:
                    conn.request("POST", "/hook", body=body,
                                 headers={"Content-Type": "application/json",
                                          "X-Telegram-Bot-Api-Secret-Token": SECRET})
                    r = conn.getresponse()
                    r.read()
                    if r.status == 200:
                        break
                    time.sleep(0.1 * (attempt + 1))
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    if attempt == 4:
                        self.errors.append(str(e))

    def send(self, updates):
        for u in updates:
            self.queue.put(u)

    def stop(self):
        for _ in self.threads:
            self.queue.put(None)
        for th in self.threads:
            th.join(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=1000, help="updates queued a second")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--chats", type=int, default=3000)
    ap.add_argument("--cpus", default=None, help="pin parleyd to these CPUs (taskset -c)")
    ap.add_argument("--text", default="hello there")
    ap.add_argument("--mode", choices=("polling", "webhook"), default="polling")
    ap.add_argument("--connections", type=int, default=40,
                    help="webhook mode: requests in flight at once")
    loadlib.add_model_arguments(ap)
    args = ap.parse_args()
    texts = loadlib.prompts(args)

    if not os.access(PARLEYD, os.X_OK):
        print(f"{PARLEYD} is not built: run make first", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeTelegram(tmp)
        state = os.path.join(tmp, "state")
        extra = "send_per_second = 1000000\n"
        if args.mode == "webhook":
            with open(os.path.join(tmp, "secret"), "w") as f:
                f.write(SECRET + "\n")
            os.chmod(os.path.join(tmp, "secret"), 0o600)
            extra += ("mode = webhook\nwebhook_url = https://bench.invalid/hook\n"
                      "webhook_secret_file = secret\n")
        conf = config_text(state, fake, extra, "[http]\nenabled = true\nport = 0\n"
                           if args.mode == "webhook" else "")
        conf = conf.replace("log_level = debug", "log_level = info")
        conf = conf.replace("poll_timeout_s = 2", "poll_timeout_s = 1")
        conf_path = os.path.join(tmp, "parleyd.conf")
        with open(conf_path, "w") as f:
            f.write(conf)
        with open(os.path.join(tmp, "token"), "w") as f:
            f.write("123456:TEST-token-abcdefghijklmnopqrstuvwxyz\n")
        os.chmod(os.path.join(tmp, "token"), 0o600)

        err_path = os.path.join(tmp, "parleyd.err")
        daemon = loadlib.start_daemon(PARLEYD, conf_path, err_path, args.cpus, args)
        sender = None
        if args.mode == "polling":
            fake.wait_for(lambda log: any(e["method"] == "getUpdates" for e in log),
                          what="parleyd's first poll")
        else:
            fake.wait_for(lambda log: any(e["method"] == "setWebhook" for e in log),
                          what="parleyd's setWebhook")
            time.sleep(0.2)
            with open(err_path) as f:
                port = int(re.search(r"HTTP on \S+ port (\d+)", f.read()).group(1))
            sender = WebhookSender(port, args.connections)

        queued_at = {}

        def send_batch(first, last):
            batch = []
            for n in range(first, last + 1):
                chat = 10_000 + (n - 1) % args.chats
                msg_id = (n - 1) // args.chats + 1
                batch.append(private_message(texts[(n - 1) % len(texts)], chat_id=chat,
                                             message_id=msg_id, update_id=n))
            t = time.monotonic()
            for u in batch:
                queued_at[(u["message"]["chat"]["id"], u["message"]["message_id"])] = t
            if sender:
                sender.send(batch)
            else:
                fake.add_updates(batch)

        start, load_end, total = loadlib.drive(args.rate, args.seconds, send_batch)

        def collect():
            answered = {}
            for e in fake.log("sendMessage"):
                if e["status"] != 200:
                    continue
                key = (int(e["params"]["chat_id"]),
                       (e["params"].get("reply_parameters") or {}).get("message_id"))
                answered.setdefault(key, []).append(e["t"])
            return answered

        answered = loadlib.wait_replies(collect, total)
        if sender:
            sender.stop()
        daemon_stat = loadlib.proc_stat(daemon.pid)
        fake_stat = loadlib.proc_stat(fake.proc.pid)
        daemon.terminate()
        daemon.wait(timeout=30)
        fake.stop()
        extra = []
        if sender and sender.errors:
            extra.append(f"webhook posts that failed 5 times: {len(sender.errors)}")
        return loadlib.report(args, f"{total} updates from {args.chats} chats at {args.rate}/s "
                              f"for {args.seconds:g} s, {args.mode}" +
                              (f" over {args.connections} connections" if sender else ""),
                              queued_at, answered, start, load_end, daemon_stat, fake_stat,
                              err_path, extra)


if __name__ == "__main__":
    sys.exit(main())
