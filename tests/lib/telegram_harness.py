"""Shared pieces of the Telegram tests and benchmark: the fake Bot API
server as a subprocess, parleyd as a subprocess, update builders and
checks.  Standard library only; run with /usr/bin/python3."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
BOT_ID = 777
BOT_USERNAME = "parley_bot"

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
top_builddir = os.environ.get("top_builddir", top_srcdir)
PARLEYD = os.path.join(top_builddir, "src", "parleyd")
FAKE = os.path.join(top_srcdir, "tests", "fake", "telegram.py")


class Checks:
    """Counts checks and failures; every test ends with finish()."""

    def __init__(self):
        self.checks = 0
        self.failures = 0

    def check(self, what, ok, detail=""):
        self.checks += 1
        if not ok:
            self.failures += 1
            print(f"FAIL: {what} {detail}", file=sys.stderr)
        return ok

    def eq(self, what, expected, actual):
        return self.check(what, expected == actual, f"expected {expected!r}, got {actual!r}")

    def finish(self):
        print(f"{self.checks} checks, {self.failures} failed", file=sys.stderr)
        return 1 if self.failures or not self.checks else 0


class FakeTelegram:
    """tests/fake/telegram.py on a port the OS chose."""

    def __init__(self, tmp, token=TOKEN):
        self.port_file = os.path.join(tmp, "fake-telegram.port")
        self.proc = subprocess.Popen([sys.executable, FAKE, "--port-file", self.port_file,
                                      "--token", token])
        deadline = time.monotonic() + 10
        while not os.path.exists(self.port_file):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the fake Telegram server did not start")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.url = f"http://127.0.0.1:{self.port}"

    def control(self, path, data=None):
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(self.url + path, data=body, method="POST" if body else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def add_updates(self, updates):
        return self.control("/control/updates", updates)

    def add_faults(self, faults):
        return self.control("/control/faults", faults)

    def log(self, method=None):
        entries = self.control("/control/log")
        return [e for e in entries if method is None or e["method"] == method]

    def state(self):
        return self.control("/control/state")

    def wait_for(self, predicate, timeout=15, what="condition"):
        """Polls the log until predicate(log) is true; returns the log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if predicate(log):
                return log
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def config_text(state_dir, fake, extra_telegram="", extra="", console=False):
    return (f"[parleyd]\nstate_dir = {state_dir}\nlog_level = debug\n"
            f"shutdown_timeout_ms = 5000\n"
            f"[console]\nenabled = {'true' if console else 'false'}\nuser = tester\n"
            f"[telegram]\nenabled = true\ntoken_file = token\napi_url = {fake.url}\n"
            f"poll_timeout_s = 2\n{extra_telegram}\n{extra}")


def console_reply(tmp, line):
    """What parleyd answers line with on the console: the reference text
    the Telegram replies are compared with."""
    state = os.path.join(tmp, "console-state")
    conf = os.path.join(tmp, "console.conf")
    with open(conf, "w") as f:
        f.write(f"[parleyd]\nstate_dir = {state}\n[console]\nenabled = true\nuser = tester\n")
    p = subprocess.run([PARLEYD, "--config", conf, "--foreground"], input=line + "\n",
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"the console run failed: {p.stderr}")
    return p.stdout[:-1] if p.stdout.endswith("\n") else p.stdout


class Daemon:
    """parleyd in the foreground with its configuration in tmp."""

    def __init__(self, tmp, conf, name="parleyd", stdin=subprocess.DEVNULL, token=TOKEN,
                 env=None):
        self.tmp = tmp
        self.conf_path = os.path.join(tmp, "parleyd.conf")
        with open(self.conf_path, "w") as f:
            f.write(conf)
        token_path = os.path.join(tmp, "token")
        with open(token_path, "w") as f:
            f.write(token + "\n")
        os.chmod(token_path, 0o600)
        self.err_path = os.path.join(tmp, name + ".err")
        self.out_path = os.path.join(tmp, name + ".out")
        self.err = open(self.err_path, "w")
        self.out = open(self.out_path, "w")
        # PARLEYD_WRAPPER runs it under a tool: "valgrind -q --error-exitcode=99".
        wrapper = os.environ.get("PARLEYD_WRAPPER", "").split()
        self.proc = subprocess.Popen(wrapper + [PARLEYD, "--config", self.conf_path,
                                                "--foreground"],
                                     stdin=stdin, stdout=self.out, stderr=self.err,
                                     env=env)

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def stdout(self):
        with open(self.out_path) as f:
            return f.read()

    def wait_stderr(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr():
                return True
            if self.proc.poll() is not None:
                return text in self.stderr()
            time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "hung"
        self.err.close()
        self.out.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.err.close()
        self.out.close()


def private_message(text, chat_id=1001, message_id=1, user_id=None, update_id=None,
                    first_name="Ann", **extra):
    msg = {"message_id": message_id, "date": 1700000000,
           "chat": {"id": chat_id, "type": "private", "first_name": first_name},
           "from": {"id": user_id or chat_id, "is_bot": False, "first_name": first_name},
           "text": text}
    msg.update(extra)
    u = {"message": msg}
    if update_id is not None:
        u["update_id"] = update_id
    return u


def group_message(text, chat_id=-2001, message_id=1, user_id=3001, entities=None,
                  reply_to=None, update_id=None, kind="message", chat_type="supergroup"):
    msg = {"message_id": message_id, "date": 1700000000,
           "chat": {"id": chat_id, "type": chat_type, "title": "Test group"},
           "text": text}
    if kind == "message":
        msg["from"] = {"id": user_id, "is_bot": False, "first_name": "Bob",
                       "last_name": "Stone"}
    if entities:
        msg["entities"] = entities
    if reply_to:
        msg["reply_to_message"] = reply_to
    u = {kind: msg}
    if update_id is not None:
        u["update_id"] = update_id
    return u


def db(path):
    """A read-only connection to the daemon's database."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    return con


def utf16_units(text):
    return len(text.encode("utf-16-le")) // 2
