#!/usr/bin/python3
"""parleyd speaks sd_notify: READY=1 after start, RELOADING=1 then READY=1
on SIGHUP, STOPPING=1 on SIGTERM, watchdog pings from the loop while
WATCHDOG_USEC is set, and the pings stop when the loop hangs (SIGSTOP
stands in for a hung loop: nothing of the process runs)."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

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


def receive(sock, duration_s):
    """Every notification message that arrives within duration_s."""
    out = []
    deadline = time.monotonic() + duration_s
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            out.append(sock.recv(4096).decode())
        except socket.timeout:
            break
    return out


def wait_for(sock, wanted, timeout_s=10):
    """Messages up to and including the first containing wanted."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            m = sock.recv(4096).decode()
        except socket.timeout:
            break
        seen.append(m)
        if wanted in m.split("\n"):
            return seen, True
    return seen, False


with tempfile.TemporaryDirectory() as tmp:
    conf = os.path.join(tmp, "parleyd.conf")
    with open(conf, "w") as f:
        f.write(f"[parleyd]\nstate_dir = {tmp}/state\n[console]\nenabled = true\n")
    sock_path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)

    env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="200000")
    env.pop("WATCHDOG_PID", None)
    fifo = os.path.join(tmp, "in")
    os.mkfifo(fifo)
    proc = subprocess.Popen([parleyd, "--config", conf], stdin=os.open(fifo, os.O_RDONLY | os.O_NONBLOCK),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    writer = open(fifo, "w")

    seen, ok = wait_for(sock, "READY=1")
    check("READY=1 after start", ok, repr(seen))

    pings = [m for m in receive(sock, 1.0) if "WATCHDOG=1" in m]
    check("watchdog pings every 100 ms", 6 <= len(pings) <= 14, f"got {len(pings)} in 1 s")

    proc.send_signal(signal.SIGSTOP)
    hung = [m for m in receive(sock, 0.6) if "WATCHDOG=1" in m]
    check("no pings while the loop does not run", len(hung) <= 1, f"got {len(hung)}")
    proc.send_signal(signal.SIGCONT)

    proc.send_signal(signal.SIGHUP)
    seen, ok = wait_for(sock, "READY=1")
    states = [line for m in seen for line in m.split("\n") if not line.startswith(("WATCHDOG", "STATUS"))]
    check("RELOADING=1 then READY=1 on SIGHUP",
          ok and states[0] == "RELOADING=1" and states[-1] == "READY=1", repr(states))
    check("MONOTONIC_USEC with RELOADING=1",
          any(m.startswith("RELOADING=1\nMONOTONIC_USEC=") for m in seen), repr(seen))

    proc.send_signal(signal.SIGTERM)
    seen, ok = wait_for(sock, "STOPPING=1")
    check("STOPPING=1 on SIGTERM", ok, repr(seen))
    try:
        status = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = "hung"
    check("exit status after SIGTERM", status == 0, repr(status))
    err = proc.stderr.read().decode()
    check("stop is logged", "stopping: SIGTERM received" in err, err)
    writer.close()

print(f"{checks} checks, {failures} failed", file=sys.stderr)
sys.exit(1 if failures or not checks else 0)
