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
work=$root/.work
rm -rf "$work" "$root/include" "$root/lib"
mkdir -p "$work" "$root/include" "$root/lib"
CC=clang
CFLAGS="-O1 -g -fPIC -w"
log=$root/build.log
: > "$log"

die() { echo "retina deps: $*" >&2; exit 1; }
srcdir() { local d; d=$(ls -d "$src/$1"-*/ 2>/dev/null | head -1); [ -n "$d" ] || die "no source for $1 in $src; run deps/fetch.sh"; echo "${d%/}"; }
run() { "$@" >>"$log" 2>&1 || die "failed: $* (see $log)"; }
objs_to_lib() { run ar rcs "$root/lib/$1" "${@:2}"; }

echo "retina deps: building host libraries for tests and fuzzing"
d=$work/zlib; cp -a "$(srcdir zlib)" "$d"
for f in adler32 crc32 deflate infback inffast inflate inftrees trees zutil compress uncompr gzclose gzlib gzread gzwrite; do
	run $CC $CFLAGS -D_LARGEFILE64_SOURCE=1 -c "$d/$f.c" -o "$d/$f.o"
done
objs_to_lib libz.a "$d"/*.o
cp "$d/zlib.h" "$d/zconf.h" "$root/include/"

d=$work/bearssl; cp -a "$(srcdir bearssl)" "$d"
run make -C "$d" -j"$(nproc)" CONF=Unix CC=$CC CFLAGS="$CFLAGS" lib
cp "$d/build/libbearssl.a" "$root/lib/" && cp "$d"/inc/*.h "$root/include/"

d=$work/cjson; cp -a "$(srcdir cjson)" "$d"
run $CC $CFLAGS -c "$d/cJSON.c" -o "$d/cJSON.o"
objs_to_lib libcjson.a "$d/cJSON.o"
mkdir -p "$root/include/cjson" && cp "$d/cJSON.h" "$root/include/cjson/"

d=$work/libyaml; cp -a "$(srcdir libyaml)" "$d"
v=$(basename "$(srcdir libyaml)"); v=${v#libyaml-}
IFS=. read -r vmaj vmin vpatch <<<"$v"
for f in "$d"/src/*.c; do
	run $CC $CFLAGS -DYAML_DECLARE_STATIC -DYAML_VERSION_MAJOR="$vmaj" -DYAML_VERSION_MINOR="$vmin" \
		-DYAML_VERSION_PATCH="$vpatch" -DYAML_VERSION_STRING="\"$v\"" -I"$d/include" -c "$f" -o "${f%.c}.o"
done
objs_to_lib libyaml.a "$d"/src/*.o
cp "$d/include/yaml.h" "$root/include/"

rm -rf "$work"
