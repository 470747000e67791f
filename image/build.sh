#!/usr/bin/env bash
# Build the debug-shell image offline: the final stage of the Dockerfile, from
# the locally built retina, Debian's busybox-static and the host's CA bundle,
# with buildah (FROM scratch; nothing is pulled, nothing is run inside).
# bpftool, pwru and ig are left out (they are downloads; see docs/image.md).
#
# usage: image/build.sh RETINA_BINARY OUTPUT.oci.tar [VERSION]
#
# With TOOLBOX=DIR (deps/build-toolbox.sh's bin/, `make image` passes it), a
# layer before retina's: the static tools (tcpdump, iptables legacy, iproute2,
# ethtool) in /usr/sbin.
#
# Layers base, certs, [toolbox,] retina, as image/stage.sh lays them out and the
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
if [ -n "${TOOLBOX:-}" ]; then
	[ -d "$TOOLBOX" ] || fail "TOOLBOX=$TOOLBOX is not a directory: run 'make toolbox' first"
	for f in "$TOOLBOX"/*; do
		if readelf -lW "$f" | grep -q INTERP; then fail "$f is not statically linked"; fi
	done
fi
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

layers="base certs retina"
[ -n "${TOOLBOX:-}" ] && layers="base certs toolbox retina"
last=retina
from=scratch
for layer in $layers; do
	ctr=$(buildah from --name "retina-shell-build-$$-$layer" "$from")
	buildah copy --quiet "$ctr" "$stage/$layer/" / >/dev/null
	if [ "$layer" != "$last" ]; then
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
	--label org.opencontainers.image.description="retina debug shell: retina, busybox, CA certificates${TOOLBOX:+, tcpdump, iptables, iproute2, ethtool, bpftool} (offline build: no pwru, ig)" \
	--label org.opencontainers.image.version="$version" \
	"$ctr"

mkdir -p "$(dirname "$out")"
rm -f "$out"
buildah commit --quiet --rm --timestamp "$epoch" --identity-label=false \
	"$ctr" "oci-archive:$out:localhost/retina-shell:latest" >/dev/null
ctr=
