#!/bin/sh
# summary.sh LOG...: adds up automake test-suite.log files and prints
# "N passed, N failed" as the last line (skips on the line before).
passed=0
failed=0
skipped=0
for log in "$@"; do
        if [ ! -f "$log" ]; then
                echo "summary: $log is missing; counting it as one failure" >&2
                failed=$((failed + 1))
                continue
        fi
        count() {
                sed -n "s/^# $1: *\([0-9][0-9]*\)$/\1/p" "$log" | head -n 1
        }
        passed=$((passed + $(count PASS) + $(count XFAIL)))
        failed=$((failed + $(count FAIL) + $(count XPASS) + $(count ERROR)))
        skipped=$((skipped + $(count SKIP)))
done
[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$passed passed, $failed failed"
