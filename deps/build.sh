#!/usr/bin/env bash
# Build the pinned third-party sources (deps/fetch.sh) as static musl libraries
# into a sysroot: SYSROOT/include, SYSROOT/lib. Every library is compiled with
# -Os and per-function sections so the final link can drop what is unused.
# usage: deps/build.sh SRCDIR SYSROOT
# Cross builds (make ARCH=arm64) set CC (a musl-gcc wrapper for the target),
# HOST (the GNU triplet, for configure), AR and KERNEL_HEADERS (the target's
# uapi headers: linux/, asm/, asm-generic/).
set -euo pipefail
# `make ARCH=arm64` passes ARCH down to every make below (musl's and the
# kernel-style Makefiles read it with another meaning): they get a clean slate.
unset ARCH MAKEFLAGS MAKEOVERRIDES MFLAGS
src=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$2"
root=$(cd "$2" && pwd)
. "$(dirname "$0")/common.sh"

CC=${CC:-musl-gcc}
AR=${AR:-ar}
HOST=${HOST:-}
# musl-gcc sees no kernel headers. Give it the uapi headers it needs after its
# own include dir, so libbpf's newer copy of linux/bpf.h still wins.
kinc=$root/kernel-include
mkdir -p "$kinc"
if [ -n "${KERNEL_HEADERS:-}" ]; then
	for h in linux asm-generic asm; do
		[ -d "$KERNEL_HEADERS/$h" ] || die "no $KERNEL_HEADERS/$h: the target's kernel headers are missing"
		ln -sfn "$KERNEL_HEADERS/$h" "$kinc/$h"
	done
else
	ln -sfn /usr/include/linux "$kinc/linux"
	ln -sfn /usr/include/asm-generic "$kinc/asm-generic"
	ln -sfn "/usr/include/$(gcc -dumpmachine)/asm" "$kinc/asm"
fi
CFLAGS="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -w -isystem $root/include -idirafter $kinc"

build_zlib

step "elfutils (libelf only)"
d=$(workcopy elfutils)
# libelf needs none of argp/fts/obstack (those serve the eu-* tools).
(cd "$d" && run env CC=$CC AR=$AR CFLAGS="$CFLAGS -D_GNU_SOURCE" LDFLAGS="-L$root/lib" \
	ac_cv_search_argp_parse="none required" ac_cv_search_fts_close="none required" \
	ac_cv_search__obstack_free="none required" ac_cv_search_fts_open="none required" \
	./configure ${HOST:+--host=$HOST} --disable-debuginfod --disable-libdebuginfod --disable-nls \
	--without-bzlib --without-lzma --without-zstd --disable-demangler --disable-symbol-versioning \
	--disable-textrelcheck && run make -C libelf -j"$JOBS" libelf.a)
cp "$d/libelf/libelf.a" "$root/lib/"
cp "$d/libelf/libelf.h" "$d/libelf/gelf.h" "$d/libelf/nlist.h" "$root/include/"

step libbpf
d=$(workcopy libbpf)
# Our fixes on top of Debian's (deps/patches/libbpf-*.patch, each says why).
for p in "$here"/patches/libbpf-*.patch; do
	[ -e "$p" ] || continue
	run patch -d "$d" -p1 --no-backup-if-mismatch -i "$p"
done
mkdir -p "$work/libbpf-obj"
run make -C "$d/src" -j"$JOBS" BUILD_STATIC_ONLY=1 NO_PKG_CONFIG=1 CC=$CC AR=$AR \
	CFLAGS="$CFLAGS" OBJDIR="$work/libbpf-obj" DESTDIR="$root" PREFIX= LIBDIR=/lib INCLUDEDIR=/include \
	install install_uapi_headers

build_bearssl
build_cjson
build_libyaml

rm -rf "$work"
echo "retina deps: sysroot ready in $root"
