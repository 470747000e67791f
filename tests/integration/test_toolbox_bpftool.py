"""bpftool in the debug-shell image (the toolbox's: tools/bpf/bpftool of Debian's
linux source, static musl, deps/build-toolbox.sh), for real under podman,
privileged as docs/image.md says: `prog show` and `map show` list the programs
and maps a `retina trace` this test started on the host loaded, `btf dump`
reads the kernel's BTF, `net` shows an XDP program the test attached in a
network namespace of its own. Without SYS_ADMIN it cannot list programs, and
capcheck says so."""
import io
import json
import os
import re
import subprocess
import tarfile
import time

import pytest

from conftest import require, run

PRIV = ["--privileged"]


def bpftool_from_archive(archive):
    """(TarInfo, bytes) of usr/sbin/bpftool in the image's layers."""
    with tarfile.open(archive) as oci:
        for m in oci.getmembers():
            if not m.isfile() or not m.name.startswith("blobs/sha256/"):
                continue
            try:
                layer = tarfile.open(fileobj=io.BytesIO(oci.extractfile(m).read()))
                info = layer.getmember("usr/sbin/bpftool")
            except (tarfile.TarError, KeyError):
                continue
            return info, layer.extractfile(info).read()
    raise AssertionError("no usr/sbin/bpftool in the image")


