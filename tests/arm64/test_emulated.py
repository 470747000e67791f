"""The arm64 binary under qemu-user: what runs without kernel features of its
own (qemu translates the aarch64 syscalls to this x86_64 kernel's): the ELF
itself, the multicall table, capcheck, dig against a real unbound on loopback,
ping and nc on loopback, and the BPF applets' clear failure (qemu-user 7.2
implements no bpf(2): see docs/arm64.md)."""
import json
import re
import socket
import subprocess
import threading

import pytest

from conftest import QEMU, ROOT, require, run

BUDGET = 1024 * 1024
APPLETS = re.findall(r'^APPLET\(\w+, "([^"]+)"', (ROOT / "applets" / "applets.def").read_text(), re.M)


def test_binary_is_a_static_aarch64_executable_within_budget(retina):
    desc = run(["file", "-L", retina], check=0).stdout
    assert "ELF 64-bit LSB executable, ARM aarch64" in desc, desc
    assert "statically linked" in desc and "stripped" in desc and "not stripped" not in desc, desc
    assert "INTERP" not in run(["readelf", "-l", retina], check=0).stdout
    size = int(run(["stat", "-L", "-c", "%s", retina], check=0).stdout)
    assert size <= BUDGET, f"{size} bytes is over the 1 MiB budget: see make size ARCH=arm64"


def aarch64_binfmt():
    """The enabled binfmt_misc handler that takes aarch64 ELF files (its
    interpreter), or None: the kernel then cannot run them at all."""
    from pathlib import Path
    d = Path("/proc/sys/fs/binfmt_misc")
    for f in sorted(d.iterdir()) if (d / "status").exists() else []:
        if f.name in ("status", "register"):
            continue
        text = f.read_text(errors="replace")
        # magic: \x7fELF, 64-bit, little-endian ... e_machine EM_AARCH64 (0xb7)
        if text.startswith("enabled") and re.search(r"^magic 7f454c460201\w{20}0200b700", text, re.M):
            return re.search(r"^interpreter (\S+)", text, re.M).group(1)
    return None


def test_it_does_not_run_natively_here(retina):
    # This x86_64 kernel cannot run an aarch64 ELF itself: exec fails with
    # ENOEXEC, unless binfmt_misc hands aarch64 files to an interpreter
    # (qemu), and then that interpreter runs it. Which one is decided from
    # the binfmt_misc table first: the test expects exactly that outcome.
    interp = aarch64_binfmt()
    if interp is None:
        with pytest.raises(OSError) as e:
            subprocess.run([retina, "--list"], capture_output=True, text=True)
        assert e.value.errno == 8, e.value	# ENOEXEC: Exec format error
    else:
        p = subprocess.run([retina, "--list"], capture_output=True, text=True)
        assert p.stdout.splitlines() == APPLETS, f"binfmt_misc sends aarch64 to {interp}, which did not run it"


def test_list_and_version(emu):
    assert run(emu + ["--list"], check=0).stdout.splitlines() == APPLETS
    out = run(emu + ["--version"], check=0).stdout.splitlines()
    assert out[0].startswith("retina ")
    assert "musl 1.2.3-1" in "\n".join(out) and "libbpf" in "\n".join(out)


def test_applet_by_link_name(retina):
    # the links make ARCH=arm64 installs next to the binary: argv[0] picks the applet
    link = ROOT / "build" / "arm64" / "capcheck"
    assert link.is_symlink()
    p = run([QEMU, str(link), "--help"], check=0)
    assert p.stdout.startswith("usage: capcheck") or "capcheck" in p.stdout.splitlines()[0]
    p = run([QEMU, "-0", "nc", retina, "--help"], check=0)	# argv[0] set by qemu
    assert "nc" in p.stdout.splitlines()[0]


def test_usage_error_exits_2_with_one_line(emu):
    p = run(emu + ["ping", "--no-such-flag"])
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--help" in p.stderr


def test_capcheck_json_is_the_same_report_as_amd64(emu):
    p = run(emu + ["capcheck", "-o", "json"])
    assert p.returncode in (0, 1), p.stderr
    report = json.loads(p.stdout)
    assert report["process"]["uid"] == 0
    assert "NET_RAW" in report["process"]["effective"]
    amd64 = ROOT / "build" / "retina"
    if amd64.exists():	# same fields as the native build's report
        native = json.loads(run([str(amd64), "capcheck", "-o", "json"]).stdout)
        assert sorted(report) == sorted(native)
        assert sorted(report["process"]) == sorted(native["process"])


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    require("unbound", "dig")
    from dnsfix import Unbound
    u = Unbound(str(tmp_path_factory.mktemp("unbound")))
    yield u
    u.close()


