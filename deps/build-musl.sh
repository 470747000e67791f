#!/usr/bin/env bash
# Cross-build musl (the pinned Debian source, deps/versions-arm64) into PREFIX
# with a GNU cross compiler, with its musl-gcc wrapper: PREFIX/bin/musl-gcc
# then compiles and links static binaries for that target against this musl,
# as Debian's musl-gcc does for the build machine.
# usage: deps/build-musl.sh SRCDIR PREFIX TRIPLET   (e.g. aarch64-linux-gnu)
set -euo pipefail
# `make ARCH=arm64` passes ARCH down to every make below (musl's and the
# kernel-style Makefiles read it with another meaning): they get a clean slate.
unset ARCH MAKEFLAGS MAKEOVERRIDES MFLAGS
src=$(cd "$1" && pwd)
mkdir -p "$2"
prefix=$(cd "$2" && pwd)
triplet=$3
die() { echo "retina deps: $*" >&2; exit 1; }
command -v "$triplet-gcc" >/dev/null || die "no $triplet-gcc; run deps/prereqs.sh cross-arm64 (as root)"
d=$(ls -d "$src"/musl-*/ 2>/dev/null | head -1)
[ -n "$d" ] || die "no musl source in $src; run deps/fetch.sh with DEPS_VERSIONS=deps/versions-arm64"
work=$prefix/.work
log=$prefix/build.log
rm -rf "$work" "$prefix/bin" "$prefix/include" "$prefix/lib"
cp -a "${d%/}" "$work"
echo "retina deps: building musl for $triplet"
# -Os and per-function sections as for the other libraries; static only.
(cd "$work" && CFLAGS="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables" \
	./configure --prefix="$prefix" --target="$triplet" CROSS_COMPILE="$triplet-" \
	--disable-shared --enable-wrapper=gcc && make -j"$(nproc)" && make install) >"$log" 2>&1 ||
	die "musl build failed (see $log)"
rm -rf "$work"
[ -x "$prefix/bin/musl-gcc" ] || die "musl built no musl-gcc wrapper (see $log)"
echo "retina deps: musl for $triplet in $prefix"