def prog_ids_held_by(pid):
    """prog_id of every BPF program fd the process holds (its /proc fdinfo)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            m = re.search(r"^prog_id:\s+(\d+)", open(f"/proc/{pid}/fdinfo/{fd}").read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    return ids


@pytest.fixture
def tracing(retina):
    """`retina trace` running on the host: (pid, its program ids); killed by PID after."""
    p = subprocess.Popen([retina, "trace", "-o", "json"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        ids, deadline = set(), time.monotonic() + 20
        while len(ids) < 5 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            ids = prog_ids_held_by(p.pid)
        assert len(ids) >= 5, f"retina trace loaded {ids} (exit {p.poll()})"
        yield p.pid, ids
    finally:
        p.kill()
        p.wait(timeout=10)


@pytest.fixture
def xdp_netns(tmp_path):
    """A network namespace whose lo has a generic XDP program (clang-built, attached with
    the host's ip): (netns name, program name); the namespace is removed even on failure."""
    require("ip", "clang")
    src = tmp_path / "xdp.c"
    src.write_text('struct xdp_md;\n'
                   '__attribute__((section("xdp"), used)) int retina_test_xdp(struct xdp_md *ctx)\n'
                   '{ return 2; /* XDP_PASS */ }\n'
                   'char _license[] __attribute__((section("license"), used)) = "GPL";\n')
    obj = tmp_path / "xdp.o"
    run(["clang", "-O2", "-target", "bpf", "-c", str(src), "-o", str(obj)], check=0)
    name = f"rtbpft{os.getpid() % 100000}"
    run(["ip", "netns", "add", name], check=0)
    try:
        run(["ip", "-n", name, "link", "set", "lo", "up"], check=0)
        run(["ip", "-n", name, "link", "set", "dev", "lo", "xdpgeneric", "obj", str(obj), "sec", "xdp"], check=0)
        yield name, "retina_test_xdp"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_bpftool_is_static_stripped_and_in_usr_sbin(shell_image, tmp_path):
    info, data = bpftool_from_archive(shell_image.archive)
    assert info.mode & 0o111
    f = tmp_path / "bpftool"
    f.write_bytes(data)
    hdrs = run(["readelf", "-lSW", str(f)]).stdout
    assert "INTERP" not in hdrs, "bpftool is dynamically linked"
    assert ".symtab" not in hdrs, "bpftool is not stripped"
    print(f"\nbpftool {info.size} bytes")
    # the kernel's bpftool 7.1 (linux 6.1), its own libbpf, no libbfd/LLVM disassembler, no skeletons
    p = shell_image.run("bpftool", "version")
    assert p.returncode == 0, p.stderr
    assert re.match(r"bpftool v7\.1\.\d+\nusing libbpf v1\.1\n", p.stdout), p.stdout
    assert not re.search(r"libbfd|llvm|skeletons", p.stdout), p.stdout


def test_prog_and_map_show_list_what_retina_trace_loaded(shell_image, tracing):
    pid, ids = tracing
    p = shell_image.run("bpftool", "-j", "prog", "show", opts=PRIV)
    assert p.returncode == 0, p.stderr
    progs = {x["id"]: x for x in json.loads(p.stdout)}
    assert ids <= progs.keys(), f"retina trace's programs {ids} not in bpftool's {sorted(progs)}"
    names = {progs[i]["name"] for i in ids}
    assert "trace_kfree_skb" in names, names
    kfree = next(progs[i] for i in ids if progs[i]["name"] == "trace_kfree_skb")
    assert kfree["type"] == "tracing"
    # the plain listing names it too, and its maps are in `map show`
    p = shell_image.run("bpftool", "prog", "show", "id", str(kfree["id"]), opts=PRIV)
    assert p.returncode == 0 and re.match(rf"{kfree['id']}: tracing\s+name trace_kfree_skb\s", p.stdout), \
        p.stdout + p.stderr
    # its instructions, as the kernel verified them (kernel/bpf/disasm.c); no JIT disassembler
    p = shell_image.run("bpftool", "prog", "dump", "xlated", "id", str(kfree["id"]), opts=PRIV)
    assert p.returncode == 0 and re.search(r"^int trace_kfree_skb\(", p.stdout, re.M), p.stdout + p.stderr
    assert re.search(r"^\s+\d+: \(\w\w\) ", p.stdout, re.M), p.stdout[:500]
    p = shell_image.run("bpftool", "prog", "dump", "jited", "id", str(kfree["id"]), opts=PRIV)
    assert p.returncode != 0 and "No libbfd support" in p.stderr, p.stdout + p.stderr
    p = shell_image.run("bpftool", "-j", "map", "show", opts=PRIV)
    assert p.returncode == 0, p.stderr
    maps = {x["id"]: x for x in json.loads(p.stdout)}
    assert kfree["map_ids"] and set(kfree["map_ids"]) <= maps.keys()
    assert "events" in {maps[i].get("name") for i in kfree["map_ids"]}


def test_btf_dump_of_the_kernels_btf(shell_image):
    p = shell_image.run("sh", "-c", "bpftool btf dump file /sys/kernel/btf/vmlinux format raw | head",
                        opts=PRIV)
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and len(lines) == 10, p.stdout + p.stderr
    assert re.match(r"\[1\] [A-Z_]+ ", lines[0]), lines[0]
    assert all(re.match(r"\[\d+\] |\t", x) for x in lines), lines
    # C: the kernel's types, as a vmlinux.h would have them
    p = shell_image.run("sh", "-c", "bpftool btf dump file /sys/kernel/btf/vmlinux format c | "
                        "grep -m1 '^struct sk_buff {'", opts=PRIV)
    assert p.stdout == "struct sk_buff {\n", p.stdout + p.stderr


def test_net_shows_an_xdp_program_in_the_pods_namespace(shell_image, xdp_netns):
    ns, prog = xdp_netns
    net = PRIV + ["--network", f"ns:/run/netns/{ns}"]
    p = shell_image.run("bpftool", "net", opts=net)
    assert p.returncode == 0, p.stderr
    m = re.search(r"^lo\(1\) generic id (\d+)$", p.stdout, re.M)
    assert m and "tc:" in p.stdout and "flow_dissector:" in p.stdout, p.stdout
    p = shell_image.run("bpftool", "-j", "prog", "show", "id", m.group(1), opts=net)
    assert p.returncode == 0 and json.loads(p.stdout)["name"] == prog, p.stdout + p.stderr


def test_without_sys_admin_it_cannot_list_and_capcheck_says_so(shell_image):
    # BPF and PERFMON load programs (retina trace), but listing them takes SYS_ADMIN;
    # seccomp off, so the refusal is the capability check's
    opts = ["--cap-drop", "ALL", "--cap-add", "BPF,PERFMON", "--security-opt", "seccomp=unconfined"]
    p = shell_image.run("bpftool", "prog", "show", opts=opts)
    assert p.returncode != 0 and "Operation not permitted" in p.stderr, p.stdout + p.stderr
    p = shell_image.run("retina", "capcheck", "bpftool", opts=opts)
    assert p.returncode == 1
    assert re.search(r"^bpftool\s+missing\s+cap SYS_ADMIN\s+--capabilities SYS_ADMIN$", p.stdout, re.M), p.stdout
    p = shell_image.run("retina", "capcheck", "bpftool", opts=PRIV)
    assert p.returncode == 0 and re.search(r"^bpftool\s+ok$", p.stdout, re.M), p.stdout


def test_net_takes_net_admin_and_sys_admin_as_capcheck_says(shell_image):
    # the flow dissector query takes NET_ADMIN; bpf() passes podman's default seccomp
    # filter with SYS_ADMIN (as it does containerd's)
    p = shell_image.run("bpftool", "net", opts=["--cap-drop", "ALL", "--cap-add", "BPF,PERFMON"])
    assert p.returncode != 0 and "can't query prog: Operation not permitted" in p.stderr, p.stdout + p.stderr
    p = shell_image.run("retina", "capcheck", "bpftool-net", opts=["--cap-drop", "ALL"])
    assert p.returncode == 1
    assert re.search(r"^bpftool-net\s+missing\s+cap NET_ADMIN,SYS_ADMIN\s+--capabilities NET_ADMIN,SYS_ADMIN$",
                     p.stdout, re.M), p.stdout
    granted = ["--cap-drop", "ALL", "--cap-add", "NET_ADMIN,SYS_ADMIN"]
    p = shell_image.run("sh", "-c", "bpftool net && retina capcheck bpftool bpftool-net", opts=granted)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("xdp:\n") and re.search(r"^bpftool-net\s+ok$", p.stdout, re.M), p.stdout
