"""retina ping against a namespace peer, compared with iputils ping: replies, loss
(iptables -m statistic: there is no netem here), ICMP errors, and the socket it
falls back to without CAP_NET_RAW."""
import re
import shutil

import pytest

from conftest import require, run

NO_RAW = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"]


def normalize(out):
    out = re.sub(r"time=[0-9.]+ ms", "time=T ms", out)
    out = re.sub(r"time \d+ms", "time Nms", out)
    return re.sub(r"rtt min/avg/max/mdev = \S+ ms", "rtt = R ms", out)


@pytest.fixture
def iputils(tmp_path):
    """iputils ping, copied: the copy has no file capabilities, so it can run
    under setpriv without NET_RAW (the installed one then fails to exec)."""
    require("ping", "iptables", "ip6tables", "setpriv")
    copy = tmp_path / "iputils-ping"
    copy.write_bytes(open(shutil.which("ping"), "rb").read())
    copy.chmod(0o755)
    return str(copy)


def warm(netpair):
    """A fresh veth answers its first IPv6 packets only after ~1 s of neighbour
    discovery: resolve both neighbours before comparing times or counts."""
    for dst in (netpair.B4, netpair.B6):
        netpair.run(netpair.a, ["ping", "-c", "1", "-W", "3", dst])


@pytest.mark.parametrize("v6", [False, True])
def test_output_matches_iputils_ping_line_for_line(retina, netpair, iputils, v6):
    dst = netpair.B6 if v6 else netpair.B4
    args = ["-c", "3", "-i", "0.2", dst]
    warm(netpair)
    ours = netpair.run(netpair.a, [retina, "ping", *args])
    theirs = netpair.run(netpair.a, [iputils, *args])
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert normalize(ours.stdout) == normalize(theirs.stdout)
    times = re.findall(r"^64 bytes from .*: icmp_seq=\d ttl=64 time=(\S+) ms$", ours.stdout, re.M)
    assert len(times) == 3
    for t in times:	# iputils' precision shrinks as the time grows: 0.123, 1.23, 12.3, 123
        assert re.fullmatch(r"0\.\d{3}|[1-9]\.\d{2}|[1-9]\d\.\d|[1-9]\d{2,}", t), t
    assert re.search(r"^rtt min/avg/max/mdev = \d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3} ms$", ours.stdout, re.M)


def test_random_loss_shows_in_the_statistics(retina, netpair, iputils):
    rule = ["-p", "icmp", "--icmp-type", "echo-request", "-m", "statistic", "--mode", "random",
            "--probability", "0.5", "-j", "DROP"]
    assert netpair.run(netpair.b, ["iptables", "-A", "INPUT", *rule]).returncode == 0
    p = netpair.run(netpair.a, [retina, "ping", "-c", "40", "-i", "0.02", "-W", "1", netpair.B4])
    replies = len(re.findall(r"^64 bytes from", p.stdout, re.M))
    m = re.search(r"^40 packets transmitted, (\d+) received, ([0-9.]+)% packet loss, time \d+ms$", p.stdout, re.M)
    assert m, p.stdout
    received, loss = int(m.group(1)), float(m.group(2))
    assert received == replies
    assert 4 <= received <= 36, "50% random loss should lose some and keep some"
    assert abs(loss - (40 - received) * 100 / 40) < 0.01
    assert p.returncode == 0
    # iputils, through the same rule, also loses some and keeps some
    q = netpair.run(netpair.a, [iputils, "-c", "40", "-i", "0.02", "-W", "1", netpair.B4])
    m2 = re.search(r"40 packets transmitted, (\d+) received", q.stdout)
    assert m2 and 4 <= int(m2.group(1)) <= 36


