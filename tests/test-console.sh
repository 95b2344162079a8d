# A scripted console session: a command and a free-text message go in,
# their replies come out, all four rows land in history, and a restart
# keeps them.
. "$top_srcdir/tests/lib/common.sh"
require_sqlite3

conf="$TEST_DIR/parleyd.conf"
write_config "$conf" "$TEST_DIR/state"
db="$TEST_DIR/state/parley.db"

printf 'help\nhello there\n' | "$PARLEYD" --config "$conf" --foreground \
        > "$TEST_DIR/out1" 2> "$TEST_DIR/err1"
check_eq "first run exit status" 0 $?

check_eq "first reply" "I answer questions, and these commands:" "$(sed -n 1p "$TEST_DIR/out1")"
check_eq "help lists remind first" \
        "  remind     set a reminder (example: remind me tomorrow at 9:30 to call Anna)" \
        "$(sed -n 2p "$TEST_DIR/out1")"
check_eq "help lists help last" "  help       this list (example: help)" \
        "$(sed -n 10p "$TEST_DIR/out1")"
check_grep "free text gets the no-model answer" "^No model is loaded, so I can only run commands" \
        "$TEST_DIR/out1"
check_eq "reply lines" 11 "$(wc -l < "$TEST_DIR/out1")"

check_eq "history rows" 4 "$(sql "$db" 'SELECT count(*) FROM history')"
check_eq "inbound history" "help|hello there" \
        "$(sql "$db" "SELECT group_concat(text, '|') FROM (SELECT text FROM history WHERE NOT outbound ORDER BY id)")"
check_eq "outbound history" 2 "$(sql "$db" 'SELECT count(*) FROM history WHERE outbound')"
check_eq "inbox all done" 0 "$(sql "$db" "SELECT count(*) FROM inbox WHERE status != 'done'")"
check_eq "outbox all sent" 2 "$(sql "$db" "SELECT count(*) FROM outbox WHERE status = 'sent'")"
check_eq "reply sources" "command|model" \
        "$(sql "$db" "SELECT group_concat(source, '|') FROM (SELECT source FROM outbox ORDER BY id)")"

# Chinese asks get Chinese answers.
printf '帮助\n' | "$PARLEYD" --config "$conf" --foreground > "$TEST_DIR/out2" 2> "$TEST_DIR/err2"
check_eq "second run exit status" 0 $?
check_eq "Chinese help" "我可以回答问题，也支持以下命令：" "$(sed -n 1p "$TEST_DIR/out2")"
check_eq "history kept across the restart" 6 "$(sql "$db" 'SELECT count(*) FROM history')"
check_eq "first message still first" "help" \
        "$(sql "$db" 'SELECT text FROM history ORDER BY id LIMIT 1')"

# Nothing was left for a next run.
check_eq "no work left over" "" "$(grep -i resuming "$TEST_DIR/err2" || true)"

# A model that cannot be loaded stops the start, naming it as the model.
status=0
printf 'help\n' | PARLEY_MODEL_PATH="$TEST_DIR/absent.safetensors" "$PARLEYD" --config "$conf" \
        --foreground > "$TEST_DIR/out3" 2> "$TEST_DIR/err3" || status=$?
check_eq "absent model exit status" 1 "$status"
check_grep "absent model named" "cannot load the model (\[model\] path or PARLEY_MODEL_PATH): " \
        "$TEST_DIR/err3"
check_grep "absent model's path and reason" "$TEST_DIR/absent.safetensors: No such file" \
        "$TEST_DIR/err3"

test_finish
