"""bench/loadlib.py: what the load benches (bench/load-*.py) share: the
daemon's resource figures, percentiles, the paced load loop, the wait for
replies and the report with the targets beside the figures.  Standard
library only; run with /usr/bin/python3."""
import json
import os
import struct
import subprocess
import time

TICK_S = 0.05
# The targets of the load issue, printed beside what was measured.
TARGET_REPLIES_S = 1000
TARGET_P99_MS = 250
TARGET_RSS_MB = 100
# How busy the machine was when the bench began (1, 5, 15 minutes).
LOAD_AT_START = os.getloadavg()


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


def add_model_arguments(ap):
    """The options every load bench shares for answering with a model."""
    ap.add_argument("--model", default=None,
                    help="answer with this model (parley train's output; without it "
                    "parleyd runs without a model)")
    ap.add_argument("--prompts", default=None,
                    help="a prompt<TAB>reply file whose prompts are sent in turn "
                    "instead of --text (e.g. ../shared/corpora/sgd-dev.tsv)")
    ap.add_argument("--decode-threads", type=int, default=None,
                    help="parleyd's [parleyd] decode_threads (default: its own)")


def prompts(args):
    """The texts to send, in turn: --prompts' first fields, or --text."""
    if not args.prompts:
        return [args.text]
    with open(args.prompts, encoding="utf-8") as f:
        texts = [line.split("\t", 1)[0].strip() for line in f]
    texts = [t for t in texts if t]
    if not texts:
        raise SystemExit(f"{args.prompts}: no prompts in it")
    return texts


def model_describe(path):
    """'vocabulary V, embedding E, hidden H, L layers' from a model file's
    metadata."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n)).get("__metadata__", {})
    return (f"vocabulary {meta.get('vocab_size')}, embedding {meta.get('embed_size')}, "
            f"hidden {meta.get('hidden_size')}, {meta.get('layers')} layer(s)")


def daemon_env(args=None):
    """The environment for parleyd: this one without OPENBLAS_*, so the
    daemon runs with OpenBLAS's own defaults; --model and --decode-threads
    reach it as PARLEY_* overrides of its configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    if args is not None and getattr(args, "model", None):
        env["PARLEY_MODEL_PATH"] = os.path.abspath(args.model)
    if args is not None and getattr(args, "decode_threads", None):
        env["PARLEY_PARLEYD_DECODE_THREADS"] = str(args.decode_threads)
    return env


def start_daemon(parleyd, conf_path, err_path, cpus=None, args=None):
    cmd = [parleyd, "--config", conf_path, "--foreground"]
    if cpus:
        cmd = ["taskset", "-c", cpus] + cmd
    with open(err_path, "w") as err:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, env=daemon_env(args))


def drive(rate, seconds, send_batch):
    """Calls send_batch(first, last) every tick with the 1-based event
    numbers due by then at rate a second; returns (start, load_end,
    total) in time.monotonic() seconds."""
    total = int(rate * seconds)
    start = time.monotonic()
    sent = 0
    while sent < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        if due > sent:
            send_batch(sent + 1, due)
            sent = due
        time.sleep(TICK_S)
    return start, time.monotonic(), total


def wait_replies(collect, total, quiet_s=10, poll_s=0.5):
    """Polls collect() (-> {event key: [reply times]}) until every event
    is answered or the count has not moved for quiet_s; returns the last
    collection."""
    last_change, last_count = time.monotonic(), -1
    while True:
        answered = collect()
        if len(answered) >= total:
            return answered
        if len(answered) != last_count:
            last_count, last_change = len(answered), time.monotonic()
        elif time.monotonic() - last_change > quiet_s:
            return answered
        time.sleep(poll_s)


