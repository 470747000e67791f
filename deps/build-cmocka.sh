#!/usr/bin/env bash
# Cross-build cmocka (the pinned Debian source, deps/versions-arm64-test) as a
# static library for the unit tests of make test ARCH=arm64: one file, so no
# cmake; the HAVE_* it would find on Linux/musl are set here, and
# _UINTPTR_T_DEFINED: musl has uintptr_t, which cmocka.h would redefine.
# usage: CC=... AR=... deps/build-cmocka.sh SRCDIR PREFIX
set -euo pipefail
src=$(cd "$1" && pwd)
mkdir -p "$2"
prefix=$(cd "$2" && pwd)
die() { echo "retina deps: $*" >&2; exit 1; }
d=$(ls -d "$src"/cmocka-*/ 2>/dev/null | head -1)
[ -n "$d" ] || die "no cmocka source in $src; run deps/fetch.sh with DEPS_VERSIONS=deps/versions-arm64-test"
rm -rf "$prefix/include" "$prefix/lib"
mkdir -p "$prefix/include" "$prefix/lib"
echo "retina deps: building cmocka with $CC"
defs="-DHAVE_SIGNAL_H -DHAVE_STRINGS_H -DHAVE_INTTYPES_H -DHAVE_MALLOC_H -DHAVE_SETJMP_H -DHAVE_SIGLONGJMP
	-DHAVE_STRSIGNAL -DHAVE_CLOCK_GETTIME -DHAVE_CLOCK_REALTIME -DHAVE_STRUCT_TIMESPEC
	-DHAVE_GCC_THREAD_LOCAL_STORAGE -DWORDS_SIZEOF_VOID_P=8 -D_UINTPTR_T_DEFINED"
# shellcheck disable=SC2086
$CC -std=gnu99 -O1 -w $defs -I"$d/include" -c "$d/src/cmocka.c" -o "$prefix/lib/cmocka.o" ||
	die "cmocka did not compile with $CC"
"$AR" rcs "$prefix/lib/libcmocka.a" "$prefix/lib/cmocka.o" && rm -f "$prefix/lib/cmocka.o"
cp "$d/include/cmocka.h" "$prefix/include/"
