#!/bin/sh
# parley score on small files written here: the exact lines it prints, and
# its errors with their exit statuses.
set -u

parley="${top_builddir:-.}/src/parley"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# expect_out STATUS EXPECTED-STDOUT ARGS...: runs parley score ARGS.
expect_out() {
        want_status=$1 want_out=$2
        shift 2
        checks=$((checks + 1))
        out=$("$parley" score "$@" 2>"$tmp/stderr")
        status=$?
        [ "$status" -eq "$want_status" ] ||
                fail "parley score $*: exit $status, expected $want_status ($(cat "$tmp/stderr"))"
        [ "$out" = "$want_out" ] ||
                fail "parley score $*: printed '$out', expected '$want_out'"
}

# expect_err STATUS TEXT ARGS...: fails with STATUS and TEXT on stderr.
expect_err() {
        want_status=$1 want_text=$2
        shift 2
        checks=$((checks + 1))
        "$parley" score "$@" >"$tmp/stdout" 2>"$tmp/stderr"
        status=$?
        [ "$status" -eq "$want_status" ] ||
                fail "parley score $*: exit $status, expected $want_status"
        grep -qF -- "$want_text" "$tmp/stderr" ||
                fail "parley score $*: stderr '$(cat "$tmp/stderr")' lacks '$want_text'"
        [ ! -s "$tmp/stdout" ] || fail "parley score $*: printed '$(cat "$tmp/stdout")'"
}

# sacrebleu's test corpus (its test_bleu.py): two reference streams.
printf '%s\n' "The dog bit the man." "It wasn't surprising." \
        "The man had just bitten him." >"$tmp/hyp"
printf '%s\n' "The dog bit the man." "It was not unexpected." \
        "The man bit him first." >"$tmp/ref1"
printf '%s\r\n' "The dog had bit the man." "No one was surprised." \
        "The man had bitten the dog." >"$tmp/ref2"

# sacrebleu 2.x prints this line for the corpus (CRLF in ref2 is a line end).
want="BLEU = 48.53 82.4/50.0/45.5/37.5"
expect_out 0 "$want (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)" \
        --hyp "$tmp/hyp" --ref "$tmp/ref1" --ref "$tmp/ref2"
want="BLEU = 49.19 71.4/54.5/50.0/40.0"
expect_out 0 "$want (BP = 0.931 ratio = 0.933 hyp_len = 14 ref_len = 15)" \
        --hyp "$tmp/hyp" --ref "$tmp/ref1" --ref "$tmp/ref2" --tokenize none

# Orders 1-4 match 3/4, 2/3, 1/2, 0/1.
printf 'a b c d\n' >"$tmp/h4"
printf 'a b c e\n' >"$tmp/r4"
expect_out 0 "BLEU = 39.76 75.0/66.7/50.0/10.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)" \
        --hyp "$tmp/h4" --ref "$tmp/r4" --smooth floor
expect_out 0 "BLEU = 65.80 75.0/75.0/66.7/50.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)" \
        --hyp "$tmp/h4" --ref "$tmp/r4" --smooth add-k
expect_out 0 "BLEU = 59.46 75.0/66.7/50.0/50.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)" \
        --hyp "$tmp/h4" --ref "$tmp/r4" --smooth floor --smooth-value 0.5
expect_out 0 "BLEU = 0.00 75.0/66.7/50.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)" \
        --hyp "$tmp/h4" --ref "$tmp/r4" --smooth none

printf 'The Cat sat\n' >"$tmp/hc"
printf 'the cat sat\n' >"$tmp/rc"
expect_out 0 "BLEU = 100.00 100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 3 ref_len = 3)" \
        --hyp "$tmp/hc" --ref "$tmp/rc" --lowercase --max-order 2
expect_out 0 "BLEU = 28.87 33.3/25.0 (BP = 1.000 ratio = 1.000 hyp_len = 3 ref_len = 3)" \
        --hyp "$tmp/hc" --ref "$tmp/rc" --max-order 2

# sacrebleu's effective-order case: "test" against "a test".
printf 'test\n' >"$tmp/he"
printf 'a test\n' >"$tmp/re"
expect_out 0 "BLEU = 36.79 100.0/0.0/0.0/0.0 (BP = 0.368 ratio = 0.500 hyp_len = 1 ref_len = 2)" \
        --hyp "$tmp/he" --ref "$tmp/re" --tokenize none --smooth floor --smooth-value 0.01 \
        --effective-order

printf '%s\n' "我爱北京天安门" "你好，世界！" >"$tmp/hzh"
printf '%s\n' "我爱北京" "你好世界" >"$tmp/rzh"
want="BLEU = 30.70 61.5/45.5/22.2/14.3"
expect_out 0 "$want (BP = 1.000 ratio = 1.625 hyp_len = 13 ref_len = 8)" \
        --hyp "$tmp/hzh" --ref "$tmp/rzh" --tokenize zh
expect_out 0 "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 2 ref_len = 2)" \
        --hyp "$tmp/hzh" --ref "$tmp/rzh"

