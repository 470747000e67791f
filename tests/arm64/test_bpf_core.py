"""The arm64 BPF objects' CO-RE relocations, resolved offline (no arm64 kernel
here, and qemu-user cannot load BPF): `bpftool gen min_core_btf` relocates
execsnoop and traceloop against BTF with the arm64 kernel's own pt_regs
layout and keeps the fields each relocation found. Against this x86_64
kernel's BTF the arm64 pt_regs accesses find nothing: what a forwarded
bpf(2) under emulation would meet."""
import os
import re

import pytest

from conftest import ROOT, require, run

OBJECTS = [str(ROOT / "build" / "arm64" / "bpf" / f"{n}.bpf.o") for n in ("execsnoop", "traceloop")]


def pt_regs_fields(btf_file):
    """Field names of struct pt_regs (and of its anonymous members) in btf_file."""
    dump = run(["bpftool", "btf", "dump", "file", str(btf_file)], check=0).stdout
    types = {}
    for block in re.split(r"\n(?=\[\d+\])", dump):
        m = re.match(r"\[(\d+)\] (\w+) '([^']*)'", block)
        if m:
            types[m.group(1)] = (m.group(2), m.group(3), re.findall(r"^\t'([^']*)' type_id=(\d+)", block, re.M))
    root = [t for t in types.values() if t[0] == "STRUCT" and t[1] == "pt_regs"]
    if not root:
        return set()
    names, todo = set(), list(root[0][2])
    while todo:
        name, tid = todo.pop()
        if name == "(anon)" and tid in types:
            todo += types[tid][2]
        else:
            names.add(name)
    return names


@pytest.fixture(scope="module")
def arm64_kernel_btf(tmp_path_factory):
    require("clang", "bpftool")
    out = tmp_path_factory.mktemp("btf") / "kernel_arm64.o"
    run(["clang", "-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_arm64", f"-I{ROOT}", "-c",
         str(ROOT / "tests" / "arm64" / "kernel_arm64_types.c"), "-o", str(out)], check=0)
    return out


def test_syscall_arguments_relocate_against_the_arm64_kernel_layout(arm64_kernel_btf, tmp_path):
    out = tmp_path / "min.btf"
    run(["bpftool", "gen", "min_core_btf", str(arm64_kernel_btf), str(out), *OBJECTS], check=0)
    # regs[] found through the kernel's anonymous union; the number in syscallno
    assert pt_regs_fields(out) == {"regs", "orig_x0", "syscallno"}


def test_against_this_x86_64_kernel_they_find_nothing(tmp_path):
    out = tmp_path / "min.btf"
    run(["bpftool", "gen", "min_core_btf", "/sys/kernel/btf/vmlinux", str(out), *OBJECTS], check=0)
    assert pt_regs_fields(out) == set()
    native = tmp_path / "native.btf"	# while the amd64 objects find their registers there
    amd64 = [o.replace("/arm64/", "/") for o in OBJECTS]
    if all(os.path.exists(o) for o in amd64):
        run(["bpftool", "gen", "min_core_btf", "/sys/kernel/btf/vmlinux", str(native), *amd64], check=0)
        # native arguments, the number, and the i386 (compat) argument registers
        assert pt_regs_fields(native) == {"di", "si", "dx", "r10", "r8", "r9", "orig_ax", "bx", "cx", "bp"}
