#!/usr/bin/python3
"""A refused bot token stops the Telegram adapter, not the daemon: the
console keeps answering, and nothing more is asked of Telegram.  Tokens
and webhook settings that cannot work stop parleyd at start with a
message that names the problem and never shows the token."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
from telegram_harness import Checks, Daemon, FakeTelegram, config_text  # noqa

HELP_EN = "I answer questions, and these commands:"
WRONG_TOKEN = "654321:WRONG-token-abcdefghijklmnopqrstuvwxyz"

t = Checks()


def refused_token(tmp):
    fake = FakeTelegram(tmp)
    state = os.path.join(tmp, "state")
    fifo = os.path.join(tmp, "console-in")
    os.mkfifo(fifo)
    stdin = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    daemon = Daemon(tmp, config_text(state, fake, console=True), stdin=stdin,
                    token=WRONG_TOKEN)
    os.close(stdin)
    writer = open(fifo, "w")

    t.check("the failure is logged with its reason",
            daemon.wait_stderr("stopped: the bot token was refused (401 Unauthorized); "
                               "the other adapters keep running"))
    writer.write("help\n")
    writer.flush()
    deadline = time.monotonic() + 10
    while HELP_EN not in daemon.stdout() and time.monotonic() < deadline:
        time.sleep(0.05)
    t.check("the console still answers", HELP_EN in daemon.stdout(), daemon.stdout())

    time.sleep(1.5)
    log = fake.log()
    t.eq("one request, refused, and no retries", [("getMe", 401)],
         [(e["method"], e["status"]) for e in log])

    writer.close()
    rc = daemon.stop()
    t.eq("exit status", 0, rc)
    err = daemon.stderr()
    t.check("the token is never logged", WRONG_TOKEN not in err and
            WRONG_TOKEN.split(":")[1] not in err)
    fake.stop()


def start_fails(tmp, name, telegram_keys, token, expected, status=2):
    """parleyd exits at once with status (2: a configuration error, a token
    file that cannot be read included), with expected in its error
    output."""
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write(f"[parleyd]\nstate_dir = {tmp}/state-{name}\n"
                f"[telegram]\nenabled = true\napi_url = http://127.0.0.1:9\n{telegram_keys}\n")
    if token is not None:
        path = os.path.join(tmp, name + ".token")
        with open(path, "w") as f:
            f.write(token)
        os.chmod(path, 0o600)
    env = dict(os.environ)
    env.pop("CREDENTIALS_DIRECTORY", None)
    p = subprocess.run([os.path.join(os.environ.get("top_builddir", "."), "src", "parleyd"),
                        "--config", conf, "--foreground"], capture_output=True, text=True,
                       timeout=20, env=env)
    t.eq(f"{name}: exit status", status, p.returncode)
    t.check(f"{name}: says why", expected in p.stderr, p.stderr)
    if token:
        t.check(f"{name}: the token is not shown", token.strip() not in p.stderr)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        refused_token(tmp)
        start_fails(tmp, "malformed", "token_file = malformed.token", "not a token at all\n",
                    "malformed.conf:6: the bot token is not of the form BotFather gives")
        start_fails(tmp, "empty", "token_file = empty.token", "",
                    f"{tmp}/empty.token is empty: it holds no bot token")
        start_fails(tmp, "missing", "token_file = nowhere.token", None,
                    f"cannot read the bot token from {tmp}/nowhere.token: No such file")
        start_fails(tmp, "no-token", "", None,
                    "no bot token: set token_file in [telegram], or pass the systemd "
                    "credential telegram-token")
        start_fails(tmp, "no-url", "token_file = no-url.token\nmode = webhook",
                    "123:abcdefghijklmnopqrstuvwxyz\n",
                    "no-url.conf:7: webhook mode needs webhook_url")
        start_fails(tmp, "plain-url", "token_file = plain-url.token\nmode = webhook\n"
                    "webhook_url = http://bot.example.test/hook",
                    "123:abcdefghijklmnopqrstuvwxyz\n",
                    "plain-url.conf:8: webhook_url must be an https:// address")
        start_fails(tmp, "no-http", "token_file = no-http.token\nmode = webhook\n"
                    "webhook_url = https://bot.example.test/hook",
                    "123:abcdefghijklmnopqrstuvwxyz\n",
                    "no-http.conf:7: webhook mode needs the daemon's HTTP server: set "
                    "enabled = true in [http]")
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
