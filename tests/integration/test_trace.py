"""retina trace, for real: every event provoked in namespaces the test makes (closed
ports, iptables DROP rules, random loss, connect timeouts), IPv4 and IPv6, with the
kernel-side filters, output formats, exit paths and privileges checked."""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import require, run
from tracer import Tracer, connect, fdinfo_ids, find, wait_for

FAMILIES = pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])


def addrs(pair, v6):
    return (pair.A6, pair.B6) if v6 else (pair.A4, pair.B4)


@FAMILIES
def test_connect_to_closed_port_gives_rsts_refusal_and_no_socket_drop(retina, netpair, v6):
    a, b = addrs(netpair, v6)
    with Tracer(retina, "--port", "9") as t:
        assert connect(netpair, netpair.a, b, 9) == "error 111"
        assert t.stop() == 0
    ev = t.events(netpair)
    # b answers the SYN with a RST: the RST goes from b:9 back to a
    sent = find(ev, "RST_SENT", reason="NO_SOCKET", src_ip=b, src_port=9, dst_ip=a)
    assert sent, ev
    cport = sent[0]["dst_port"]
    assert find(ev, "DROP", reason="NO_SOCKET", src_ip=a, src_port=cport, dst_ip=b, dst_port=9, proto="tcp")
    assert find(ev, "RST_RECV", reason="SYN_SENT", src_ip=a, src_port=cport, dst_ip=b, dst_port=9)
    err = find(ev, "SOCK_ERR", reason="ECONNREFUSED", src_ip=a, src_port=cport, dst_ip=b, dst_port=9)
    assert err and err[0]["reason_code"] == 111
    # the drop happened in b's namespace, on b's veth
    drop = find(ev, "DROP", reason="NO_SOCKET")[0]
    assert drop["netns"] == netpair.inode(netpair.b)
    assert drop["ifname"] == netpair.veth_b
    assert err[0]["netns"] == netpair.inode(netpair.a)
    assert re.search(r"^  DROP +\d+$", t.stderr, re.M) and re.search(r"^    NO_SOCKET +\d+$", t.stderr, re.M)
    assert "0 lost" in t.stderr


def iptables(pair, ns, v6, *rule):
    cmd = "ip6tables" if v6 else "iptables"
    p = pair.run(ns, [cmd, *rule])
    assert p.returncode == 0, p.stderr


@FAMILIES
def test_netfilter_drop_retransmitted_syn_and_timeout(retina, netpair, v6):
    require("iptables", "ip6tables")
    a, b = addrs(netpair, v6)
    iptables(netpair, netpair.b, v6, "-A", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "DROP")
    assert netpair.run(netpair.a, ["sysctl", "-qw", "net.ipv4.tcp_syn_retries=1"]).returncode == 0
    with Tracer(retina, "--ip", b) as t:
        started = time.monotonic()
        assert connect(netpair, netpair.a, b, 8080) == "error 110"
        assert time.monotonic() - started < 10
        t.stop()
    ev = t.events(netpair)
    drops = find(ev, "DROP", reason="NETFILTER_DROP", src_ip=a, dst_ip=b, dst_port=8080)
    assert len(drops) >= 2, ev	# the SYN and its retransmission
    cport = drops[0]["src_port"]
    assert find(ev, "RETRANS", reason="SYN_SENT", src_ip=a, src_port=cport, dst_ip=b, dst_port=8080)
    assert find(ev, "SOCK_ERR", reason="ETIMEDOUT", reason_code=110, src_ip=a, dst_ip=b, dst_port=8080)


def kernel_functions():
    with open("/proc/kallsyms") as f:
        return {line.split()[2] for line in f if line.split()[1] in "tTwW"}


