# Shared by deps/build.sh (musl sysroot) and deps/build-host.sh (host
# libraries for tests): the recipe of each portable library, parameterised by
# $CC, $CFLAGS and $AR (default ar). Source it after setting src (fetched sources) and root
# (the install prefix); it prepares root/include, root/lib and a work dir.
# shellcheck shell=bash

die() { echo "retina deps: $*" >&2; exit 1; }
srcdir() { local d; d=$(ls -d "$src/$1"-*/ 2>/dev/null | head -1); [ -n "$d" ] || die "no source for $1 in $src; run deps/fetch.sh"; echo "${d%/}"; }
step() { echo "retina deps: building $1"; }
run() { "$@" >>"$log" 2>&1 || die "failed: $* (see $log)"; }
# Copy a package's source into the work dir, print where.
workcopy() { cp -a "$(srcdir "$1")" "$work/$1" && echo "$work/$1"; }

work=$root/.work
log=$root/build.log
JOBS=$(nproc)
rm -rf "$work" "$root/include" "$root/lib"
mkdir -p "$work" "$root/include" "$root/lib"
: > "$log"

build_zlib() {
	local d f
	step zlib
	d=$(workcopy zlib)
	for f in adler32 crc32 deflate infback inffast inflate inftrees trees zutil compress uncompr \
		gzclose gzlib gzread gzwrite; do
		run $CC $CFLAGS -D_LARGEFILE64_SOURCE=1 -DHAVE_HIDDEN -c "$d/$f.c" -o "$d/$f.o"
	done
	run "${AR:-ar}" rcs "$root/lib/libz.a" "$d"/*.o
	cp "$d/zlib.h" "$d/zconf.h" "$root/include/"
}

build_bearssl() {
	local d
	step bearssl
	d=$(workcopy bearssl)
	run make -C "$d" -j"$JOBS" CONF=Unix CC="$CC" AR="${AR:-ar}" LD="$CC" CFLAGS="$CFLAGS" lib
	cp "$d/build/libbearssl.a" "$root/lib/" && cp "$d"/inc/*.h "$root/include/"
}

build_cjson() {
	local d
	step cjson
	d=$(workcopy cjson)
	run $CC $CFLAGS -c "$d/cJSON.c" -o "$d/cJSON.o"
	run "${AR:-ar}" rcs "$root/lib/libcjson.a" "$d/cJSON.o"
	mkdir -p "$root/include/cjson" && cp "$d/cJSON.h" "$root/include/cjson/"
}

build_libyaml() {
	local d f v vmaj vmin vpatch
	step libyaml
	d=$(workcopy libyaml)
	v=$(basename "$(srcdir libyaml)"); v=${v#libyaml-}
	IFS=. read -r vmaj vmin vpatch <<<"$v"
	for f in "$d"/src/*.c; do
		run $CC $CFLAGS -DYAML_DECLARE_STATIC -DYAML_VERSION_MAJOR="$vmaj" -DYAML_VERSION_MINOR="$vmin" \
			-DYAML_VERSION_PATCH="$vpatch" -DYAML_VERSION_STRING="\"$v\"" -I"$d/include" -c "$f" -o "${f%.c}.o"
	done
	run "${AR:-ar}" rcs "$root/lib/libyaml.a" "$d"/src/*.o
	cp "$d/include/yaml.h" "$root/include/"
}