# ROUGE: segment 1 scores (1, 2/3, 0.8) / (1, 1/2, 2/3) / (1, 2/3, 0.8),
# segment 2 (1/2, 1/3, 0.4) / 0 / (1/2, 1/3, 0.4); the corpus is the mean.
printf '%s\n' "testing one" "the cat" >"$tmp/hr"
printf '%s\n' "testing one two" "a cat sat" >"$tmp/rr"
expect_out 0 "ROUGE-1 P = 0.750000 R = 0.500000 F = 0.600000
ROUGE-2 P = 0.500000 R = 0.250000 F = 0.333333
ROUGE-L P = 0.750000 R = 0.500000 F = 0.600000" \
        --metric rouge --hyp "$tmp/hr" --ref "$tmp/rr"

# Stemming: runner(s) and run(s/ning) meet; 2 of 4 and 2 of 5 tokens.
printf 'a runner runs quick\n' >"$tmp/hs"
printf 'The runners were running quickly\n' >"$tmp/rs"
expect_out 0 "ROUGE-1 P = 0.500000 R = 0.400000 F = 0.444444
ROUGE-2 P = 0.000000 R = 0.000000 F = 0.000000
ROUGE-L P = 0.500000 R = 0.400000 F = 0.444444" \
        --metric rouge --stem --hyp "$tmp/hs" --ref "$tmp/rs"

# Chinese: empty for rouge-score's tokeniser, per character with zh.
printf '我爱北京\n' >"$tmp/hz"
printf '我在北京\n' >"$tmp/rz"
expect_out 0 "ROUGE-1 P = 0.000000 R = 0.000000 F = 0.000000
ROUGE-2 P = 0.000000 R = 0.000000 F = 0.000000
ROUGE-L P = 0.000000 R = 0.000000 F = 0.000000" \
        --metric rouge --hyp "$tmp/hz" --ref "$tmp/rz"
expect_out 0 "ROUGE-1 P = 0.750000 R = 0.750000 F = 0.750000
ROUGE-2 P = 0.333333 R = 0.333333 F = 0.333333
ROUGE-L P = 0.750000 R = 0.750000 F = 0.750000" \
        --metric rouge --tokenize zh --hyp "$tmp/hz" --ref "$tmp/rz"

# Errors in the data: exit 1, naming the file, line and counts.
printf 'a\nb\n' >"$tmp/two"
expect_err 1 "'$tmp/two' has 2 lines but '$tmp/hyp' has 3" \
        --hyp "$tmp/hyp" --ref "$tmp/ref1" --ref "$tmp/two"
printf 'ok\ncaf\303\n' >"$tmp/bad-utf8"
expect_err 1 "$tmp/bad-utf8:2: line is not valid UTF-8" --hyp "$tmp/bad-utf8" --ref "$tmp/two"
printf 'ok\na\000b\n' >"$tmp/nul"
expect_err 1 "$tmp/nul:2: line contains a NUL byte" --hyp "$tmp/nul" --ref "$tmp/two"
: >"$tmp/empty"
expect_err 1 "'$tmp/empty' holds no segments" --hyp "$tmp/empty" --ref "$tmp/two"
expect_err 1 "cannot open '$tmp/missing'" --hyp "$tmp/missing" --ref "$tmp/two"

# A line of exactly 65536 bytes is a segment; one more byte is an error.
head -c 65536 /dev/zero | tr '\0' 'a' >"$tmp/long"
printf '\n' >>"$tmp/long"
expect_out 0 "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 1 ref_len = 1)" \
        --hyp "$tmp/long" --ref "$tmp/he"
{ printf 'x\n'; head -c 65537 /dev/zero | tr '\0' 'a'; printf '\n'; } >"$tmp/too-long"
expect_err 1 "$tmp/too-long:2: line is longer than 65536 bytes" \
        --hyp "$tmp/too-long" --ref "$tmp/two"

# Usage errors: exit 2.
expect_err 2 "--ref FILE is required" --hyp "$tmp/hyp"
expect_err 2 "--hyp FILE is required" --ref "$tmp/hyp"
expect_err 2 "unknown BLEU tokenizer 'intl'" --hyp "$tmp/hyp" --ref "$tmp/ref1" --tokenize intl
expect_err 2 "unknown ROUGE tokenizer '13a'" --metric rouge --hyp "$tmp/hyp" --ref "$tmp/ref1" \
        --tokenize 13a
expect_err 2 "unknown smoothing 'add_k'" --hyp "$tmp/hyp" --ref "$tmp/ref1" --smooth add_k
expect_err 2 "--smooth-value applies only to --smooth floor or add-k" \
        --hyp "$tmp/hyp" --ref "$tmp/ref1" --smooth-value 0.2
expect_err 2 "--smooth-value 'x' is not a number" \
        --hyp "$tmp/hyp" --ref "$tmp/ref1" --smooth floor --smooth-value x
expect_err 2 "--max-order '11' is not a number from 1 to 10" \
        --hyp "$tmp/hyp" --ref "$tmp/ref1" --max-order 11
expect_err 2 "--stem applies only to --metric rouge" --hyp "$tmp/hyp" --ref "$tmp/ref1" --stem
expect_err 2 "--lowercase applies only to --metric bleu" \
        --metric rouge --hyp "$tmp/hyp" --ref "$tmp/ref1" --lowercase
expect_err 2 "unknown metric 'chrf'" --metric chrf --hyp "$tmp/hyp" --ref "$tmp/ref1"

checks=$((checks + 1))
"$parley" score --help >"$tmp/help" 2>&1
status=$?
[ "$status" -eq 0 ] || fail "parley score --help: exit $status"
grep -q "^usage: parley score --hyp FILE --ref FILE" "$tmp/help" ||
        fail "parley score --help: no usage line"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
