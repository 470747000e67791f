# retina: one static musl binary. See README.md and docs/architecture.md.
#
#   make          build build/retina (installs build prerequisites when missing)
#   make test     build, then run the unit and integration tests
#   make run      build, then run the main job on this machine
#   make size     what each library and applet adds to the binary
#   make bench    benchmarks (tests/bench)
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

# One object per applet, listed in applets/applets.def; lib/ holds helpers.
APPLET_SRC := $(wildcard applets/*.c)
LIB_SRC    := $(wildcard lib/*.c)
BPF_SRC    := $(wildcard bpf/*.bpf.c)
OBJ        := $(patsubst %.c,$(B)/%.o,$(APPLET_SRC) $(LIB_SRC))
SKELS      := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.skel.h,$(BPF_SRC))

DEPS_STAMP := $(SYSROOT)/.versions
PREREQ_STAMP := $(B)/.prereqs

# Skeletons are intermediates, but objects include them: keep them.
.SECONDARY: $(SKELS) $(SKELS:.skel.h=.bpf.o)
.PHONY: FORCE all test run size bench clean distclean deps unit integration
all: $(B)/retina

$(PREREQ_STAMP): deps/prereqs.sh
	@mkdir -p $(B)
	@deps/prereqs.sh build
	@touch $@

# The sysroot is rebuilt only when the pinned versions or the recipes change.
$(DEPS_STAMP): deps/versions deps/fetch.sh deps/build.sh | $(PREREQ_STAMP)
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
# Kernel types come from bpf/vmlinux_min.h (CO-RE relocated at load time), so
# the build host's kernel does not matter.
$(B)/bpf/%.bpf.o: bpf/%.bpf.c bpf/*.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CLANG) -target bpf -g -O2 -Wall -Werror -D__TARGET_ARCH_x86 \
		-isystem $(SYSROOT)/include -I. -c $< -o $@.full
	$(BPFTOOL) gen object $@ $@.full
	@rm -f $@.full
$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(B)/%.o: %.c | $(DEPS_STAMP) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(B)/applets/main.o: $(B)/version.h

$(B)/retina: $(OBJ) | $(DEPS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) $(OBJ) $(LIBS) -o $@
	@cd $(B) && ./retina --install -s . >/dev/null
	@echo "built $@ $(VERSION): $$(stat -c %s $@) bytes"

-include $(OBJ:.o=.d)

size: $(B)/retina
	@/usr/bin/python3 tests/bench/size_report.py $(B)/retina.map $(B)/retina

# ---- tests ----------------------------------------------------------------
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRC))
# Unit tests run lib/ and the pure rule code of applets under the host
# compiler with ASan and UBSan.
UNIT_LINK   := $(LIB_SRC) applets/capcheck_rules.c
HOST_CFLAGS := -std=gnu11 -g -O1 $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all \
	       -fno-omit-frame-pointer -I.

$(B)/.prereqs-test: deps/prereqs.sh
	@mkdir -p $(B)
	@deps/prereqs.sh test
	@touch $@

$(B)/unit/%: tests/unit/%.c $(UNIT_LINK) lib/*.h applets/*.h | $(B)/.prereqs-test
	@mkdir -p $(@D)
	gcc $(HOST_CFLAGS) $< $(UNIT_LINK) -lcmocka -o $@

test: $(B)/retina $(UNIT_BIN) | $(B)/.prereqs-test
	@tests/run $(B) $(UNIT_BIN)

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t || exit 1; done
integration: $(B)/retina | $(B)/.prereqs-test
	@$(PYTEST) -q tests/integration

# The main job on this machine: until the tracer lands, report what this
# process can do.
run: $(B)/retina
	$(B)/retina capcheck

# Benchmarks print numbers, never pass/fail on timing. So far: the size budget.
bench: size

clean:
	find $(B) -mindepth 1 -maxdepth 1 ! -name sysroot ! -name deps ! -name .prereqs ! -name .prereqs-test -exec rm -rf {} +
distclean:
	rm -rf $(B)