def test_no_reply_exits_1_with_full_loss(retina, netpair, iputils):
    netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "icmp", "-j", "DROP"])
    p = netpair.run(netpair.a, [retina, "ping", "-c", "2", "-i", "0.2", "-W", "1", netpair.B4])
    assert p.returncode == 1
    assert "2 packets transmitted, 0 received, 100% packet loss" in p.stdout
    assert "rtt" not in p.stdout


@pytest.mark.parametrize("unprivileged", [False, True])
@pytest.mark.parametrize("v6", [False, True])
def test_icmp_errors_are_reported_like_iputils(retina, netpair, iputils, v6, unprivileged):
    if v6:
        netpair.run(netpair.b, ["ip6tables", "-A", "INPUT", "-p", "icmpv6", "--icmpv6-type", "echo-request",
                                "-j", "REJECT", "--reject-with", "icmp6-adm-prohibited"])
        dst, what = netpair.B6, "Destination unreachable: Administratively prohibited"
    else:
        netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request",
                                "-j", "REJECT", "--reject-with", "icmp-host-unreachable"])
        dst, what = netpair.B4, "Destination Host Unreachable"
    prefix = []
    if unprivileged:
        netpair.run(netpair.a, ["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"])
        prefix = NO_RAW
    args = ["-c", "2", "-i", "0.2", "-W", "1", dst]
    warm(netpair)
    ours = netpair.run(netpair.a, [*prefix, retina, "ping", *args])
    theirs = netpair.run(netpair.a, [*prefix, iputils, *args])
    assert f"From {dst} icmp_seq=1 {what}" in ours.stdout, ours.stdout + ours.stderr
    assert "2 packets transmitted, 0 received, +2 errors, 100% packet loss" in ours.stdout
    assert ours.returncode == theirs.returncode == 1
    assert normalize(ours.stdout) == normalize(theirs.stdout)


def test_without_net_raw_falls_back_to_the_icmp_datagram_socket(retina, netpair, iputils):
    # ping_group_range is per network namespace; "1 0" (nobody) is the default
    p = netpair.run(netpair.a, [*NO_RAW, retina, "ping", "-c", "1", netpair.B4])
    assert p.returncode == 2
    assert "CAP_NET_RAW" in p.stderr and "kubectl retina shell --capabilities NET_RAW" in p.stderr
    assert "ping_group_range = 1 0" in p.stderr
    assert len(p.stderr.splitlines()) == 1
    netpair.run(netpair.a, ["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"])
    warm(netpair)
    for dst in (netpair.B4, netpair.B6):
        p = netpair.run(netpair.a, [*NO_RAW, retina, "ping", "-c", "2", "-i", "0.2", dst])
        assert p.returncode == 0, p.stderr
        assert len(re.findall(rf"^64 bytes from {re.escape(dst)}: icmp_seq=\d ttl=64 time=", p.stdout, re.M)) == 2


def test_deadline_size_ttl_and_quiet(retina, netpair):
    p = netpair.run(netpair.a, [retina, "ping", "-w", "1", "-i", "0.25", "-s", "100", "-t", "7", "-q", netpair.B4])
    assert p.returncode == 0
    assert p.stdout.startswith(f"PING {netpair.B4} ({netpair.B4}) 100(128) bytes of data.\n")
    assert "bytes from" not in p.stdout	# -q
    m = re.search(r"(\d+) packets transmitted, (\d+) received", p.stdout)
    assert 3 <= int(m.group(1)) <= 5 and m.group(1) == m.group(2)
    # a payload too small for a timestamp: no times, as iputils
    p = netpair.run(netpair.a, [retina, "ping", "-c", "1", "-s", "4", netpair.B4])
    assert f"12 bytes from {netpair.B4}: icmp_seq=1 ttl=64\n" in p.stdout
    assert "rtt" not in p.stdout


