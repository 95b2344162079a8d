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
sendMessage to the fake.  Printed: replies a second, reply latency
percentiles (from the update's arrival to the fake receiving the reply),
parleyd's peak RSS and CPU time, and lost and duplicated replies.
Targets: 1,000 replies/s on 2 cores, p99 under 250 ms, RSS under 100 MB,
none lost or duplicated.

The daemon runs without a model: free text gets the no-model answer, so
this measures the adapter, the core and the store, not decoding.  Not part
of make check: figures, not pass/fail.  Run from a built tree (top_builddir
names the build directory when it is not the source tree)."""
import argparse
import http.client
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time

top = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("top_srcdir", top)
sys.path.insert(0, os.path.join(top, "tests", "lib"))
from telegram_harness import FakeTelegram, PARLEYD, config_text, private_message  # noqa

TICK_S = 0.05
SECRET = "bench-secret"


def proc_stat(pid):
    """(peak RSS in MiB, CPU seconds) of a live process."""
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return hwm, (int(fields[11]) + int(fields[12])) / ticks


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


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
    args = ap.parse_args()

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

        cmd = [PARLEYD, "--config", conf_path, "--foreground"]
        if args.cpus:
            cmd = ["taskset", "-c", args.cpus] + cmd
        err = open(os.path.join(tmp, "parleyd.err"), "w")
        daemon = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=err)
        sender = None
        if args.mode == "polling":
            fake.wait_for(lambda log: any(e["method"] == "getUpdates" for e in log),
                          what="parleyd's first poll")
        else:
            fake.wait_for(lambda log: any(e["method"] == "setWebhook" for e in log),
                          what="parleyd's setWebhook")
            time.sleep(0.2)
            with open(os.path.join(tmp, "parleyd.err")) as f:
                port = int(re.search(r"HTTP on \S+ port (\d+)", f.read()).group(1))
            sender = WebhookSender(port, args.connections)

        queued_at = {}
        total = int(args.rate * args.seconds)
        start = time.monotonic()
        next_id = 1
        while next_id <= total:
            due = min(total, int((time.monotonic() - start) * args.rate) + 1)
            batch = []
            while next_id <= due:
                chat = 10_000 + (next_id - 1) % args.chats
                msg_id = (next_id - 1) // args.chats + 1
                batch.append(private_message(args.text, chat_id=chat, message_id=msg_id,
                                             update_id=next_id))
                queued_at[(chat, msg_id)] = None
                next_id += 1
            if batch:
                t = time.monotonic()
                for u in batch:
                    queued_at[(u["message"]["chat"]["id"], u["message"]["message_id"])] = t
                if sender:
                    sender.send(batch)
                else:
                    fake.add_updates(batch)
            time.sleep(TICK_S)
        load_end = time.monotonic()

        # Until every update is answered, or nothing moves for 10 s.
        answered, last_change, last_count = {}, time.monotonic(), -1
        while True:
            log = fake.log("sendMessage")
            answered = {}
            for e in log:
                if e["status"] != 200:
                    continue
                key = (int(e["params"]["chat_id"]),
                       (e["params"].get("reply_parameters") or {}).get("message_id"))
                answered.setdefault(key, []).append(e["t"])
            if len(answered) >= total:
                break
            if len(answered) != last_count:
                last_count, last_change = len(answered), time.monotonic()
            elif time.monotonic() - last_change > 10:
                break
            time.sleep(0.2)

        if sender:
            sender.stop()
        rss_mib, cpu_s = proc_stat(daemon.pid)
        fake_rss, fake_cpu = proc_stat(fake.proc.pid)
        daemon.terminate()
        daemon.wait(timeout=30)
        err.close()
        fake.stop()

        latencies = sorted((times[0] - queued_at[key]) * 1000 for key, times in answered.items()
                           if key in queued_at)
        replies = sum(len(v) for v in answered.values())
        first_reply = min(v[0] for v in answered.values()) if answered else start
        last_reply = max(v[0] for v in answered.values()) if answered else start
        lost = total - len([k for k in queued_at if k in answered])
        duplicated = sum(1 for v in answered.values() if len(v) > 1)

        print(f"machine: {os.cpu_count()} cores; parleyd "
              f"{'pinned to CPUs ' + args.cpus if args.cpus else 'not pinned'}; the fake "
              "server and this driver share the machine")
        print("responder: no model loaded (the no-model answer); the model is not measured")
        print(f"load: {total} updates from {args.chats} chats at {args.rate}/s for "
              f"{args.seconds:g} s, text {args.text!r}, {args.mode}" +
              (f" over {args.connections} connections" if sender else ""))
        print(f"replies: {len(answered)} answered, {replies} sendMessage calls; "
              f"lost {lost}, duplicated {duplicated}")
        span = max(last_reply - start, 1e-9)
        print(f"throughput: {len(answered) / span:.0f} replies/s over {span:.1f} s "
              f"(load queued in {load_end - start:.1f} s; last reply "
              f"{last_reply - load_end:+.2f} s after the last update was queued)")
        print(f"latency ms: p50 {percentile(latencies, 50):.1f}  p90 "
              f"{percentile(latencies, 90):.1f}  p99 {percentile(latencies, 99):.1f}  max "
              f"{latencies[-1] if latencies else float('nan'):.1f}")
        print(f"parleyd: peak RSS {rss_mib:.1f} MiB, CPU {cpu_s:.1f} s "
              f"({cpu_s / max(len(answered), 1) * 1e6:.0f} us a reply)")
        print(f"fake server: peak RSS {fake_rss:.1f} MiB, CPU {fake_cpu:.1f} s")
        with open(os.path.join(tmp, "parleyd.err")) as f:
            warnings = f.read().strip().splitlines()
        warnings = [w for w in warnings if "warning" in w or "error" in w]
        if warnings:
            print(f"parleyd logged {len(warnings)} warning(s) or error(s); the first: "
                  f"{warnings[0]}")
        if sender and sender.errors:
            print(f"webhook posts that failed 5 times: {len(sender.errors)}")
    return 0 if lost == 0 and duplicated == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
