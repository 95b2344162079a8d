# tests/lib/common.sh: shared set-up for parley's shell tests.
# Sourced by each test; gives a private temporary directory, the built
# programs, and assertions that print what differed.

set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PARLEYD="$top_builddir/src/parleyd"
PARLEY="$top_builddir/src/parley"

TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/parley-$TEST_NAME.XXXXXX")
test_failures=0
test_checks=0

test_cleanup() {
        # Leave the directory for a look when something failed.
        if [ "$test_failures" -eq 0 ]; then
                rm -rf "$TEST_DIR"
        else
                echo "files kept in $TEST_DIR" >&2
        fi
}
trap test_cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        test_failures=$((test_failures + 1))
}

# check_eq WHAT EXPECTED ACTUAL
check_eq() {
        test_checks=$((test_checks + 1))
        if [ "$2" != "$3" ]; then
                fail "$1: expected '$2', got '$3'"
        fi
}

# check_range WHAT LOW HIGH ACTUAL
check_range() {
        test_checks=$((test_checks + 1))
        if [ "$4" -lt "$2" ] || [ "$4" -gt "$3" ]; then
                fail "$1: expected $2..$3, got $4"
        fi
}

# check_grep WHAT PATTERN FILE
check_grep() {
        test_checks=$((test_checks + 1))
        if ! grep -q -- "$2" "$3"; then
                fail "$1: '$2' not in $3"
                sed 's/^/    /' "$3" >&2
        fi
}

# sql DB QUERY: one query through the sqlite3 shell, read-only.
sql() {
        sqlite3 -readonly -cmd '.timeout 5000' "$1" "$2"
}

require_sqlite3() {
        if ! command -v sqlite3 >/dev/null; then
                echo "SKIP: the sqlite3 shell is not installed (apt-get install sqlite3)" >&2
                exit 77
        fi
}

# write_config FILE STATE_DIR: a console-only configuration.
write_config() {
        cat > "$1" <<CONF
[parleyd]
state_dir = $2
log_level = info
shutdown_timeout_ms = 5000

[console]
enabled = true
user = tester
CONF
}

test_finish() {
        echo "$test_checks checks, $test_failures failed" >&2
        [ "$test_checks" -gt 0 ] || { echo "FAIL: no checks ran" >&2; exit 1; }
        [ "$test_failures" -eq 0 ]
}

# wait_for_line FILE PATTERN [SECONDS]: waits until a line of FILE matches
# PATTERN (grep -E); fails the check after SECONDS (default 10).
wait_for_line() {
        tries=$(( ${3:-10} * 20 ))
        while [ $tries -gt 0 ]; do
                grep -q -E -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.05
                tries=$((tries - 1))
        done
        fail "timed out waiting for '$2' in $1"
        sed 's/^/    /' "$1" >&2
        return 1
}

# start_console_daemon CONF: parleyd reading the FIFO $TEST_DIR/in, writing
# $TEST_DIR/out and $TEST_DIR/err; sets daemon_pid and opens fd 3 for input.
start_console_daemon() {
        rm -f "$TEST_DIR/in"
        mkfifo "$TEST_DIR/in"
        "$PARLEYD" --config "$1" --foreground < "$TEST_DIR/in" \
                >> "$TEST_DIR/out" 2>> "$TEST_DIR/err" &
        daemon_pid=$!
        exec 3> "$TEST_DIR/in"
}

# say TEXT: one console message.
say() {
        printf '%s\n' "$1" >&3
}

# stop_console_daemon: end of input, then wait for a clean exit.
stop_console_daemon() {
        exec 3>&-
        status=0
        wait "$daemon_pid" || status=$?
        check_eq "daemon exit status" 0 "$status"
}

# wait_for_lines FILE N [SECONDS]: waits until FILE has at least N lines.
wait_for_lines() {
        tries=$(( ${3:-10} * 20 ))
        while [ $tries -gt 0 ]; do
                [ "$(wc -l < "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
                sleep 0.05
                tries=$((tries - 1))
        done
        fail "timed out waiting for $2 lines in $1"
        return 1
}
