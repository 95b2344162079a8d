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