def test_source_interface_reaches_the_peer_the_route_does_not(retina, netpair):
    # a's route to B4 goes into a second veth whose peer is also in a (a dead
    # end: nobody answers ARP there): only -I veth (SO_BINDTODEVICE) takes the
    # first veth's connected route, so an ignored -I fails.
    dead, peer = netpair.veth_a[:-2] + "xa", netpair.veth_a[:-2] + "xb"
    netpair.run(netpair.a, ["ip", "link", "add", dead, "type", "veth", "peer", "name", peer], check=True)
    for dev in (dead, peer):
        netpair.run(netpair.a, ["ip", "link", "set", dev, "up"], check=True)
    netpair.run(netpair.a, ["ip", "route", "add", f"{netpair.B4}/32", "dev", dead], check=True)
    p = netpair.run(netpair.a, [retina, "ping", "-c", "1", "-W", "1", netpair.B4])
    assert p.returncode == 1, p.stdout + p.stderr	# the setup holds: the route alone is a dead end
    p = netpair.run(netpair.a, [retina, "ping", "-c", "1", "-W", "2", "-I", netpair.veth_a, netpair.B4])
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"64 bytes from {netpair.B4}: icmp_seq=1" in p.stdout
    p = netpair.run(netpair.a, [retina, "ping", "-c", "1", "-I", "nosuchif0", netpair.B4])
    assert p.returncode == 2 and "no such interface" in p.stderr


def test_source_address_is_the_one_the_peer_answers(retina, netpair):
    # b answers only 198.51.100.1, a second address of a's: replies to a's
    # usual source A4 are refused by b's routes, so an ignored -I ADDR fails.
    src = "198.51.100.1"
    netpair.run(netpair.a, ["ip", "addr", "add", f"{src}/32", "dev", "lo"], check=True)
    netpair.run(netpair.b, ["ip", "route", "add", f"{src}/32", "dev", netpair.veth_b], check=True)
    netpair.run(netpair.b, ["ip", "route", "add", "prohibit", f"{netpair.A4}/32"], check=True)
    p = netpair.run(netpair.a, [retina, "ping", "-c", "1", "-W", "1", netpair.B4])
    assert p.returncode == 1, p.stdout + p.stderr	# the setup holds: A4 gets no reply
    p = netpair.run(netpair.a, [retina, "ping", "-c", "1", "-W", "2", "-I", src, netpair.B4])
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"64 bytes from {netpair.B4}: icmp_seq=1" in p.stdout
    p = netpair.run(netpair.a, [retina, "ping", "-c", "1", "-I", "203.0.113.9", netpair.B4])
    assert p.returncode == 2 and "is it an address of this host" in p.stderr


def test_host_names_resolve_through_the_shared_resolver(retina):
    p = run([retina, "ping", "-c", "1", "localhost"])
    assert p.returncode == 0
    assert p.stdout.startswith("PING localhost (127.0.0.1) 56(84) bytes of data.\n")
    assert "64 bytes from localhost (127.0.0.1): icmp_seq=1" in p.stdout


@pytest.mark.parametrize("args,words", [
    ([], "needs a HOST"), (["-c", "0", "x"], "-c needs"), (["-i", "abc", "x"], "-i needs"),
    (["-t", "300", "x"], "-t needs"), (["-Q", "x"], "unknown option"),
    (["-6", "127.0.0.1"], "not an IPv6 address"),
])
def test_usage_errors(retina, args, words):
    p = run([retina, "ping", *args])
    assert p.returncode == 2
    assert words in p.stderr