@FAMILIES
def test_drops_name_the_function_that_freed_the_packet(retina, netpair, v6):
    """"location": kfree_skb's caller, named from /proc/kallsyms (the only clue before
    5.17, where docs/kernels.md shows it in the REASON column; beside the reason here)."""
    require("iptables", "ip6tables")
    a, b = addrs(netpair, v6)
    iptables(netpair, netpair.b, v6, "-A", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "DROP")
    assert netpair.run(netpair.a, ["sysctl", "-qw", "net.ipv4.tcp_syn_retries=1"]).returncode == 0
    with Tracer(retina, "--drops", "--ip", b) as t:
        assert connect(netpair, netpair.a, b, 9) == "error 111"
        connect(netpair, netpair.a, b, 8080)
        t.stop()
    ev = t.events(netpair)
    funcs = kernel_functions()
    nosock = find(ev, "DROP", reason="NO_SOCKET", dst_ip=b, dst_port=9)
    assert nosock and re.fullmatch(r"tcp_v%s_rcv\+0x[0-9a-f]+" % ("6" if v6 else "4"), nosock[0]["location"]), \
        (ev, t.stderr)
    nf = find(ev, "DROP", reason="NETFILTER_DROP", dst_ip=b, dst_port=8080)
    assert nf, (ev, t.stderr)
    func = re.fullmatch(r"([a-z0-9_.]+)\+0x[0-9a-f]+( \[\w+\])?", nf[0]["location"])
    assert func and func.group(1) in funcs and func.group(1) in ("nf_hook_slow", "nft_do_chain"), nf[0]
    # the reason stays where it was; the location comes right after it
    line = next(l for l in t.stdout.splitlines() if '"NO_SOCKET"' in l)
    assert '"reason":"NO_SOCKET","location":"tcp_v' in line


LOSSY_CLIENT = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], 8081), timeout=50)
for _ in range(60):
    s.sendall(b'x' * 1000)
    time.sleep(0.01)
time.sleep(1.5)    # losses are retransmitted while still ESTABLISHED
s.shutdown(socket.SHUT_WR)
print(s.recv(10).decode())
"""
SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(('::', 8081)); s.listen(1); print('up', flush=True)
c, _ = s.accept()
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.sendall(str(n).encode())
"""


