#!/usr/bin/env bash
# Build the debug-shell image offline: the final stage of the Dockerfile, from
# the locally built retina, Debian's busybox-static and the host's CA bundle,
# with buildah (FROM scratch; nothing is pulled, nothing is run inside).
# bpftool, pwru and ig are left out (they are downloads; see docs/image.md).
#
# usage: image/build.sh RETINA_BINARY OUTPUT.oci.tar [VERSION]
#
# Layers base, certs, retina, as image/stage.sh lays them out and the
# Dockerfile's `minimal` stage copies them. Intermediate images are removed by
# their names; only the OCI archive is left.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 RETINA_BINARY OUTPUT.oci.tar [VERSION]" >&2
	exit 2
fi
retina=$1 out=$2 version=${3:-unknown}
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
certs=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
# Deterministic: the same inputs give the same layers (the commit time of HEAD).
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}

fail() { echo "retina image: $*" >&2; exit 1; }

[ -x "$retina" ] || fail "$retina is missing: run 'make' first"
file -L "$retina" | grep -q 'statically linked' || fail "$retina is not statically linked"
[ -x "$busybox" ] || fail "$busybox is missing: apt-get install busybox-static (deps/prereqs.sh image does)"
# Debian's plain busybox package is dynamically linked and would not run in FROM scratch.
file -L "$busybox" | grep -q 'statically linked' ||
	fail "$busybox is not statically linked: apt-get install busybox-static (it replaces busybox)"
[ -s "$certs" ] || fail "$certs is missing: apt-get install ca-certificates"
command -v buildah >/dev/null || fail "buildah is missing: apt-get install buildah (deps/prereqs.sh image does)"
[ "$(id -u)" -eq 0 ] || fail "buildah needs root here (run 'make image' as root)"

stage=$(dirname "$out")/image-stage
ctr= images=()
cleanup() {
	[ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1
	[ ${#images[@]} -gt 0 ] && buildah rmi "${images[@]}" >/dev/null 2>&1
	rm -rf "$stage"
}
trap cleanup EXIT
"$here/stage.sh" "$retina" "$busybox" "$certs" "$stage" "$epoch"

from=scratch
for layer in base certs retina; do
	ctr=$(buildah from --name "retina-shell-build-$$-$layer" "$from")
	buildah copy --quiet "$ctr" "$stage/$layer/" / >/dev/null
	if [ $layer != retina ]; then
		# Named, and removed by name: another build may hold the same image ID.
		from=localhost/retina-shell-build-$$-$layer
		buildah commit --quiet --rm --timestamp "$epoch" "$ctr" "$from" >/dev/null
		ctr= images+=("$from")
	fi
done

buildah config \
	--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--env HOST_ROOT=/host \
	--env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
	--env HOME=/root \
	--env ENV=/etc/profile \
	--workingdir /root \
	--entrypoint '["/usr/local/bin/shell-init", "--"]' \
	--cmd '["/bin/sh", "-l"]' \
	--label org.opencontainers.image.title=retina-shell \
	--label org.opencontainers.image.description="retina debug shell: retina, busybox, CA certificates (offline build: no bpftool, pwru, ig)" \
	--label org.opencontainers.image.version="$version" \
	"$ctr"

mkdir -p "$(dirname "$out")"
rm -f "$out"
buildah commit --quiet --rm --timestamp "$epoch" --identity-label=false \
	"$ctr" "oci-archive:$out:localhost/retina-shell:latest" >/dev/null
ctr=
