#!/usr/bin/env bash
# Build the debug-shell toolbox: static, stripped musl binaries of the tools
# the retina shell docs walk a user through, from the Debian sources pinned in
# deps/versions-toolbox (deps/fetch.sh). Each tool is configured down to what a
# debug shell needs (no shared libraries, no NLS, no optional libraries that
# are not here).
#
# usage: SYSROOT=DIR deps/build-toolbox.sh SRCDIR OUT
#   OUT/root     work dir
#   OUT/bin      the tools, ready for the image (image/stage.sh toolbox layer)
#   OUT/build.log
# SYSROOT: deps/build.sh's output (libelf and zlib, for bpftool)
set -euo pipefail
unset ARCH MAKEFLAGS MAKEOVERRIDES MFLAGS
src=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
root=$out/root
. "$here/common.sh"

CC=${CC:-musl-gcc}
STRIP=${STRIP:-strip}
# musl-gcc sees no kernel headers: the same private include dir as deps/build.sh.
kinc=$root/kernel-include
mkdir -p "$kinc"
ln -sfn /usr/include/linux "$kinc/linux"
ln -sfn /usr/include/asm-generic "$kinc/asm-generic"
ln -sfn "/usr/include/$(gcc -dumpmachine)/asm" "$kinc/asm"
CFLAGS="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -w -isystem $root/include -idirafter $kinc"
LDFLAGS="-static -Wl,--gc-sections -L$root/lib"
bin=$out/bin
rm -rf "$bin"
mkdir -p "$bin"

# install_bin FILE [NAME]: strip into OUT/bin, refusing anything dynamic.
install_bin() {
	local name=${2:-$(basename "$1")}
	"$STRIP" -o "$bin/$name" "$1"
	if readelf -lW "$bin/$name" | grep -q INTERP; then
		die "$name is dynamically linked (has PT_INTERP); see $log"
	fi
}

build_libpcap() {
	local d
	step libpcap
	d=$(workcopy libpcap)
	# Linux packet sockets only: no USB/Bluetooth/D-Bus/RDMA/netmap/DPDK capture,
	# no libnl (only needed for monitor mode on Wi-Fi).
	(cd "$d" && run env CC="$CC" CFLAGS="$CFLAGS" LDFLAGS="$LDFLAGS" ./configure \
		--prefix="$root" --disable-shared --disable-usb --disable-bluetooth --disable-dbus \
		--disable-rdma --disable-netmap --without-dpdk --without-libnl --with-pcap=linux &&
		run make -j"$JOBS" libpcap.a)
}

build_tcpdump() {
	local d
	step tcpdump
	d=$(workcopy tcpdump)
	# No libcrypto (ESP decryption), no libsmi, no libcap-ng. configure finds
	# the static libpcap built just before in the sibling work dir ../libpcap.
	(cd "$d" && run env CC="$CC" CFLAGS="$CFLAGS" LDFLAGS="$LDFLAGS" \
		PKG_CONFIG=false ./configure --without-crypto --without-smi --without-cap-ng &&
		run make -j"$JOBS" tcpdump)
	install_bin "$d/tcpdump"
}

build_iptables() {
	local d
	step "iptables (legacy backend)"
	d=$(workcopy iptables)
	# One static xtables-legacy-multi with every extension linked in (no
	# dlopen; libtool drops a plain -static, hence -all-static). The nf_tables
	# backend needs libnftnl, whose source the mirror lacks
	# (deps/versions-toolbox); without it there is no ebtables/arptables.
	(cd "$d" && run env CC="$CC" CFLAGS="$CFLAGS -D_GNU_SOURCE" LDFLAGS="$LDFLAGS" PKG_CONFIG=false \
		./configure --enable-static --disable-shared --disable-nftables --disable-devel \
		--disable-libipq --disable-bpf-compiler --disable-nfsynproxy --disable-connlabel \
		--without-kernel &&
		run make -j"$JOBS" LDFLAGS="-all-static -Wl,--gc-sections")
	install_bin "$d/iptables/xtables-legacy-multi"
}

build_iproute2() {
	local d t
	step "iproute2 (ip, ss, tc, bridge)"
	d=$(workcopy iproute2)
	# No libmnl/libelf/libbpf/libcap/SELinux/xtables/ATM (PKG_CONFIG=false and
	# no -latm): ip, ss, tc and bridge keep every netlink feature; tc loses
	# eBPF object loading and the xt action, ip loses `vrf exec`.
	(cd "$d" && run env CC="$CC" PKG_CONFIG=false ./configure &&
		run make -j"$JOBS" SUBDIRS="lib ip tc bridge misc" SHARED_LIBS=n CC="$CC" \
			CCOPTS="$CFLAGS -D_GNU_SOURCE" LDFLAGS="$LDFLAGS")
	for t in ip/ip misc/ss tc/tc bridge/bridge; do install_bin "$d/$t"; done
}

build_ethtool() {
	local d
	step ethtool
	d=$(workcopy ethtool)
	# The ioctl interface only: the netlink one needs libmnl (not on the mirror).
	(cd "$d" && run env CC="$CC" CFLAGS="$CFLAGS -D_GNU_SOURCE" LDFLAGS="$LDFLAGS" PKG_CONFIG=false \
		./configure --disable-netlink --disable-pretty-dump &&
		run make -j"$JOBS" ethtool)
	install_bin "$d/ethtool"
}

