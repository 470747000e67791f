"""retina trace --nft, for real: a known nftables ruleset (and an iptables-nft rule) in a
test namespace drops packets, and each NETFILTER_DROP event names the table, chain and
rule handle that `nft -a list` shows; the tracing table is there only while retina
runs, and only with --allow-system-changes."""
import json
import re
import signal
import subprocess
import time

import pytest

from conftest import require, run
from tracer import Tracer, connect, find, wait_for

RULESET = """
table inet t {
    chain input {
        type filter hook input priority 0; policy accept;
        udp dport 8091 counter drop
        tcp dport 8093 reject with tcp reset
    }
    chain strict {
        type filter hook input priority 10; policy drop;
        udp dport != 8094 accept
        tcp dport != 8094 accept
        ip protocol icmp accept
        ip6 nexthdr ipv6-icmp accept
    }
}
"""

UDP_SEND = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'drop me', (host, port))
"""

FAMILIES = pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])


def nft(pair, ns, *args, stdin=None):
    p = subprocess.run(pair.cmd(ns, ["nft", *args]), input=stdin, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def handles(pair, ns, family, table):
    """(chain, rule text) -> handle, from nft -j -a list table."""
    out = json.loads(nft(pair, ns, "-j", "-a", "list", "table", family, table))
    found = {}
    for item in out["nftables"]:
        rule = item.get("rule")
        if rule:
            found[(rule["chain"], json.dumps(rule["expr"]))] = rule["handle"]
    return found


def handle_of(pair, ns, family, table, chain, needle):
    for (c, expr), h in handles(pair, ns, family, table).items():
        if c == chain and needle in expr:
            return h
    raise AssertionError(f"no rule with {needle} in {family} {table} {chain}")


def table_chain_handles(pair, ns, family, table, chain):
    out = json.loads(nft(pair, ns, "-j", "-a", "list", "table", family, table))["nftables"]
    th = [i["table"]["handle"] for i in out if "table" in i]
    ch = [i["chain"]["handle"] for i in out if "chain" in i and i["chain"]["name"] == chain]
    return th[0], ch[0]


def tables(pair, ns):
    return nft(pair, ns, "list", "tables")


def udp_send(pair, host, port):
    p = pair.run(pair.a, ["python3", "-c", UDP_SEND, host, str(port)])
    assert p.returncode == 0, p.stderr


def warm(pair, host):
    """Resolve the neighbour first: on a fresh veth the first IPv6 solicitation can be
    dropped (IP_INNOROUTES) and a lone datagram then waits a second in the queue."""
    assert connect(pair, pair.a, host, 9) == "error 111"


def nft_tracer(retina, pair, *args):
    # nftables tracing is per network namespace: retina runs in the one whose rules drop
    return Tracer(retina, "--drops", "--nft", "--allow-system-changes", *args, prefix=["ip", "netns", "exec", pair.b])


@FAMILIES
def test_drop_names_table_chain_and_rule_handle(retina, netpair, v6):
    require("nft")
    nft(netpair, netpair.b, "-f", "-", stdin=RULESET)
    h = handle_of(netpair, netpair.b, "inet", "t", "input", "8091")
    b = netpair.B6 if v6 else netpair.B4
    warm(netpair, b)
    with nft_tracer(retina, netpair, "--ip", b) as t:
        assert "retina_nftrace" in tables(netpair, netpair.b)
        udp_send(netpair, b, 8091)
        t.stop()
    assert "added nftables table inet retina_nftrace" in t.stderr, t.stderr
    drops = find(t.events(netpair), "DROP", reason="NETFILTER_DROP", dst_ip=b, dst_port=8091)
    assert drops, t.stdout
    th, ch = table_chain_handles(netpair, netpair.b, "inet", "t", "input")
    assert drops[0]["nft"] == {"family": "inet", "table": "t", "chain": "input", "table_handle": th,
                               "chain_handle": ch, "handle": h, "verdict": "drop"}
    assert re.search(r"nft: 1 netfilter drops named by their rule, 0 not", t.stderr), t.stderr
    # gone with retina
    assert "retina_nftrace" not in tables(netpair, netpair.b)


def test_table_output_names_the_rule_so_nft_finds_it(retina, netpair):
    require("nft")
    nft(netpair, netpair.b, "-f", "-", stdin=RULESET)
    warm(netpair, netpair.B4)
    p = netpair.popen(netpair.b, [retina, "trace", "--drops", "--nft", "--allow-system-changes", "--port", "8091"],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: "retina_nftrace" in tables(netpair, netpair.b))
        time.sleep(0.5)
        udp_send(netpair, netpair.B4, 8091)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    th, ch = table_chain_handles(netpair, netpair.b, "inet", "t", "input")
    m = re.search(rf"^    nft: table inet t \({th}\) chain input \({ch}\) handle (\d+) drop$", out, re.M)
    assert m, out + err
    listing = nft(netpair, netpair.b, "-a", "list", "chain", "inet", "t", "input")
    assert re.search(rf"udp dport 8091 counter packets \d+ bytes \d+ drop # handle {m.group(1)}$", listing, re.M), \
        listing


def test_policy_drop_and_reject_are_named(retina, netpair):
    require("nft")
    nft(netpair, netpair.b, "-f", "-", stdin=RULESET)
    h = handle_of(netpair, netpair.b, "inet", "t", "input", "reject")
    warm(netpair, netpair.B4)
    with nft_tracer(retina, netpair, "--ip", netpair.B4) as t:
        udp_send(netpair, netpair.B4, 8094)	# no rule accepts it: the strict chain's policy
        assert connect(netpair, netpair.a, netpair.B4, 8093) == "error 111"	# the reject's reset
        t.stop()
    ev = t.events(netpair)
    drops = find(ev, "DROP", reason="NETFILTER_DROP", dst_port=8094)
    th, ch = table_chain_handles(netpair, netpair.b, "inet", "t", "strict")
    assert drops and drops[0]["nft"] == {"family": "inet", "table": "t", "chain": "strict", "table_handle": th,
                                         "chain_handle": ch, "policy": "drop"}, t.stdout
    drops = find(ev, "DROP", reason="NETFILTER_DROP", dst_port=8093)
    th, ch = table_chain_handles(netpair, netpair.b, "inet", "t", "input")
    assert drops and drops[0]["nft"] == {"family": "inet", "table": "t", "chain": "input", "table_handle": th,
                                         "chain_handle": ch, "handle": h, "verdict": "drop"}, t.stdout


def test_iptables_nft_rule_is_named_in_its_ip_table(retina, netpair):
    require("iptables", "nft")
    if "nf_tables" not in run(["iptables", "-V"]).stdout:
        pytest.skip("iptables-legacy rules are not nftables rules")
    p = netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "udp", "--dport", "8092", "-j", "DROP"])
    assert p.returncode == 0, p.stderr
    h = handle_of(netpair, netpair.b, "ip", "filter", "INPUT", "8092")
    warm(netpair, netpair.B4)
    with nft_tracer(retina, netpair, "--ip", netpair.B4) as t:
        udp_send(netpair, netpair.B4, 8092)
        t.stop()
    drops = find(t.events(netpair), "DROP", reason="NETFILTER_DROP", dst_port=8092)
    th, ch = table_chain_handles(netpair, netpair.b, "ip", "filter", "INPUT")
    assert drops and drops[0]["nft"] == {"family": "ip", "table": "filter", "chain": "INPUT", "table_handle": th,
                                         "chain_handle": ch, "handle": h, "verdict": "drop"}, t.stdout


def test_without_allow_system_changes_nothing_is_added_and_it_says_why(retina, netpair):
    require("nft")
    p = netpair.run(netpair.b, [retina, "trace", "--nft", "-d", "1s"])
    assert p.returncode == 2
    assert len(p.stderr.splitlines()) == 1, p.stderr
    assert "--nft changes this system" in p.stderr and "--allow-system-changes" in p.stderr
    assert "inet retina_nftrace" in p.stderr
    assert "retina_nftrace" not in tables(netpair, netpair.b)
    p = netpair.run(netpair.b, [retina, "trace", "--rst", "--nft", "--allow-system-changes"])
    assert p.returncode == 2 and "use it with --drops" in p.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_tracing_table_is_gone_after_a_signal(retina, netpair, sig):
    require("nft")
    with nft_tracer(retina, netpair) as t:
        assert "retina_nftrace" in tables(netpair, netpair.b)
        t.proc.send_signal(sig)
        t.proc.wait(timeout=10)
    if sig == signal.SIGTERM:
        assert t.proc.returncode == 0
    # SIGKILL too: the table is owned by retina's netlink socket, the kernel removes it
    assert wait_for(lambda: "retina_nftrace" not in tables(netpair, netpair.b), timeout=5)


def test_existing_tracing_table_is_a_clear_error_and_left_alone(retina, netpair):
    require("nft")
    nft(netpair, netpair.b, "add", "table", "inet", "retina_nftrace")
    p = netpair.run(netpair.b, [retina, "trace", "--nft", "--allow-system-changes", "-d", "1s"])
    assert p.returncode == 1
    assert "exists already" in p.stderr and "nft delete table inet retina_nftrace" in p.stderr, p.stderr
    assert len(p.stderr.splitlines()) == 1
    assert "retina_nftrace" in tables(netpair, netpair.b)	# not ours: not removed


def test_without_net_admin_names_the_capability(retina, netpair):
    require("setpriv", "nft")
    drop = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-all", "--"]
    p = netpair.run(netpair.b, [*drop, retina, "trace", "--nft", "--allow-system-changes", "-d", "1s"])
    assert p.returncode == 1
    assert "needs the NET_ADMIN capability" in p.stderr and "--capabilities NET_ADMIN" in p.stderr, p.stderr
    assert len(p.stderr.splitlines()) == 1
    assert "retina_nftrace" not in tables(netpair, netpair.b)
