# parley db: the counts of a database parleyd wrote, and one user's data
# exported as JSON lines (written whole, or not at all).
. "$top_srcdir/tests/lib/common.sh"

conf="$TEST_DIR/parleyd.conf"
write_config "$conf" "$TEST_DIR/state"
db="$TEST_DIR/state/parley.db"

printf 'help\nremind me in 1 hour to water the plants\n' | \
        "$PARLEYD" --config "$conf" --foreground > /dev/null 2>&1

"$PARLEY" db --config "$conf" stats > "$TEST_DIR/stats"
check_eq "stats" "schema version   4
inbox            2 (0 not answered)
outbox           2 (0 pending, 2 sent, 0 failed)
history          4
reminders        1" "$(cat "$TEST_DIR/stats")"

"$PARLEY" db --database "$db" export --user tester -o "$TEST_DIR/tester.jsonl" 2> "$TEST_DIR/err"
check_eq "export summary" "parley db export: 6 line(s) for user tester on console" \
        "$(cat "$TEST_DIR/err")"
check_eq "export line types" "export message message message message reminder" \
        "$(/usr/bin/python3 -c '
import json, sys
print(" ".join(json.loads(line)["type"] for line in open(sys.argv[1])))' "$TEST_DIR/tester.jsonl")"
check_eq "the reminder is there" "water the plants" "$(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["type"] == "reminder":
        print(o["text"])' "$TEST_DIR/tester.jsonl")"

# An export that cannot be written leaves no file behind.
status=0
"$PARLEY" db --database "$db" export --user tester -o "$TEST_DIR/no/such/dir/x.jsonl" \
        2> "$TEST_DIR/err" || status=$?
check_eq "unwritable export: exit status" 1 "$status"
check_grep "unwritable export: message" "cannot write $TEST_DIR/no/such/dir/x.jsonl.tmp" \
        "$TEST_DIR/err"

status=0
"$PARLEY" db --database "$TEST_DIR/missing.db" stats 2> "$TEST_DIR/err" || status=$?
check_eq "missing database: exit status" 1 "$status"
check_eq "missing database: message" \
        "parley db: $TEST_DIR/missing.db: No such file or directory" "$(cat "$TEST_DIR/err")"

status=0
"$PARLEY" db --database "$db" export 2> "$TEST_DIR/err" || status=$?
check_eq "export without --user: exit status" 2 "$status"

# An older schema is reported and left alone: parley db never migrates.
sqlite3 "$TEST_DIR/old.db" < "$top_srcdir/tests/fixtures/store-v1.sql"
status=0
"$PARLEY" db --database "$TEST_DIR/old.db" stats 2> "$TEST_DIR/err" || status=$?
check_eq "old schema: exit status" 1 "$status"
check_grep "old schema: message" "schema version 1 is older than this parley's 4" "$TEST_DIR/err"
check_eq "old schema: still version 1" 1 "$(sql "$TEST_DIR/old.db" 'PRAGMA user_version')"

test_finish
