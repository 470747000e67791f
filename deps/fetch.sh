#!/usr/bin/env bash
# Fetch the pinned Debian source packages listed in deps/versions into $1
# (default build/deps/src), each unpacked with Debian's patches applied.
# apt verifies the signed indexes and dpkg-source the tarballs against the
# .dsc; we check the .dsc itself against the pin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-build/deps/src}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

die() { echo "retina deps: $*" >&2; exit 1; }

dsc_sum() { sha256sum < "$1" | cut -d' ' -f1; }

have_deb_src() { [ -n "$(apt-cache showsrc zlib 2>/dev/null | head -1)" ]; }

# apt-get source needs deb-src entries; derive them from the deb entries the
# machine already trusts (same mirror, same signing keys).
add_deb_src() {
	[ "$(id -u)" -eq 0 ] || die "no deb-src entry in apt's sources; run 'make' as root once, or add a deb-src line for your Debian mirror"
	local out=/etc/apt/sources.list.d/retina-deb-src.sources f
	: > "$out.tmp"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] && [ "$f" != "$out" ] || continue
		# keep only stanzas of Types: deb, rewritten to deb-src
		awk 'BEGIN{RS="";ORS="\n\n"} /(^|\n)Types:[ \t]*deb([ \t]|\n|$)/ {sub(/Types:[ \t]*deb/,"Types: deb-src"); print}' "$f" >> "$out.tmp"
	done
	if [ -f /etc/apt/sources.list ]; then
		local l=/etc/apt/sources.list.d/retina-deb-src.list
		sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list > "$l"
		[ -s "$l" ] || rm -f "$l"
	fi
	if [ -s "$out.tmp" ]; then mv "$out.tmp" "$out"; else rm -f "$out.tmp"; fi
	echo "retina deps: added deb-src entries for the configured Debian mirror"
	apt-get update -qq >/dev/null || die "apt-get update failed; is the Debian mirror reachable?"
}

have_deb_src || apt-get update -qq >/dev/null 2>&1 || true
have_deb_src || add_deb_src
have_deb_src || die "apt still finds no source packages after adding deb-src entries; check /etc/apt/sources.list.d/"

grep -v '^#' "${DEPS_VERSIONS:-$here/versions}" | while read -r name version sum; do
	[ -n "$name" ] || continue
	dsc="${name}_${version#*:}.dsc"
	if [ -f "$dest/$dsc" ] && [ "$(dsc_sum "$dest/$dsc")" = "$sum" ]; then
		continue
	fi
	echo "retina deps: fetching $name $version"
	if ! (cd "$dest" && apt-get -o APT::Sandbox::User=root -qq source "$name=$version" >"$name.fetch.log" 2>&1); then
		offered=$(apt-cache showsrc "$name" 2>/dev/null | sed -n 's/^Version: //p' | sort -u | paste -sd' ')
		case " $offered " in
		*" $version "*) die "could not download $name $version: is the Debian mirror reachable? ($(tail -1 "$dest/$name.fetch.log"))" ;;
		*) die "$name $version is not on the mirror, which offers: ${offered:-nothing}; update deps/versions" ;;
		esac
	fi
	got=$(dsc_sum "$dest/$dsc")
	[ "$got" = "$sum" ] || die "$dsc does not match its pinned sha256 in deps/versions: got $got"
done
