#!/usr/bin/env bash
# Pin (or move the pin of) source package NAME to upstream VERSION, as the
# mirror offers it: writes "NAME VERSION SHA256" into the pins file that
# holds NAME (deps/versions*; $DEPS_VERSIONS if set; a new NAME goes to
# deps/versions). The sha256 comes from the mirror's signed Sources index.
# usage: deps/pin.sh NAME [VERSION]   (VERSION: upstream or Debian version;
#        default the newest upstream version on the mirror)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mirror.sh"
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: deps/pin.sh NAME [VERSION]" >&2; exit 2; }
name=$1
ensure_sources

all=$(offered "$name" | paste -sd' ')
[ -n "$all" ] || die "the mirror offers no source package $name"
upv=${2:-$(upstreams "$name" | tail -1)}
case " $all " in *" $upv "*) upv=$(upstream_of "$upv") ;; esac
ver=$(newest_of "$name" "$upv")
[ -n "$ver" ] || die "$name $upv is not on the mirror, which offers: $all"
sum=$(stanza "$name" "$ver" | upstream_lines | pin_sum)
[ "$sum" != none ] || die "the mirror lists no upstream tarball for $name $ver"

file=${DEPS_VERSIONS:-}
if [ -z "$file" ]; then
	file=$here/versions
	for f in "$here"/versions "$here"/versions-*; do
		! grep -q "^${name}[[:space:]]" "$f" || { file=$f; break; }
	done
fi
line=$(printf '%-11s %-25s %s' "$name" "$upv" "$sum")
awk -v n="$name" -v l="$line" '$1 == n {print l; done = 1; next} {print} END {if (!done) print l}' "$file" > "$file.tmp"
mv "$file.tmp" "$file"
echo "retina deps: pinned $name $upv in $file (now Debian's $ver); \`make\` fetches and builds it"
