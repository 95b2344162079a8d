# The system call filter of systemd/parleyd.service allows every call
# parleyd makes: parleyd runs under strace through a console session that
# loads a model, answers with it (OpenBLAS's threads), sets a reminder,
# searches, erases a user, reloads on SIGHUP and stops on SIGTERM, and each
# call it made must be in the set the unit's SystemCallFilter= lines give.
# A call outside it would fail with EPERM under systemd (the unit's
# SystemCallErrorNumber=), which no other test would notice.
. "$top_srcdir/tests/lib/common.sh"

if ! command -v strace >/dev/null; then
        echo "SKIP: strace is not installed (apt-get install strace)" >&2
        exit 77
fi
if command -v readelf >/dev/null &&
   readelf -d "$top_builddir/src/parleyd" | grep -q 'libasan'; then
        echo "SKIP: a sanitizer build: LeakSanitizer cannot run under strace" >&2
        exit 77
fi
if ! strace -f -qq -o /dev/null true 2>/dev/null; then
        echo "SKIP: strace cannot trace here (no ptrace in this container?)" >&2
        exit 77
fi
if ! systemd-analyze syscall-filter @default >/dev/null 2>&1; then
        echo "SKIP: systemd-analyze is not installed (apt-get install systemd)" >&2
        exit 77
fi
UNIT="$top_builddir/systemd/parleyd.service"
[ -f "$UNIT" ] || { echo "FAIL: $UNIT was not made" >&2; exit 1; }

# expand_groups NAME...: the system calls of each @group (recursively) or
# the name itself, one a line.
expand_groups() {
        for name in "$@"; do
                case "$name" in
                @*) systemd-analyze syscall-filter "$name" |
                        sed -n 's/^    \([@a-z0-9_-]*\)$/\1/p' |
                        while read -r sub; do expand_groups "$sub"; done ;;
                *) echo "$name" ;;
                esac
        done
}

# The unit's filter: the first line is an allow-list, a later "~" line takes
# calls out of it, a later plain line puts calls back (systemd.exec(5)).
grep '^SystemCallFilter=' "$UNIT" | sed 's/^SystemCallFilter=//' > "$TEST_DIR/filter"
check_eq "the unit's first SystemCallFilter=" "@system-service" "$(head -n 1 "$TEST_DIR/filter")"
: > "$TEST_DIR/allowed"
while read -r line; do
        case "$line" in
        "~"*)   # shellcheck disable=SC2086
                expand_groups ${line#\~} | sort -u > "$TEST_DIR/group"
                sort -u "$TEST_DIR/allowed" | comm -23 - "$TEST_DIR/group" > "$TEST_DIR/next" ;;
        *)      # shellcheck disable=SC2086
                { cat "$TEST_DIR/allowed"; expand_groups $line; } | sort -u > "$TEST_DIR/next" ;;
        esac
        mv "$TEST_DIR/next" "$TEST_DIR/allowed"
done < "$TEST_DIR/filter"
check_range "system calls the unit allows" 250 1000 "$(wc -l < "$TEST_DIR/allowed")"
for call in epoll_wait mbind; do
        check_grep "the unit allows $call" "^$call\$" "$TEST_DIR/allowed"
done
for call in setuid sched_setaffinity mount; do
        test_checks=$((test_checks + 1))
        ! grep -qx "$call" "$TEST_DIR/allowed" || fail "the unit allows $call"
done

# A small model, so that replies go through OpenBLAS.
"$PARLEY" train -o "$TEST_DIR/model.safetensors" "$top_srcdir/tests/fixtures/train-pairs.tsv" \
        --embed-size 32 --hidden-size 48 --layers 1 --epochs 5 --patience 0 --min-count 1 \
        --optimizer adam --lr 0.01 --seed 1 --threads 1 --no-progress 2> "$TEST_DIR/train.err"
write_config "$TEST_DIR/parleyd.conf" "$TEST_DIR/state"
cat >> "$TEST_DIR/parleyd.conf" <<CONF

[model]
path = $TEST_DIR/model.safetensors

[history]
retention_days = 30
CONF

rm -f "$TEST_DIR/in"
mkfifo "$TEST_DIR/in"
strace -f -qq -o "$TEST_DIR/trace" "$PARLEYD" --config "$TEST_DIR/parleyd.conf" --foreground \
        < "$TEST_DIR/in" > "$TEST_DIR/out" 2> "$TEST_DIR/err" &
