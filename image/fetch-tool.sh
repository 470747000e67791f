#!/bin/sh
# Download one release tarball, check it against its pinned sha256, and
# extract one static binary from it. Used by the Dockerfile's tools stage.
#
# usage: image/fetch-tool.sh NAME URL SHA256 SHA256_ARG_NAME DESTDIR
#
# An empty SHA256 fails the build: this project does not ship checksums it
# has not verified (docs/image.md says how to pin one).
set -eu

if [ $# -ne 5 ]; then
	echo "usage: $0 NAME URL SHA256 SHA256_ARG_NAME DESTDIR" >&2
	exit 2
fi
name=$1 url=$2 want=$3 arg=$4 dest=$5

fail() { echo "retina image: $name: $*" >&2; exit 1; }

if [ -z "$want" ]; then
	fail "build argument $arg is empty, and $name is not downloaded without a pinned checksum.
  Check the sha256 of $url
  against the checksum its project publishes for that release, then build with
  --build-arg $arg=<sha256> (or run 'make image-pins', which checks all six against
  the checksum files the projects publish and writes them into the Dockerfile),
  or build without bpftool/pwru/ig: --target minimal (docs/image.md)."
fi
case $want in
*[!0-9a-f]*) fail "$arg='$want' is not a lowercase hex sha256" ;;
esac
[ ${#want} -eq 64 ] || fail "$arg='$want' is not a sha256 (64 hex digits)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/release.tar.gz" "$url" || fail "cannot download $url"
got=$(sha256sum "$tmp/release.tar.gz" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "$url has sha256 $got, but $arg pins $want: refusing it"
tar -xzf "$tmp/release.tar.gz" -C "$tmp" "$name" || fail "$url has no file named '$name' at its top"
mkdir -p "$dest"
install -m 0755 "$tmp/$name" "$dest/$name"
echo "retina image: $name from $url (sha256 $got)"
