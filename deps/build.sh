#!/usr/bin/env bash
# Build the pinned third-party sources (deps/fetch.sh) as static musl libraries
# into a sysroot: SYSROOT/include, SYSROOT/lib. Every library is compiled with
# -Os and per-function sections so the final link can drop what is unused.
# usage: deps/build.sh SRCDIR SYSROOT
set -euo pipefail
src=$(cd "$1" && pwd)
mkdir -p "$2"
sysroot=$(cd "$2" && pwd)
work=$sysroot/.work
rm -rf "$work" "$sysroot/include" "$sysroot/lib"
mkdir -p "$work" "$sysroot/include" "$sysroot/lib" "$sysroot/kernel-include"

CC=musl-gcc
JOBS=$(nproc)
OPT="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -w"
log=$sysroot/build.log
: > "$log"

die() { echo "retina deps: $*" >&2; exit 1; }
srcdir() { local d; d=$(ls -d "$src/$1"-*/ 2>/dev/null | head -1); [ -n "$d" ] || die "no source for $1 in $src; run deps/fetch.sh"; echo "${d%/}"; }
step() { echo "retina deps: building $1"; }
run() { "$@" >>"$log" 2>&1 || die "failed: $* (see $log)"; }

# musl-gcc sees no kernel headers. Give it the uapi headers it needs after its
# own include dir, so libbpf's newer copy of linux/bpf.h still wins.
kinc=$sysroot/kernel-include
ln -sfn /usr/include/linux "$kinc/linux"
ln -sfn /usr/include/asm-generic "$kinc/asm-generic"
ln -sfn "/usr/include/$(gcc -dumpmachine)/asm" "$kinc/asm"
CFLAGS="$OPT -isystem $sysroot/include -idirafter $kinc"

step zlib
d=$(cp -a "$(srcdir zlib)" "$work/zlib" && echo "$work/zlib")
(cd "$d" && run env CC=$CC CFLAGS="$CFLAGS" ./configure --static && run make -j"$JOBS" libz.a)
cp "$d/libz.a" "$sysroot/lib/" && cp "$d/zlib.h" "$d/zconf.h" "$sysroot/include/"

step "elfutils (libelf only)"
d=$(cp -a "$(srcdir elfutils)" "$work/elfutils" && echo "$work/elfutils")
# libelf needs none of argp/fts/obstack (those serve the eu-* tools).
(cd "$d" && run env CC=$CC CFLAGS="$CFLAGS -D_GNU_SOURCE" LDFLAGS="-L$sysroot/lib" \
	ac_cv_search_argp_parse="none required" ac_cv_search_fts_close="none required" \
	ac_cv_search__obstack_free="none required" ac_cv_search_fts_open="none required" \
	./configure --disable-debuginfod --disable-libdebuginfod --disable-nls \
	--without-bzlib --without-lzma --without-zstd --disable-demangler --disable-symbol-versioning \
	--disable-textrelcheck && run make -C libelf -j"$JOBS" libelf.a)
cp "$d/libelf/libelf.a" "$sysroot/lib/"
cp "$d/libelf/libelf.h" "$d/libelf/gelf.h" "$d/libelf/nlist.h" "$sysroot/include/"

step libbpf
d=$(cp -a "$(srcdir libbpf)" "$work/libbpf" && echo "$work/libbpf")
mkdir -p "$work/libbpf-obj"
run make -C "$d/src" -j"$JOBS" BUILD_STATIC_ONLY=1 NO_PKG_CONFIG=1 CC=$CC \
	CFLAGS="$CFLAGS" OBJDIR="$work/libbpf-obj" DESTDIR="$sysroot" PREFIX= LIBDIR=/lib INCLUDEDIR=/include \
	install install_uapi_headers

step bearssl
d=$(cp -a "$(srcdir bearssl)" "$work/bearssl" && echo "$work/bearssl")
run make -C "$d" -j"$JOBS" CONF=Unix CC=$CC CFLAGS="$OPT" lib
cp "$d/build/libbearssl.a" "$sysroot/lib/" && cp "$d"/inc/*.h "$sysroot/include/"

step cjson
d=$(cp -a "$(srcdir cjson)" "$work/cjson" && echo "$work/cjson")
run $CC $CFLAGS -c "$d/cJSON.c" -o "$d/cJSON.o"
run ar rcs "$sysroot/lib/libcjson.a" "$d/cJSON.o"
mkdir -p "$sysroot/include/cjson" && cp "$d/cJSON.h" "$sysroot/include/cjson/"

step libyaml
d=$(cp -a "$(srcdir libyaml)" "$work/libyaml" && echo "$work/libyaml")
v=$(basename "$(srcdir libyaml)"); v=${v#libyaml-}
IFS=. read -r vmaj vmin vpatch <<<"$v"
for f in "$d"/src/*.c; do
	run $CC $CFLAGS -DYAML_DECLARE_STATIC -DYAML_VERSION_MAJOR="$vmaj" -DYAML_VERSION_MINOR="$vmin" \
		-DYAML_VERSION_PATCH="$vpatch" -DYAML_VERSION_STRING="\"$v\"" -I"$d/include" -c "$f" -o "${f%.c}.o"
done
run ar rcs "$sysroot/lib/libyaml.a" "$d"/src/*.o
cp "$d/include/yaml.h" "$sysroot/include/"

rm -rf "$work"
echo "retina deps: sysroot ready in $sysroot"
