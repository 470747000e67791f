"""retina trace --count, for real: a known number of drops by an iptables rule in a
namespace the test makes, counted in the kernel; the totals equal the rule's own packet
counter, the interval deltas sum to the totals, filters apply, and a stop leaves no
BPF program or map behind."""
import json
import os
import re

import pytest

from conftest import require, run
from test_trace import bpf_ids_held_by, bpftool_ids, iptables
from tracer import Tracer, fdinfo_ids, find, wait_for

PORT, OTHER = 7001, 7002

BLAST = """
import socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
for port in sys.argv[3:]:
    for _ in range(int(sys.argv[2])):
        s.sendto(b'x' * 32, (sys.argv[1], int(port)))
"""


def blast(pair, host, n, *ports):
    p = pair.run(pair.a, ["python3", "-c", BLAST, host, str(n), *map(str, ports)])
    assert p.returncode == 0, p.stderr


def rule_packets(pair, v6, port):
    """The packet counter of the DROP rule for port (exact: iptables -x)."""
    out = pair.run(pair.b, ["ip6tables" if v6 else "iptables", "-L", "INPUT", "-v", "-x", "-n"]).stdout
    for line in out.splitlines():
        if f"dpt:{port}" in line and "DROP" in line:
            return int(line.split()[0])
    raise AssertionError(out)


def drop_rules(pair, v6, *ports):
    for port in ports:
        iptables(pair, pair.b, v6, "-A", "INPUT", "-p", "udp", "--dport", str(port), "-j", "DROP")


def counts(lines):
    objs = [json.loads(x) for x in lines.splitlines()]
    assert objs and all(o["type"] == "COUNTS" for o in objs), lines
    return [o for o in objs if not o["final"]], objs[-1]


def mine(keys, pair, **fields):
    ns = pair.inode(pair.b)
    return [k for k in keys if k["netns"] == ns and all(k[f] == v for f, v in fields.items())]


def test_totals_equal_the_rule_counter_and_deltas_sum_to_them(retina, netpair):
    require("iptables")
    drop_rules(netpair, False, PORT)
    with Tracer(retina, "--count", "--drops", "--interval", "200ms") as t:
        for _ in range(5):	# spread over several intervals
            blast(netpair, netpair.B4, 400, PORT)
        assert t.stop() == 0, t.stderr
    intervals, final = counts(t.stdout)
    expected = rule_packets(netpair, False, PORT)
    assert expected == 2000
    keys = mine(final["keys"], netpair, dport=PORT, reason="NETFILTER_DROP")
    assert len(keys) == 1, final
    k = keys[0]
    assert k["count"] == expected and k["type"] == "DROP" and k["proto"] == "udp"
    assert k["ifname"] == netpair.veth_b and k["ifindex"] > 0
    # where the kernel dropped it: netfilter (iptables-nft's chain, or the legacy hook), from kallsyms
    assert re.match(r"(nft_do_chain|nf_hook_slow)\+0x[0-9a-f]+$", k["location"]), k
    assert final["lost"] == 0 and final["unkeyed"] == 0 and final["duration_s"] > 0
    assert len(intervals) >= 3
    ident = lambda x: (x["type"], x["reason"], x["location"], x["netns"], x["ifindex"], x["proto"], x["dport"])
    summed = {}
    for o in intervals:
        assert o["events"] == sum(x["count"] for x in o["keys"])
        for x in o["keys"]:
            assert x["count"] > 0
            summed[ident(x)] = summed.get(ident(x), 0) + x["count"]
    assert summed == {ident(x): x["count"] for x in final["keys"]}
    assert final["events"] == sum(x["count"] for x in final["keys"])
    assert re.search(r"events counted in the kernel, \d+ keys; exact: no ring buffer, 0 lost", t.stderr), t.stderr


