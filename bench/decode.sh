#!/bin/sh
# bench/decode.sh: reply latency (greedy, beam 5) and batched throughput of
# the decoder at the seed sizes, on one OpenBLAS thread.
#
#   bench/decode.sh [REPLIES]       (default 200 replies per latency figure)
#
# PARLEY_BENCH_REPLY_TOKENS sets the reply length (default 20 tokens).  Run
# from a configured tree; top_builddir names the build directory when it
# is not the source tree.  Not part of make check: figures, not pass/fail.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${top_builddir:-$top}

make -C "$builddir" -s bench/bench-decode

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "OPENBLAS_CORETYPE before the run: ${OPENBLAS_CORETYPE:-unset}" \
        "(this script does not set it)"
"$builddir/bench/bench-decode" "${1:-200}"
