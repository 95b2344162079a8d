# Configuration errors stop start-up with FILE:LINE and what is wrong, and
# exit status 2; a good file passes --check-config.
. "$top_srcdir/tests/lib/common.sh"

conf="$TEST_DIR/parleyd.conf"

# expect_error NAME EXPECTED-MESSAGE: runs parleyd on $conf.
expect_error() {
        status=0
        "$PARLEYD" --config "$conf" --foreground < /dev/null > "$TEST_DIR/out" 2> "$TEST_DIR/err" \
                || status=$?
        check_eq "$1: exit status" 2 "$status"
        check_eq "$1: message" "$2" "$(cat "$TEST_DIR/err")"
}

# check_config [ENV-ARGS...]: parleyd --check-config on $conf under env's
# arguments (VAR=VALUE, -u VAR); $status, $TEST_DIR/out and $TEST_DIR/err
# hold the result.
check_config() {
        status=0
        env "$@" "$PARLEYD" --config "$conf" --check-config > "$TEST_DIR/out" 2> "$TEST_DIR/err" \
                || status=$?
}

printf '[parleyd]\nstate_dir = %s\n\n[console]\nenabled = true\ncolour = blue\n' \
        "$TEST_DIR/state" > "$conf"
expect_error "unknown key" "$conf:6: unknown key 'colour' in section [console]"

printf '[parleyd]\nshutdown_timeout_ms = soon\n[console]\nenabled = true\n' > "$conf"
expect_error "bad number" "$conf:2: shutdown_timeout_ms in [parleyd] expects a whole number, got 'soon'"

printf '[parleyd]\nshutdown_timeout_ms = -5\n' > "$conf"
expect_error "out of range" "$conf:2: shutdown_timeout_ms in [parleyd] must be between 0 and 600000, got -5"

printf '[console]\nenabled = maybe\n' > "$conf"
expect_error "bad boolean" "$conf:2: enabled in [console] expects true or false, got 'maybe'"

printf '[parleyd]\nlog_level = loud\n' > "$conf"
expect_error "bad choice" "$conf:2: log_level in [parleyd] expects one of error|warning|notice|info|debug, got 'loud'"

printf '[telegramm]\ntoken_file = x\n' > "$conf"
expect_error "unknown section" "$conf:2: unknown section [telegramm]"

printf 'state_dir = x\n' > "$conf"
expect_error "key outside a section" "$conf:1: 'state_dir' is outside any [section]"

printf '[console]\nenabled = true\nenabled = false\n' > "$conf"
expect_error "duplicate" "$conf:3: 'enabled' in [console] is set twice (first at $conf:2)"

printf '[console]\nthis line has no equals sign\n' > "$conf"
expect_error "syntax" "$conf:2: expected 'key = value' or '[section]'"

# Every mistake is reported in one go.
printf '[parleyd]\nlog_level = loud\n[console]\ncolour = blue\n' > "$conf"
check_config
check_eq "two errors: exit status" 2 "$status"
check_eq "two errors: lines" 2 "$(wc -l < "$TEST_DIR/err")"

# The environment overrides a key and is checked the same way.
printf '[parleyd]\nstate_dir = %s\n[console]\nenabled = true\n' "$TEST_DIR/state" > "$conf"
check_config PARLEY_PARLEYD_LOG_LEVEL=chatty
check_eq "bad environment value: exit status" 2 "$status"
check_eq "bad environment value: message" \
        "environment PARLEY_PARLEYD_LOG_LEVEL: expects one of error|warning|notice|info|debug, got 'chatty'" \
        "$(cat "$TEST_DIR/err")"

# A misspelt variable is pointed out, not silently ignored.
PARLEY_PARLEYD_LOGLEVEL=debug "$PARLEYD" --config "$conf" --check-config \
        > /dev/null 2> "$TEST_DIR/err"
check_eq "unknown environment variable" \
        "warning: environment PARLEY_PARLEYD_LOGLEVEL is not a configuration key; ignoring it" \
        "$(cat "$TEST_DIR/err")"

status=0
"$PARLEYD" --config "$TEST_DIR/missing.conf" > /dev/null 2> "$TEST_DIR/err" || status=$?
check_eq "missing file: exit status" 2 "$status"
check_eq "missing file: message" \
        "parleyd: error: cannot read $TEST_DIR/missing.conf: No such file or directory" \
        "$(cat "$TEST_DIR/err")"

"$PARLEYD" --config "$conf" --check-config > "$TEST_DIR/out"
check_eq "valid file" "$conf: configuration is valid" "$(cat "$TEST_DIR/out")"

# --check-config also checks what needs more than the file's syntax.
printf '[parleyd]\nstate_dir = %s\n[console]\nenabled = true\n[reminders]\ntime_zone = Mars/Olympus\n' \
        "$TEST_DIR/state" > "$conf"
check_config
check_eq "unknown time zone: exit status" 2 "$status"
check_eq "unknown time zone: message" \
        "parleyd: error: $conf:6: time_zone in [reminders]: 'Mars/Olympus' is not a time zone; use a name such as Europe/Berlin" \
        "$(cat "$TEST_DIR/err")"

printf '[console]\nenabled = true\n[history]\nretention_days = 1\n' > "$conf"
check_config
check_eq "retention of one day: exit status" 2 "$status"