@FAMILIES
def test_random_loss_on_established_connection_gives_retransmits(retina, netpair, v6):
    a, b = addrs(netpair, v6)
    iptables(netpair, netpair.b, v6, "-A", "INPUT", "-p", "tcp", "--dport", "8081", "-m", "statistic",
             "--mode", "random", "--probability", "0.2", "-j", "DROP")
    server = netpair.popen(netpair.b, ["python3", "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "up"
        with Tracer(retina, "--retransmits", "--port", "8081") as t:
            p = netpair.run(netpair.a, ["python3", "-c", LOSSY_CLIENT, b])
            assert p.stdout.strip() == "60000", p.stderr
            t.stop()
    finally:
        server.kill()
        server.wait()
    ev = t.events(netpair)
    assert {e["type"] for e in ev} == {"RETRANS"}
    est = find(ev, "RETRANS", reason="ESTABLISHED", src_ip=a, dst_ip=b, dst_port=8081)
    assert est, [(e["reason"], e["src_ip"], e["src_port"], e["dst_ip"], e["dst_port"]) for e in ev]
    assert est[0]["tcp_state"] == "ESTABLISHED" and est[0]["proto"] == "tcp"


UDP_TO_CLOSED_PORT = """
import socket, sys, time
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], 9))
for _ in range(20):    # the refusal (ICMP) arrives after a send; the next call reports it
    try:
        s.send(b'x')
        time.sleep(0.2)
    except OSError as e:
        print('error', e.errno)
        break
else:
    print('never refused')
"""


@FAMILIES
def test_udp_to_closed_port_gives_refused_socket_error(retina, netpair, v6):
    a, b = addrs(netpair, v6)
    with Tracer(retina, "--errors", "--drops", "--ip", b) as t:
        p = netpair.run(netpair.a, ["python3", "-c", UDP_TO_CLOSED_PORT, b])
        assert p.stdout.strip() == "error 111", p.stderr
        t.stop()
    ev = t.events(netpair)
    assert find(ev, "SOCK_ERR", reason="ECONNREFUSED", proto="udp", src_ip=a, dst_ip=b, dst_port=9), ev
    # b had no socket for the datagram: the kernel drops it (and answers ICMP)
    assert find(ev, "DROP", reason="NO_SOCKET", proto="udp", src_ip=a, dst_ip=b, dst_port=9), ev


DUAL_STACK_SERVER = """
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(('::', 8082)); s.listen(1); print('up', flush=True)
c, _ = s.accept()
c.recv(10)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00')
c.close()
"""


def test_dual_stack_socket_talking_ipv4_matches_ipv4_filters(retina, netpair):
    server = netpair.popen(netpair.b, ["python3", "-c", DUAL_STACK_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "up"
        with Tracer(retina, "--rst", "--cidr", "192.0.2.0/24") as t:
            # the server's v6 socket aborts the connection (linger 0): an RST from ::ffff:192.0.2.2
            p = netpair.run(netpair.a, ["python3", "-c",
                            "import socket,time;s=socket.create_connection(('192.0.2.2',8082),timeout=5);"
                            "s.send(b'hi');time.sleep(0.5)"])
            assert p.returncode == 0, p.stderr
            t.stop()
    finally:
        server.kill()
        server.wait()
    ev = t.events(netpair)
    assert find(ev, "RST_SENT", src_ip=netpair.B4, src_port=8082, dst_ip=netpair.A4), ev
    assert find(ev, "RST_RECV", src_ip=netpair.A4, dst_ip=netpair.B4, dst_port=8082), ev


def test_ip_and_cidr_filters_keep_only_matching_family_and_host(retina, netpair):
    for args, want in ((["--ip", netpair.B4], {netpair.B4}),
                       (["--cidr", "2001:db8::/64"], {netpair.B6}),
                       (["--cidr", "192.0.2.0/30", "--ip", netpair.B6], {netpair.B4, netpair.B6}),
                       (["--ip", "198.51.100.7", "--cidr", "2001:db8:1::/48"], set())):
        with Tracer(retina, "--rst", *args) as t:
            for host in (netpair.B4, netpair.B6):
                assert connect(netpair, netpair.a, host, 9) == "error 111"
            t.stop()
        ev = t.events(netpair)
        seen = {e["src_ip"] for e in find(ev, "RST_SENT")}
        assert seen == want, (args, ev)
        assert {e["type"] for e in ev} <= {"RST_SENT", "RST_RECV"}


def test_port_filter_keeps_only_that_port(retina, netpair):
    with Tracer(retina, "--rst", "--port", "10", "--port", "11") as t:
        for port in (9, 10, 11, 12):
            assert connect(netpair, netpair.a, netpair.B4, port) == "error 111"
        t.stop()
    ports = {e["src_port"] for e in find(t.events(netpair), "RST_SENT")}
    assert ports == {10, 11}


def test_reason_filter_keeps_only_the_named_reasons(retina, netpair):
    with Tracer(retina, "--drops", "--reason", "netfilter_drop,SKB_DROP_REASON_TCP_CSUM", "--ip", netpair.B4) as t:
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        t.stop()
    assert find(t.events(netpair), "DROP") == []
    with Tracer(retina, "--drops", "--reason", "NO_SOCKET", "--ip", netpair.B4) as t:
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        t.stop()
    assert {e["reason"] for e in t.events(netpair)} == {"NO_SOCKET"}


def test_event_flags_select_types(retina, netpair):
    with Tracer(retina, "--errors", "--ip", netpair.B6) as t:
        assert connect(netpair, netpair.a, netpair.B6, 9) == "error 111"
        t.stop()
    assert {e["type"] for e in t.events(netpair)} == {"SOCK_ERR"}


def test_list_reasons_matches_the_kernels_btf(retina):
    require("bpftool")
    p = run([retina, "trace", "--list-reasons"], check=0)
    ours = dict(line.split("=", 1) for line in p.stdout.splitlines())
    btf = run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"], check=0).stdout
    body = re.search(r"^enum skb_drop_reason \{\n(.*?)^\};", btf, re.M | re.S).group(1)
    kernel = {}
    for name, value in re.findall(r"^\s*(\w+) = (\d+),", body, re.M):
        if name in ("SKB_DROP_REASON_MAX", "SKB_DROP_REASON_SUBSYS_MASK"):
            continue
        kernel[value] = re.sub(r"^SKB_(DROP_REASON_)?", "", name)
    assert ours == kernel
    assert "NETFILTER_DROP" in ours.values() and "NO_SOCKET" in ours.values()


def test_table_output_has_ruled_header_and_aligned_rows(retina, netpair):
    p = subprocess.Popen([retina, "trace", "--rst", "--ip", netpair.B4], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: False, timeout=1.0) is False	# let it attach
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    lines = out.splitlines()
    assert re.match(r"^TIME +TYPE +REASON +PROBE +SRC -> DST$", lines[0])
    assert set(lines[1]) == {"-"} and len(lines[1]) == len(lines[0])
    rows = [line for line in lines[2:] if "RST_SENT" in line]
    assert rows, out
    assert re.match(rf"^\d\d:\d\d:\d\d\.\d{{3}} +RST_SENT +NO_SOCKET +tcp_send_reset +{netpair.B4}:9 -> "
                    rf"{netpair.A4}:\d+$", rows[0])
    for line in lines[2:]:
        assert line.index(line.split()[1]) == lines[0].index("TYPE")
        assert line.index(line.split()[3]) == lines[0].index("PROBE")
    assert "attached" in err and "events" in err


def test_json_lines_parse_and_carry_retina_fields(retina, netpair):
    with Tracer(retina, "--ip", netpair.B6) as t:
        connect(netpair, netpair.a, netpair.B6, 9)
        t.stop()
    lines = t.stdout.splitlines()
    assert lines
    for line in lines:
        e = json.loads(line)
        for k in ("time", "type", "reason_code", "probe", "src_ip", "src_port", "dst_ip", "dst_port", "reason",
                  "proto", "ts"):
            assert k in e, (k, e)
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$", e["ts"])
        assert abs(e["time"] - time.time()) < 60


def test_duration_ends_on_time_with_summary(retina):
    started = time.monotonic()
    p = run([retina, "trace", "--duration", "1500ms", "--ip", "198.51.100.9"], timeout=20)
    took = time.monotonic() - started
    assert p.returncode == 0, p.stderr
    assert 1.4 < took < 5, took
    assert p.stdout.splitlines()[0].startswith("TIME")
    assert re.search(r"events, 0 lost", p.stderr)


def test_stats_interval_adds_counts_to_the_json_stream(retina, netpair):
    """--stats-interval (for kubectl retina bpftrace): STATS lines while it runs and a final one at exit."""
    p = subprocess.Popen([retina, "trace", "-o", "json", "--stats-interval", "300ms", "--duration", "2s",
                          "--port", "9", "--ip", netpair.B4], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        time.sleep(0.8)
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    stats = [x for x in lines if x["type"] == "STATS"]
    events = [x for x in lines if x["type"] != "STATS"]
    assert len(stats) >= 4 and stats[-1]["final"] is True and not any(x["final"] for x in stats[:-1])
    assert lines[-1] is stats[-1]	# nothing after the final count
    assert stats[-1]["events"] == len(events) and stats[-1]["lost"] == 0 and stats[-1]["lost_by_type"] == {}
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$", stats[-1]["ts"])
    # each count covers every event before it
    for i, x in enumerate(lines):
        if x["type"] == "STATS":
            assert x["events"] == sum(1 for y in lines[:i] if y["type"] != "STATS")


def test_sigterm_stops_cleanly(retina):
    p = subprocess.Popen([retina, "trace", "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert "lost" in err


def bpf_ids_held_by(pid):
    """prog_id and link_id of every BPF fd the process holds (its /proc fdinfo)."""
    progs, links = set(), set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            info = open(f"/proc/{pid}/fdinfo/{fd}").read()
        except OSError:
            continue
        m = re.search(r"^link_id:\s+(\d+)", info, re.M)
        if m:
            links.add(int(m.group(1)))
        elif re.search(r"^prog_id:\s+(\d+)", info, re.M):
            progs.add(int(re.search(r"^prog_id:\s+(\d+)", info, re.M).group(1)))
    return progs, links


def bpftool_ids(kind):
    return {o["id"] for o in json.loads(run(["bpftool", "-j", kind, "show"], check=0).stdout or "[]")}


def test_sigkill_leaves_no_program_or_link_attached(retina):
    require("bpftool")
    with Tracer(retina) as t:
        progs, links = bpf_ids_held_by(t.proc.pid)
        # five attached, and the batch flush program the reader runs itself (never attached)
        assert len(progs) == 6 and len(links) == 5, (progs, links)
        # what bpftool sees while it runs: our programs and links, attached
        assert progs <= bpftool_ids("prog") and links <= bpftool_ids("link")
        t.proc.send_signal(signal.SIGKILL)
        t.proc.wait()
    assert wait_for(lambda: not (progs & bpftool_ids("prog")) and not (links & bpftool_ids("link")))


LONE_AND_BURST = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    s.sendto(b'x' * 16, (sys.argv[1], int(sys.argv[2])))
"""


def read_until(proc, needle, seconds):
    """What the running tracer printed until needle showed (or seconds passed)."""
    seen, deadline = "", time.monotonic() + seconds
    while needle not in seen and time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.1)
        if r:
            seen += os.read(proc.stdout.fileno(), 65536).decode()
    return seen


@pytest.mark.parametrize("batching", [True, False], ids=["batched", "unbatched"])
def test_events_are_batched_without_delaying_a_lone_one_or_losing_any(retina, netpair, batching):
    """Plain events go out in per-CPU batches of 16 (one ring buffer reservation each): a
    lone drop must still show while the tracer runs, not when it stops, and a burst must
    arrive whole. RETINA_TRACE_MISSING=batching sends each event on its own, as before."""
    require("iptables")
    env = None if batching else dict(os.environ, RETINA_TRACE_MISSING="batching")
    assert netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "udp", "--dport", "8092", "-j", "DROP"]).returncode == 0
    with Tracer(retina, "--drops", "--port", "8092", env=env) as t:
        assert netpair.run(netpair.a, ["python3", "-c", LONE_AND_BURST, netpair.B4, "8092", "1"]).returncode == 0
        seen = read_until(t.proc, "8092", 5)
        assert '"dst_port":8092' in seen, "the lone drop did not show within 5 s"
        assert netpair.run(netpair.a, ["python3", "-c", LONE_AND_BURST, netpair.B4, "8092", "3000"]).returncode == 0
        # every packet through the rule before the stop (a loaded machine's softirq can lag)
        assert wait_for(lambda: " 3001 " in netpair.run(netpair.b, ["iptables", "-nvxL", "INPUT"]).stdout)
        t.stop()
    t.stdout = seen + t.stdout
    drops = find(t.events(netpair), "DROP", reason="NETFILTER_DROP", dst_port=8092)
    assert len(drops) == 3001 and re.search(r" 0 lost", t.stderr), t.stderr
    assert all(d["src_ip"] == netpair.A4 and d["dst_ip"] == netpair.B4 and d["proto"] == "udp" for d in drops)


def test_lone_event_shows_live_as_nobody_with_only_bpf_and_perfmon(retina, netpair, tmp_path):
    """The reader flushes a CPU's batch through BPF_PROG_TEST_RUN: that needs no more than
    the tracer's own least privileges (uid 65534, CAP_BPF and CAP_PERFMON)."""
    require("setpriv", "iptables")
    exe = tmp_path / "retina"
    shutil.copy(retina, exe)
    os.chmod(tmp_path, 0o755)
    os.chmod(exe, 0o755)
    assert netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "udp", "--dport", "8093", "-j", "DROP"]).returncode == 0
    least = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all,+bpf,+perfmon",
             "--ambient-caps=-all,+bpf,+perfmon", "--"]
    with Tracer(str(exe), "--drops", "--port", "8093", prefix=least) as t:
        assert netpair.run(netpair.a, ["python3", "-c", LONE_AND_BURST, netpair.B4, "8093", "1"]).returncode == 0
        seen = read_until(t.proc, "8093", 5)
        assert '"dst_port":8093' in seen, "the lone drop did not show within 5 s"
        t.stop()


def map_of(pid, name):
    """The id of the BPF map called name that process pid holds."""
    for map_id in fdinfo_ids(pid, "map_id"):
        if json.loads(run(["bpftool", "-j", "map", "show", "id", str(map_id)], check=0).stdout).get("name") == name:
            return str(map_id)
    raise AssertionError(f"process {pid} holds no BPF map {name}")


def test_a_batch_never_free_at_exit_is_reported_not_silently_lost(retina, netpair):
    """A CPU whose batch stays busy (a program of ours staging there, forever here: the
    state is forged with bpftool): its events go straight to the ring, and the events
    staged in it at exit are named in the summary, after a bounded retry."""
    require("iptables", "bpftool")
    assert netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "udp", "--dport", "8094", "-j", "DROP"]).returncode == 0
    with Tracer(retina, "--drops", "--port", "8094") as t:
        state = map_of(t.proc.pid, "batch_state")
        # struct trace_batch_state { n = 3, busy = 1, first_ns = 0 } on every CPU
        run(["bpftool", "map", "update", "id", state, "key", "0", "0", "0", "0",
             "value", "3", "0", "0", "0", "1", *["0"] * 11], check=0)
        cpus = len(json.loads(run(["bpftool", "-j", "map", "dump", "id", state], check=0).stdout)[0]["values"])
        assert netpair.run(netpair.a, ["python3", "-c", LONE_AND_BURST, netpair.B4, "8094", "1"]).returncode == 0
        seen = read_until(t.proc, "8094", 5)
        assert '"dst_port":8094' in seen, "an event did not bypass the busy batch"
        started = time.monotonic()
        assert t.stop(settle=0) == 0, t.stderr
    assert time.monotonic() - started < 10, "the exit kept retrying the busy batches"
    staged = re.search(r"\n  (\d+) events still staged on a CPU at exit, not shown", t.stderr)
    assert staged and int(staged.group(1)) == 3 * cpus, t.stderr


def test_missing_tracepoint_disables_only_its_event(retina, netpair):
    env = dict(os.environ, RETINA_TRACE_MISSING="tcp_send_reset")
    with Tracer(retina, "--ip", netpair.B4, env=env) as t:
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        t.stop()
    assert "no tracepoint tcp_send_reset: RST_SENT events are disabled" in t.stderr
    types = {e["type"] for e in t.events(netpair)}
    assert "RST_SENT" not in types and {"RST_RECV", "SOCK_ERR", "DROP"} <= types


@pytest.mark.parametrize("args,msg", [
    (["--ip", "999.1.1.1"], "bad --ip '999.1.1.1'"),
    (["--ip", "10.0.0.0/8"], "bad --ip '10.0.0.0/8'"),
    (["--cidr", "10.0.0.1"], "bad --cidr '10.0.0.1'"),
    (["--cidr", "2001:db8::/129"], "bad --cidr '2001:db8::/129'"),
    (["--port", "0"], "bad --port '0'"),
    (["--port", "65536"], "bad --port '65536'"),
    (["-o", "xml"], "bad output format 'xml'"),
    (["--duration", "soon"], "bad --duration 'soon'"),
    (["--bogus"], "--bogus"),
    (["--ip"], "--ip"),
    (["--reason", "NO_SUCH_REASON"], "unknown drop reason 'NO_SUCH_REASON'"),
    (["--rst", "--reason", "NO_SOCKET"], "--reason selects drop reasons"),
    (["stray"], "unexpected argument 'stray'"),
    (["--stats-interval", "1s"], "--stats-interval writes JSON lines: use it with -o json"),
    (["-o", "json", "--stats-interval", "0"], "bad --stats-interval '0'"),
])
def test_bad_flags_exit_2_with_one_line(retina, args, msg):
    p = run([retina, "trace", *args])
    assert p.returncode == 2
    assert p.stdout == ""
    assert len(p.stderr.splitlines()) == 1 and msg in p.stderr, p.stderr


def test_without_bpf_capabilities_names_them_and_the_shell_flag(retina):
    require("setpriv")
    drop = ["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin", "--inh-caps=-all", "--"]
    p = run(drop + [retina, "trace", "-d", "1s"])
    assert p.returncode == 1
    assert "EPERM" in p.stderr and "kubectl retina shell --capabilities" in p.stderr, p.stderr
    assert "BPF" in p.stderr and "PERFMON" in p.stderr
    assert len(p.stderr.splitlines()) == 1


def test_without_perfmon_alone_names_just_that(retina):
    drop = ["setpriv", "--bounding-set=-perfmon,-sys_admin", "--inh-caps=-all", "--"]
    p = run(drop + [retina, "trace", "-d", "1s"])
    assert p.returncode == 1
    assert "lacks the PERFMON capability" in p.stderr and "--capabilities PERFMON NODE" in p.stderr, p.stderr


def test_seccomp_refusing_bpf_points_at_the_profile(retina, helpers):
    p = run([helpers["deny_bpf"], retina, "trace", "-d", "1s"])
    assert p.returncode == 1
    assert "although this process has" in p.stderr and "--seccomp-unconfined" in p.stderr, p.stderr
    assert len(p.stderr.splitlines()) == 1


def test_kernel_without_btf_is_a_clear_error(retina):
    require("unshare")
    # hide /sys/kernel/btf in a private mount namespace: as on a kernel built without BTF
    p = run(["unshare", "-m", "sh", "-c", 'mount -t tmpfs none /sys/kernel/btf && exec "$0" trace -d 1s', retina])
    assert p.returncode == 1
    assert p.stderr.strip().endswith("needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or later)"), p.stderr
    assert len(p.stderr.splitlines()) == 1 and p.stdout == ""


def test_all_reasons_and_every_event_flag_run(retina):
    p = run([retina, "trace", "--drops", "--rst", "--errors", "--retransmits", "--all-reasons", "-d", "300ms"])
    assert p.returncode == 0, p.stderr
    assert "attached DROP,RST_SENT,RST_RECV,SOCK_ERR,RETRANS in" in p.stderr


UDP_BURST = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])):
    s.sendto(b'x', (sys.argv[1], 9))
