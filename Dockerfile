# syntax=docker/dockerfile:1
# The debug-shell image: retina, busybox (static), CA certificates, and static
# release builds of bpftool, pwru and Inspektor Gadget's ig. See docs/image.md.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg BPFTOOL_SHA256_AMD64=... (every *_SHA256_* below) \
#     --build-arg RETINA_VERSION=$(git describe --tags --always) -t REGISTRY/retina-shell:TAG .
#   docker build --target minimal -t retina-shell:minimal .   # no bpftool/pwru/ig, no checksums needed
#
# Offline, without Docker and without the tools: `make image` builds the
# `minimal` stage's layout with buildah into build/retina-shell.oci.tar;
# `make image-check` builds this file's `minimal` target and compares the two.
#
# The checksums are empty on purpose: they could not be verified when this
# file was written (no network), and a guessed one is worse than none. The
# build stops naming the missing argument; take the value from the project's
# release page and pass it with --build-arg (docs/image.md).

ARG DEBIAN_IMAGE=debian:12-slim

ARG BPFTOOL_VERSION=v7.5.0
ARG BPFTOOL_SHA256_AMD64=
ARG BPFTOOL_SHA256_ARM64=

ARG PWRU_VERSION=v1.0.12
ARG PWRU_SHA256_AMD64=
ARG PWRU_SHA256_ARM64=

ARG IG_VERSION=v0.49.1
ARG IG_SHA256_AMD64=
ARG IG_SHA256_ARM64=

# ---- toolbox: tcpdump, iptables, iproute2, ethtool, bpftool, jq, socat, drill, strace
# From the Debian sources pinned in deps/versions-toolbox (deb-src of the base
# image's mirror), as `make toolbox` builds them (deps/build-toolbox.sh; the
# deps/ sysroot first, for bpftool's libelf and zlib).
FROM ${DEBIAN_IMAGE} AS toolbox
RUN apt-get update && \
    apt-get install -y --no-install-recommends make ca-certificates && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY deps/ deps/
RUN make toolbox

# ---- build: retina, with the same `make` a user runs -------------------------
# Runs on the target platform (emulated when cross-building): the Makefile
# builds natively, its own prerequisites and static musl dependencies included.
FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update && \
    apt-get install -y --no-install-recommends make ca-certificates busybox-static && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG RETINA_VERSION=
ARG SOURCE_DATE_EPOCH=0
COPY --from=toolbox /src/build/toolbox/bin/ /toolbox/
RUN make ${RETINA_VERSION:+VERSION=$RETINA_VERSION} && \
    build/retina --version && \
    TOOLBOX=/toolbox image/stage.sh build/retina /bin/busybox /etc/ssl/certs/ca-certificates.crt /stage "$SOURCE_DATE_EPOCH"

# ---- minimal: what `make image` builds offline -------------------------------
# Layers from least to most often changed; retina's applet links come first
# on PATH (/usr/local/bin), busybox's after.
FROM scratch AS minimal
COPY --from=build /stage/base/ /
COPY --from=build /stage/certs/ /
COPY --from=build /stage/toolbox/ /
COPY --from=build /stage/retina/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOST_ROOT=/host \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    HOME=/root \
    ENV=/etc/profile
WORKDIR /root
ARG RETINA_VERSION=
LABEL org.opencontainers.image.title=retina-shell \
      org.opencontainers.image.version=$RETINA_VERSION
# shell-init mounts debugfs, tracefs and bpffs when allowed, then execs the
# command: `kubectl retina shell NODE -- CMD...` replaces the login shell.
ENTRYPOINT ["/usr/local/bin/shell-init", "--"]
CMD ["/bin/sh", "-l"]

# ---- tools: bpftool, pwru, ig (static release builds, pinned) ----------------
# Downloads only, so it runs on the build platform. After `minimal`, so that
# `--target minimal` never reaches it, with any builder.
FROM --platform=$BUILDPLATFORM ${DEBIAN_IMAGE} AS tools
RUN apt-get update && \
    apt-get install -y --no-install-recommends curl ca-certificates && \
    rm -rf /var/lib/apt/lists/*
ARG TARGETARCH
ARG BPFTOOL_VERSION
ARG BPFTOOL_SHA256_AMD64
ARG BPFTOOL_SHA256_ARM64
ARG PWRU_VERSION
ARG PWRU_SHA256_AMD64
ARG PWRU_SHA256_ARM64
ARG IG_VERSION
ARG IG_SHA256_AMD64
ARG IG_SHA256_ARM64
COPY image/fetch-tool.sh /usr/local/bin/fetch-tool
RUN set -eu; \
    case "$TARGETARCH" in \
    amd64) A=AMD64; bpftool=$BPFTOOL_SHA256_AMD64; pwru=$PWRU_SHA256_AMD64; ig=$IG_SHA256_AMD64 ;; \
    arm64) A=ARM64; bpftool=$BPFTOOL_SHA256_ARM64; pwru=$PWRU_SHA256_ARM64; ig=$IG_SHA256_ARM64 ;; \
    *) echo "retina image: no bpftool/pwru/ig for $TARGETARCH (amd64 and arm64 only); use --target minimal" >&2; exit 1 ;; \
    esac; \
    fetch-tool bpftool \
      "https://github.com/libbpf/bpftool/releases/download/$BPFTOOL_VERSION/bpftool-$BPFTOOL_VERSION-$TARGETARCH.tar.gz" \
      "$bpftool" "BPFTOOL_SHA256_$A" /tools; \
    fetch-tool pwru \
      "https://github.com/cilium/pwru/releases/download/$PWRU_VERSION/pwru-linux-$TARGETARCH.tar.gz" \
      "$pwru" "PWRU_SHA256_$A" /tools; \
    fetch-tool ig \
      "https://github.com/inspektor-gadget/inspektor-gadget/releases/download/$IG_VERSION/ig-linux-$TARGETARCH-$IG_VERSION.tar.gz" \
      "$ig" "IG_SHA256_$A" /tools

# ---- full (default): minimal plus bpftool, pwru, ig --------------------------
FROM minimal AS full
COPY --from=tools /tools/ /usr/local/bin/
LABEL org.opencontainers.image.description="retina debug shell: retina, busybox, CA certificates, bpftool, pwru, ig"
