#!/usr/bin/env bash
# Install the Debian packages the build (or the tests) need, only when missing.
# usage: deps/prereqs.sh build|test|image
set -euo pipefail

build_pkgs=(make gcc musl-tools clang llvm bpftool dpkg-dev xz-utils bzip2 file binutils ca-certificates)
# nodejs: its package here ships npm too (Debian's separate npm package conflicts with it)
test_pkgs=(libcmocka-dev python3-pytest iproute2 libcap2-bin util-linux procps libclang-rt-14-dev
	unbound bind9-dnsutils iputils-ping iptables busybox-static bc strace bpftool
	tinyproxy-bin nodejs curl openssl tshark nftables binutils)
# make image (buildah, busybox-static, the CA bundle), the tests that run it (podman with runc,
# skopeo) and make image-check (debootstrap)
image_pkgs=(buildah busybox-static ca-certificates podman runc skopeo debootstrap)

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
test)  want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${image_pkgs[@]}") ;;
image) want=("${build_pkgs[@]}" "${image_pkgs[@]}") ;;
*) echo "usage: $0 build|test|image" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "retina: missing build prerequisites: ${missing[*]}" >&2
	echo "retina: run 'make' as root, or install them first: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi

echo "retina: installing prerequisites: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark (wireshark-common) would ask whether non-root users may capture: no
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
if ! apt-get update -qq >/dev/null || ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
	echo "retina: could not install ${missing[*]} from the Debian mirror; check /etc/apt/sources.list* and network access to the mirror" >&2
	exit 1
fi
