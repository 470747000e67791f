#!/usr/bin/env bash
# Build the portable libraries (zlib, bearssl, cjson, libyaml) for the *host*
# compiler, so unit tests (gcc + ASan/UBSan) and fuzz targets (clang +
# libFuzzer) can link the same net/ and kube/ code the binary uses. libbpf
# and libelf stay musl-only: code that needs them is tested through the binary.
# usage: deps/build-host.sh SRCDIR HOSTROOT
set -euo pipefail
src=$(cd "$1" && pwd)
mkdir -p "$2"
root=$(cd "$2" && pwd)
. "$(dirname "$0")/common.sh"

CC=clang
CFLAGS="-O1 -g -fPIC -w"
echo "retina deps: building host libraries for tests and fuzzing"
build_zlib
build_bearssl
build_cjson
build_libyaml
rm -rf "$work"