printf '[console]\nenabled = true\n[model]\ntop_p = 2\n' > "$conf"
check_config
check_eq "top_p out of range: exit status" 2 "$status"
check_grep "top_p out of range: message" "$conf:4: \[model\] top_p" "$TEST_DIR/err"

printf '[console]\nenabled = true\n[model]\npath = %s\n' "$TEST_DIR/none.safetensors" > "$conf"
check_config
check_eq "missing model file: exit status" 1 "$status"
check_grep "missing model file: message" \
        "cannot load the model (\[model\] path or PARLEY_MODEL_PATH): $TEST_DIR/none.safetensors" \
        "$TEST_DIR/err"

# The enabled adapters are set up as at the start, without contacting the
# platforms.  A token left to a systemd credential cannot be read outside
# the service: with no CREDENTIALS_DIRECTORY the check says so and passes;
# with one that lacks it, the check fails as the start would.
printf '[parleyd]\nstate_dir = %s\n[telegram]\nenabled = true\n' "$TEST_DIR/state" > "$conf"
check_config -u CREDENTIALS_DIRECTORY
check_eq "token from a credential: exit status" 0 "$status"
check_grep "token from a credential: said" \
        "the bot token is the systemd credential telegram-token, read by the service at its start" \
        "$TEST_DIR/err"
mkdir -p "$TEST_DIR/creds"
check_config CREDENTIALS_DIRECTORY="$TEST_DIR/creds"
check_eq "no credential: exit status" 2 "$status"
check_grep "no credential: reason" "telegram: error: no bot token: set token_file in \[telegram\]" \
        "$TEST_DIR/err"
check_grep "no credential: adapter named" "error: telegram: cannot set up" "$TEST_DIR/err"

# Every adapter's problem is reported at once.
{
        printf '[parleyd]\nstate_dir = %s\n' "$TEST_DIR/state"
        printf '[telegram]\nenabled = true\ntoken_file = %s\n' "$TEST_DIR/absent-token"
        printf '[slack]\nenabled = true\napp_token_file = %s\n' "$TEST_DIR/absent-app-token"
        printf '[matrix]\nenabled = true\nhomeserver_url = https://matrix.invalid\n'
        printf 'access_token_file = %s\n' "$TEST_DIR/absent-matrix-token"
} > "$conf"
check_config
check_eq "three adapters without tokens: exit status" 2 "$status"
check_grep "telegram's missing file" \
        "cannot read the bot token from $TEST_DIR/absent-token: No such file" "$TEST_DIR/err"
check_grep "slack's missing file" \
        "\[slack\] app_token_file: cannot read $TEST_DIR/absent-app-token: No such file" \
        "$TEST_DIR/err"
check_grep "matrix's missing file" \
        "cannot read the access token from $TEST_DIR/absent-matrix-token" "$TEST_DIR/err"

# A token of the wrong form, and Slack's events mode without the HTTP
# server, fail the check; a good token passes and is never shown.
token=123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
( umask 077 && printf '%s\n' "$token" > "$TEST_DIR/token" &&
  printf 'not a token\n' > "$TEST_DIR/bad-token" )
printf '[parleyd]\nstate_dir = %s\n[telegram]\nenabled = true\ntoken_file = %s\n' \
        "$TEST_DIR/state" "$TEST_DIR/bad-token" > "$conf"
check_config
check_eq "token of the wrong form: exit status" 2 "$status"
check_grep "token of the wrong form: reason" "the bot token is not of the form BotFather gives" \
        "$TEST_DIR/err"

printf '[parleyd]\nstate_dir = %s\n[slack]\nenabled = true\nmode = events\n' \
        "$TEST_DIR/state" > "$conf"
check_config
check_eq "slack events without [http]: exit status" 2 "$status"
check_grep "slack events without [http]: reason" \
        "$conf:5: \[slack\] events mode needs the daemon's HTTP server" "$TEST_DIR/err"

printf '[parleyd]\nstate_dir = %s\n[telegram]\nenabled = true\ntoken_file = %s\n' \
        "$TEST_DIR/state" "$TEST_DIR/token" > "$conf"
check_config
check_eq "telegram with a token: exit status" 0 "$status"
check_eq "telegram with a token: output" "$conf: configuration is valid" "$(cat "$TEST_DIR/out")"
check_eq "the token is not shown" "" "$(grep -h -F "${token#*:}" "$TEST_DIR/out" "$TEST_DIR/err")"

# A directory is not taken for an empty file.
status=0
"$PARLEYD" --config "$TEST_DIR" --check-config > /dev/null 2> "$TEST_DIR/err" || status=$?
check_eq "directory: exit status" 2 "$status"
check_eq "directory: message" "parleyd: error: cannot read $TEST_DIR: Is a directory" \
        "$(cat "$TEST_DIR/err")"

# No adapter enabled is a start-up error that says what to do.
printf '[parleyd]\nstate_dir = %s\n' "$TEST_DIR/state" > "$conf"
status=0
"$PARLEYD" --config "$conf" --foreground < /dev/null > /dev/null 2> "$TEST_DIR/err" || status=$?
check_eq "no adapter: exit status" 2 "$status"
check_grep "no adapter: message" "no adapter is enabled" "$TEST_DIR/err"

test_finish
