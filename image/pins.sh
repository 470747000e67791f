#!/usr/bin/env bash
# make image-pins: download bpftool, pwru and ig for amd64 and arm64 at the
# versions the Dockerfile names, check each tarball against the checksum file
# its project publishes with the release, and write the six *_SHA256_* ARGs
# into the Dockerfile. Run it wherever GitHub's release pages are reachable.
#
# usage: image/pins.sh [DOCKERFILE]
#   RELEASES=URL  instead of https://github.com (tests use file:// fixtures)
#
# Published checksum files (one "SHA256  NAME" line per asset, NAME matched
# by its last path component):
#   bpftool  libbpf/bpftool                 ASSET.sha256sum beside each tarball
#   pwru     cilium/pwru                    sha256sum.txt
#   ig       inspektor-gadget/...           inspektor-gadget-VERSION_checksums.txt
set -euo pipefail
dockerfile=${1:-$(cd "$(dirname "$0")/.." && pwd)/Dockerfile}
base=${RELEASES:-https://github.com}
fail() { echo "retina image-pins: $*" >&2; exit 1; }
command -v curl >/dev/null || fail "curl is missing: apt-get install curl"
[ -w "$dockerfile" ] || fail "$dockerfile is not writable"

arg() { sed -n "s/^ARG $1=//p" "$dockerfile" | head -1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

get() { curl -fsSL --retry 2 -o "$2" "$1" || fail "could not download $1"; }

# pin TOOL ARCH URL SUMS_URL: prints the sha256 of URL's tarball, checked
# against the line for its name in SUMS_URL.
pin() {
	local tool=$1 arch=$2 url=$3 sums=$4 asset got want
	asset=${url##*/}
	get "$url" "$tmp/$asset"
	get "$sums" "$tmp/$tool-$arch.sums"
	want=$(awk -v a="$asset" '{ n = $2; sub(/^\*/, "", n); sub(/.*\//, "", n); if (n == a) print $1 }' \
		"$tmp/$tool-$arch.sums" | head -1)
	[ -n "$want" ] || fail "$tool $arch: $sums has no line for $asset"
	got=$(sha256sum "$tmp/$asset" | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "$tool $arch: $asset has sha256 $got, but $sums says $want"
	echo "$got"
}

bv=$(arg BPFTOOL_VERSION) pv=$(arg PWRU_VERSION) iv=$(arg IG_VERSION)
[ -n "$bv" ] && [ -n "$pv" ] && [ -n "$iv" ] || fail "$dockerfile lacks BPFTOOL_VERSION, PWRU_VERSION or IG_VERSION"
declare -A sum
for a in amd64 arm64; do
	A=${a^^}
	u=$base/libbpf/bpftool/releases/download/$bv/bpftool-$bv-$a.tar.gz
	sum[BPFTOOL_SHA256_$A]=$(pin bpftool $a "$u" "$u.sha256sum")
	sum[PWRU_SHA256_$A]=$(pin pwru $a "$base/cilium/pwru/releases/download/$pv/pwru-linux-$a.tar.gz" \
		"$base/cilium/pwru/releases/download/$pv/sha256sum.txt")
	sum[IG_SHA256_$A]=$(pin ig $a \
		"$base/inspektor-gadget/inspektor-gadget/releases/download/$iv/ig-linux-$a-$iv.tar.gz" \
		"$base/inspektor-gadget/inspektor-gadget/releases/download/$iv/inspektor-gadget-${iv}_checksums.txt")
done
cp "$dockerfile" "$tmp/Dockerfile"
for k in "${!sum[@]}"; do
	grep -q "^ARG $k=" "$tmp/Dockerfile" || fail "$dockerfile has no 'ARG $k=' line"
	sed -i "s/^ARG $k=.*/ARG $k=${sum[$k]}/" "$tmp/Dockerfile"
done
cat "$tmp/Dockerfile" > "$dockerfile"
for k in $(printf '%s\n' "${!sum[@]}" | sort); do echo "$k=${sum[$k]}"; done
echo "retina image-pins: wrote the six checksums into $dockerfile"
