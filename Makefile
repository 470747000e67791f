# retina: one static musl binary. See README.md and docs/architecture.md.
#
#   make          build build/retina (installs build prerequisites when missing)
#   make test     build, then run the unit and integration tests
#   make run      build, then run the main job on this machine
#   make size     what each library and applet adds to the binary
#   make image    the debug-shell image, offline, as an OCI archive (build/retina-shell.oci.tar)
#   make image-check  build the Dockerfile's minimal stage (debootstrap base) and compare
#   make bench    benchmarks (tests/bench)
#   make fuzz     run each fuzz target (tests/fuzz) for FUZZ_SECONDS (default 60)
#   make clean    remove build/ except the dependency sysroot; distclean: all

B       := build
SYSROOT := $(B)/sysroot
DEPSRC  := $(B)/deps/src
CC      := musl-gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
PYTEST  := /usr/bin/python3 -m pytest

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)

# snprintf truncation is how this code bounds strings, not a bug to warn of.
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation
# No unwind tables: nothing in this C program unwinds, and they were 8% of it.
CFLAGS  := -std=gnu11 -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables $(WARN) \
	   -isystem $(SYSROOT)/include -idirafter $(SYSROOT)/kernel-include \
	   -I. -I$(B)
LDFLAGS := -static -s -Wl,--gc-sections -Wl,-Map=$(B)/retina.map -L$(SYSROOT)/lib
LIBS    := -lbpf -lelf -lz -lbearssl -lyaml -lcjson

