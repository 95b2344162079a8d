#!/usr/bin/python3
"""bench/load-slack.py: parleyd answering a steady stream of Slack events
through the fake Slack (tests/fake/slack.py) over Socket Mode.

    bench/load-slack.py [--rate 1000] [--seconds 10] [--channels 3000]
                        [--cpus 0,1] [--text "hello there"]

Mentions of the bot in --channels channels arrive as events_api envelopes
on parleyd's Socket Mode connection at --rate a second for --seconds.
parleyd acknowledges each envelope and answers with chat.postMessage in a
thread at the mention, so a reply names its event by (channel, thread_ts).
Printed beside the targets (1,000 replies/s on 2 cores, p99 under 250 ms,
RSS under 100 MB, none lost or duplicated): replies a second, reply latency
percentiles (from handing the envelope to the fake's WebSocket to the fake
receiving chat.postMessage), parleyd's peak RSS and CPU time, and lost
(events without a reply) and duplicated (replies beyond the first) counts.

The fake runs in this process (a thread with its own event loop), so the
driver and the fake share one Python.  Without --model the daemon runs
without a model: free text gets the no-model answer, so this measures the
adapter, the core and the store, not decoding; --model FILE answers with a
model and --prompts FILE sends the prompts of a prompt<TAB>reply file in
turn (bench/loadlib.py).  OPENBLAS_* is not set for parleyd.  Not part of
make check: figures, not pass/fail.  Run from a built tree with
/usr/bin/python3 (it has python3-websockets); top_builddir names the build
directory when it is not the source tree."""
import argparse
import os
import sys
import tempfile
import time

top = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
top_builddir = os.environ.get("top_builddir", top)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, "tests", "fake"))
try:
    import slack as fake_slack  # noqa: E402
except ImportError as e:
    print(f"bench/load-slack.py: the fake Slack needs python3-websockets ({e}); "
          "run with /usr/bin/python3", file=sys.stderr)
    sys.exit(1)
import loadlib  # noqa: E402

PARLEYD = os.path.join(top_builddir, "src", "parleyd")
APP_TOKEN = "xapp-1-A1-benchappsecret"
BOT_TOKEN = "xoxb-1-benchbotsecret"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=1000, help="events sent a second")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--channels", type=int, default=3000)
    ap.add_argument("--cpus", default=None, help="pin parleyd to these CPUs (taskset -c)")
    ap.add_argument("--text", default="hello there")
    loadlib.add_model_arguments(ap)
    args = ap.parse_args()
    texts = loadlib.prompts(args)

    if not os.access(PARLEYD, os.X_OK):
        print(f"{PARLEYD} is not built: run make first", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory() as tmp:
        for name, token in (("app-token", APP_TOKEN), ("bot-token", BOT_TOKEN)):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(token + "\n")
            os.chmod(path, 0o600)
        fake = fake_slack.FakeSlack(APP_TOKEN, BOT_TOKEN)
        fake.start()
        conf_path = os.path.join(tmp, "parleyd.conf")
        with open(conf_path, "w") as f:
            f.write(f"[parleyd]\nstate_dir = {tmp}/state\nlog_level = info\n"
                    f"shutdown_timeout_ms = 3000\n"
                    f"[slack]\nenabled = true\napp_token_file = {tmp}/app-token\n"
                    f"bot_token_file = {tmp}/bot-token\napi_url = {fake.api_url}\n")
        err_path = os.path.join(tmp, "parleyd.err")
        daemon = loadlib.start_daemon(PARLEYD, conf_path, err_path, args.cpus, args)
        deadline = time.monotonic() + 15
        while not fake.live() and time.monotonic() < deadline and daemon.poll() is None:
            time.sleep(0.05)
        if not fake.live():
            daemon.terminate()
            daemon.wait(timeout=30)
            with open(err_path) as f:
                print("parleyd opened no Socket Mode connection:\n" + f.read()[-2000:],
                      file=sys.stderr)
            return 1
        time.sleep(0.2)   # the hello is read before the first envelope

        sent_at = {}

        def send_batch(first, last):
            for n in range(first, last + 1):
                channel = f"C{(n - 1) % args.channels + 1:07d}"
                ts = f"1700000000.{n:06d}"
                sent_at[(channel, ts)] = time.monotonic()
                fake.send_event({"type": "app_mention", "channel": channel, "user": "U1",
                                 "text": f"<@UBOT> {texts[(n - 1) % len(texts)]}",
                                 "ts": ts})

        start, load_end, total = loadlib.drive(args.rate, args.seconds, send_batch)

        def collect():
            answered = {}
            for e in fake.entries("post"):
                if e["status"] == 200 and e["error"] is None:
                    answered.setdefault((e["channel"], e["thread_ts"]), []).append(e["t"])
            return answered

        answered = loadlib.wait_replies(collect, total)
        daemon_stat = loadlib.proc_stat(daemon.pid)
        fake_stat = loadlib.proc_stat(os.getpid())
        acked = len({e["envelope_id"] for e in fake.entries("ack")})
        refused = len([e for e in fake.entries("post") if e["error"] is not None])
        daemon.terminate()
        daemon.wait(timeout=30)
        extra = [f"envelopes acknowledged: {acked} of {total}; posts refused: {refused}; "
                 f"Socket Mode connections opened: {len(fake.entries('ws_open'))}"]
        return loadlib.report(args, f"{total} app_mention events from {args.channels} "
                              f"channels at {args.rate}/s for {args.seconds:g} s, "
                              "over Socket Mode", sent_at, answered, start,
                              load_end, daemon_stat, fake_stat, err_path, extra,
                              fake_label="this process (fake Slack and driver)")


if __name__ == "__main__":
    sys.exit(main())
