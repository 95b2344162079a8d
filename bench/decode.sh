#!/bin/sh
# bench/decode.sh: reply latency (greedy, beam 5) and batched throughput of
# the decoder at the seed sizes, on one OpenBLAS thread.
#
#   bench/decode.sh [REPLIES]       (default 200 replies per latency figure)
#
# Runs with replies of 20 tokens, then of 10 (the reference replies of the
# corpora have a median of 11 to 12 tokens, docs/performance.md);
# PARLEY_BENCH_REPLY_TOKENS="N ..." sets the lengths instead;
# PARLEY_BENCH_LAYERS=2 measures two layers (parley train's default) instead
# of one.  Run
# from a configured tree; top_builddir names the build directory when it
# is not the source tree.  Not part of make check: figures, not pass/fail.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${top_builddir:-$top}

make -C "$builddir" -s bench/bench-decode

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "OPENBLAS_CORETYPE before the run: ${OPENBLAS_CORETYPE:-unset}" \
        "(this script does not set it)"
for tokens in ${PARLEY_BENCH_REPLY_TOKENS:-20 10}; do
        PARLEY_BENCH_REPLY_TOKENS=$tokens "$builddir/bench/bench-decode" "${1:-200}"
done
