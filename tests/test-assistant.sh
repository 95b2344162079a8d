# The assistant on the console: reminders fire on time and late after a
# stop, search finds earlier messages, history, time zones, forget me.
. "$top_srcdir/tests/lib/common.sh"
require_sqlite3

conf="$TEST_DIR/parleyd.conf"
write_config "$conf" "$TEST_DIR/state"
printf '\n[reminders]\ntime_zone = Europe/Berlin\n' >> "$conf"
printf '\n[policy]\nrules_file = rules.jsonl\n' >> "$conf"
echo '{"match": "opening hours", "reply": "We are open 9 to 18, Monday to Friday."}' \
        > "$TEST_DIR/rules.jsonl"
db="$TEST_DIR/state/parley.db"
out="$TEST_DIR/out"

start_console_daemon "$conf"

# A keyword rule answers before the model.
say "What are your opening hours?"
wait_for_line "$out" '^We are open 9 to 18, Monday to Friday\.$'
check_eq "the rule's reply is marked so" "rule" \
        "$(sql "$db" 'SELECT source FROM outbox ORDER BY id DESC LIMIT 1')"

say "remind me in 2 seconds to stretch"
wait_for_line "$out" '^OK, reminder 1: "stretch" at '
wait_for_line "$out" '^⏰ Reminder: stretch$' 10
# Within a second of its due time, never before.
check_range "reminder 1 fired this many ms after due" 0 1000 \
        "$(sql "$db" 'SELECT fired_at_ms - due_at_ms FROM reminders WHERE id = 1')"
check_eq "reminder 1 is fired, not late" "fired|0" \
        "$(sql "$db" 'SELECT status, late FROM reminders WHERE id = 1')"

say "bring the umbrella tomorrow"
say "search umbrella"
wait_for_line "$out" '^Your messages matching "umbrella", newest first:$'
wait_for_line "$out" '^  .* bring the umbrella tomorrow$'

say "search zeppelin"
wait_for_line "$out" '^None of your messages here match "zeppelin"\.$'

say "remind me at 25pm to call Anna"
wait_for_line "$out" 'at 25pm'
check_eq "a phrase not understood stores nothing" 1 "$(sql "$db" 'SELECT count(*) FROM reminders')"

say "remind me every Monday at 10 to plan the week"
wait_for_line "$out" '^OK, reminder 2: "plan the week" at Mon .* \(every Monday at 10:00\)\.$'
say "reminders"
wait_for_line "$out" '^Your reminders:$'
wait_for_line "$out" '^  2  Mon .* 10:00 .*  plan the week \(every Monday at 10:00\)$'
say "cancel 2"
wait_for_line "$out" '^Reminder 2 cancelled\.$'
say "cancel 2"
wait_for_line "$out" "^You have no pending reminder 2; 'reminders' lists yours\.$"

say "timezone Mars/Olympus"
wait_for_line "$out" '^I do not know the time zone "Mars/Olympus"'
say "timezone Asia/Shanghai"
wait_for_line "$out" '^Your time zone is now Asia/Shanghai\.$'

say "10分钟后提醒我喝水"
wait_for_line "$out" '^好的，提醒 3：.*提醒你“喝水”。$'

say "remind me in 1 hour to drink water"
wait_for_line "$out" '^OK, reminder 4: "drink water" at '
stop_console_daemon

# The daemon was down when reminder 4 fell due: it fires at the start,
# marked late.  (The due time is moved into the past to stand for the
# downtime.)
sqlite3 "$db" "UPDATE reminders SET due_at_ms = due_at_ms - 2 * 3600 * 1000 WHERE id = 4"
: > "$out"
start_console_daemon "$conf"
wait_for_line "$out" '^⏰ Reminder \(late: it was due .*\): drink water$'
check_eq "reminder 4 marked late" "fired|1" \
        "$(sql "$db" 'SELECT status, late FROM reminders WHERE id = 4')"

say "history 1"
wait_for_line "$out" '^Q: remind me in 1 hour to drink water$'

say "forget me"
wait_for_line "$out" "^This erases all your messages, reminders and settings here, and cannot be undone\. To go ahead, send: forget me confirm$"
say "forget me confirm"
wait_for_line "$out" "^Done: I erased [0-9]+ message\(s\), 4 reminder\(s\) and 1 setting\(s\) of yours\.$"
stop_console_daemon
check_eq "no reminders left for the user" 0 \
        "$(sql "$db" "SELECT count(*) FROM reminders WHERE user_id = 'tester'")"

test_finish
