#!/bin/sh
# bench/compare.sh: parley against the seed model in PyTorch, each trained
# for the same time on the same machine, both scored by parley eval.
#
#   bench/compare.sh [MINUTES] [DIR]      (default 30 minutes; DIR keeps
#                                          the models and logs, default a
#                                          new directory under /tmp)
#
# 1. parley train with its defaults (the seed sizes: vocabulary 10,000,
#    embedding 256, hidden 256, 2 layers; RMSprop; OpenBLAS's threads) on
#    ../shared/corpora/sgd-train.tsv for MINUTES (--time-limit).
# 2. bench/bench-encode writes the pairs parley trained on as token ids in
#    that model's vocabulary; bench/compare_torch.py trains the same model
#    in PyTorch (2 threads) with the same recipe for MINUTES.
# 3. parley eval scores both on ../shared/corpora/sgd-dev.tsv (greedy
#    replies; corpus BLEU with sacrebleu's defaults, ROUGE, perplexity) and
#    the figures are printed side by side.
#
# PARLEY_BENCH_EVAL_LIMIT=N scores the first N dev pairs only (a quick
# check of the script, not a result).
#
# The two trainings run one after the other: leave the machine otherwise
# idle for about 2 x MINUTES + 10 minutes.  Not part of make check.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${top_builddir:-$top}
corpora=${PARLEY_BENCH_CORPORA:-$top/../shared/corpora}
minutes=${1:-30}
dir=${2:-}

for f in sgd-train.tsv sgd-dev.tsv; do
        if [ ! -r "$corpora/$f" ]; then
                echo "SKIP: $corpora/$f is not there" \
                        "(set PARLEY_BENCH_CORPORA to the corpora folder)"
                exit 0
        fi
done
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        echo "SKIP: /usr/bin/python3 has no torch (apt-get install python3-torch)"
        exit 0
fi

make -C "$builddir" -s src/parley bench/bench-encode
if [ -z "$dir" ]; then
        dir=$(mktemp -d /tmp/parley-compare.XXXXXX)
fi
mkdir -p "$dir"
parley=$builddir/src/parley

# logged LOG COMMAND...: runs COMMAND, its output both shown and kept in
# LOG; stops this script when COMMAND fails (a pipe into tee would hide
# the failure).
logged() {
        logged_log=$1
        shift
        { logged_s=0; "$@" 2>&1 || logged_s=$?; echo "$logged_s" > "$logged_log.status"; } |
                tee "$logged_log"
        logged_status=$(cat "$logged_log.status")
        rm -f "$logged_log.status"
        if [ "$logged_status" -ne 0 ]; then
                echo "compare.sh: $* failed (exit $logged_status); its output is in" \
                        "$logged_log" >&2
                exit 1
        fi
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "OPENBLAS_CORETYPE: ${OPENBLAS_CORETYPE:-unset} (this script does not set it for parley)"
echo "each system trains for $minutes minutes; models and logs in $dir"
echo

echo "== parley train (defaults, --time-limit $minutes)"
logged "$dir/parley-train.log" "$parley" train --no-progress --time-limit "$minutes" \
        -o "$dir/parley.safetensors" "$corpora/sgd-train.tsv"
echo

if ! "$builddir/bench/bench-encode" "$dir/parley.safetensors" "$corpora/sgd-train.tsv" \
        > "$dir/pairs.jsonl" 2> "$dir/encode.log"; then
        cat "$dir/encode.log" >&2
        echo "compare.sh: bench-encode failed; nothing to train PyTorch on" >&2
        exit 1
fi
cat "$dir/encode.log"

# PyTorch gets the kernels parley chose (parley sets OPENBLAS_CORETYPE for
# itself by restarting) and OpenBLAS on one thread beside its own two
# OpenMP threads, its faster setting in bench/train.sh.
coretype=$(sed -n 's/.*OPENBLAS_CORETYPE=\([A-Za-z0-9]*\).*/\1/p' "$dir/parley-train.log" |
        head -n 1)
echo "== PyTorch (OPENBLAS_NUM_THREADS=1${coretype:+ OPENBLAS_CORETYPE=$coretype}," \
        "set by this script for this run)"
logged "$dir/torch-train.log" \
        env OPENBLAS_NUM_THREADS=1 ${coretype:+OPENBLAS_CORETYPE=$coretype} \
        /usr/bin/python3 "$top/bench/compare_torch.py" "$dir/pairs.jsonl" \
        "$dir/parley.safetensors" "$dir/torch.safetensors" "$minutes" 2
echo

for m in parley torch; do
        echo "== parley eval $m.safetensors sgd-dev.tsv"
        logged "$dir/$m-eval.log" \
                "$parley" eval ${PARLEY_BENCH_EVAL_LIMIT:+--limit "$PARLEY_BENCH_EVAL_LIMIT"} \
                "$dir/$m.safetensors" "$corpora/sgd-dev.tsv"
        echo
done

field() {       # field LOG PATTERN: the first number after PATTERN
        sed -n "s/^$2 *\([0-9.]*\).*/\1/p" "$1" | head -n 1
}
echo "== side by side (sgd-dev.tsv, greedy, $minutes minutes of training each)"
printf '%-28s %12s %12s\n' "" parley PyTorch
for row in "BLEU:BLEU =" "ROUGE-1 F1:ROUGE-1 F1 =" "ROUGE-2 F1:ROUGE-2 F1 =" \
           "ROUGE-L F1:ROUGE-L F1 =" "perplexity:perplexity ="; do
        name=${row%%:*}
        pattern=${row#*:}
        printf '%-28s %12s %12s\n' "$name" "$(field "$dir/parley-eval.log" "$pattern")" \
                "$(field "$dir/torch-eval.log" "$pattern")"
done
