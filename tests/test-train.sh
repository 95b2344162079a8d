#!/bin/sh
# test-train.sh: parley train end to end on a small corpus.
#
# tests/fixtures/train-pairs.tsv holds 259 generated question/answer pairs
# (greetings, sums, capitals, weekdays, colours) and two corrupt records:
# line 57 has no tab, line 123 is not UTF-8.  A tiny model trains on it in
# well under a second per run.  Asserted:
#  - the corrupt records are reported with file and line, and skipped;
#  - the same seed gives bit-identical model and checkpoint files, another
#    seed a different model;
#  - the training and validation losses fall;
#  - pairs over --max-length are counted and skipped;
#  - resuming after one epoch, or after every single batch, gives the same
#    files as one straight run;
#  - a resumption with other options, bad options and missing files are
#    refused with the right exit status.
set -u

: "${top_srcdir:=.}" "${top_builddir:=.}"
parley="$top_builddir/src/parley"
corpus="$top_srcdir/tests/fixtures/train-pairs.tsv"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# Small sizes; one BLAS thread so runs compare bit for bit.
train() {
        "$parley" train --embed-size 16 --hidden-size 24 --layers 2 --batch-size 16 \
                --min-count 1 --warmup 10 --lr 0.005 --dropout 0.1 --threads 1 \
                --valid-fraction 0.1 --no-progress --log-every 5 "$@" "$corpus"
}

# The training loss of epoch $2 in log $1.
epoch_loss() {
        sed -n "s/.*epoch $2\/[0-9]*: train loss \([0-9.]*\), valid loss \([0-9.]*\).*/\1 \2/p" "$1"
}

train -o "$dir/a.model" --epochs 3 --plot "$dir/a.svg" 2>"$dir/a.log" ||
        fail "training failed: $(cat "$dir/a.log")"

grep -q "train-pairs.tsv:57: no tab between prompt and reply, skipped" "$dir/a.log" ||
        fail "line 57 (no tab) not reported"
grep -q "train-pairs.tsv:123: invalid UTF-8, skipped" "$dir/a.log" ||
        fail "line 123 (invalid UTF-8) not reported"
grep -q "234 training and 25 validation pairs, 2 malformed records skipped" "$dir/a.log" ||
        fail "wrong pair counts: $(grep 'validation pairs' "$dir/a.log")"

