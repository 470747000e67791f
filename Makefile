# retina: one static musl binary. See README.md and docs/architecture.md.
#
#   make          build build/retina (installs build prerequisites when missing)
#   make test     build, then run the unit and integration tests
#   make test-kernels  boot Debian's kernels under qemu-system and check each (docs/kernels.md)
#   make run      build, then run the main job on this machine
#   make size     what each library and applet adds to the binary
#   make deps-check  for every pin, the Debian revision in use and what the mirror offers that is newer
#   make image    the debug-shell image, offline, as an OCI archive (build/retina-shell.oci.tar),
#                 per-tool sizes and the archive size raw and gzipped
#   make toolbox  the image's static tcpdump, iptables, iproute2, ethtool, bpftool, jq, socat, drill, strace (build/toolbox/bin)
#   make image-pins  write the Dockerfile's bpftool/pwru/ig sha256 pins (needs GitHub)
#   make image-check  build the Dockerfile's minimal stage (debootstrap base) and compare
#   make bench    benchmarks (tests/bench)
#   make fuzz     random fuzzing of each target (tests/fuzz) for FUZZ_SECONDS (default 60); docs/fuzzing.md
#   make clean    remove build/ except the dependency sysroot; distclean: all
#   make dist     release tarballs for amd64 and arm64, SHA256SUMS and the krew manifest (dist/)
#
# ARCH is the target, by default this machine's (amd64 or arm64): a native
# build goes to build/ with Debian's musl-gcc. ARCH=arm64 on an amd64 machine
# (make, test, size, clean) cross-builds into build/arm64/ (musl cross-built
# from Debian's source, the same deps), tested under qemu-aarch64-static; see
# docs/arm64.md.

