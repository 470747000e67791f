"""retina trace --stack and -w, for real: drops provoked in namespaces the test makes
(closed ports, an iptables-nft DROP rule), their kernel stacks symbolised from
/proc/kallsyms, and the dropped packets read back by Debian's tshark."""
import os
import re
import stat
import subprocess
import time

import pytest

from conftest import require, run, tshark_fields
from tracer import Tracer, connect, find

FAMILIES = pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])

UDP_SEND = """
import socket, sys
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'r' * size, (host, port))
"""


def addrs(pair, v6):
    return (pair.A6, pair.B6) if v6 else (pair.A4, pair.B4)


def udp_send(pair, host, port, size=20):
    p = pair.run(pair.a, ["python3", "-c", UDP_SEND, host, str(port), str(size)])
    assert p.returncode == 0, p.stderr


def warm(pair, host):
    """Resolve the neighbour first: on a fresh veth the first IPv6 solicitation can be
    dropped and a lone datagram then waits a second in the queue."""
    assert connect(pair, pair.a, host, 9) == "error 111"


def frames(stack):
    return [re.sub(r"\+0x[0-9a-f]+.*$", "", f) for f in stack]


@FAMILIES
def test_stack_of_no_socket_drop_is_in_tcp_receive(retina, netpair, v6):
    a, b = addrs(netpair, v6)
    with Tracer(retina, "--drops", "--stack", "--port", "9") as t:
        assert connect(netpair, netpair.a, b, 9) == "error 111"
        t.stop()
    drops = find(t.events(netpair), "DROP", reason="NO_SOCKET", src_ip=a, dst_ip=b, dst_port=9)
    assert drops, t.stdout
    stack = drops[0]["stack"]
    assert all(re.match(r"^[\w.$]+\+0x[0-9a-f]+( \[\w+\])?$", f) for f in stack), stack
    assert ("tcp_v6_rcv" if v6 else "tcp_v4_rcv") in frames(stack), stack
    # the tracer's own frames (BPF program, tracepoint glue) are not the drop's
    assert not any(f.startswith(("bpf_prog_", "bpf_trace_run", "__bpf_trace_")) for f in stack), stack
    assert re.search(r"^  \d+ distinct stacks symbolised$", t.stderr, re.M), t.stderr


def test_stack_of_netfilter_drop_is_in_the_nftables_chain(retina, netpair):
    require("iptables")
    # this host's iptables is iptables-nft: the rule runs in nft_do_chain (legacy: ipt_do_table)
    legacy = "legacy" in run(["iptables", "-V"]).stdout
    p = netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "udp", "--dport", "8090", "-j", "DROP"])
    assert p.returncode == 0, p.stderr
    warm(netpair, netpair.B4)
    with Tracer(retina, "--drops", "--stack", "--ip", netpair.B4) as t:
        udp_send(netpair, netpair.B4, 8090)
        t.stop()
    drops = find(t.events(netpair), "DROP", reason="NETFILTER_DROP", dst_ip=netpair.B4, dst_port=8090)
    assert drops, t.stdout
    assert ("ipt_do_table" if legacy else "nft_do_chain") in frames(drops[0]["stack"]), drops[0]["stack"]
    assert "nf_hook_slow" in frames(drops[0]["stack"])


