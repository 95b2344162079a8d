#!/bin/sh
# test-eval.sh: parley reply, chat and eval on models trained here.
#
# A small model memorises tests/fixtures/train-pairs.tsv (259 pairs and
# two corrupt records) in about two seconds, a smaller one the ten Chinese
# pairs of tests/fixtures/decode-zh.tsv.  Asserted:
#  - reply: the learnt answers, exactly, with greedy, beam and sampling at
#    temperature 0; sampling with one seed twice gives one answer;
#  - chat: one line out per line in, an unreadable line reported;
#  - eval: the exact layout of its report, the pair counts, BLEU and ROUGE
#    equal to parley score's on the replies it writes, perplexity and BLEU
#    far better on the true pairs than on pairs with shuffled replies;
#    --limit; --tokenize zh scoring Chinese that rouge-score's tokeniser
#    drops;
#  - errors: bad options (exit 2), missing or wrong files (exit 1).
. "${top_srcdir:-.}/tests/lib/common.sh"
set +e

corpus="$top_srcdir/tests/fixtures/train-pairs.tsv"
chinese="$top_srcdir/tests/fixtures/decode-zh.tsv"
model="$TEST_DIR/en.model"
zh_model="$TEST_DIR/zh.model"

# One BLAS thread, no validation split (the model of the last epoch is
# kept), a fixed seed: the same model on every run on one machine.
train() {
        "$PARLEY" train --embed-size 32 --hidden-size 64 --layers 1 --min-count 1 \
                --warmup 10 --lr 0.01 --lr-decay 1 --dropout 0 --threads 1 --seed 1 \
                --valid-fraction 0 --patience 0 --no-progress --log-every 1000 "$@"
}

train --batch-size 16 --epochs 60 -o "$model" "$corpus" 2>"$TEST_DIR/train.log" ||
        fail "training failed: $(cat "$TEST_DIR/train.log")"
train --batch-size 4 --epochs 40 -o "$zh_model" "$chinese" 2>"$TEST_DIR/train-zh.log" ||
        fail "training the Chinese model failed: $(cat "$TEST_DIR/train-zh.log")"

# ---- reply ----------------------------------------------------------------

reply() {
        "$PARLEY" reply --threads 1 "$@" 2>"$TEST_DIR/reply.err"
}

check_eq "greedy reply" "hi there, how can i help?" "$(reply "$model" hello)"
check_eq "greedy reply, words joined" "the capital of france is paris." \
        "$(reply "$model" What is the capital of France?)"
check_eq "beam reply" "hi there, how can i help?" \
        "$(reply --method beam --beam-width 4 --length-penalty 1 "$model" hello)"
check_eq "sampling at temperature 0" "the capital of france is paris." \
        "$(reply --method sample --temperature 0 "$model" "what is the capital of france?")"
first=$(reply --method sample --seed 5 --top-k 10 "$model" "what is two plus seven?")
second=$(reply --method sample --seed 5 --top-k 10 "$model" "what is two plus seven?")
check_eq "sampling with one seed twice" "$first" "$second"
check_eq "max length" "hi there," "$(reply --max-length 3 "$model" hello)"
check_eq "Chinese reply" "你好!有什么可以帮你的吗?" "$(reply "$zh_model" 你好)"

# ---- chat -------------------------------------------------------------------

printf 'hello\n\377 not utf-8\nwhat is the capital of france?\n' |
        "$PARLEY" chat --threads 1 "$model" >"$TEST_DIR/chat.out" 2>"$TEST_DIR/chat.err"
check_eq "chat exit status" 0 $?
check_eq "chat output" "hi there, how can i help?

the capital of france is paris." "$(cat "$TEST_DIR/chat.out")"
check_grep "chat reports the bad line" "line 2 is not valid UTF-8, skipped" "$TEST_DIR/chat.err"

# ---- eval -------------------------------------------------------------------

# eval OUT ARGS...: parley eval ARGS with its report in OUT.
eval_to() {
        out=$1
        shift
        "$PARLEY" eval --threads 1 "$@" >"$out" 2>"$out.err"
        check_eq "parley eval $* exit status" 0 $?
}

# field FILE SED-EXPRESSION: one figure of a report.
field() {
        sed -n "$2" "$1"
}

eval_to "$TEST_DIR/eval.out" --hypotheses "$TEST_DIR/hyp.txt" \
        --references "$TEST_DIR/ref.txt" "$model" "$corpus"
check_eq "eval report lines" 6 "$(wc -l <"$TEST_DIR/eval.out")"
check_eq "eval pair counts" "pairs: 259 evaluated, 2 malformed skipped, 0 too long skipped" \
        "$(sed -n 1p "$TEST_DIR/eval.out")"
num='[0-9]*\.[0-9]'
bleu_line="^BLEU = $num[0-9] $num/$num/$num/$num (BP = $num[0-9]* ratio = $num[0-9]*"
check_grep "eval BLEU line" "$bleu_line hyp_len = [0-9]* ref_len = 1612)$" "$TEST_DIR/eval.out"
for n in 1 2 L; do
        check_grep "eval ROUGE-$n line" "^ROUGE-$n F1 = [01]\.[0-9]\{6\}$" "$TEST_DIR/eval.out"
done
check_grep "eval perplexity line" \
        "^perplexity = $num\{4\} (cross-entropy $num\{6\} nats per token over 1871 tokens)$" \
        "$TEST_DIR/eval.out"
