#!/bin/sh
# Lay out the debug-shell image's layers as directories, one per layer, for
# `make image` (image/build.sh) and the Dockerfile alike, so both images have
# the same files:
#   OUTDIR/base    busybox static and a link per applet, /etc/{passwd,group,profile}, /tmp, /root
#   OUTDIR/certs   /etc/ssl/certs/ca-certificates.crt
#   OUTDIR/retina  /usr/local/bin/retina and a link per applet (ahead of busybox on PATH)
#   OUTDIR/toolbox with TOOLBOX=DIR (deps/build-toolbox.sh's bin/): the static
#                  tools in /usr/sbin (ahead of busybox's ip/tc on PATH), the
#                  iptables wrapper (image/toolbox/iptables) and its names
#
# usage: image/stage.sh RETINA BUSYBOX CA_BUNDLE OUTDIR [EPOCH]
# EPOCH (seconds) becomes every file's mtime, so layers depend only on content.
set -eu

if [ $# -lt 4 ]; then
	echo "usage: $0 RETINA BUSYBOX CA_BUNDLE OUTDIR [EPOCH]" >&2
	exit 2
fi
retina=$1 busybox=$2 certs=$3 out=$4 epoch=${5:-0}
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$out"
mkdir -p "$out/base/bin" "$out/base/etc" "$out/base/tmp" "$out/base/root" \
	"$out/certs/etc/ssl/certs" "$out/retina/usr/local/bin"

# base: busybox, linked where `busybox --install` would put each applet.
cp "$busybox" "$out/base/bin/busybox"
"$busybox" --list-full | while read -r path; do
	case $path in
	*/*) ;;
	*) continue ;;		# linuxrc: not wanted at /
	esac
	[ "$path" = bin/busybox ] && continue
	mkdir -p "$out/base/${path%/*}"
	ln -s /bin/busybox "$out/base/$path"
done
cp "$here"/rootfs/etc/* "$out/base/etc/"
chmod 0644 "$out"/base/etc/*
chmod 1777 "$out/base/tmp"
chmod 0700 "$out/base/root"

# certs
cp "$certs" "$out/certs/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$out/certs/etc/ssl/certs/ca-certificates.crt"

# retina, and its applet links (relative, made by retina itself)
cp "$retina" "$out/retina/usr/local/bin/retina"
chmod 0755 "$out/retina/usr/local/bin/retina"
"$out/retina/usr/local/bin/retina" --install -s "$out/retina/usr/local/bin" >/dev/null

# toolbox: static tools, and the iptables names all pointing at the wrapper
# that picks the node's backend.
if [ -n "${TOOLBOX:-}" ]; then
	tb=$out/toolbox/usr/sbin
	mkdir -p "$tb"
	for f in "$TOOLBOX"/*; do
		cp "$f" "$tb/"
		chmod 0755 "$tb/${f##*/}"
	done
	if [ -e "$tb/xtables-legacy-multi" ]; then
		cp "$here/toolbox/iptables" "$tb/iptables"
		chmod 0755 "$tb/iptables"
		for t in ip6tables iptables-save ip6tables-save iptables-restore ip6tables-restore; do
			ln -s iptables "$tb/$t"
		done
		for t in iptables ip6tables; do
			for b in legacy nft; do
				for s in "" -save -restore; do ln -s iptables "$tb/$t-$b$s"; done
			done
		done
	fi
fi

find "$out" -exec touch -h -d "@$epoch" {} +