build_jq() {
	local d
	step jq
	d=$(workcopy jq)
	# No oniguruma: Debian's source drops the bundled copy (modules/oniguruma
	# is empty) and links the system's; without it jq has every filter but the
	# regular-expression ones (test, match, capture, sub, gsub, split/2).
	# No tarball configure: autoreconf (deps/prereqs.sh toolbox).
	(cd "$d" && run autoreconf -fi &&
		run env CC="$CC" CFLAGS="$CFLAGS" LDFLAGS="$LDFLAGS" ./configure --disable-shared \
			--enable-static --disable-docs --disable-maintainer-mode --disable-valgrind \
			--without-oniguruma --disable-dependency-tracking &&
		run make src/builtin.inc src/version.h &&
		run make -j"$JOBS" LDFLAGS="-all-static -Wl,--gc-sections" jq)
	install_bin "$d/jq"
}

build_socat() {
	local d
	step socat
	d=$(workcopy socat)
	# No OpenSSL, readline, libwrap (tcp-wrappers) or FIPS: every plain
	# address type (TCP, UDP, UNIX, EXEC, PTY, TUN, raw IP) stays.
	(cd "$d" && run env CC="$CC" CFLAGS="$CFLAGS -D_GNU_SOURCE" LDFLAGS="$LDFLAGS" ./configure \
		--disable-openssl --disable-readline --disable-libwrap --disable-fips &&
		run make -j"$JOBS" socat)
	install_bin "$d/socat"
}

build_ldns() {
	local d
	step "ldns (drill)"
	d=$(workcopy ldns)
	# No OpenSSL (so no SHA-2, which ldns takes from it): drill resolves,
	# traces (-T) and prints DNSSEC records, but does not validate signatures
	# (-S chases, -D asks for them) or do DANE/TSIG. Only drill, no ldns-* tools.
	(cd "$d" && run env CC="$CC" CFLAGS="$CFLAGS" LDFLAGS="$LDFLAGS" ./configure --disable-shared \
		--enable-static --without-ssl --disable-sha2 --disable-dane --disable-gost --disable-ecdsa --disable-dsa \
		--disable-ed25519 --disable-ed448 --with-drill --without-pyldns --without-pyldnsx &&
		run make setup-builddir && run make -j"$JOBS" LDFLAGS="-all-static -Wl,--gc-sections" drill/drill)
	install_bin "$d/drill/drill"
}

build_strace() {
	local d
	step strace
	d=$(workcopy strace)
	# The kernel headers strace ships (--enable-bundled): this machine's
	# linux-libc-dev is newer than strace 6.1 knows. One personality (no
	# mpers), no stack traces (libunwind/libdw), only src/ (not the tests), no
	# automake dependency files (config.status writes thousands, for the tests).
	# Its generated headers run the preprocessor alone: CPPFLAGS too.
	(cd "$d" && run env CC="$CC" CFLAGS="$CFLAGS" CPPFLAGS="-idirafter $kinc" LDFLAGS="$LDFLAGS" ./configure \
		--enable-bundled=yes --disable-mpers --without-libunwind --without-libdw \
		--without-libiberty --disable-gcc-Werror --disable-valgrind --disable-dependency-tracking &&
		run make -C src -j"$JOBS")
	install_bin "$d/src/strace"
}

build_bpftool() {
	local d o f
	d=$(srcdir linux)
	step "bpftool (${d##*/}: tools/bpf/bpftool, its own tools/lib/bpf)"
	o=$work/bpftool
	mkdir -p "$o"
	# libelf and zlib: the sysroot's (deps/build.sh), the ones retina links.
	[ -n "${SYSROOT:-}" ] && [ -r "$SYSROOT/lib/libelf.a" ] && [ -r "$SYSROOT/lib/libz.a" ] ||
		die "bpftool needs libelf and zlib from the sysroot (deps/build.sh): set SYSROOT=DIR (make toolbox does)"
	for f in libelf.h gelf.h nlist.h zlib.h zconf.h; do cp "$SYSROOT/include/$f" "$root/include/"; done
	cp "$SYSROOT/lib/libelf.a" "$SYSROOT/lib/libz.a" "$root/lib/"
	# Features written down, not probed: no libbfd disassembler (`prog dump
	# jited` says so; `xlated` works), no libcap, no BPF skeletons (they need
	# clang: no `prog profile`, no pids in `prog show`). 6.1 has no LLVM one.
	printf 'feature-%s=0\n' libbfd libbfd-liberty libbfd-liberty-z disassembler-four-args \
		disassembler-init-styled libcap clang-bpf-co-re > "$o/FEATURE-DUMP"
	# Out of tree (OUTPUT=): the kernel source is read, never copied or written.
	run make -C "$d/tools/bpf/bpftool" -j"$JOBS" OUTPUT="$o/" FEATURES_DUMP="$o/FEATURE-DUMP" \
		CC="$CC" HOSTCC="$CC" EXTRA_CFLAGS="$CFLAGS" EXTRA_LDFLAGS="$LDFLAGS"
	install_bin "$o/bpftool"
}

want=${TOOLBOX_ONLY:-libpcap tcpdump iptables iproute2 ethtool jq socat ldns strace bpftool}
for t in $want; do "build_$t"; done
rm -rf "$work"
echo "retina toolbox: $(ls "$bin" | wc -l) tools in $bin"
