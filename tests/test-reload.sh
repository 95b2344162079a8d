# SIGHUP swaps the model without dropping a message: replies after the
# reload come from the new model (as 'parley reply' gives them), and a
# model file that cannot be loaded is reported and the old model kept.
. "$top_srcdir/tests/lib/common.sh"
require_sqlite3

corpus="$top_srcdir/tests/fixtures/train-pairs.tsv"
for seed in 1 2; do
        "$PARLEY" train -o "$TEST_DIR/model$seed.safetensors" "$corpus" --embed-size 32 \
                --hidden-size 48 --layers 1 --epochs 30 --patience 0 --min-count 1 \
                --optimizer adam --lr 0.01 --seed $seed --threads 1 \
                --no-progress 2> "$TEST_DIR/train$seed.err"
done

question="what is the capital of peru?"
reply1=$("$PARLEY" reply --threads 1 "$TEST_DIR/model1.safetensors" "$question" 2>/dev/null)
reply2=$("$PARLEY" reply --threads 1 "$TEST_DIR/model2.safetensors" "$question" 2>/dev/null)
if [ "$reply1" = "$reply2" ]; then
        echo "SKIP: the two models answer alike; nothing to tell them apart by" >&2
        exit 77
fi

conf="$TEST_DIR/parleyd.conf"
write_model_config() {
        write_config "$conf" "$TEST_DIR/state"
        printf '\n[model]\npath = %s\n' "$1" >> "$conf"
}
write_model_config "$TEST_DIR/model1.safetensors"
out="$TEST_DIR/out"

start_console_daemon "$conf"
say "$question"
wait_for_line "$out" "."
check_eq "first model's reply" "$reply1" "$(sed -n 1p "$out")"

write_model_config "$TEST_DIR/model2.safetensors"
kill -HUP "$daemon_pid"
wait_for_line "$TEST_DIR/err" "reload: $TEST_DIR/model2.safetensors"
say "$question"
wait_for_line "$out" "^$reply2\$"
check_eq "second model's reply" "$reply2" "$(sed -n 2p "$out")"

# A broken file: reported, and the model in use stays.
printf 'not a model' > "$TEST_DIR/broken.safetensors"
write_model_config "$TEST_DIR/broken.safetensors"
kill -HUP "$daemon_pid"
wait_for_line "$TEST_DIR/err" "keeping the model in use"
check_grep "the broken file is named" "$TEST_DIR/broken.safetensors" "$TEST_DIR/err"
say "$question"
wait_for_lines "$out" 3
check_eq "still the second model" "$reply2" "$(sed -n 3p "$out")"

# A configuration with an error is refused whole.
printf '\n[policy]\nquiet_hours = later\n' >> "$conf"
kill -HUP "$daemon_pid"
wait_for_line "$TEST_DIR/err" "quiet_hours in \[policy\] expects HH:MM-HH:MM"
stop_console_daemon

check_eq "three questions, three answers" 3 "$(wc -l < "$out")"

# With context, the model sees the chat's previous message before the
# question: here the bot's own last reply.
write_config "$conf" "$TEST_DIR/state2"
printf '\n[model]\npath = %s\ncontext_messages = 1\n' "$TEST_DIR/model1.safetensors" >> "$conf"
: > "$out"
start_console_daemon "$conf"
say "$question"
wait_for_lines "$out" 1
say "what is two plus seven?"
wait_for_lines "$out" 2
stop_console_daemon
first=$(sed -n 1p "$out")
check_eq "no context before the first question" "$reply1" "$first"
alone=$("$PARLEY" reply --threads 1 "$TEST_DIR/model1.safetensors" "what is two plus seven?" 2>/dev/null)
test_checks=$((test_checks + 1))
[ "$alone" != "$(sed -n 2p "$out")" ] || fail "the context made no difference: '$alone'"
check_eq "the previous reply goes before the next question" \
        "$("$PARLEY" reply --threads 1 "$TEST_DIR/model1.safetensors" "$first what is two plus seven?" 2>/dev/null)" \
        "$(sed -n 2p "$out")"
test_finish