BURST = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[3])):
    s.sendto(b'b' * 20, (sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.parametrize("rate", ["default", "0"])
def test_stack_rate_walks_a_site_at_most_n_times_a_second_and_marks_the_rest(retina, netpair, rate):
    """A storm of 3000 drops at one site in well under a second: by default (100 walks a
    second per site and CPU) most drops carry the stack their site walked before, marked
    stack_reused; --stack-rate 0 walks every one. Every drop has its stack either way."""
    require("iptables")
    assert netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "udp", "--dport", "8091", "-j", "DROP"]).returncode == 0
    warm(netpair, netpair.B4)
    extra = [] if rate == "default" else ["--stack-rate", rate]
    with Tracer(retina, "--drops", "--stack", "--port", "8091", *extra) as t:
        started = time.monotonic()
        p = netpair.run(netpair.a, ["python3", "-c", BURST, netpair.B4, "8091", "3000"])
        took = time.monotonic() - started
        assert p.returncode == 0, p.stderr
        t.stop()
    drops = find(t.events(netpair), "DROP", reason="NETFILTER_DROP", dst_port=8091)
    assert len(drops) == 3000, t.stderr
    assert all(d["stack"] and "nf_hook_slow" in frames(d["stack"]) for d in drops)
    reused = [d for d in drops if d.get("stack_reused")]
    if rate == "0":
        assert not reused and "--stack-rate" not in t.stderr
        return
    walked = {tuple(d["stack"]) for d in drops if not d.get("stack_reused")}
    # at most 100 walks a second per CPU (2 here, and the burst's own second may straddle two)
    assert 1 <= len(drops) - len(reused) <= 2 * 100 * (int(took) + 2), (len(reused), took)
    assert all(tuple(d["stack"]) in walked for d in reused)	# a reused stack is one its site walked
    assert re.search(rf"^  {len(reused)} events carry the stack their site walked less than 1/100 s before "
                     r"\(--stack-rate 100; 0 walks every event\)$", t.stderr, re.M), t.stderr