def report(args, what, sent_at, answered, start, load_end, daemon_stat, fake_stat,
           err_path, extra_lines=(), fake_label="fake server"):
    """Prints the figures and the targets side by side; returns 0 when
    nothing was lost or duplicated, else 1.  sent_at: {event key: time the
    event was handed to the fake}; answered: {event key: [times the fake
    received a reply]}, both in the same clock's seconds."""
    total = len(sent_at)
    rss_mib, cpu_s = daemon_stat
    fake_rss, fake_cpu = fake_stat
    latencies = sorted((times[0] - sent_at[key]) * 1000 for key, times in answered.items()
                       if key in sent_at)
    replies = sum(len(v) for v in answered.values())
    last_reply = max((v[0] for v in answered.values()), default=start)
    lost = sum(1 for k in sent_at if k not in answered)
    duplicated = sum(len(v) - 1 for k, v in answered.items() if k in sent_at and len(v) > 1)
    strays = sum(1 for k in answered if k not in sent_at)
    span = max(last_reply - start, 1e-9)
    throughput = len(answered) / span if answered else 0.0
    p50, p90, p99 = (percentile(latencies, p) for p in (50, 90, 99))
    rss_mb = rss_mib * 1048576 / 1e6
    openblas = sorted(k for k in os.environ if k.startswith("OPENBLAS_"))

    print(f"machine: {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in LOAD_AT_START)} when the bench began; "
          f"parleyd {'pinned to CPUs ' + args.cpus if args.cpus else 'not pinned'}; "
          "the fake server and this driver share the machine")
    sent = (f"the {len(prompts(args))} of {args.prompts} in turn" if args.prompts
            else repr(args.text))
    if getattr(args, "model", None):
        print(f"responder: the model {args.model} ({model_describe(args.model)}), "
              f"parleyd's decoding settings; prompts: {sent}"
              + (f"; decode_threads {args.decode_threads}" if args.decode_threads else ""))
    else:
        print("responder: parleyd runs without a model (every message gets the no-model "
              "answer): this measures the adapter, the core and the store, not decoding; "
              f"prompts: {sent}")
    print("OPENBLAS_*: not set for parleyd" +
          (f" (removed from its environment: {', '.join(openblas)})" if openblas else ""))
    print(f"load: {what}; {total} events queued in {load_end - start:.1f} s "
          f"({total / max(load_end - start, 1e-9):.0f}/s offered)")
    for line in extra_lines:
        print(line)
    print(f"replies: {len(answered)} events answered, {replies} replies"
          + (f", {strays} replies to no event of this run" if strays else ""))
    print(f"throughput: {throughput:.0f} replies/s over {span:.1f} s from the first event "
          "to the last reply; last reply "
          f"{last_reply - load_end:+.2f} s after the last event was queued")
    print(f"latency ms: p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max "
          f"{latencies[-1] if latencies else float('nan'):.1f}")
    print(f"parleyd: CPU {cpu_s:.1f} s ({cpu_s / max(len(answered), 1) * 1e6:.0f} us a reply); "
          f"{fake_label}: peak RSS {fake_rss:.1f} MiB, CPU {fake_cpu:.1f} s")
    print()
    print(f"{'figure':<14}{'measured':>14}   target")
    print(f"{'replies/s':<14}{throughput:>14.0f}   {TARGET_REPLIES_S} on 2 cores")
    print(f"{'p50 ms':<14}{p50:>14.1f}   -")
    print(f"{'p90 ms':<14}{p90:>14.1f}   -")
    print(f"{'p99 ms':<14}{p99:>14.1f}   < {TARGET_P99_MS}")
    print(f"{'peak RSS MB':<14}{rss_mb:>14.1f}   < {TARGET_RSS_MB} ({rss_mib:.1f} MiB)")
    print(f"{'lost':<14}{lost:>14}   0")
    print(f"{'duplicated':<14}{duplicated:>14}   0")

    with open(err_path) as f:
        warnings = [w for w in f.read().strip().splitlines() if "warning" in w or "error" in w]
    if warnings:
        print(f"parleyd logged {len(warnings)} warning(s) or error(s); the first: "
              f"{warnings[0]}")
    return 0 if lost == 0 and duplicated == 0 else 1