# the loss falls, in training and in validation
set -- $(epoch_loss "$dir/a.log" 1) $(epoch_loss "$dir/a.log" 3)
if [ $# -ne 4 ]; then
        fail "no epoch summaries in the log"
else
        awk -v t1="$1" -v v1="$2" -v t3="$3" -v v3="$4" \
                'BEGIN { exit !(t3 < t1 * 0.8 && v3 < v1) }' ||
                fail "loss did not fall: epoch 1 train $1 valid $2, epoch 3 train $3 valid $4"
fi

head -c 200 "$dir/a.model" | grep -q '"format":"parley-seq2seq"' ||
        fail "model file lacks the parley format metadata"
grep -q '<svg' "$dir/a.svg" && grep -q 'validation loss' "$dir/a.svg" &&
        grep -q '<polyline' "$dir/a.svg" || fail "plot not written"

# same seed, same bits
train -o "$dir/b.model" --epochs 3 2>"$dir/b.log" || fail "second training failed"
cmp -s "$dir/a.model" "$dir/b.model" || fail "same seed gave different models"
cmp -s "$dir/a.model.ckpt" "$dir/b.model.ckpt" || fail "same seed gave different checkpoints"

train -o "$dir/s.model" --epochs 3 --seed 2 2>/dev/null || fail "seed 2 training failed"
cmp -s "$dir/a.model" "$dir/s.model" && fail "another seed gave the same model"

# one epoch, then resumed to three
train -o "$dir/c.model" --epochs 1 2>/dev/null || fail "one-epoch training failed"
train -o "$dir/c.model" --epochs 3 --resume 2>"$dir/c.log" || fail "resume failed"
grep -q "Resuming from '.*c.model.ckpt' at epoch 2, batch 0/15" "$dir/c.log" ||
        fail "resume did not start at epoch 2: $(grep Resuming "$dir/c.log")"
cmp -s "$dir/a.model" "$dir/c.model" || fail "resumed model differs from the straight run"

# stopped after every batch by the time limit, resumed each time
train -o "$dir/d.model" --epochs 3 --time-limit 1e-9 2>"$dir/d.log" ||
        fail "time-limited training failed"
grep -q "Stopped (time limit reached) in epoch 1 at batch 1/15" "$dir/d.log" ||
        fail "time limit did not stop after the first batch"
runs=0
while grep -q "continue with --resume" "$dir/d.log" && [ $runs -lt 60 ]; do
        train -o "$dir/d.model" --epochs 3 --time-limit 1e-9 --resume 2>"$dir/d.log" ||
                fail "time-limited resume failed"
        runs=$((runs + 1))
done
[ $runs -eq 44 ] || fail "expected 44 resumptions (45 batches), took $runs"
cmp -s "$dir/a.model" "$dir/d.model" || fail "batch-by-batch resumed model differs"

# Adam trains too, to a different model
train -o "$dir/adam.model" --epochs 1 --optimizer adam 2>"$dir/adam.log" ||
        fail "adam training failed"
grep -q "adam, learning rate 0.005" "$dir/adam.log" || fail "adam not used"

# --max-length: pairs with a side over 5 tokens (words and ?.,! marks, as
# the fixture is written) are counted and skipped
long=$(awk -F'\t' 'NF == 2 {
        over = 0
        for (i = 1; i <= 2; i++) {
                t = $i
                gsub(/[?.,!]/, " & ", t)
                if (split(t, words, " ") > 5)
                        over = 1
        }
        n += over
} END { print n }' "$corpus")
train -o "$dir/short.model" --epochs 1 --max-length 5 2>"$dir/short.log" ||
        fail "training with --max-length 5 failed"
grep -q "Skipped $long pairs with a side longer than 5 tokens" "$dir/short.log" ||
        fail "expected $long long pairs skipped: $(grep Skipped "$dir/short.log")"

# refusals
train -o "$dir/c.model" --epochs 4 --resume --lr 0.01 2>"$dir/e.log"
[ $? -eq 1 ] || fail "resume with another --lr was not refused"
grep -q "trained with other options" "$dir/e.log" || fail "no message for other options"

"$parley" train -o "$dir/x.model" --optimizer sgd "$corpus" 2>/dev/null
[ $? -eq 2 ] || fail "--optimizer sgd not a usage error"
"$parley" train -o "$dir/x.model" --dropout 1 "$corpus" 2>/dev/null
[ $? -eq 2 ] || fail "--dropout 1 not a usage error"
"$parley" train "$corpus" 2>/dev/null
[ $? -eq 2 ] || fail "missing -o not a usage error"
"$parley" train -o "$dir/x.model" --threads 1 "$dir/absent.tsv" 2>"$dir/x.log"
[ $? -eq 1 ] || fail "a missing corpus did not fail"
grep -q "absent.tsv" "$dir/x.log" || fail "a missing corpus is not named"
[ -e "$dir/x.model" ] && fail "a failed run left a model file"
"$parley" train -o "$dir/no/such/dir/x.model" --threads 1 "$corpus" 2>"$dir/x.log"
[ $? -eq 1 ] || fail "an unwritable output directory did not fail"
grep -q "Cannot write the model into '.*no/such/dir'" "$dir/x.log" ||
        fail "an unwritable output directory is not named"
"$parley" train --help | grep -q -- "--time-limit" || fail "--help lacks the options"

if [ $failures -gt 0 ]; then
        echo "$failures failed" >&2
        exit 1
fi
echo "test-train: all checks passed"