"""


def test_signals_while_stdout_is_blocked_never_cut_a_line(retina, netpair):
    """A reader that falls behind (a full pipe) when Ctrl-C comes: the blocked write
    finishes rather than losing part of a line (two events glued on one line), and
    a second Ctrl-C, with writes still stuck, quits at once."""
    with Tracer(retina, "--drops", "--ip", netpair.B4) as t:
        # ~350 bytes an event: this fills the 64 KiB pipe nobody reads many times over
        netpair.run(netpair.a, ["python3", "-c", UDP_BURST, netpair.B4, "20000"])
        time.sleep(0.3)
        fd = t.proc.stdout.fileno()
        t.proc.send_signal(signal.SIGINT)
        out = os.read(fd, 65536)	# let the stuck write finish...
        time.sleep(0.2)
        t.proc.send_signal(signal.SIGINT)	# ...and stop the rest the hard way
        rest, err = t.proc.communicate(timeout=30)
    assert t.proc.returncode == -signal.SIGINT, err
    lines = (out.decode() + rest).splitlines()
    assert len(lines) > 100, err
    for line in lines[:-1]:	# the last may be cut by the kill itself
        json.loads(line)	# raises on a line cut short and glued to the next



def peak_rss_kb(helpers, argv):
    """Run argv to its end: exit code, stderr and peak RSS in kB."""
    p = run([helpers["maxrss"], *argv], timeout=30)
    m = re.search(r"^maxrss_kb=(\d+)$", p.stderr, re.M)
    return p.returncode, p.stderr, int(m.group(1))


@pytest.mark.parametrize("mapped", [True, False], ids=["btf-mapped", "btf-read"])
def test_kernel_btf_is_never_held_twice(retina, helpers, mapped):
    # libbpf 1.1 read the kernel's BTF into a buffer and parsed a copy of it: 2x its
    # size at the peak (12 MB here). deps/patches/libbpf-btf-no-copy.patch maps it
    # (6.16+) or keeps the buffer it read (older kernels: the helper makes the
    # mapping fail as there).
    btf_kb = os.path.getsize("/sys/kernel/btf/vmlinux") // 1024
    wrap = [] if mapped else [helpers["deny_file_mmap"]]
    code, err, rss = peak_rss_kb(helpers, wrap + [retina, "trace", "-d", "200ms"])
    assert code == 0 and " attached " in err, err
    assert rss < btf_kb * 5 // 4 + 1536, (rss, btf_kb)
    code, err, rss = peak_rss_kb(helpers, wrap + [retina, "trace", "--list-reasons"])
    assert code == 0, err
    # a mapping of the kernel's BTF is the kernel's own memory: it counts nothing
    assert rss < (1536 if mapped else btf_kb * 5 // 4 + 1536), (rss, btf_kb)
