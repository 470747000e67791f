# What the Debian mirror offers for a pin (deps/versions), as apt sees it.
# Sourced by deps/fetch.sh, deps/pin.sh and deps/check.sh. apt reads
# APT_CONFIG if set, so the tests point all three at a local repository
# without touching /etc.
# shellcheck shell=bash

deps=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "retina deps: $*" >&2; exit 1; }

# Our own download directory may be one _apt cannot enter.
APT_OPTS=(-o APT::Sandbox::User=root -o DPkg::Lock::Timeout=120)

# Sort Debian versions (stdin, one a line) oldest first, as dpkg orders them.
dsort() {
	local sorted=() v i
	while read -r v; do
		[ -n "$v" ] || continue
		for ((i = ${#sorted[@]}; i > 0; i--)); do
			dpkg --compare-versions "${sorted[i - 1]}" le "$v" && break
			sorted[i]=${sorted[i - 1]}
		done
		sorted[i]=$v
	done
	[ ${#sorted[@]} -eq 0 ] || printf '%s\n' "${sorted[@]}"
}

# The upstream part of a Debian version: no epoch, no Debian revision.
upstream_of() { local v=${1#*:}; case $v in *-*) echo "${v%-*}" ;; *) echo "$v" ;; esac; }

# Every version of source package $1 on the mirror, oldest first.
offered() {
	apt-cache showsrc "$1" 2>/dev/null </dev/null |
		awk -v n="$1" '/^Package: /{p=$2} /^Version: / && p==n {print $2}' | sort -u | dsort
}

# The versions of $1 whose upstream version is $2, newest first.
revisions_of() {
	local v
	offered "$1" | while read -r v; do [ "$(upstream_of "$v")" != "$2" ] || echo "$v"; done | tac
}
newest_of() { revisions_of "$1" "$2" | head -1; }

# The upstream versions of $1 on the mirror, oldest first.
upstreams() { offered "$1" | while read -r v; do upstream_of "$v"; done | uniq; }

# "sha256 file" for the upstream files a .dsc or a Sources stanza (stdin)
# lists: all but Debian's own (.dsc, debian.tar.*, .diff.gz) and signatures.
upstream_lines() {
	awk '/^Checksums-Sha256:/{f=1; next} /^[^ ]/{f=0} f && NF==3 {print $1, $3}' |
		grep -Ev ' .*(\.dsc|\.debian\.tar\.[a-z0-9]+|\.diff\.gz|\.asc)$' || true
}

# The pin of a set of upstream files ("sha256 file" lines, stdin): the sha256
# of the file itself when there is one (usually the orig tarball), else the
# sha256 of their `sha256sum` listing sorted by name (orig + orig-COMPONENT).
pin_sum() {
	local lines
	lines=$(awk 'NF==2 {print $1 "  " $2}' | LC_ALL=C sort -k2)
	case $(printf '%s\n' "$lines" | grep -c .) in
	0) echo none ;;
	1) echo "${lines%% *}" ;;
	*) printf '%s\n' "$lines" | sha256sum | cut -d' ' -f1 ;;
	esac
}

# The Sources stanza of version $2 of $1. (awk reads to the end: an early
# exit would kill apt-cache with SIGPIPE on a long listing, e.g. linux's.)
stanza() {
	apt-cache showsrc "$1" 2>/dev/null </dev/null |
		awk -v n="$1" -v v="$2" 'BEGIN{RS=""} {p=""; w=""; k=split($0, l, "\n")
			for (i = 1; i <= k; i++) { if (l[i] ~ /^Package: /) p=substr(l[i], 10); if (l[i] ~ /^Version: /) w=substr(l[i], 10) }
			if (p == n && w == v && !done) { print; done = 1 } }'
}

# How to move the pin of $1 to upstream $2 in the pins file $3.
pin_cmd() {
	case $3 in
	"$deps"/versions | "$deps"/versions-*) echo "deps/pin.sh $1 $2" ;;
	*) echo "DEPS_VERSIONS=$3 deps/pin.sh $1 $2" ;;
	esac
}

# Make sure apt knows source packages. apt-get source needs deb-src entries;
# derive them from the deb entries the machine already trusts (same mirror,
# same signing keys). With APT_CONFIG set, /etc is not ours to change.
# (apt-get indextargets takes seconds: look for the lists themselves first)
source_indexes() { apt-get indextargets --no-release-info --format '$(FILENAME)' 'Created-By: Sources' 2>/dev/null; }
have_lists() {
	local lists
	eval "$(apt-config shell lists Dir::State::Lists/d)"
	compgen -G "${lists:-/var/lib/apt/lists/}*Sources*" >/dev/null
}
add_deb_src() {
	[ -z "${APT_CONFIG:-}" ] || die "the apt configuration APT_CONFIG=$APT_CONFIG has no deb-src entry; add one there"
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
}
apt_update() { apt-get "${APT_OPTS[@]}" update -qq </dev/null >/dev/null 2>&1; }
ensure_sources() {
	have_lists && return
	[ -z "$(source_indexes)" ] || { apt_update && have_lists && return; }
	add_deb_src
	apt_update || die "apt-get update failed; is the Debian mirror reachable?"
	have_lists || die "apt still finds no source packages after adding deb-src entries; check /etc/apt/sources.list.d/"
}