@pytest.fixture
def responder(netpair):
    """Turn b's kernel echo off and answer with a scripted responder instead."""
    import subprocess
    from pathlib import Path
    procs = []

    def start(mode):
        netpair.run(netpair.b, ["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"])
        script = str(Path(__file__).parent / "helpers" / "icmp_responder.py")
        p = netpair.popen(netpair.b, ["python3", script, mode], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "up"
    yield start
    for p in procs:
        p.kill()
        p.wait()


def test_duplicates_are_marked_and_counted(retina, netpair, iputils, responder):
    responder("dup")
    warm(netpair)
    p = netpair.run(netpair.a, [retina, "ping", "-c", "3", "-i", "0.3", netpair.B4])
    assert p.returncode == 0
    for seq in (1, 2):
        assert len(re.findall(rf"^64 bytes from {netpair.B4}: icmp_seq={seq} ttl=64 time=\S+ ms$", p.stdout, re.M)) == 1
        assert re.search(rf"^64 bytes from {netpair.B4}: icmp_seq={seq} ttl=64 time=\S+ ms \(DUP!\)$", p.stdout, re.M)
    m = re.search(r"^3 packets transmitted, 3 received, \+(\d+) duplicates, 0% packet loss", p.stdout, re.M)
    assert m and int(m.group(1)) >= 2, p.stdout
    q = netpair.run(netpair.a, [iputils, "-c", "3", "-i", "0.3", netpair.B4])
    assert "(DUP!)" in q.stdout and "duplicates" in q.stdout


def test_reordered_replies_keep_their_own_times(retina, netpair, iputils, responder):
    responder("reorder")
    warm(netpair)
    args = ["-c", "3", "-i", "0.3", netpair.B4]
    p = netpair.run(netpair.a, [retina, "ping", *args])
    seqs = [int(s) for s in re.findall(r"icmp_seq=(\d+)", p.stdout)]
    assert seqs == [2, 1, 3], p.stdout
    t1 = float(re.search(r"icmp_seq=1 ttl=64 time=(\S+) ms", p.stdout).group(1))
    t2 = float(re.search(r"icmp_seq=2 ttl=64 time=(\S+) ms", p.stdout).group(1))
    assert t1 >= 250 and t2 < 100, "seq 1 waited for seq 2: its time includes the interval"
    assert "3 packets transmitted, 3 received, 0% packet loss" in p.stdout
    assert ", pipe 2" in p.stdout
    q = netpair.run(netpair.a, [iputils, *args])
    assert normalize(p.stdout) == normalize(q.stdout)


@pytest.fixture
def routed():
    """a -- r -- b: two links through a forwarding namespace r, for TTL tests.
    198.51.100.0/24 + 2001:db8:1::/64 on a's side, 203.0.113.0/24 + 2001:db8:2::/64 on b's."""
    import os
    import subprocess
    tag = f"rtr{os.getpid() % 100000}"
    names = {k: f"{tag}{k}" for k in "arb"}
    made = []

    def ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True)
    try:
        for ns in names.values():
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        a, r, b = names["a"], names["r"], names["b"]
        ip("link", "add", f"{tag}x", "netns", a, "type", "veth", "peer", "name", f"{tag}y", "netns", r)
        ip("link", "add", f"{tag}z", "netns", r, "type", "veth", "peer", "name", f"{tag}w", "netns", b)
        for ns, dev, v4, v6 in ((a, "x", "198.51.100.1/24", "2001:db8:1::1/64"),
                                (r, "y", "198.51.100.254/24", "2001:db8:1::fe/64"),
                                (r, "z", "203.0.113.254/24", "2001:db8:2::fe/64"),
                                (b, "w", "203.0.113.2/24", "2001:db8:2::2/64")):
            ip("-n", ns, "addr", "add", v4, "dev", f"{tag}{dev}")
            ip("-n", ns, "addr", "add", v6, "dev", f"{tag}{dev}", "nodad")
            ip("-n", ns, "link", "set", f"{tag}{dev}", "up")
        ip("-n", a, "route", "add", "default", "via", "198.51.100.254")
        ip("-n", a, "-6", "route", "add", "default", "via", "2001:db8:1::fe")
        ip("-n", b, "route", "add", "default", "via", "203.0.113.254")
        ip("-n", b, "-6", "route", "add", "default", "via", "2001:db8:2::fe")
        for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
            subprocess.run(["ip", "netns", "exec", r, "sysctl", "-qw", key], check=True)
        yield names
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.mark.parametrize("v6", [False, True])
def test_ttl_exceeded_names_the_router(retina, routed, iputils, v6):
    dst, hop = ("2001:db8:2::2", "2001:db8:1::fe") if v6 else ("203.0.113.2", "198.51.100.254")
    what = "Time exceeded: Hop limit" if v6 else "Time to live exceeded"
    a = routed["a"]
    for _ in range(2):	# warm the neighbours on both links (IPv6 takes about a second on new links)
        run(["ip", "netns", "exec", a, "ping", "-c", "1", "-W", "3", dst])
    reach = run(["ip", "netns", "exec", a, retina, "ping", "-c", "1", dst])
    assert reach.returncode == 0 and "ttl=63" in reach.stdout, reach.stdout
    args = ["-c", "2", "-i", "0.2", "-W", "1", "-t", "1", dst]
    ours = run(["ip", "netns", "exec", a, retina, "ping", *args])
    theirs = run(["ip", "netns", "exec", a, iputils, *args])
    assert f"From {hop} icmp_seq=1 {what}" in ours.stdout, ours.stdout
    assert ours.returncode == theirs.returncode == 1
    assert normalize(ours.stdout) == normalize(theirs.stdout)


