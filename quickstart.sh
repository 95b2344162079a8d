#!/bin/sh
# quickstart.sh: set up parley on a Debian 12 machine and run it or test it.
#
#   ./quickstart.sh        install what is missing, build, train a small model
#                          on data/persona-*.tsv (once), and start parleyd as a
#                          console chat (state in ./parley-state)
#   ./quickstart.sh test   install what is missing, build, and run every test
#
# Safe to run again: it installs only missing packages and rebuilds only
# what changed.
set -eu

cd "$(dirname "$0")"
top=$(pwd)

# Everything the build and the tests need, by Debian package name.
PACKAGES="build-essential autoconf automake pkg-config
libuv1-dev libsqlite3-dev sqlite3 libinih-dev libutf8proc-dev libjson-c-dev
libcurl4-openssl-dev libwebsockets-dev libsystemd-dev libopenblas-dev libyaml-dev libicu-dev
libxxhash-dev libwebsockets-evlib-uv
mandoc python3-yaml strace systemd"

say() {
        printf '==> %s\n' "$*" >&2
}

install_packages() {
        missing=""
        for p in $PACKAGES; do
                status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
                case "$status" in
                *" installed") ;;
                *) missing="$missing $p" ;;
                esac
        done
        [ -z "$missing" ] && return 0

        if [ "$(id -u)" -ne 0 ]; then
                if command -v sudo >/dev/null; then
                        SUDO=sudo
                else
                        echo "quickstart: these packages are missing and I am not root:$missing" >&2
                        exit 1
                fi
        else
                SUDO=""
        fi

        say "installing:$missing"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
        # shellcheck disable=SC2086
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

# Builds in build/ (or in the source tree if someone configured it there).
build() {
        if [ -f "$top/config.status" ]; then
                BUILD="$top"
        else
                BUILD="$top/build"
        fi

        if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
                say "generating configure"
                autoreconf -fi
        fi

        mkdir -p "$BUILD"
        if [ ! -f "$BUILD/Makefile" ]; then
                say "configuring"
                (cd "$BUILD" && "$top/configure" -q)
        fi

        say "building"
        make -C "$BUILD" -s -j"$(nproc)"
}

# Trains the quick-start model from the project's own help-desk and
# assistant corpus, English and Chinese, unless it is already there.
train_model() {
        state="$top/parley-state"
        MODEL="$state/model.safetensors"
        mkdir -p "$state"
        if [ -f "$MODEL" ] && [ "$MODEL" -nt "$top/data/persona-en.tsv" ] &&
           [ "$MODEL" -nt "$top/data/persona-zh.tsv" ]; then
                return 0
        fi

        say "training the quick-start model on data/persona-en.tsv and persona-zh.tsv (about a minute)"
        "$BUILD/src/parley" prep -o "$state/persona.tsv" \
                "$top/data/persona-en.tsv" "$top/data/persona-zh.tsv"
        "$BUILD/src/parley" train -o "$MODEL" "$state/persona.tsv" \
                --embed-size 64 --hidden-size 128 --layers 1 --epochs 40 --patience 0 \
                --min-count 1 --optimizer adam --lr 0.003 --threads 2 --log-every 1000
}

case "${1:-run}" in
run)
        install_packages
        build
        train_model
        cat >&2 <<EOF
==> starting parleyd: type a message and press Enter; Ctrl-D ends the chat.
    Try: hello / my vpn is not working / remind me in 1 minute to stretch / help
    This model knows only a small help-desk corpus.  To train on a larger one:
      $BUILD/src/parley prep -o big.tsv ../shared/corpora/sgd-train.tsv
      $BUILD/src/parley train -o big.safetensors big.tsv --time-limit 30
    then run parleyd with PARLEY_MODEL_PATH=big.safetensors (or set [model] path).
EOF
        PARLEY_MODEL_PATH="$MODEL" exec "$BUILD/src/parleyd" --foreground
        ;;
test)
        install_packages
        build
        say "running the tests"
        status=0
        make -C "$BUILD" -s check || status=$?
        "$top/tests/summary.sh" "$BUILD/test-suite.log"
        exit $status
        ;;
*)
        echo "usage: ./quickstart.sh [run|test]" >&2
        exit 2
        ;;
esac