HOST_ARCH := $(patsubst x86_64,amd64,$(patsubst aarch64,arm64,$(shell uname -m)))
ARCH    ?= $(HOST_ARCH)
# (also in the kernel's and uname's spelling, as an exported ARCH may be)
override ARCH := $(patsubst x86_64,amd64,$(patsubst x86,amd64,$(patsubst aarch64,arm64,$(ARCH))))
BPF_ARCH := $(patsubst amd64,x86,$(ARCH))
ifeq ($(filter $(ARCH),amd64 arm64),)
$(error ARCH=$(ARCH): retina builds for amd64 or arm64)
endif
ifeq ($(ARCH),$(HOST_ARCH))
CROSS   :=
B       := build
CC      := musl-gcc
EMU     :=
else ifeq ($(ARCH)-$(HOST_ARCH),arm64-amd64)
CROSS   := 1
B       := build/arm64
TRIPLET := aarch64-linux-gnu
MUSL    := $(B)/musl
CC      := $(MUSL)/bin/musl-gcc
EMU     := qemu-aarch64-static
else
$(error ARCH=$(ARCH) on this $(HOST_ARCH) machine: only arm64 is cross-built (from amd64))
endif
# The image's busybox and toolbox are this machine's: no cross-built image.
ifneq ($(CROSS),)
ifneq ($(filter image image-check toolbox,$(MAKECMDGOALS)),)
$(error make $(filter image image-check toolbox,$(MAKECMDGOALS)) ARCH=$(ARCH): the image's busybox and toolbox are built for this $(HOST_ARCH) machine only; build the $(ARCH) image on an $(ARCH) machine (make image) or with the Dockerfile (docker buildx build --platform linux/$(ARCH)))
endif
endif
SYSROOT := $(B)/sysroot
DEPSRC  := build/deps/src
CLANG   ?= clang
BPFTOOL ?= bpftool
PYTEST  := /usr/bin/python3 -m pytest

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
# The debug-shell image repository `kubectl retina shell|bpftrace` use by
# default (make IMAGE_REPO=registry.example/retina-shell; make dist passes it
# on; shown by `kubectl retina --version`). Empty: no default, and they ask
# for --retina-shell-image-repo or --ship-binary (docs/shell.md).
IMAGE_REPO ?=
ifneq ($(shell printf '%s' '$(IMAGE_REPO)' | tr -d 'a-zA-Z0-9._:/-'),)
$(error IMAGE_REPO=$(IMAGE_REPO): a repository like registry.example:5000/retina-shell)
endif

# snprintf truncation is how this code bounds strings, not a bug to warn of.
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
# No unwind tables: nothing in this C program unwinds, and they were 8% of it.
CFLAGS  := -std=gnu11 -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables $(WARN) \
	   -isystem $(SYSROOT)/include -idirafter $(SYSROOT)/kernel-include \
	   -I. -I$(B)
# -z norelro: ld pads the file so RELRO ends on a page (64 KiB on aarch64:
# 37 KB there), and only musl's dynamic linker applies PT_GNU_RELRO; a static
# binary never mprotects it (docs/arm64.md).
# --wrap: trace hands its parse of the kernel's BTF to libbpf (applets/trace.c)
LDFLAGS := -static -s -Wl,--gc-sections -Wl,-z,norelro -Wl,-Map=$(B)/retina.map -L$(SYSROOT)/lib \
	   -Wl,--wrap=btf__load_vmlinux_btf
LIBS    := -lbpf -lelf -lz -lbearssl -lyaml -lcjson

# Every .c file is one object: the applets (applets/applets.def lists them;
# single-file applets sit in applets/, families with several files in
# applets/NAME/), plus the shared code of lib/, net/, node/ and kube/
# (dependency direction: applets -> kube -> net -> lib, applets -> node -> lib;
# see docs/architecture.md).
APPLET_SRC := $(wildcard applets/*.c applets/*/*.c)
SHARED_SRC := $(wildcard lib/*.c net/*.c node/*.c kube/*.c)
BPF_SRC    := $(wildcard bpf/*.bpf.c)
OBJ        := $(patsubst %.c,$(B)/%.o,$(APPLET_SRC) $(SHARED_SRC))
SKELS      := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.skel.h,$(BPF_SRC))

DEPS_STAMP := $(SYSROOT)/.versions
PREREQ_STAMP := $(B)/.prereqs

# Skeletons are intermediates, but objects include them: keep them.
.SECONDARY: $(SKELS) $(SKELS:.skel.h=.bpf.o)
.PHONY: FORCE all test test-kernels run size bench fuzz clean distclean deps deps-check unit integration image image-check image-pins dist toolbox
all: $(B)/retina

ifeq ($(CROSS),)
$(PREREQ_STAMP): deps/prereqs.sh
	@mkdir -p $(B)
	@deps/prereqs.sh build
	@touch $@

# The sysroot is rebuilt only when the pins, the recipes or our patches change.
# The stamp records the Debian revision each pin took (deps/fetch.sh).
$(DEPS_STAMP): deps/versions deps/fetch.sh deps/mirror.sh deps/build.sh deps/common.sh $(wildcard deps/patches/*.patch) | $(PREREQ_STAMP)
	@deps/fetch.sh $(DEPSRC) $@.new
	@deps/build.sh $(DEPSRC) $(SYSROOT)
else
# Cross toolchain and qemu only when asked for (deps/prereqs.sh cross-arm64).
$(PREREQ_STAMP): deps/prereqs.sh
	@mkdir -p $(B)
	@deps/prereqs.sh cross-arm64
	@touch $@

$(MUSL)/.versions: deps/versions-arm64 deps/fetch.sh deps/mirror.sh deps/build-musl.sh | $(PREREQ_STAMP)
	@DEPS_VERSIONS=deps/versions-arm64 deps/fetch.sh $(DEPSRC) $@.new
	@deps/build-musl.sh $(DEPSRC) $(MUSL) $(TRIPLET)
	@mv $@.new $@

$(DEPS_STAMP): deps/versions deps/fetch.sh deps/mirror.sh deps/build.sh deps/common.sh $(wildcard deps/patches/*.patch) $(MUSL)/.versions | $(PREREQ_STAMP)
	@deps/fetch.sh $(DEPSRC) $@.new
	@CC=$(CURDIR)/$(CC) AR=$(TRIPLET)-ar HOST=$(TRIPLET) KERNEL_HEADERS=/usr/$(TRIPLET)/include \
		deps/build.sh $(DEPSRC) $(SYSROOT)
endif
	@cat $(if $(CROSS),$(MUSL)/.versions) $@.new > $@ && rm -f $@.new
	@echo "retina deps: versions used:"; sed 's/^/  /' $@
deps: $(DEPS_STAMP)

# For every pin: the revision in use, newer ones on the mirror, how to move it.
deps-check:
	@deps/check.sh $(DEPSRC) deps/versions deps/versions-arm64 deps/versions-arm64-test

# Rewritten only when its content changes, so a rebuild after `git commit`
# relinks main.o alone.
$(B)/version.h: FORCE | $(DEPS_STAMP)
	@printf '#define RETINA_VERSION "%s"\n#define RETINA_DEPS "%s"\n' "$(VERSION)" \
		"$$(awk '{printf "%s%s %s", (NR>1?", ":""), $$1, $$2}' $(DEPS_STAMP))" > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
# (its own header: a build with another IMAGE_REPO recompiles one file)
$(B)/image_repo.h: FORCE
	@mkdir -p $(@D)
	@printf '#define RETINA_IMAGE_REPO "%s"\n' "$(IMAGE_REPO)" > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

# BPF: clang -> bpftool gen object (strips DWARF, keeps BTF) -> skeleton.
# -mcpu=v3: atomics that return the old value (ring heads), kernels >= 5.12 have them.
# Kernel types come from bpf/vmlinux_min.h (CO-RE relocated at load time), so
# the build host's kernel does not matter.
$(B)/bpf/%.bpf.o: bpf/%.bpf.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CLANG) -target bpf -mcpu=v3 -g -O2 -Wall -Werror -D__TARGET_ARCH_$(BPF_ARCH) \
		-isystem $(SYSROOT)/include -I. -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $@.full
	$(BPFTOOL) gen object $@ $@.full
	@rm -f $@.full
# (a build dir from before depfiles: every bpf/*.h until its first rebuild)
$(foreach p,$(BPF_SRC:bpf/%.c=$(B)/bpf/%),$(if $(wildcard $(p).d),,$(eval $(p).o: $(wildcard bpf/*.h))))
$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(B)/%.o: %.c | $(DEPS_STAMP) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(B)/applets/main.o $(B)/applets/kubectl/kubectl_shell.o $(B)/applets/kubectl/kubectl_bpftrace.o \
	$(B)/applets/kubectl/kubectl_ship.o: $(B)/version.h
$(B)/applets/kubectl/kubectl_ship.o: $(B)/image_repo.h

$(B)/retina: $(OBJ) | $(DEPS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) $(OBJ) $(LIBS) -o $@
	@cd $(B) && $(EMU) ./retina --install -s . >/dev/null
	@echo "built $@ $(VERSION): $$(stat -c %s $@) bytes"

-include $(OBJ:.o=.d) $(SKELS:.skel.h=.bpf.d)

size: $(B)/retina
	@/usr/bin/python3 tests/bench/size_report.py $(B)/retina.map $(B)/retina

# ---- the debug-shell image ------------------------------------------------
# Offline: the Dockerfile's final stage from build/retina, Debian's
# busybox-static and the host's CA bundle, with buildah (see docs/image.md).
# podman/buildah settings come from image/containers.conf, never /etc.
IMAGE := $(B)/retina-shell.oci.tar
export CONTAINERS_CONF := $(CURDIR)/image/containers.conf

$(B)/.prereqs-image: deps/prereqs.sh
	@mkdir -p $(B)
	@deps/prereqs.sh image
	@touch $@

# The toolbox (tcpdump, iptables, iproute2, ethtool, bpftool, jq, socat, drill,
# strace: static, from the Debian sources in deps/versions-toolbox) is built once
# into build/toolbox/ and kept by `make clean`, like the sysroot.
TOOLBOX := build/toolbox
TOOLBOX_STAMP := $(TOOLBOX)/.versions
$(B)/.prereqs-toolbox: deps/prereqs.sh
	@mkdir -p $(B)
	@deps/prereqs.sh toolbox
	@touch $@
# bpftool links the host sysroot's libelf and zlib (rebuilt when they are).
HOST_DEPS_STAMP := build/sysroot/.versions
ifneq ($(CROSS),)
$(HOST_DEPS_STAMP):
	@$(MAKE) --no-print-directory ARCH=$(HOST_ARCH) deps
endif
$(TOOLBOX_STAMP): deps/versions-toolbox deps/build-toolbox.sh deps/common.sh deps/fetch.sh deps/mirror.sh $(HOST_DEPS_STAMP) | $(B)/.prereqs-toolbox
	@DEPS_VERSIONS=deps/versions-toolbox deps/fetch.sh $(TOOLBOX)/src $@.new
	@SYSROOT=$(dir $(HOST_DEPS_STAMP)) deps/build-toolbox.sh $(TOOLBOX)/src $(TOOLBOX)
	@mv $@.new $@
toolbox: $(TOOLBOX_STAMP)

$(IMAGE): $(B)/retina $(TOOLBOX_STAMP) image/build.sh image/stage.sh image/containers.conf image/toolbox/iptables $(wildcard image/rootfs/etc/*) | $(B)/.prereqs-image
	@TOOLBOX=$(TOOLBOX)/bin image/build.sh $(B)/retina $@ $(VERSION)
image: $(IMAGE)
	@cd $(TOOLBOX)/bin && for f in *; do printf '  %-22s %8s bytes\n' "$$f" "$$(stat -c %s $$f)"; done
	@echo "  toolbox total          $$(cat $(TOOLBOX)/bin/* | wc -c) bytes"
	@echo "$(IMAGE): $$(stat -c %s $(IMAGE)) bytes, $$(gzip -c $(IMAGE) | wc -c) gzipped (offline build: no pwru, ig)"

# Where GitHub is reachable: download bpftool/pwru/ig (amd64, arm64), check
# them against their projects' checksum files, write the Dockerfile's pins.
image-pins:
	@image/pins.sh Dockerfile

# Slow (minutes): build the Dockerfile's minimal stage for real and compare.
image-check: image
	@image/check-dockerfile.sh

# ---- release --------------------------------------------------------------
# make dist: both binaries, then dist/retina-V-linux-{amd64,arm64}.tar.gz,
# dist/SHA256SUMS and dist/plugins/retina.yaml (the krew manifest, checked
# against krew's rules). Reproducible: a second run gives the same checksums.
# DIST_VERSION is semantic (krew needs it): a tag vX.Y.Z on HEAD gives X.Y.Z,
# otherwise 0.0.0-gHASH[.dirty]. Platform URIs are DIST_URL_BASE/TARBALL: set
# it (and DIST_HOMEPAGE) to where the release is published; the defaults are
# example.com placeholders (docs/release.md).
DIST_VERSION  ?= $(shell t=$$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null) && echo $${t\#v} || \
	echo 0.0.0-g$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD 2>/dev/null || echo .dirty))
DIST_HOMEPAGE ?= https://example.com/retina
DIST_URL_BASE ?= https://example.com/retina/releases/download/v$(DIST_VERSION)
DIST_ARCHES   ?= amd64 arm64
dist:
	@for a in $(DIST_ARCHES); do $(MAKE) --no-print-directory ARCH=$$a IMAGE_REPO=$(IMAGE_REPO) all || exit 1; done
	@echo "dist: default image repository: $(or $(IMAGE_REPO),none (make dist IMAGE_REPO=... sets it; kubectl retina --version shows it))"
	@rm -rf dist
	@/usr/bin/python3 release/dist.py --version $(DIST_VERSION) --url-base $(DIST_URL_BASE) \
		--homepage $(DIST_HOMEPAGE) --out dist \
		$(foreach a,$(DIST_ARCHES),$(a)=$(if $(filter $(HOST_ARCH),$(a)),build,build/$(a))/retina)
	@case "$(DIST_URL_BASE)" in https://example.com/*) echo "dist: note: the manifest's URIs are the example.com placeholder; make dist DIST_URL_BASE=https://... for a real release";; esac

# ---- tests ----------------------------------------------------------------
# Unit tests and fuzz targets build the shared code (and the pure rule code of
# applets, *_rules.c) with the host compiler against host builds of the
# portable libraries: gcc + ASan/UBSan for unit tests, clang + libFuzzer for fuzzing.
HOSTROOT   := $(B)/host
HOST_STAMP := $(HOSTROOT)/.versions
# (lib/libbpf_*.c need libbpf, which the host libraries do not build)
HOST_SRC   := $(filter-out lib/libbpf_%,$(SHARED_SRC)) $(wildcard applets/*_rules.c applets/*/*_rules.c)
HOST_LIBS  := -L$(HOSTROOT)/lib -lbearssl -lyaml -lcjson -lz
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRC))
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60
HOST_CFLAGS := -std=gnu11 -g -O1 $(WARN) -fno-omit-frame-pointer -I. -isystem $(HOSTROOT)/include
UNIT_CFLAGS := $(HOST_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := $(HOST_CFLAGS) -Wno-unknown-warning-option -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(B)/.prereqs-test: deps/prereqs.sh
	@mkdir -p $(B)
	@deps/prereqs.sh test
	@touch $@

$(HOST_STAMP): $(DEPS_STAMP) deps/build-host.sh deps/common.sh
	@deps/build-host.sh $(DEPSRC) $(HOSTROOT)
	@cp $(DEPS_STAMP) $@

# The cost of naming in the plugin (tests/bench/names_bench.c): the shared code at -O2, no sanitizers.
BENCH_OBJ := $(patsubst %.c,$(B)/bench/obj/%.o,$(HOST_SRC))
$(B)/bench/obj/%.o: %.c | $(HOST_STAMP)
	@mkdir -p $(@D)
	gcc $(HOST_CFLAGS) -O2 -MMD -MP -c $< -o $@
$(B)/bench/lib.a: $(BENCH_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(B)/bench/names_bench: tests/bench/names_bench.c $(B)/bench/lib.a
	gcc $(HOST_CFLAGS) -O2 $< $(B)/bench/lib.a $(HOST_LIBS) -o $@

ifeq ($(CROSS),)
UNIT_CC     := gcc
UNIT_AR     := ar
UNIT_LIBS   := $(HOST_LIBS) -lcmocka
UNIT_DEPS   := $(HOST_STAMP)
else
# Cross (ARCH=arm64): the same unit tests, cross-built static against the target's
# sysroot and a cross-built cmocka, run under qemu-user. No sanitizers: ASan
# and UBSan's runtimes are glibc builds, and this libc is musl. cmocka.h
# would redefine musl's uintptr_t without _UINTPTR_T_DEFINED.
CMOCKA      := $(B)/cmocka
UNIT_CC     := $(CC)
UNIT_AR     := $(TRIPLET)-ar
UNIT_CFLAGS := -std=gnu11 -g -O1 $(WARN) -D_UINTPTR_T_DEFINED -I. -isystem $(SYSROOT)/include -isystem $(CMOCKA)/include \
	       -idirafter $(SYSROOT)/kernel-include
UNIT_LIBS   := -static -L$(SYSROOT)/lib -L$(CMOCKA)/lib -lcmocka -lbearssl -lyaml -lcjson -lz
UNIT_DEPS   := $(CMOCKA)/.versions

$(CMOCKA)/.versions: deps/versions-arm64-test deps/fetch.sh deps/mirror.sh deps/build-cmocka.sh | $(DEPS_STAMP)
	@DEPS_VERSIONS=deps/versions-arm64-test deps/fetch.sh $(DEPSRC) $@.new
	@CC=$(CURDIR)/$(CC) AR=$(TRIPLET)-ar deps/build-cmocka.sh $(DEPSRC) $(CMOCKA)
	@mv $@.new $@
endif

# One object per source file, each with its header dependencies (-MMD -MP:
# bpf/*.h too), so both libraries build in parallel and a touched header
# rebuilds only the objects and test programs that include it.
# (ar keeps one member per file name: two sources may not share one)
ifneq ($(shell printf '%s\n' $(notdir $(HOST_SRC)) | sort | uniq -d),)
$(error two sources share a file name, which ar cannot hold: $(shell printf '%s\n' $(notdir $(HOST_SRC)) | sort | uniq -d))
endif
UNIT_OBJ := $(patsubst %.c,$(B)/unit/obj/%.o,$(HOST_SRC))
FUZZ_OBJ := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(HOST_SRC))
-include $(UNIT_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d) $(UNIT_BIN:=.d) $(FUZZ_BIN:=.d)
# (a test program's object is kept: a relink after a library change reuses it)
.SECONDARY: $(UNIT_BIN:=.o) $(FUZZ_BIN:=.o)

$(B)/unit/obj/%.o: %.c | $(UNIT_DEPS) $(B)/.prereqs-test
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -MMD -MP -c $< -o $@
$(B)/unit/lib.a: $(UNIT_OBJ)
	@rm -f $@
	$(UNIT_AR) rcs $@ $^
$(B)/unit/%.o: tests/unit/%.c | $(UNIT_DEPS) $(B)/.prereqs-test
	$(UNIT_CC) $(UNIT_CFLAGS) -MMD -MP -c $< -o $@
$(B)/unit/%: $(B)/unit/%.o $(B)/unit/lib.a
	$(UNIT_CC) $(UNIT_CFLAGS) $< $(B)/unit/lib.a $(UNIT_LIBS) -o $@

$(B)/fuzz/obj/%.o: %.c | $(HOST_STAMP) $(B)/.prereqs-test
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(B)/fuzz/lib.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(B)/fuzz/%.o: tests/fuzz/%.c | $(HOST_STAMP) $(B)/.prereqs-test
	$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(B)/fuzz/%: $(B)/fuzz/%.o $(B)/fuzz/lib.a
	$(CLANG) $(FUZZ_CFLAGS) $< $(B)/fuzz/lib.a $(HOST_LIBS) -o $@

# make test: everything; fuzz targets replay their corpus and regressions, then
# a short fixed-seed walk (tests/fuzz/run check: the same on every run).
ifeq ($(CROSS),)
test: $(B)/retina $(UNIT_BIN) $(FUZZ_BIN) $(TOOLBOX_STAMP) | $(B)/.prereqs-test
	@tests/run $(B) $(UNIT_BIN) -- $(FUZZ_BIN)
else
# Emulated: the unit tests and tests/arm64 (applets that need no kernel
# features, the arm64 release tarball) under qemu-aarch64-static. No fuzzing:
# libFuzzer targets test the same C on the build machine. See docs/arm64.md.
test: $(B)/retina $(UNIT_BIN) | $(B)/.prereqs-test
	@TEST_EMULATOR=$(EMU) PYTEST_DIR=tests/arm64 tests/run $(B) $(UNIT_BIN)
endif

# Real kernels (tests/kernels/versions: Debian's 5.10, 6.1, 6.12, and 6.1 on
# arm64 with the arm64 build) booted under qemu-system, a table of kernel x
# check into docs/kernels.md; KERNELS="5.10 6.12" picks some. make test runs the oldest and newest (tests/integration/test_kernels.py).
test-kernels: $(B)/retina
	@deps/prereqs.sh kernels
	@if [ -z "$(KERNELS)" ] || echo "$(KERNELS)" | grep -q arm64; then $(MAKE) --no-print-directory ARCH=arm64; fi
	@/usr/bin/python3 tests/kernels/matrix.py --md docs/kernels.md $(KERNELS)

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $(EMU) $$t || exit 1; done
integration: $(B)/retina | $(B)/.prereqs-test
	@RETINA_BIN=$(CURDIR)/$(B)/retina $(PYTEST) -q $(if $(CROSS),tests/arm64,tests/integration)

# Random fuzzing: FUZZ_SECONDS per target (default 60) or FUZZ_RUNS executions,
# new inputs kept in build/corpus, crashes copied to tests/fuzz/regressions; ends
# with a table. FUZZ_TARGETS=fuzz_dns picks targets. See docs/fuzzing.md.
FUZZ_TARGETS ?= $(patsubst $(B)/fuzz/%,%,$(FUZZ_BIN))
fuzz: $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run explore $(B) $^

# The main job on this machine: trace network problems (drops, resets, socket
# errors, retransmits) until Ctrl-C. TRACE_ARGS adds flags: make run TRACE_ARGS='--drops -o json'
run: $(B)/retina
	$(B)/retina trace $(TRACE_ARGS)

# Benchmarks print numbers, never pass/fail on timing: the size budget;
# retina trace against the equivalent bpftrace script; cold start + one probe
# of dig/ping/nc beside bind9 dig and iputils ping; traceloop's syscall
# overhead beside strace; kubectl-retina startup and shell-to-attach beside
# the real kubectl on the fake API server.
bench: size $(B)/retina $(B)/bench/names_bench | $(B)/.prereqs-test
	@$(EMU) $(B)/bench/names_bench
	@/usr/bin/python3 tests/bench/trace_bench.py $(B)/retina
	@/usr/bin/python3 tests/bench/probes_bench.py $(B)/retina
	@/usr/bin/python3 tests/bench/traceloop_overhead.py $(B)/retina
	@/usr/bin/python3 tests/bench/kube_bench.py $(B)/retina

# (ARCH=amd64 leaves build/arm64/ alone; ARCH=arm64 keeps its musl and sysroot)
clean:
	find $(B) -mindepth 1 -maxdepth 1 ! -name sysroot ! -name deps ! -name toolbox ! -name musl ! -name arm64 ! -name .prereqs ! -name .prereqs-test ! -name .prereqs-image ! -name .prereqs-toolbox -exec rm -rf {} +
distclean:
	rm -rf $(B) dist
