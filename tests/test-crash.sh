# kill -9 during a burst of 1,000 console messages, then a restart: every
# message that reached the inbox is answered, none is lost, and at most the
# reply in flight at the kill is written twice.
. "$top_srcdir/tests/lib/common.sh"
require_sqlite3

conf="$TEST_DIR/parleyd.conf"
write_config "$conf" "$TEST_DIR/state"
db="$TEST_DIR/state/parley.db"
total=1000

i=1
while [ $i -le $total ]; do
        echo "message $i"
        i=$((i + 1))
done > "$TEST_DIR/input"

# The input comes through a FIFO that stays open after the burst, so the
# daemon is mid-burst, not finished, when the kill lands.
mkfifo "$TEST_DIR/fifo"
"$PARLEYD" --config "$conf" --foreground < "$TEST_DIR/fifo" \
        > "$TEST_DIR/out1" 2> "$TEST_DIR/err1" &
daemon_pid=$!
exec 3> "$TEST_DIR/fifo"
cat "$TEST_DIR/input" >&3

# Kill once a good part of the burst is in the inbox, but not all of it.
tries=0
while :; do
        n=$(sql "$db" 'SELECT count(*) FROM inbox' 2>/dev/null || echo 0)
        [ "${n:-0}" -ge 200 ] && break
        tries=$((tries + 1))
        if [ $tries -gt 600 ]; then
                fail "the daemon never stored 200 messages"
                break
        fi
        sleep 0.05
done
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
exec 3>&-

received=$(sql "$db" 'SELECT count(*) FROM inbox')
answered_before=$(wc -l < "$TEST_DIR/out1")
echo "killed with $received stored, $answered_before answered" >&2
check_range "messages stored before the kill" 200 $total "$received"

# The restart reads no input: it answers what was left and exits.
"$PARLEYD" --config "$conf" --foreground < /dev/null > "$TEST_DIR/out2" 2> "$TEST_DIR/err2"
check_eq "restart exit status" 0 $?

answered=$(( $(wc -l < "$TEST_DIR/out1") + $(wc -l < "$TEST_DIR/out2") ))
check_range "replies written across both runs" "$received" $((received + 1)) "$answered"
check_eq "inbox rows left undone" 0 "$(sql "$db" "SELECT count(*) FROM inbox WHERE status != 'done'")"
check_eq "one outbox row per inbox row" "$received" "$(sql "$db" 'SELECT count(*) FROM outbox')"
check_eq "outbox rows left unsent" 0 "$(sql "$db" "SELECT count(*) FROM outbox WHERE status != 'sent'")"

# None lost: the stored messages are exactly the first lines of the input,
# in order, with no gap.
sql "$db" 'SELECT text FROM inbox ORDER BY id' > "$TEST_DIR/stored"
head -n "$received" "$TEST_DIR/input" > "$TEST_DIR/expected"
check_eq "stored messages are the input's first $received lines" "" \
        "$(diff "$TEST_DIR/expected" "$TEST_DIR/stored" | head -5)"

test_finish
