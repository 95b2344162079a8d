#!/bin/sh
# quickstart.sh: set up parley on a Debian 12 machine and run it or test it.
#
#   ./quickstart.sh        install what is missing, build, and start parleyd
#                          as a console chat (state in ./parley-state)
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
libcurl4-openssl-dev libwebsockets-dev libsystemd-dev libopenblas-dev libyaml-dev
libxxhash-dev
mandoc"

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

case "${1:-run}" in
run)
        install_packages
        build
        say "starting parleyd: type a message and press Enter; Ctrl-D ends the chat"
        exec "$BUILD/src/parleyd" --foreground
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