def test_neighbour_failure_is_destination_host_unreachable(retina, netpair):
    # nobody has 192.0.2.77: ARP gives up after ~3 s and the kernel reports it to the sender
    p = netpair.run(netpair.a, [retina, "ping", "-c", "6", "-i", "0.5", "-W", "2", "192.0.2.77"])
    assert p.returncode == 1
    assert "From 192.0.2.1 icmp_seq=1 Destination Host Unreachable" in p.stdout, p.stdout
    m = re.search(r"6 packets transmitted, 0 received, \+(\d+) errors, 100% packet loss, time \d+ms\npipe (\d+)\n",
                  p.stdout)
    assert m and int(m.group(1)) >= 1 and int(m.group(2)) >= 2, p.stdout


def test_ctrl_c_prints_the_statistics(retina, netpair):
    import signal
    import subprocess
    import time
    p = netpair.popen(netpair.a, [retina, "ping", "-i", "0.2", netpair.B4], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("PING ")
        assert "icmp_seq=1" in p.stdout.readline()
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out = p.communicate(timeout=10)[0]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0
    assert f"--- {netpair.B4} ping statistics ---" in out
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    # a request sent just before the signal may still be unanswered
    assert m and int(m.group(1)) >= 3 and int(m.group(1)) - int(m.group(2)) in (0, 1), out


def test_ctrl_c_while_stdout_is_blocked_cuts_no_line(retina, netpair):
    """Ctrl-C while a reply line is stuck in a full pipe: the write finishes
    (SA_RESTART: musl's stdio would drop its buffer on EINTR), no line is cut
    or lost, and the statistics follow."""
    import fcntl
    import signal
    import subprocess
    import time
    p = netpair.popen(netpair.a, [retina, "ping", "-i", "0.002", netpair.B4], stdout=subprocess.PIPE)
    try:
        fcntl.fcntl(p.stdout.fileno(), 1031, 4096)	# F_SETPIPE_SZ: full after ~60 lines
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        time.sleep(0.3)
        out = p.communicate(timeout=10)[0].decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, out[-500:]
    lines = out.splitlines()
    assert lines[0].startswith("PING ")
    replies = lines[1:lines.index("")]
    assert len(replies) > 60, out[-500:]
    for i, line in enumerate(replies, 1):
        assert re.fullmatch(rf"64 bytes from {netpair.B4}: icmp_seq={i} ttl=64 time=[0-9.]+ ms", line), line
    assert f"--- {netpair.B4} ping statistics ---" in out
    # the line of the reply read as the signal came is there too (it was the one lost)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m and int(m.group(2)) == len(replies), out[-500:]
