#!/usr/bin/python3
"""bench/load-matrix.py: parleyd answering a steady stream of Matrix
messages through the fake homeserver (tests/fake/matrix.py).

    bench/load-matrix.py [--rate 1000] [--seconds 10] [--rooms 3000]
                         [--cpus 0,1] [--text "hello there"]

Messages from --rooms direct rooms (the bot and one user) are added to the
fake's event stream through its /_control/event endpoint at --rate a
second for --seconds; parleyd long-polls /sync and answers each with a rich
reply (m.relates_to.m.in_reply_to names the message).  Printed beside the
targets (1,000 replies/s on 2 cores, p99 under 250 ms, RSS under 100 MB,
none lost or duplicated): replies a second, reply latency percentiles (from
handing the message to the fake to the fake storing the reply; the fake's
origin_server_ts has millisecond resolution), parleyd's peak RSS and CPU
time, and lost (messages without a reply) and duplicated (reply events
beyond the first; a send the fake deduplicated by its txnId is not one)
counts.

Without --model the daemon runs without a model: free text gets the
no-model answer, so this measures the adapter, the core and the store, not
decoding; --model FILE answers with a model and --prompts FILE sends the
prompts of a prompt<TAB>reply file in turn (bench/loadlib.py).  OPENBLAS_*
is not set for parleyd.  Not part of make check: figures, not pass/fail.  Run
from a built tree with /usr/bin/python3; top_builddir names the build
directory when it is not the source tree."""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

top = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
top_builddir = os.environ.get("top_builddir", top)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import loadlib  # noqa: E402

