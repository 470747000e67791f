#!/usr/bin/env bash
# make deps-check: for every pin, the Debian revision in use (DEST/NAME.used,
# from deps/fetch.sh), what the mirror offers now that is newer (revisions of
# the pinned upstream version, newer upstream versions) and the command that
# takes it. Exits 1 if a pin cannot be fetched as it stands.
# usage: deps/check.sh DEST PINSFILE...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mirror.sh"
[ $# -ge 2 ] || { echo "usage: deps/check.sh DEST PINSFILE..." >&2; exit 2; }
dest=$1
shift
ensure_sources
apt_update || echo "retina deps: apt-get update failed; what follows is from apt's lists as they were"

bad=0
for pins in "$@"; do
	pins=$(cd "$(dirname "$pins")" && pwd)/$(basename "$pins")
	while read -r name upv sum _; do
		[ -n "$name" ] || continue
		inuse=$(cut -sd' ' -f2 "$dest/$name.used" 2>/dev/null || true)
		ver=$(newest_of "$name" "$upv")
		newer=$(upstreams "$name" | while read -r u; do
			! dpkg --compare-versions "$u" gt "$upv" || echo "$u"; done | paste -sd' ')
		last=${newer##* }
		if [ -z "$ver" ]; then
			echo "$name $upv: NOT on the mirror (offers: $(offered "$name" | paste -sd' ')); fetch fails until the pin moves"
			bad=1
		elif [ "$(stanza "$name" "$ver" | upstream_lines | pin_sum)" != "$sum" ]; then
			echo "$name $upv: the mirror's upstream tarball for $ver differs from the pin; fetch refuses it"
			bad=1
		elif [ -z "$inuse" ]; then
			echo "$name $upv: not fetched yet; would use $ver"
		elif [ "$inuse" = "$ver" ]; then
			echo "$name $upv: in use $inuse, the newest revision on the mirror"
		elif case " $(cat "$dest/$name.unserved" 2>/dev/null) " in *" $ver "*) true ;; *) false ;; esac then
			echo "$name $upv: in use $inuse; the mirror lists $ver but did not serve it at the last fetch"
		else
			echo "$name $upv: in use $inuse; the mirror offers $ver: take it with: touch ${pins#"$PWD"/} && make"
		fi
		[ -z "$newer" ] || echo "  newer upstream on the mirror: $newer; move the pin with: $(pin_cmd "$name" "$last" "$pins")"
		[ -n "$ver" ] || [ -n "$newer" ] || [ -z "$(upstreams "$name")" ] ||
			echo "  move the pin with: $(pin_cmd "$name" "$(upstreams "$name" | tail -1)" "$pins")"
	done < <(grep -v '^#' "$pins")
done
exit $bad