check_grep "eval names the corrupt line" \
        "train-pairs.tsv:57: no tab between prompt and reply, skipped" "$TEST_DIR/eval.out.err"
check_eq "hypotheses written" 259 "$(wc -l <"$TEST_DIR/hyp.txt")"
check_eq "references as scored" "the capital of france is paris." \
        "$(sed -n 3p "$TEST_DIR/ref.txt")"

# BLEU and ROUGE are parley score's on the same lines
score_bleu=$("$PARLEY" score --hyp "$TEST_DIR/hyp.txt" --ref "$TEST_DIR/ref.txt")
check_eq "BLEU as parley score computes it" "$score_bleu" "$(sed -n 2p "$TEST_DIR/eval.out")"
"$PARLEY" score --metric rouge --hyp "$TEST_DIR/hyp.txt" --ref "$TEST_DIR/ref.txt" \
        >"$TEST_DIR/rouge.out"
for n in 1 2 L; do
        check_eq "ROUGE-$n as parley score computes it" \
                "$(field "$TEST_DIR/rouge.out" "s/^ROUGE-$n P = .* F = \([0-9.]*\)$/\1/p")" \
                "$(field "$TEST_DIR/eval.out" "s/^ROUGE-$n F1 = \([0-9.]*\)$/\1/p")"
done

# the same prompts with each reply moved to the next prompt
awk -F '\t' 'NF == 2 { p[n] = $1; r[n] = $2; n++ }
        END { for (i = 0; i < n; i++) print p[i] "\t" r[(i + 1) % n] }' "$corpus" \
        >"$TEST_DIR/shuffled.tsv"
eval_to "$TEST_DIR/shuffled.out" "$model" "$TEST_DIR/shuffled.tsv"
bleu=$(field "$TEST_DIR/eval.out" 's/^BLEU = \([0-9.]*\) .*/\1/p')
bleu_shuffled=$(field "$TEST_DIR/shuffled.out" 's/^BLEU = \([0-9.]*\) .*/\1/p')
ppl=$(field "$TEST_DIR/eval.out" 's/^perplexity = \([0-9.]*\) .*/\1/p')
ppl_shuffled=$(field "$TEST_DIR/shuffled.out" 's/^perplexity = \([0-9.]*\) .*/\1/p')
test_checks=$((test_checks + 1))
awk -v b="$bleu" -v bs="$bleu_shuffled" -v p="$ppl" -v ps="$ppl_shuffled" \
        'BEGIN { exit !(b > 80 && bs < 30 && p >= 1 && p < 1.5 && ps > 10 * p) }' ||
        fail "figures: BLEU $bleu (shuffled $bleu_shuffled)," \
             "perplexity $ppl (shuffled $ppl_shuffled)"

eval_to "$TEST_DIR/limit.out" --limit 10 "$model" "$corpus"
check_eq "--limit" "pairs: 10 evaluated, 0 malformed skipped, 0 too long skipped" \
        "$(sed -n 1p "$TEST_DIR/limit.out")"

# Chinese: rouge-score's tokeniser keeps only [a-z0-9], --tokenize zh
# counts each character
eval_to "$TEST_DIR/zh.out" --tokenize zh "$zh_model" "$chinese"
eval_to "$TEST_DIR/zh-default.out" "$zh_model" "$chinese"
check_eq "ROUGE-1 on Chinese with --tokenize zh" "ROUGE-1 F1 = 1.000000" \
        "$(sed -n 3p "$TEST_DIR/zh.out")"
check_eq "ROUGE-1 on Chinese without" "ROUGE-1 F1 = 0.000000" \
        "$(sed -n 3p "$TEST_DIR/zh-default.out")"
check_grep "BLEU on Chinese counts characters" "hyp_len = 100 ref_len = 100" "$TEST_DIR/zh.out"

# ---- errors -----------------------------------------------------------------

# expect_fail STATUS TEXT COMMAND ARGS...
expect_fail() {
        want=$1 text=$2
        shift 2
        "$PARLEY" "$@" >"$TEST_DIR/fail.out" 2>"$TEST_DIR/fail.err" </dev/null
        check_eq "parley $* exit status" "$want" $?
        check_grep "parley $* message" "$text" "$TEST_DIR/fail.err"
}

expect_fail 1 "$TEST_DIR/missing.model" reply "$TEST_DIR/missing.model" hello
expect_fail 1 "$corpus: header length" reply "$corpus" hello
expect_fail 1 \
        "$model.ckpt is a training checkpoint (for parley train --resume), not a model: use '$model'" \
        reply "$model.ckpt" hello
expect_fail 2 "no TEXT given" reply "$model"
expect_fail 2 "--beam-width applies to --method beam, not greedy" reply --beam-width 3 "$model" hi
expect_fail 2 "--top-p is a number in (0, 1], not '0'" reply --method sample --top-p 0 "$model" hi
expect_fail 2 "--method is greedy, beam or sample, not 'best'" chat --method best "$model"
expect_fail 2 "min_length 5 is over max_length 3" reply --min-length 5 --max-length 3 "$model" hi
expect_fail 1 "cannot read '$TEST_DIR/none.tsv'" eval "$model" "$TEST_DIR/none.tsv"
expect_fail 2 "--tokenize is 13a, zh, char or none, not 'words'" \
        eval --tokenize words "$model" "$corpus"
: >"$TEST_DIR/empty.tsv"
expect_fail 1 "no pairs to evaluate in '$TEST_DIR/empty.tsv'" eval "$model" "$TEST_DIR/empty.tsv"

test_finish