def probe_reads_in_kfree_skb_program(pid):
    """How many bpf_probe_read_kernel calls the loaded kfree_skb program of pid makes (as verified)."""
    for prog in bpf_ids_held_by(pid)[0]:
        info = json.loads(run(["bpftool", "-j", "prog", "show", "id", str(prog)]).stdout)
        if info.get("name") == "trace_kfree_skb":
            return run(["bpftool", "prog", "dump", "xlated", "id", str(prog)]).stdout.count("call bpf_probe_read_kernel")
    raise AssertionError("no trace_kfree_skb program held")


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_both_packet_header_readers_give_the_same_keys_and_events(retina, netpair, v6):
    """6.2+ reads a dropped packet's headers in place (the kfunc bpf_rdonly_cast), older
    kernels through bpf_probe_read_kernel: this kernel runs both, and they must agree."""
    require("bpftool", "ip6tables")
    host, src = (netpair.B6, netpair.A6) if v6 else (netpair.B4, netpair.A4)
    drop_rules(netpair, v6, PORT)
    seen, probe_reads = [], {}
    for reader, env in (("in place", None), ("probe read", dict(os.environ, RETINA_TRACE_MISSING="bpf_rdonly_cast"))):
        with Tracer(retina, "-c", "--drops", env=env) as t:
            probe_reads[reader] = probe_reads_in_kfree_skb_program(t.proc.pid)
            before = rule_packets(netpair, v6, PORT)
            blast(netpair, host, 100, PORT)
            # every packet through the rule before the stop (a loaded machine's softirq can lag)
            assert wait_for(lambda: rule_packets(netpair, v6, PORT) == before + 100)
            assert t.stop() == 0, t.stderr
        _, final = counts(t.stdout)
        keys = mine(final["keys"], netpair, dport=PORT, reason="NETFILTER_DROP")
        seen.append((reader, [(k["proto"], k["count"]) for k in keys]))
        with Tracer(retina, "--drops", "--ip", host, env=env) as t:	# the event path: addresses too
            blast(netpair, host, 3, PORT)
            assert wait_for(lambda: rule_packets(netpair, v6, PORT) == before + 103)
            t.stop()
        drops = find(t.events(netpair), "DROP", reason="NETFILTER_DROP", src_ip=src, dst_ip=host, dst_port=PORT)
        assert len(drops) == 3 and all(d["src_port"] > 0 for d in drops), t.stdout
    assert seen == [("in place", [("udp", 100)]), ("probe read", [("udp", 100)])]
    assert rule_packets(netpair, v6, PORT) == 200 + 6
    # the in-place reader really ran here (this kernel has the kfunc): fewer helper calls
    assert probe_reads["in place"] < probe_reads["probe read"], probe_reads


def test_ipv6_and_port_filter_apply_in_the_kernel(retina, netpair):
    require("ip6tables")
    drop_rules(netpair, True, PORT, OTHER)
    with Tracer(retina, "-c", "--port", str(OTHER), "--ip", netpair.B6) as t:
        blast(netpair, netpair.B6, 300, PORT, OTHER)
        t.stop()
    _, final = counts(t.stdout)
    assert rule_packets(netpair, True, PORT) == 300 and rule_packets(netpair, True, OTHER) == 300
    assert {k["dport"] for k in final["keys"]} == {OTHER}, final	# nothing else got counted
    assert [k["count"] for k in mine(final["keys"], netpair, reason="NETFILTER_DROP")] == [300]


def test_table_shows_busiest_keys_and_totals(retina, netpair):
    drop_rules(netpair, False, PORT, OTHER)
    # the last -o wins: a table
    with Tracer(retina, "-c", "--drops", "--ip", netpair.B4, "--top", "1", "--interval", "300ms", "-o", "table") as t:
        blast(netpair, netpair.B4, 50, PORT)
        blast(netpair, netpair.B4, 80, OTHER)
        assert t.stop(settle=0.8) == 0, t.stderr
    out = t.stdout
    totals = out[out.index("totals over"):]
    head, rows = totals.splitlines()[1], totals.splitlines()[2:]
    assert head.split() == ["COUNT", "RATE/s", "TYPE", "REASON", "PROTO", "DPORT", "IFACE", "NETNS", "LOCATION"]
    # --top 1: the busiest key, and how many more there are
    assert rows[0].split()[0] == "80" and rows[0].split()[2:6] == ["DROP", "NETFILTER_DROP", "udp", str(OTHER)]
    assert rows[1] == "(1 more keys; --top shows more)"
    assert re.search(r"^totals over \d+\.\ds: 130 events", totals, re.M)
    assert "\033[" not in out	# not a terminal: appended, never redrawn


def test_sigint_leaves_no_program_or_map(retina):
    require("bpftool")
    with Tracer(retina, "--count") as t:
        progs, _ = bpf_ids_held_by(t.proc.pid)
        maps = fdinfo_ids(t.proc.pid, "map_id")
        assert len(progs) == 5 and maps and maps <= bpftool_ids("map")
        assert t.stop() == 0
    _, final = counts(t.stdout)
    assert final["final"] is True
    assert "events counted in the kernel" in t.stderr
    assert wait_for(lambda: not (progs & bpftool_ids("prog")) and not (maps & bpftool_ids("map")))


def test_count_flags_bad_combinations_exit_2(retina):
    for args, msg in [(["-c", "--stack"], "--stack works on each event"),
                      (["-c", "-w", "x.pcapng"], "-w works on each event"),
                      (["--interval", "1s"], "--interval sets how --count prints"),
                      (["--top", "3"], "--top sets how --count prints"),
                      (["-c", "--interval", "1x"], "bad --interval '1x'"),
                      (["-c", "--top", "-1"], "bad --top '-1'")]:
        p = run([retina, "trace", *args])
        assert p.returncode == 2 and msg in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
