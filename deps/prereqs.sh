#!/usr/bin/env bash
# Install the Debian packages the build (or the tests) need, only when missing.
# usage: deps/prereqs.sh build|test|image|toolbox|cross-arm64|kernels
set -euo pipefail

build_pkgs=(make gcc musl-tools clang llvm bpftool dpkg-dev xz-utils bzip2 file patch binutils ca-certificates)
# nodejs: its package here ships npm too (Debian's separate npm package conflicts with it)
test_pkgs=(libcmocka-dev python3-pytest iproute2 libcap2-bin util-linux procps libclang-rt-14-dev
	unbound bind9-dnsutils iputils-ping iptables busybox-static bc strace bpftool
	tinyproxy-bin nodejs curl openssl tshark nftables binutils python3-yaml zsh bash-completion)
# make image (buildah, busybox-static, the CA bundle), the tests that run it (podman with runc,
# skopeo) and make image-check (debootstrap)
# make ARCH=arm64 only: the aarch64 cross compiler (musl itself is cross-built
# from source, deps/build-musl.sh), the target's kernel headers, and qemu-user
# to run the result (make test ARCH=arm64)
cross_arm64_pkgs=(gcc-aarch64-linux-gnu linux-libc-dev-arm64-cross qemu-user-static)
image_pkgs=(buildah busybox-static ca-certificates podman runc skopeo debootstrap)
# make test-kernels (and its CI part): Debian kernels booted under qemu-system
# (TCG), an initramfs of busybox-static + retina + the kernel's own modules
kernels_pkgs=(qemu-system-x86 qemu-system-arm busybox-static cpio gzip zstd kmod)
# make toolbox: libpcap's and iptables' parsers; jq's source has no configure
# (autoreconf); python3 for bpftool's libbpf (scripts/bpf_doc.py writes
# bpf_helper_defs.h)
toolbox_pkgs=(flex bison autoconf automake libtool python3)

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
test)  want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${image_pkgs[@]}" "${kernels_pkgs[@]}") ;;
image) want=("${build_pkgs[@]}" "${image_pkgs[@]}") ;;
toolbox) want=("${build_pkgs[@]}" "${toolbox_pkgs[@]}") ;;
cross-arm64) want=("${build_pkgs[@]}" "${cross_arm64_pkgs[@]}") ;;
kernels) want=("${build_pkgs[@]}" "${kernels_pkgs[@]}") ;;
*) echo "usage: $0 build|test|image|toolbox|cross-arm64|kernels" >&2; exit 2 ;;
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