PARLEYD = os.path.join(top_builddir, "src", "parleyd")
FAKE = os.path.join(top, "tests", "fake", "matrix.py")
BOT = "@parley:bench"
USER = "@alice:bench"
TOKEN = "syt_bench_token_0123456789"
# The fake's handler writes unbuffered, so an answer's head and body leave
# in two TCP segments and the second waits for the client's delayed ACK
# (about 40 ms).  A homeserver writes an answer at once: the bench runs the
# fake with a buffered writer (flushed after each answer) unless
# --fake-as-is.
FAKE_BUFFERED = """import sys
sys.argv = sys.argv[1:]
sys.path.insert(0, sys.argv[0].rsplit("/", 1)[0])
import matrix
matrix.Handler.wbufsize = -1
matrix.main()
"""
FAKE_AS_IS = """import runpy, sys
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


class Control:
    """The fake's /_control/ endpoints over one kept-alive connection."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, what, body=None):
        data = None if body is None else json.dumps(body).encode()
        self.conn.request("POST" if data else "GET", "/_control/" + what, body=data,
                          headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        answer = r.read()
        if r.status != 200:
            raise RuntimeError(f"/_control/{what}: HTTP {r.status}: {answer[:200]!r}")
        return json.loads(answer)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=1000, help="messages sent a second")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rooms", type=int, default=3000)
    ap.add_argument("--cpus", default=None, help="pin parleyd to these CPUs (taskset -c)")
    ap.add_argument("--text", default="hello there")
    ap.add_argument("--fake-as-is", action="store_true",
                    help="run the fake as the tests do, writing each answer's head and body "
                    "in two segments (Nagle and delayed ACKs then add about 40 ms a request)")
    loadlib.add_model_arguments(ap)
    args = ap.parse_args()
    texts = loadlib.prompts(args)

    if not os.access(PARLEYD, os.X_OK):
        print(f"{PARLEYD} is not built: run make first", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "fake-matrix.port")
        fake = subprocess.Popen(["/usr/bin/python3", "-c", FAKE_BUFFERED if not args.fake_as_is
                                 else FAKE_AS_IS, FAKE, "--port-file", port_file])
        daemon = None
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(port_file):
                if time.monotonic() > deadline or fake.poll() is not None:
                    print("the fake Matrix homeserver did not start", file=sys.stderr)
                    return 1
                time.sleep(0.02)
            with open(port_file) as f:
                port = int(f.read())
            ctl = Control(port)
            ctl.call("setup", {"tokens": {TOKEN: BOT}, "displayname": {BOT: "Parley"}})
            rooms = [f"!r{i:07d}:bench" for i in range(1, args.rooms + 1)]
            for room in rooms:
                ctl.call("room", {"room_id": room, "members": [BOT, USER]})

            token_file = os.path.join(tmp, "token")
            with open(token_file, "w") as f:
                f.write(TOKEN + "\n")
            os.chmod(token_file, 0o600)
            conf_path = os.path.join(tmp, "parleyd.conf")
            with open(conf_path, "w") as f:
                f.write(f"[parleyd]\nstate_dir = {tmp}/state\nlog_level = info\n"
                        f"shutdown_timeout_ms = 3000\n[matrix]\nenabled = true\n"
                        f"homeserver_url = http://127.0.0.1:{port}/\nuser_id = {BOT}\n"
                        f"access_token_file = {token_file}\nsync_timeout_ms = 1000\n")
            err_path = os.path.join(tmp, "parleyd.err")
            daemon = loadlib.start_daemon(PARLEYD, conf_path, err_path, args.cpus, args)

            # Messages before the first sync are history, not questions:
            # the load starts once parleyd long-polls from its next_batch.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and daemon.poll() is None:
                syncs = [e for e in ctl.call("log")
                         if e["path"] == "/_matrix/client/v3/sync"]
                if any("since" in e["query"] for e in syncs):
                    break
                time.sleep(0.1)
            else:
                with open(err_path) as f:
                    print("parleyd did not sync:\n" + f.read()[-2000:], file=sys.stderr)
                return 1

            sent_at = {}

            def send_batch(first, last):
                for n in range(first, last + 1):
                    room = rooms[(n - 1) % args.rooms]
                    t = time.time()
                    eid = ctl.call("event", {"room_id": room, "sender": USER,
                                             "content": {"msgtype": "m.text",
                                                         "body": texts[(n - 1) % len(texts)]}}
                                   )["event_id"]
                    sent_at[eid] = t

            start_mono, load_end_mono, total = loadlib.drive(args.rate, args.seconds,
                                                             send_batch)
            # Reply times are the fake's origin_server_ts (wall clock):
            # the report gets wall-clock seconds throughout.
            shift = time.time() - time.monotonic()
            start, load_end = start_mono + shift, load_end_mono + shift

            def collect():
                answered = {}
                for e in ctl.call("events"):
                    if e["sender"] != BOT:
                        continue
                    q = (e["content"].get("m.relates_to") or {}).get("m.in_reply_to", {})
                    answered.setdefault(q.get("event_id"), []).append(
                        e["origin_server_ts"] / 1000)
                return answered

            answered = loadlib.wait_replies(collect, total, poll_s=2)
            daemon_stat = loadlib.proc_stat(daemon.pid)
            fake_stat = loadlib.proc_stat(fake.pid)
            log = ctl.call("log")
            sends = [e for e in log if e["method"] == "PUT" and "/send/" in e["path"]]
            n_syncs = sum(1 for e in log if e["path"] == "/_matrix/client/v3/sync")
            extra = [f"homeserver requests: {n_syncs} syncs, {len(sends)} sends "
                     f"({len(sends) - sum(len(v) for v in answered.values())} repeated "
                     "txnIds the fake deduplicated)"]
            return loadlib.report(args, f"{total} m.text messages from {args.rooms} direct "
                                  f"rooms at {args.rate}/s for {args.seconds:g} s, "
                                  "over /sync; fake "
                                  + ("as the tests run it" if args.fake_as_is else
                                     "with buffered answers"), sent_at, answered, start,
                                  load_end, daemon_stat, fake_stat, err_path, extra)
        finally:
            if daemon is not None:
                daemon.terminate()
                daemon.wait(timeout=30)
            fake.terminate()
            fake.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
