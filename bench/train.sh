#!/bin/sh
# bench/train.sh: parley's training throughput beside PyTorch's on the same
# batches, and the sgemm rate OpenBLAS reaches at the model's shapes.
#
#   bench/train.sh [STEPS]          (default 20 timed steps)
#
# Seed sizes (vocabulary 10,000, embedding 256, hidden 256, 2 layers),
# batch 64, 2 threads, batches from ../shared/corpora/sgd-train.tsv
# (PARLEY_BENCH_CORPUS overrides).  Run from a configured tree;
# top_builddir names the build directory when it is not the source tree.
# Not part of make check: figures, not pass/fail.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${top_builddir:-$top}
corpus=${PARLEY_BENCH_CORPUS:-$top/../shared/corpora/sgd-train.tsv}
steps=${1:-20}

if [ ! -r "$corpus" ]; then
        echo "SKIP: $corpus is not there (set PARLEY_BENCH_CORPUS to a prompt<TAB>reply file)"
        exit 0
fi

make -C "$builddir" -s bench/bench-train

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "OPENBLAS_CORETYPE: ${OPENBLAS_CORETYPE:-unset} (this script does not set it for parley)"
echo

PARLEY_BENCH_THREADS=2 "$builddir/bench/bench-train" "$corpus" "$steps" "$tmp/batches.json" |
        tee "$tmp/parley.txt"
parley=$(sed -n 's/^parley_tokens_per_s //p' "$tmp/parley.txt")

echo
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        echo "PyTorch: skipped (/usr/bin/python3 has no torch: apt-get install python3-torch)"
        exit 0
fi

/usr/bin/python3 "$top/bench/train_torch.py" "$tmp/batches.json" 2 | tee "$tmp/torch.txt"
torch_default=$(sed -n 's/^torch_tokens_per_s //p' "$tmp/torch.txt")

# Debian's torch runs OpenBLAS's own threads beside its OpenMP threads; with
# OpenBLAS on one thread it oversubscribes less, so it gets that chance too.
echo "PyTorch again with OPENBLAS_NUM_THREADS=1 (set by this script for this run only):"
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$top/bench/train_torch.py" "$tmp/batches.json" 2 |
        tee "$tmp/torch1.txt"
torch_one=$(sed -n 's/^torch_tokens_per_s //p' "$tmp/torch1.txt")

echo
awk -v p="$parley" -v a="$torch_default" -v b="$torch_one" 'BEGIN {
        best = a > b ? a : b
        printf "tokens/s: parley %.0f, PyTorch %.0f (best of the two runs): parley/PyTorch %.2f\n",
               p, best, p / best
}'
