#!/usr/bin/env bash
# Build the Dockerfile's `minimal` target for real without a registry, and
# check it has the same files as `make image`'s archive. The Debian 12 base
# image comes from debootstrap (the Debian mirror is the one network these
# machines reach), cached in build/debian-rootfs. Slow (a few minutes: it runs
# the whole `make` in a fresh Debian), so not part of `make test`.
#
# usage: image/check-dockerfile.sh      (after `make image`; as root)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export CONTAINERS_CONF=$root/image/containers.conf
archive=$root/build/retina-shell.oci.tar
rootfs=$root/build/debian-rootfs
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tag=$$
base=localhost/retina-check-debian:$tag
built=localhost/retina-check-dockerfile:$tag
offline=localhost/retina-check-offline:$tag
work=$(mktemp -d)

fail() { echo "retina check-dockerfile: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, buildah)"
[ -f "$archive" ] || fail "$archive is missing: run 'make image' first"
command -v debootstrap >/dev/null || fail "debootstrap is missing: apt-get install debootstrap"

containers=()
cleanup() {
	[ ${#containers[@]} -gt 0 ] && podman rm "${containers[@]}" >/dev/null 2>&1
	podman rmi "$built" "$offline" "$base" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -f "$rootfs/.done" ]; then
	echo "retina check-dockerfile: debootstrap bookworm into $rootfs"
	rm -rf "$rootfs"
	debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -5 "$work/debootstrap.log"; fail "debootstrap failed"; }
	# the sources of the official debian:12 image (deb822, with updates and security)
	rm -f "$rootfs/etc/apt/sources.list"
	printf '%s\n' "Types: deb" "URIs: ${mirror}" "Suites: bookworm bookworm-updates" "Components: main" \
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" "" \
		"Types: deb" "URIs: ${mirror}-security" "Suites: bookworm-security" "Components: main" \
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" > "$rootfs/etc/apt/sources.list.d/debian.sources"
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
	touch "$rootfs/.done"
fi
tar -C "$rootfs" --exclude=./.done -c . | podman import -q - "$base" >/dev/null

echo "retina check-dockerfile: buildah bud --target minimal (runs make in Debian 12)"
buildah bud --quiet --isolation chroot --network host --target minimal --layers=false \
	--build-arg DEBIAN_IMAGE="$base" \
	--build-arg RETINA_VERSION="$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo unknown)" \
	--build-arg SOURCE_DATE_EPOCH="$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)" \
	-t "$built" "$root" >"$work/bud.log" 2>&1 || { tail -30 "$work/bud.log"; fail "the Dockerfile does not build"; }

skopeo copy --quiet "oci-archive:$archive" "containers-storage:$offline"
for which in dockerfile offline; do
	if [ $which = dockerfile ]; then img=$built; else img=$offline; fi
	c=$(podman create "$img")
	containers+=("$c")
	# type+mode, owner, size of regular files (not the CA bundle: the host's may be newer), path, link target
	podman export "$c" | tar -tvf - --numeric-owner |
		awk '$6 != "etc/ssl/certs/ca-certificates.crt" { s = ($1 ~ /^-/) ? $3 : "-"; print $1, $2, s, $6, $7, $8 }' |
		sort -k4 > "$work/$which.list"
done
diff "$work/dockerfile.list" "$work/offline.list" ||
	fail "the Dockerfile's minimal image and 'make image' differ (above: < Dockerfile, > make image)"
fmt='{{json .Config.Env}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.WorkingDir}}'
[ "$(podman image inspect --format "$fmt" "$built")" = "$(podman image inspect --format "$fmt" "$offline")" ] ||
	fail "the two images' Env/Entrypoint/Cmd/WorkingDir differ"
podman run --rm --network none "$built" retina --version >/dev/null || fail "retina does not run in the Dockerfile's image"
echo "retina check-dockerfile: the Dockerfile's minimal stage builds, and has the same config and the same $(wc -l < "$work/dockerfile.list") files as $archive"