@pytest.mark.parametrize("name,qtype", [("www.example.test", "A"), ("www.example.test", "AAAA"),
                                        ("example.test", "MX"), ("big.example.test", "TXT")])
def test_dig_answers_match_bind9_dig(emu, unbound, name, qtype):
    # big.example.test TXT is over 512 bytes: truncated over UDP, retried over TCP
    ours = run(emu + ["dig", "@127.0.0.1", "-p", str(unbound.port), "+short", name, qtype], check=0)
    theirs = run(["dig", "@127.0.0.1", "-p", str(unbound.port), "+short", name, qtype], check=0)
    assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines())
    assert ours.stdout.strip()


def test_dig_nxdomain_status(emu, unbound):
    p = run(emu + ["dig", "@127.0.0.1", "-p", str(unbound.port), "nope.example.test"])
    assert "status: NXDOMAIN" in p.stdout, p.stdout + p.stderr


def test_ping_loopback_with_a_raw_socket(emu):
    p = run(emu + ["ping", "-c", "2", "-i", "0.2", "127.0.0.1"])
    assert p.returncode == 0, p.stderr
    assert len(re.findall(r"^64 bytes from 127\.0\.0\.1: icmp_seq=\d ttl=64 time=\d+\.\d{3} ms$", p.stdout, re.M)) == 2
    assert "2 packets transmitted, 2 received, 0% packet loss" in p.stdout


def test_ping_loopback_v6(emu):
    p = run(emu + ["ping", "-c", "1", "::1"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 packets transmitted, 1 received" in p.stdout


def test_ping_without_net_raw_uses_the_icmp_datagram_socket(emu):
    # qemu-user passes socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) through; the kernel then
    # allows it by net.ipv4.ping_group_range, which this test sets in a namespace of its own.
    require("unshare", "setpriv")

    def ping(group_range):
        script = (f"ip link set lo up && sysctl -qw net.ipv4.ping_group_range='{group_range}' && "
                  'exec setpriv --bounding-set=-net_raw --inh-caps=-net_raw "$@"')
        return run(["unshare", "--net", "sh", "-c", script, "sh", *emu, "ping", "-c", "1", "127.0.0.1"])
    p = ping("0 2147483647")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 packets transmitted, 1 received" in p.stdout
    # and it was that socket: with the range closed there is none to be had
    p = ping("1 0")
    assert p.returncode == 2 and "ping_group_range" in p.stderr, p.stdout + p.stderr


def test_nc_connects_to_a_loopback_listener(emu):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = []

    def serve():
        c, _ = srv.accept()
        got.append(c.recv(100))
        c.sendall(b"pong\n")
        c.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        p = run(emu + ["nc", "127.0.0.1", str(srv.getsockname()[1])], input="ping\n", timeout=20)
    finally:
        t.join(5)
        srv.close()
    assert got == [b"ping\n"]
    assert "pong" in p.stdout, p.stdout + p.stderr


def test_nc_refused_port_exits_1(emu):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()	# bound, never listening: refused
    p = run(emu + ["nc", "-z", "127.0.0.1", str(port)])
    assert p.returncode == 1
    assert "refused" in p.stderr.lower(), p.stderr


def test_bpf_applets_fail_clearly_under_qemu_user(emu):
    # qemu-user 7.2 has no bpf(2) in its syscall table: ENOSYS, never the host kernel.
    # The applet must say so in one line and exit 1, not hang or crash.
    p = run(emu + ["trace", "--duration", "1s"], timeout=30)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "cannot load the BPF programs" in p.stderr and "Function not implemented" in p.stderr, p.stderr
    trace = subprocess.run([QEMU, "-strace", *emu[1:], "execsnoop", "--duration", "1s"],
                           capture_output=True, text=True, timeout=30)
    assert trace.returncode == 1
    assert re.search(r"bpf\(.*\) = -1 errno=38", trace.stderr), trace.stderr[-2000:]