def test_table_prints_frames_indented_under_the_row(retina, netpair):
    warm(netpair, netpair.B4)
    # table rows carry no namespace: a port of its own keeps other jobs' drops out
    p = subprocess.Popen([retina, "trace", "--drops", "--stack", "--ip", netpair.B4, "--port", "8097"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        udp_send(netpair, netpair.B4, 8097)
        time.sleep(0.5)
        p.send_signal(2)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    lines = out.splitlines()
    rows = [i for i, line in enumerate(lines) if re.search(rf"DROP +NO_SOCKET .*-> {netpair.B4}:8097$", line)]
    assert rows, out
    under = []
    for line in lines[rows[0] + 1:]:
        if not line.startswith("    "):
            break
        under.append(line.strip())
    assert "__udp4_lib_rcv" in frames(under), out


def test_stack_all_gives_every_event_a_stack_and_no_flag_none(retina, netpair):
    with Tracer(retina, "--stack=all", "--ip", netpair.B4) as t:
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        t.stop()
    ev = t.events(netpair)
    assert {"DROP", "RST_SENT", "RST_RECV", "SOCK_ERR"} <= {e["type"] for e in ev}, ev
    assert all(e.get("stack") for e in ev), ev
    assert "tcp_v4_send_reset" in frames(find(ev, "RST_SENT")[0]["stack"])
    with Tracer(retina, "--stack", "--ip", netpair.B4) as t:
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        t.stop()
    ev = t.events(netpair)
    assert all(("stack" in e) == (e["type"] == "DROP") for e in ev), ev
    with Tracer(retina, "--ip", netpair.B4) as t:
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        t.stop()
    assert t.events(netpair) and not any("stack" in e for e in t.events(netpair))


def test_hidden_kernel_addresses_are_said_and_stacks_stay_raw(retina, netpair, tmp_path):
    fake = tmp_path / "kallsyms"
    fake.write_text("0000000000000000 T _stext\n0000000000000000 t tcp_v4_rcv\n")
    env = dict(os.environ, RETINA_KALLSYMS=str(fake))
    with Tracer(retina, "--drops", "--stack", "--ip", netpair.B4, env=env) as t:
        udp_send(netpair, netpair.B4, 9)
        t.stop()
    assert "shows every address as 0" in t.stderr and "CAP_SYSLOG" in t.stderr, t.stderr
    drops = find(t.events(netpair), "DROP", reason="NO_SOCKET")
    assert drops and all(re.match(r"^0xffff[0-9a-f]+$", f) for f in drops[0]["stack"]), drops


def test_without_cap_syslog_the_real_kallsyms_hides_addresses(retina, netpair):
    require("setpriv")
    paranoid = int(open("/proc/sys/kernel/perf_event_paranoid").read())
    if int(open("/proc/sys/kernel/kptr_restrict").read()) == 0 and paranoid <= 1:
        pytest.skip("kptr_restrict=0 with perf_event_paranoid<=1 shows addresses to everyone")
    drop = ["setpriv", "--bounding-set=-syslog", "--inh-caps=-all", "--"]
    with Tracer(retina, "--drops", "--stack", "--ip", netpair.B4, prefix=drop) as t:
        udp_send(netpair, netpair.B4, 9)
        t.stop()
    assert "shows every address as 0" in t.stderr and "lacks CAP_SYSLOG" in t.stderr, t.stderr
    assert find(t.events(netpair), "DROP", reason="NO_SOCKET")


def mine(rows, pair):
    """Rows whose packet comment names one of the pair's namespaces."""
    inodes = {f"netns={pair.inode(pair.a)}", f"netns={pair.inode(pair.b)}"}
    return [r for r in rows if set(r[-1].split()) & inodes]


@FAMILIES
def test_pcapng_holds_the_dropped_packets_with_comments(retina, netpair, tmp_path, v6):
    require("tshark")
    a, b = addrs(netpair, v6)
    out = tmp_path / "drops.pcapng"
    with Tracer(retina, "--drops", "-w", str(out), "--ip", b) as t:
        assert connect(netpair, netpair.a, b, 9) == "error 111"
        udp_send(netpair, b, 9)
        t.stop()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600	# packets may hold secrets
    assert re.search(r"^  \d+ packets written to " + re.escape(str(out)) + "$", t.stderr, re.M), t.stderr
    ip = "ipv6" if v6 else "ip"
    rows = mine(tshark_fields(str(out), f"{ip}.src", f"{ip}.dst", "tcp.dstport", "tcp.flags.syn", "udp.dstport",
                              "frame.comment"), netpair)
    syn = [r for r in rows if r[:3] == [a, b, "9"] and r[3] in ("1", "True")]
    assert syn, rows
    assert syn[0][5].startswith("type=DROP reason=NO_SOCKET probe=kfree_skb netns=")
    assert f"ifname={netpair.veth_b}" in syn[0][5]
    assert [r for r in rows if r[:2] == [a, b] and r[4] == "9"], rows
    # as many packets as the JSON shows IP drops of ours
    assert len(rows) == len([e for e in t.events(netpair) if e["type"] == "DROP" and e["src_ip"]])


def test_snaplen_cuts_packets_and_keeps_their_length(retina, netpair, tmp_path):
    require("tshark")
    out = tmp_path / "cut.pcapng"
    warm(netpair, netpair.B4)
    with Tracer(retina, "--drops", "-w", str(out), "--snaplen", "64", "--ip", netpair.B4) as t:
        udp_send(netpair, netpair.B4, 9, size=1000)
        t.stop()
    rows = mine(tshark_fields(str(out), "frame.cap_len", "frame.len", "udp.dstport", "frame.comment"), netpair)
    assert ["64", "1028", "9"] in [r[:3] for r in rows], rows


def test_pcapng_to_stdout_pipes_into_tshark_and_rows_go_to_stderr(retina, netpair):
    require("tshark")
    warm(netpair, netpair.B6)
    p = subprocess.Popen([retina, "trace", "--drops", "-w", "-", "--ip", netpair.B6, "-d", "5s"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # attached first (a loaded machine may take more than a second to start), then the drop
        banner = b""
        while b" attached " not in banner:
            chunk = os.read(p.stderr.fileno(), 4096)
            assert chunk, banner
            banner += chunk
        udp_send(netpair, netpair.B6, 9)
        out, err = p.communicate(timeout=20)
        err = banner + err
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    err = err.decode()
    assert re.search(rf"DROP +NO_SOCKET +kfree_skb .*-> \[{re.escape(netpair.B6)}\]:9$", err, re.M), err
    assert "packets written to stdout" in err
    rows = mine(tshark_fields("-", "ipv6.dst", "udp.dstport", "frame.comment", stdin=out), netpair)
    assert [netpair.B6, "9"] in [r[:2] for r in rows], rows


def test_pcapng_reader_gone_ends_the_trace(retina, netpair):
    require("tshark")
    # tshark -c 1 stops after one packet: retina sees EPIPE and ends cleanly
    trace = subprocess.Popen([retina, "trace", "--drops", "-w", "-", "--ip", netpair.B4, "-d", "20s"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shark = subprocess.Popen(["tshark", "-r", "-", "-c", "1"], stdin=trace.stdout, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    trace.stdout.close()
    try:
        time.sleep(1.0)
        started = time.monotonic()
        for _ in range(30):
            udp_send(netpair, netpair.B4, 9)
            if shark.poll() is not None:
                break
            time.sleep(0.1)
        shark.wait(timeout=20)
        trace.wait(timeout=20)
        assert time.monotonic() - started < 15
        assert trace.returncode == 0, trace.stderr.read()
    finally:
        for p in (trace, shark):
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.parametrize("args,msg", [
    (["--stack=sometimes"], "bad --stack 'sometimes'"),
    (["--rst", "--stack"], "--stack shows the stacks of DROP events"),
    (["-w", "x.pcapng", "--snaplen", "0"], "bad --snaplen '0'"),
    (["-w", "x.pcapng", "--snaplen", "1025"], "bad --snaplen '1025'"),
    (["--snaplen", "64"], "--snaplen sets how much of each packet -w writes"),
    (["--rst", "-w", "x.pcapng"], "-w writes dropped packets"),
    (["-w", ""], "-w needs a file name"),
])
def test_bad_forensics_flags_exit_2_with_one_line(retina, args, msg):
    p = run([retina, "trace", *args])
    assert p.returncode == 2
    assert len(p.stderr.splitlines()) == 1 and msg in p.stderr, p.stderr


def test_unwritable_pcap_path_is_a_clear_error(retina, tmp_path):
    p = run([retina, "trace", "-w", str(tmp_path / "no" / "such" / "dir.pcapng"), "-d", "1s"])
    assert p.returncode == 1
    assert f"cannot write {tmp_path}/no/such/dir.pcapng: No such file or directory" in p.stderr, p.stderr
    assert len(p.stderr.splitlines()) == 1


def test_emit_packets_puts_the_packet_last_in_each_drop_line(retina, netpair):
    """--emit-packets (for kubectl retina bpftrace -w): base64 of the packet from its IP header."""
    import base64
    import json
    import ipaddress
    with Tracer(retina, "--drops", "--emit-packets", "--snaplen", "40", "--ip", netpair.B4) as t:
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        t.stop()
    drops = find(t.events(netpair), "DROP", reason="NO_SOCKET", dst_port=9)
    assert drops, t.stdout
    e = drops[0]
    pkt = base64.b64decode(e["packet"])
    assert len(pkt) == 40 and e["packet_len"] >= 52	# the SYN cut at --snaplen; its whole length
    assert pkt[0] >> 4 == 4 and pkt[9] == 6	# IPv4, TCP
    assert str(ipaddress.ip_address(pkt[12:16])) == netpair.A4 and str(ipaddress.ip_address(pkt[16:20])) == netpair.B4
    assert int.from_bytes(pkt[22:24], "big") == 9
    line = [ln for ln in t.stdout.splitlines() if json.loads(ln) == e][0]
    assert re.search(r',"packet_len":\d+,"packet":"[A-Za-z0-9+/=]+"}$', line), line	# last: cut off as it is
    # without -o json, or for events that are not drops: a usage error
    p = run([retina, "trace", "--emit-packets"])
    assert p.returncode == 2 and "use it with -o json" in p.stderr
    p = run([retina, "trace", "-o", "json", "--rst", "--emit-packets"])
    assert p.returncode == 2 and "use it with --drops" in p.stderr