# One object per applet (applets/applets.def), plus the shared code of
# lib/, net/ and kube/ (dependency direction: applets -> kube -> net -> lib).
APPLET_SRC := $(wildcard applets/*.c)
SHARED_SRC := $(wildcard lib/*.c net/*.c kube/*.c)
BPF_SRC    := $(wildcard bpf/*.bpf.c)
OBJ        := $(patsubst %.c,$(B)/%.o,$(APPLET_SRC) $(SHARED_SRC))
SKELS      := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.skel.h,$(BPF_SRC))

DEPS_STAMP := $(SYSROOT)/.versions
PREREQ_STAMP := $(B)/.prereqs

# Skeletons are intermediates, but objects include them: keep them.
.SECONDARY: $(SKELS) $(SKELS:.skel.h=.bpf.o)
.PHONY: FORCE all test run size bench fuzz clean distclean deps unit integration image image-check
all: $(B)/retina

$(PREREQ_STAMP): deps/prereqs.sh
	@mkdir -p $(B)
	@deps/prereqs.sh build
	@touch $@

# The sysroot is rebuilt only when the pinned versions or the recipes change.
$(DEPS_STAMP): deps/versions deps/fetch.sh deps/build.sh deps/common.sh | $(PREREQ_STAMP)
	@deps/fetch.sh $(DEPSRC)
	@deps/build.sh $(DEPSRC) $(SYSROOT)
	@grep -v '^#' deps/versions | awk 'NF {print $$1, $$2}' > $@
	@echo "retina deps: versions used:"; sed 's/^/  /' $@
deps: $(DEPS_STAMP)

# Rewritten only when its content changes, so a rebuild after `git commit`
# relinks main.o alone.
$(B)/version.h: FORCE | $(DEPS_STAMP)
	@printf '#define RETINA_VERSION "%s"\n#define RETINA_DEPS "%s"\n' "$(VERSION)" \
		"$$(awk '{printf "%s%s %s", (NR>1?", ":""), $$1, $$2}' $(DEPS_STAMP))" > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:

# BPF: clang -> bpftool gen object (strips DWARF, keeps BTF) -> skeleton.
# -mcpu=v3: atomics that return the old value (ring heads), kernels >= 5.12 have them.
# Kernel types come from bpf/vmlinux_min.h (CO-RE relocated at load time), so
# the build host's kernel does not matter.
$(B)/bpf/%.bpf.o: bpf/%.bpf.c bpf/*.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CLANG) -target bpf -mcpu=v3 -g -O2 -Wall -Werror -D__TARGET_ARCH_x86 \
		-isystem $(SYSROOT)/include -I. -c $< -o $@.full
	$(BPFTOOL) gen object $@ $@.full
	@rm -f $@.full
$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(B)/%.o: %.c | $(DEPS_STAMP) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(B)/applets/main.o $(B)/applets/kubectl_shell.o $(B)/applets/kubectl_bpftrace.o: $(B)/version.h

$(B)/retina: $(OBJ) | $(DEPS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) $(OBJ) $(LIBS) -o $@
	@cd $(B) && ./retina --install -s . >/dev/null
	@echo "built $@ $(VERSION): $$(stat -c %s $@) bytes"

-include $(OBJ:.o=.d)

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

$(IMAGE): $(B)/retina image/build.sh image/stage.sh image/containers.conf $(wildcard image/rootfs/etc/*) | $(B)/.prereqs-image
	@image/build.sh $(B)/retina $@ $(VERSION)
image: $(IMAGE)
	@echo "$(IMAGE): $$(stat -c %s $(IMAGE)) bytes, $$(gzip -c $(IMAGE) | wc -c) gzipped (offline build: no bpftool, pwru, ig)"

# Slow (minutes): build the Dockerfile's minimal stage for real and compare.
image-check: image
	@image/check-dockerfile.sh

# ---- tests ----------------------------------------------------------------
# Unit tests and fuzz targets build the shared code (and the pure rule code of
# applets, *_rules.c) with the host compiler against host builds of the
# portable libraries: gcc + ASan/UBSan for unit tests, clang + libFuzzer for fuzzing.
HOSTROOT   := $(B)/host
HOST_STAMP := $(HOSTROOT)/.versions
HOST_SRC   := $(SHARED_SRC) $(wildcard applets/*_rules.c)
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

$(B)/unit/lib.a: $(HOST_SRC) $(wildcard lib/*.h net/*.h kube/*.h applets/*.h) | $(HOST_STAMP) $(B)/.prereqs-test
	@mkdir -p $(B)/unit/obj && rm -f $@
	@for f in $(HOST_SRC); do o=$(B)/unit/obj/$$(echo $$f | tr / _).o; \
		gcc $(UNIT_CFLAGS) -c $$f -o $$o || exit 1; ar rcs $@ $$o; done
$(B)/unit/%: tests/unit/%.c $(B)/unit/lib.a
	gcc $(UNIT_CFLAGS) $< $(B)/unit/lib.a $(HOST_LIBS) -lcmocka -o $@

$(B)/fuzz/lib.a: $(HOST_SRC) $(wildcard lib/*.h net/*.h kube/*.h applets/*.h) | $(HOST_STAMP) $(B)/.prereqs-test
	@mkdir -p $(B)/fuzz/obj && rm -f $@
	@for f in $(HOST_SRC); do o=$(B)/fuzz/obj/$$(echo $$f | tr / _).o; \
		$(CLANG) $(FUZZ_CFLAGS) -c $$f -o $$o || exit 1; ar rcs $@ $$o; done
$(B)/fuzz/%: tests/fuzz/%.c $(B)/fuzz/lib.a
	$(CLANG) $(FUZZ_CFLAGS) $< $(B)/fuzz/lib.a $(HOST_LIBS) -o $@

# make test: everything, fuzz targets briefly (FUZZ_SECONDS=5 each).
test: $(B)/retina $(UNIT_BIN) $(FUZZ_BIN) | $(B)/.prereqs-test
	@FUZZ_SECONDS=5 tests/run $(B) $(UNIT_BIN) -- $(FUZZ_BIN)

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t || exit 1; done
integration: $(B)/retina | $(B)/.prereqs-test
	@RETINA_BIN=$(CURDIR)/$(B)/retina $(PYTEST) -q tests/integration

# Longer fuzzing: FUZZ_SECONDS per target (default 60), new inputs kept in build/.
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p $(B)/corpus/$$n; \
		echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(B)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; done

# The main job on this machine: trace network problems (drops, resets, socket
# errors, retransmits) until Ctrl-C. TRACE_ARGS adds flags: make run TRACE_ARGS='--drops -o json'
run: $(B)/retina
	$(B)/retina trace $(TRACE_ARGS)

# Benchmarks print numbers, never pass/fail on timing: the size budget;
# retina trace against the equivalent bpftrace script; cold start + one probe
# of dig/ping/nc beside bind9 dig and iputils ping; traceloop's syscall
# overhead beside strace; kubectl-retina startup and shell-to-attach beside
# the real kubectl on the fake API server.
bench: size $(B)/retina | $(B)/.prereqs-test
	@/usr/bin/python3 tests/bench/trace_bench.py $(B)/retina
	@/usr/bin/python3 tests/bench/probes_bench.py $(B)/retina
	@/usr/bin/python3 tests/bench/traceloop_overhead.py $(B)/retina
	@/usr/bin/python3 tests/bench/kube_bench.py $(B)/retina

clean:
	find $(B) -mindepth 1 -maxdepth 1 ! -name sysroot ! -name deps ! -name .prereqs ! -name .prereqs-test ! -name .prereqs-image -exec rm -rf {} +
distclean:
	rm -rf $(B)
