#!/usr/bin/env bash
# Fetch the sources pinned in deps/versions (or $DEPS_VERSIONS) into DEST
# (default build/deps/src), each unpacked with Debian's patches applied.
# usage: deps/fetch.sh [DEST [USED]]
# A pin names an upstream version and the sha256 of its upstream tarball
# (deps/versions says how); we take the newest Debian revision of that
# upstream version the mirror offers, so security updates come in and a
# revision leaving the mirror breaks nothing. apt verifies the signed index
# and every file against it, dpkg-source the files against the .dsc, we the
# upstream tarball against the pin: Debian's changes may move, upstream's
# code may not. DEST/NAME.used and USED (if given) record "name version"
# for each revision used: the stamp, `retina --version`, `make size`;
# DEST/NAME.unserved the newer ones the mirror listed but did not serve.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mirror.sh"
dest=${1:-build/deps/src}
used=${2:-}
pins=${DEPS_VERSIONS:-$here/versions}
[ -r "$pins" ] || die "cannot read the pins file $pins"
pins=$(cd "$(dirname "$pins")" && pwd)/$(basename "$pins")
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if [ -n "$used" ]; then mkdir -p "$(dirname "$used")" && : > "$used"; fi

while read -r name upv sum rest; do
	[ -z "$name" ] || { [[ $sum =~ ^[0-9a-f]{64}$ ]] && [ -z "$rest" ]; } ||
		die "$pins: '$name${upv:+ $upv}${sum:+ $sum}${rest:+ $rest}': want 'name upstream-version sha256-of-the-upstream-tarball'"
done < <(grep -v '^#' "$pins")
ensure_sources

# apt's lists may predate the mirror's last change: refresh them once, at
# the first pin they cannot serve.
refreshed=
refresh() { [ -z "$refreshed" ] && refreshed=1 && apt_update; }

# The pin of the upstream files of NAME_VERSION.dsc ($1) as downloaded.
disk_sum() {
	[ -f "$1" ] || { echo none; return; }
	upstream_lines < "$1" | while read -r _ f; do sha256sum "$dest/$f" 2>/dev/null | sed "s|$dest/||" || echo "missing $f"; done | pin_sum
}

# No retries inside apt: a revision that fails is followed by the next one,
# and if none comes, by newer lists and a second round.
download() { (cd "$dest" && apt-get "${APT_OPTS[@]}" -o Acquire::Retries=0 -qq --download-only source "$1=$2" </dev/null >"$1.fetch.log" 2>&1); }

while read -r name upv sum rest; do
	[ -n "$name" ] || continue
	revs=$(revisions_of "$name" "$upv")
	[ -n "$revs" ] || ! refresh || revs=$(revisions_of "$name" "$upv")
	if [ -z "$revs" ]; then
		newest=$(upstreams "$name" | tail -1)
		die "$name $upv is not on the mirror, which offers: $(offered "$name" | paste -sd' ' | grep . || echo nothing)${newest:+; to move the pin: $(pin_cmd "$name" "$newest" "$pins")}"
	fi
	ver=${revs%%$'\n'*}
	dir=$dest/$name-$upv
	if [ "$(cat "$dest/$name.used" 2>/dev/null)" != "$name $ver" ] || [ ! -d "$dir" ] ||
		[ "$(disk_sum "$dest/${name}_${ver#*:}.dsc")" != "$sum" ]; then
		# Newest first; an index can list a revision its pool cannot serve
		# yet: then the next one, said aloud (deps-check shows it too).
		ver='' skipped='' err=''
		for v in $revs; do
			echo "retina deps: fetching $name $v"
			if download "$name" "$v"; then ver=$v; break; fi
			skipped="$skipped $v" && err=${err:-$(grep -m1 . "$dest/$name.fetch.log")}
		done
		# none: apt's lists may be older than the pool; once, newer lists
		if [ -z "$ver" ] && refresh && revs=$(revisions_of "$name" "$upv") && [ -n "$revs" ]; then
			for v in $revs; do
				download "$name" "$v" && ver=$v && break
				case " $skipped " in *" $v "*) ;; *) skipped="$skipped $v" ;; esac
			done
		fi
		[ -n "$ver" ] || die "could not download $name${skipped}: is the Debian mirror reachable? ($err)"
		[ -z "$skipped" ] || echo "retina deps: warning: the mirror lists $name$skipped but did not serve it ($err); took $ver" >&2
		dsc=$dest/${name}_${ver#*:}.dsc
		got=$(disk_sum "$dsc")
		files=$(upstream_lines < "$dsc" | cut -d' ' -f2 | paste -sd' ')
		[ "$got" = "$sum" ] || die "$files ($name $ver) has sha256 $got, but $pins pins $sum for $name $upv: refusing a changed upstream tarball (if upstream's change is expected, review it, then: $(pin_cmd "$name" "$upv" "$pins"))"
		old=$(cut -sd' ' -f2 "$dest/$name.used" 2>/dev/null || true)
		rm -f "$dest/$name.used"
		[ -z "$old" ] || rm -rf "${dest:?}/$name-$(upstream_of "$old")"
		rm -rf "$dir"
		(cd "$dest" && dpkg-source -x "$dsc" "$dir" >>"$name.fetch.log" 2>&1) ||
			die "dpkg-source could not unpack $dsc (see $dest/$name.fetch.log)"
		echo "$name $ver" > "$dest/$name.used"
		echo "${skipped# }" > "$dest/$name.unserved"
	fi
	[ -z "$used" ] || echo "$name $ver" >> "$used"
done < <(grep -v '^#' "$pins")
