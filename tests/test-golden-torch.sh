#!/bin/sh
# test-golden-torch.sh: a model file parley writes loads into PyTorch
# (strict state_dict) and gives the golden loss there.  Needs Debian's
# python3-torch; skipped without it.
set -eu

: "${top_srcdir:=.}" "${top_builddir:=.}"

if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        echo "SKIP: /usr/bin/python3 cannot import torch (apt-get install python3-torch)"
        exit 77
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

PARLEY_GOLDEN_SAVE="$dir/model.safetensors" "$top_builddir/tests/test-golden"
/usr/bin/python3 "$top_srcdir/tests/golden/make-golden.py" --check "$dir/model.safetensors" \
        "$top_srcdir/tests/golden/golden.safetensors"
