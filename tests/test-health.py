#!/usr/bin/python3
"""/healthz, /readyz and /metrics on parleyd's HTTP server: a console
session is counted in the metrics, and readiness lists each adapter."""
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

top_builddir = os.environ.get("top_builddir", ".")
parleyd = os.path.join(top_builddir, "src", "parleyd")
failures = 0
checks = 0


def check(what, ok, detail=""):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print(f"FAIL: {what} {detail}", file=sys.stderr)


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode(), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type")


def metric(text, name):
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


with tempfile.TemporaryDirectory() as tmp:
    conf = os.path.join(tmp, "parleyd.conf")
    with open(conf, "w") as f:
        f.write(f"[parleyd]\nstate_dir = {tmp}/state\n[console]\nenabled = true\n"
                "[http]\nenabled = true\naddress = 127.0.0.1\nport = 0\n")
    err_path = os.path.join(tmp, "err")
    fifo = os.path.join(tmp, "in")
    os.mkfifo(fifo)
    with open(err_path, "w") as err:
        proc = subprocess.Popen([parleyd, "--config", conf, "--foreground"],
                                stdin=os.open(fifo, os.O_RDONLY | os.O_NONBLOCK),
                                stdout=subprocess.PIPE, stderr=err)
    writer = open(fifo, "w")

    port = None
    for _ in range(200):
        m = re.search(r"HTTP on 127\.0\.0\.1 port (\d+)", open(err_path).read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    check("the server says its port", port is not None, open(err_path).read())
    if port is None:
        proc.kill()
        sys.exit(1)

    status, body, _ = get(port, "/healthz")
    check("/healthz", (status, body) == (200, "ok\n"), repr((status, body)))

    status, body, _ = get(port, "/readyz")
    check("/readyz ready", status == 200, repr((status, body)))
    check("/readyz lists the parts", body == "console: connected\nmodel: none\n", repr(body))

    writer.write("help\n")
    writer.flush()
    proc.stdout.readline()
    time.sleep(0.2)

    status, body, ctype = get(port, "/metrics")
    check("/metrics status", status == 200, str(status))
    check("/metrics content type", ctype == "text/plain; version=0.0.4; charset=utf-8", ctype)
    check("received", metric(body, 'parley_messages_received_total{adapter="console"}') == 1,
          body[:300])
    check("sent", metric(body, 'parley_messages_sent_total{adapter="console"}') == 1)
    check("by source", metric(body, 'parley_replies_total{source="command"}') == 1)
    check("latency observed", metric(body, "parley_reply_latency_seconds_count") == 1)
    check("adapter up", metric(body, 'parley_adapter_connected{adapter="console"}') == 1)
    check("outbox drained", metric(body, "parley_outbox_pending") == 0)
    check("every family typed", body.count("# TYPE ") == 13, str(body.count("# TYPE ")))

    status, _, _ = get(port, "/nowhere")
    check("unknown path", status == 404, str(status))

    writer.close()
    try:
        status = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = "hung"
    check("clean exit", status == 0, repr(status))

print(f"{checks} checks, {failures} failed", file=sys.stderr)
sys.exit(1 if failures or not checks else 0)
