#!/bin/sh
# test-prep.sh: `parley prep` on fixtures: the exact output file, the
# reported counts and malformed lines, atomic replacement, usage errors.
set -u

parley="${top_builddir:-.}/src/parley"
fixtures="${top_srcdir:-.}/tests/fixtures"
a="$fixtures/text-prep-a.tsv"
b="$fixtures/text-prep-b.yml"
work=$(mktemp -d "${TMPDIR:-/tmp}/test-prep.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
failures=0
checks=0

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# check_eq WHAT ACTUAL EXPECTED
check_eq() {
        checks=$((checks + 1))
        [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# check_files WHAT ACTUAL EXPECTED
check_files() {
        checks=$((checks + 1))
        cmp -s "$2" "$3" || { fail "$1 differs:"; diff "$2" "$3" >&2; }
}

# 1. Both fixtures, --max-tokens 10: exact output and report.
"$parley" prep --max-tokens 10 -o "$work/out.tsv" "$a" "$b" 2>"$work/err"
check_eq "exit status" $? 0
check_files "output" "$work/out.tsv" "$fixtures/text-prep-expected.tsv"
cat >"$work/expected-err" <<EOT
$a:4: no tab between prompt and reply
$a:5: more than one tab: expected prompt<TAB>reply
$a:10: invalid UTF-8
$b:9: conversation has fewer than two turns
parley prep: 14 records read from 2 files: 10 pairs, 4 malformed
parley prep: 6 pairs written to $work/out.tsv
parley prep: dropped 4 malformed, 1 too long, 0 too short, 1 empty, 2 duplicate
EOT
check_files "report" "$work/err" "$work/expected-err"
check_eq "no temporary file left" "$(ls "$work" | grep -c tmp)" 0

# 2. --min-tokens 3 with the default --max-tokens 40: the long pair stays,
# short ones go.
"$parley" prep --min-tokens 3 --format auto -o "$work/min.tsv" "$a" "$b" 2>"$work/err"
check_eq "exit status (min)" $? 0
printf '%s\t%s\n' \
        "Tell me a long story" \
        "Once upon a time there was a parser that read every line ." \
        "What is your name?" "I am parley." \
        "I am parley." "Nice to meet you." >"$work/expected-min.tsv"
check_files "output (min)" "$work/min.tsv" "$work/expected-min.tsv"
check_eq "counts (min)" "$(tail -n 1 "$work/err")" \
        "parley prep: dropped 4 malformed, 0 too long, 6 too short, 1 empty, 0 duplicate"

# 3. A missing input: exit 1, the message names it, the old output is
# untouched and no temporary file is left.
echo "old content" >"$work/keep.tsv"
"$parley" prep -o "$work/keep.tsv" "$a" "$work/missing.tsv" 2>"$work/err"
check_eq "exit status (missing input)" $? 1
checks=$((checks + 1))
grep -q "Cannot read '$work/missing.tsv': No such file or directory" "$work/err" ||
        fail "missing input not named: $(cat "$work/err")"
check_eq "old output kept" "$(cat "$work/keep.tsv")" "old content"
"$parley" prep -o "$work/new.tsv" "$work/missing.tsv" 2>/dev/null
check_eq "exit status (missing, new output)" $? 1
check_eq "files after failures" "$(ls "$work" | grep -c -e tmp -e new.tsv)" 0

# 4. An extension that names no format is an error, unless --format says.
cp "$a" "$work/pairs.data"
"$parley" prep -o "$work/x.tsv" "$work/pairs.data" 2>/dev/null
check_eq "exit status (unknown extension)" $? 1
"$parley" prep --format tsv --max-tokens 10 -o "$work/x.tsv" "$work/pairs.data" 2>/dev/null
check_eq "exit status (--format tsv)" $? 0
check_eq "pairs with --format tsv" "$(wc -l <"$work/x.tsv")" 4

# 5. Only the first 20 malformed records are listed.
i=0
while [ $i -lt 25 ]; do
        echo "no tab $i"
        i=$((i + 1))
done >"$work/bad.tsv"
printf 'ok\tfine\n' >>"$work/bad.tsv"
"$parley" prep -o "$work/bad-out.tsv" "$work/bad.tsv" 2>"$work/err"
check_eq "exit status (many malformed)" $? 0
check_eq "listed malformed" "$(grep -c ': no tab between' "$work/err")" 20
check_eq "last listed" "$(grep ': no tab between' "$work/err" | tail -n 1)" \
        "$work/bad.tsv:20: no tab between prompt and reply"
check_eq "overflow line" "$(grep '^\.\.\.' "$work/err")" "... and 5 more malformed records"
check_eq "many malformed summary" "$(grep 'records read' "$work/err")" \
        "parley prep: 26 records read from 1 file: 1 pairs, 25 malformed"
check_eq "many malformed output" "$(cat "$work/bad-out.tsv")" "$(printf 'ok\tfine')"

# 6. Usage errors exit 2, --help 0.
"$parley" prep "$a" 2>/dev/null
check_eq "no -o" $? 2
"$parley" prep -o "$work/y.tsv" 2>/dev/null
check_eq "no input" $? 2
"$parley" prep --max-tokens 0 -o "$work/y.tsv" "$a" 2>/dev/null
check_eq "--max-tokens 0" $? 2
"$parley" prep --max-tokens 12x -o "$work/y.tsv" "$a" 2>/dev/null
check_eq "--max-tokens 12x" $? 2
"$parley" prep --min-tokens 5 --max-tokens 4 -o "$work/y.tsv" "$a" 2>/dev/null
check_eq "min over max" $? 2
"$parley" prep --format csv -o "$work/y.tsv" "$a" 2>/dev/null
check_eq "--format csv" $? 2
check_eq "nothing written by usage errors" "$(ls "$work" | grep -c y.tsv)" 0
"$parley" prep --help >"$work/help"
check_eq "--help" $? 0
check_eq "--help text" "$(head -n 1 "$work/help")" \
        "usage: parley prep [OPTIONS] -o OUT.tsv INPUT..."

echo "$checks checks, $failures failed"
[ $failures -eq 0 ]
