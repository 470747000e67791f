#!/usr/bin/env bash
# Fetch the kernels of tests/kernels/versions into $1 (default build/kernels):
# for each, the newest package of its series on the machine's Debian mirror,
# unpacked in $1/NAME/root (vmlinuz, modules), its name and version in
# $1/NAME/package. A temporary apt configuration (own lists and cache under
# $1/apt) reads the suite and architecture the machine's apt does not carry
# (bullseye, arm64) from the same mirror, signed by the same archive keys:
# apt-get download refuses a .deb whose hash is not the signed index's.
# usage: tests/kernels/fetch.sh [DIR] [NAME...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-build/kernels}
shift || true
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

die() { echo "retina kernels: $*" >&2; exit 1; }

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || die "no $keyring (package debian-archive-keyring): cannot verify the mirror"
# The mirror the machine already uses: its Debian and Debian-Security repositories.
targets=$(apt-get indextargets --format '$(LABEL) $(REPO_URI)' 2>/dev/null | sort -u)
mirror=$(awk '$1 == "Debian" {print $2; exit}' <<<"$targets")
security=$(awk '$1 == "Debian-Security" {print $2; exit}' <<<"$targets")
[ -n "$mirror" ] || die "apt's sources name no Debian mirror (apt-get indextargets); add the Debian mirror to /etc/apt/sources.list.d/"

# apt with its own state for one suite and architecture; sets $aptopts.
apt_for() {
	local suite=$1 arch=$2 d=$dest/apt/$1-$2
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	{
		echo "deb [arch=$arch signed-by=$keyring] $mirror $suite main"
		echo "deb [arch=$arch signed-by=$keyring] $mirror $suite-updates main"
		[ -z "$security" ] || echo "deb [arch=$arch signed-by=$keyring] $security $suite-security main"
	} > "$d/sources.list"
	aptopts=(-o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" -o Dir::State::status=/dev/null
		-o APT::Architecture="$arch" -o APT::Architectures::="$arch" -o APT::Sandbox::User=root)
	# Refreshed once a day: the newest ABI package moves on
	if [ -z "$(find "$d/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
		apt-get "${aptopts[@]}" -qq update >"$d/update.log" 2>&1 ||
			die "apt-get update for $suite ($arch) from $mirror failed: $(grep -m1 -E '^(E|W):' "$d/update.log" || tail -1 "$d/update.log")"
	fi
}

# User space for a foreign-architecture guest: busybox, ip, nft and unbound
# with the libraries they link (the machine's own serve amd64 guests), from the same
# suite, unpacked into $dest/userland-ARCH/root.
userland() {
	local arch=$1 suite=$2 u=$dest/userland-$1 p
	local pkgs=(busybox-static iproute2 nftables libc6 libbpf1 libbsd0 libcap2 libedit2 libelf1 libgmp10
		libjansson4 libmd0 libmnl0 libnftables1 libnftnl11 libtinfo6 libxtables12 zlib1g
		unbound libevent-2.1-7 libexpat1 libgcrypt20 libgpg-error0 liblz4-1 liblzma5 libnghttp2-14
		libprotobuf-c1 libpython3.11 libssl3 libsystemd0 libzstd1)
	[ "$(cat "$u/packages" 2>/dev/null)" = "$suite ${pkgs[*]}" ] && return
	apt_for "$suite" "$arch"
	echo "retina kernels: fetching $arch user space (${pkgs[*]})"
	rm -rf "$u" && mkdir -p "$u/debs"
	(cd "$u/debs" && apt-get "${aptopts[@]}" -qq download "${pkgs[@]/%/:$arch}" >../fetch.log 2>&1) ||
		die "could not download the $arch user space: $(tail -1 "$u/fetch.log")"
	for p in "$u"/debs/*.deb; do dpkg-deb -x "$p" "$u/root"; done
	rm -rf "$u/debs"
	echo "$suite ${pkgs[*]}" > "$u/packages"
}

grep -v '^#' "$here/versions" | while read -r name arch suite pattern; do
	[ -n "$name" ] || continue
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	apt_for "$suite" "$arch"
	# the newest package of the series (ABI number, then upstream version)
	pkg=$(apt-cache "${aptopts[@]}" pkgnames linux-image- 2>/dev/null | grep -E "$pattern" | sort -V | tail -1)
	[ -n "$pkg" ] || die "no package matching $pattern in $suite ($arch) on $mirror; update tests/kernels/versions"
	ver=$(apt-cache "${aptopts[@]}" show "$pkg:$arch" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)
	k=$dest/$name
	if [ -f "$k/package" ] && [ "$(cat "$k/package")" = "$pkg $ver $arch" ] && [ -d "$k/root" ]; then
		continue
	fi
	echo "retina kernels: fetching $pkg $ver ($arch, $suite)"
	rm -rf "$k" && mkdir -p "$k"
	(cd "$k" && apt-get "${aptopts[@]}" -qq download "$pkg:$arch=$ver" >fetch.log 2>&1) ||
		die "could not download $pkg $ver: $(tail -1 "$k/fetch.log")"
	deb=$(ls "$k"/*.deb)
	dpkg-deb -x "$deb" "$k/root"
	sha256sum "$deb" | cut -d' ' -f1 > "$k/sha256"
	rm -f "$deb"
	echo "$pkg $ver $arch" > "$k/package"
done
grep -v '^#' "$here/versions" | while read -r name arch suite pattern; do
	[ -n "$name" ] && [ "$arch" != "$(dpkg --print-architecture)" ] || continue
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	userland "$arch" "$suite"
done