strace_pid=$!
exec 3> "$TEST_DIR/in"
wait_for_line "$TEST_DIR/err" "console: connected" 30
# parleyd's pid: strace -f starts each line with it.
daemon=$(awk '{ print $1; exit }' "$TEST_DIR/trace")

say "what is the capital of peru?"
say "remind me in 10 minutes to stretch"
wait_for_line "$TEST_DIR/out" "^OK, reminder 1" 30
say "search peru"
say "forget me confirm"
wait_for_lines "$TEST_DIR/out" 4 30
kill -HUP "$daemon"
wait_for_line "$TEST_DIR/err" "reload: .*model.safetensors" 30
say "what is the capital of france?"
wait_for_lines "$TEST_DIR/out" 5 30
kill -TERM "$daemon"
status=0
wait "$strace_pid" || status=$?
exec 3>&-
check_eq "parleyd's exit status under strace" 0 "$status"
check_grep "parleyd stopped on SIGTERM" "stopped" "$TEST_DIR/err"

# The calls made: "PID name(" lines (an interrupted call's first half
# included), not "<... name resumed>", signals or exits.
sed -n 's/^[0-9][0-9]*  *\([a-z0-9_]*\)(.*/\1/p' "$TEST_DIR/trace" | sort -u > "$TEST_DIR/used"
check_range "distinct system calls parleyd made" 30 400 "$(wc -l < "$TEST_DIR/used")"
check_grep "parleyd waited in epoll_wait" "^epoll_wait$" "$TEST_DIR/used"
while read -r call; do
        test_checks=$((test_checks + 1))
        grep -qx "$call" "$TEST_DIR/allowed" && continue
        # SQLite gives its journal and WAL files the database's owner when it
        # runs as root; the service never does.
        if [ "$call" = fchown ] && [ "$(id -u)" -eq 0 ]; then
                continue
        fi
        fail "parleyd called $call, which the unit's SystemCallFilter= refuses"
        grep -m 3 " $call(" "$TEST_DIR/trace" | sed 's/^/    /' >&2
done < "$TEST_DIR/used"

# ProtectSystem=strict leaves writable only the state directory, the API file
# systems and the private /tmp and /var/tmp: every file parleyd opened for
# writing, and every file or directory it made, removed or renamed, is there.
# (mkdir of an existing parent fails with EEXIST on a read-only file system
# too, and is left out.)
writes=' (open|openat|creat)\(.*(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC)'
writes="$writes| (unlink|unlinkat|rmdir|rename|renameat|renameat2)\("
writes="$writes| (link|linkat|symlink|symlinkat|mknod|mknodat)\("
writes="$writes| (mkdir|mkdirat)\(.*= 0\$"
grep -E "$writes" "$TEST_DIR/trace" | grep -o '"[^"]*"' | tr -d '"' | sort -u > "$TEST_DIR/written"
check_grep "parleyd wrote its database" "^$TEST_DIR/state/parley.db$" "$TEST_DIR/written"
while read -r path; do
        test_checks=$((test_checks + 1))
        case "$path" in
        "$TEST_DIR/state"/*|/dev/*|/tmp/*|/var/tmp/*) ;;
        *) fail "parleyd wrote $path, which is read-only under ProtectSystem=strict" ;;
        esac
done < "$TEST_DIR/written"

# What the sandbox hides: PrivateDevices= leaves a few devices in /dev, and
# ProcSubset=pid (if the unit sets it) leaves only the processes in /proc.
grep -E ' (open|openat)\(' "$TEST_DIR/trace" | grep -o '"/\(dev\|proc\)/[^"]*"' | tr -d '"' |
        sort -u > "$TEST_DIR/special"
check_grep "parleyd read /proc/cpuinfo (OpenBLAS's kernels)" "^/proc/cpuinfo$" "$TEST_DIR/special"
subset=$(sed -n 's/^ProcSubset=//p' "$UNIT")
while read -r path; do
        test_checks=$((test_checks + 1))
        case "$path" in
        /dev/null|/dev/zero|/dev/full|/dev/random|/dev/urandom|/dev/tty|/dev/shm/*) ;;
        /dev/*) fail "parleyd opened $path, which PrivateDevices=yes hides" ;;
        /proc/self/*|/proc/thread-self/*|/proc/[0-9]*) ;;
        /proc/*) [ "$subset" != pid ] ||
                fail "parleyd opened $path, which the unit's ProcSubset=pid hides" ;;
        esac
done < "$TEST_DIR/special"

test_finish
