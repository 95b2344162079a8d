# The main job on real input: a model trained on part of the SGD
# customer-service corpus answers scripted questions in parleyd (the same
# reply 'parley reply' gives), a reminder arrives on time, search finds an
# earlier message, and a kill in the middle of a burst loses nothing.
. "$top_srcdir/tests/lib/common.sh"
require_sqlite3

corpus="$top_srcdir/../shared/corpora/sgd-train.tsv"
if [ ! -f "$corpus" ]; then
        echo "SKIP: $corpus is absent (the shared corpora live beside the project)" >&2
        exit 77
fi

head -n 3000 "$corpus" > "$TEST_DIR/sgd.tsv"
"$PARLEY" prep -o "$TEST_DIR/train.tsv" "$TEST_DIR/sgd.tsv" 2> "$TEST_DIR/prep.err"
"$PARLEY" train -o "$TEST_DIR/model.safetensors" "$TEST_DIR/train.tsv" \
        --embed-size 32 --hidden-size 64 --layers 1 --vocab-size 2000 --epochs 2 \
        --optimizer adam --lr 0.005 --threads 1 --seed 7 --no-progress \
        2> "$TEST_DIR/train.err"
check_eq "training exit status" 0 $?

conf="$TEST_DIR/parleyd.conf"
write_config "$conf" "$TEST_DIR/state"
printf '\n[model]\npath = %s\n' "$TEST_DIR/model.safetensors" >> "$conf"
db="$TEST_DIR/state/parley.db"
out="$TEST_DIR/out"

question="I would like to book a table for two tonight"
expected=$("$PARLEY" reply --threads 1 "$TEST_DIR/model.safetensors" "$question" 2>/dev/null)
check_range "the model's reply has words" 1 1000 "${#expected}"

start_console_daemon "$conf"
say "$question"
wait_for_line "$out" "."
check_eq "parleyd answers as parley reply does" "$expected" "$(head -n 1 "$out")"
check_eq "the answer came from the model" "model" \
        "$(sql "$db" 'SELECT source FROM outbox ORDER BY id LIMIT 1')"

say "remind me in 2 seconds to confirm the booking"
wait_for_line "$out" '^OK, reminder 1: "confirm the booking" at '
wait_for_line "$out" '^⏰ Reminder: confirm the booking$' 10
check_range "the reminder fired this many ms after due" 0 1000 \
        "$(sql "$db" 'SELECT fired_at_ms - due_at_ms FROM reminders WHERE id = 1')"

say "search table"
wait_for_line "$out" "^  .*  $question\$"

# A burst of customer questions, killed in the middle.
head -n 200 "$TEST_DIR/sgd.tsv" | cut -f 1 > "$TEST_DIR/burst"
cat "$TEST_DIR/burst" >&3
sleep 0.5
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
exec 3>&-

stored=$(sql "$db" 'SELECT count(*) FROM inbox')
"$PARLEYD" --config "$conf" --foreground < /dev/null >> "$out" 2>> "$TEST_DIR/err"
check_eq "restart exit status" 0 $?
check_eq "every stored message answered after the restart" 0 \
        "$(sql "$db" "SELECT count(*) FROM inbox WHERE status != 'done'")"
check_eq "one reply per stored message" "$stored" \
        "$(sql "$db" 'SELECT count(DISTINCT inbox_id) FROM outbox WHERE inbox_id IS NOT NULL')"
check_eq "every reply delivered" 0 "$(sql "$db" "SELECT count(*) FROM outbox WHERE status != 'sent'")"
echo "stored $stored messages before the kill" >&2

test_finish
