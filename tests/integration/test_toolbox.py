"""The debug-shell toolbox (tcpdump, iptables, ip/ss/tc/bridge, ethtool, jq, socat,
drill, strace) in the image,
for real: podman with runc, the capabilities docs/image.md gives each tool, in
network namespaces the test made (a container's own, or a NetPair's). The
iptables wrapper's backend choice is tested both ways: rules in legacy, rules in
nf_tables (read through the node's iptables-nft under /host)."""
import io
import json
import os
import re
import subprocess
import tarfile

import pytest

from conftest import require, run
from dnsfix import Unbound

TOOLS = ["tcpdump", "xtables-legacy-multi", "ip", "ss", "tc", "bridge", "ethtool", "jq", "socat", "drill",
         "strace"]
NET = ["--cap-drop", "ALL", "--cap-add", "NET_ADMIN,NET_RAW"]


def toolbox_layer(archive):
    """{path: (TarInfo, bytes)} of the layer holding usr/sbin/tcpdump."""
    with tarfile.open(archive) as oci:
        for m in oci.getmembers():
            if not m.isfile() or not m.name.startswith("blobs/sha256/"):
                continue
            data = oci.extractfile(m).read()
            try:
                layer = tarfile.open(fileobj=io.BytesIO(data))
                names = layer.getnames()
            except tarfile.TarError:
                continue
            if "usr/sbin/tcpdump" in names:
                return {i.name: (i, layer.extractfile(i).read() if i.isfile() else None)
                        for i in layer.getmembers()}
    raise AssertionError("no layer with usr/sbin/tcpdump in the image")


def sh(image, script, opts=(), timeout=60):
    return image.run("sh", "-c", script, opts=list(opts), timeout=timeout)


@pytest.fixture
def netns():
    """A bare network namespace (lo up) for a container to join; removed even on failure."""
    require("ip")
    name = f"rtbx{os.getpid() % 100000}"
    run(["ip", "netns", "add", name])
    try:
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def in_ns(ns, *argv):
    return run(["ip", "netns", "exec", ns, *argv])


# ---- the archive --------------------------------------------------------------

def test_every_tool_is_static_stripped_and_in_usr_sbin(shell_image, tmp_path):
    layer = toolbox_layer(shell_image.archive)
    sizes = []
    for tool in TOOLS:
        info, data = layer[f"usr/sbin/{tool}"]
        assert info.mode & 0o111, tool
        f = tmp_path / tool
        f.write_bytes(data)
        hdrs = run(["readelf", "-lSW", str(f)]).stdout
        assert "INTERP" not in hdrs, f"{tool} is dynamically linked"
        assert ".symtab" not in hdrs, f"{tool} is not stripped"
        sizes.append(f"{tool} {info.size}")
    print("\ntoolbox: " + ", ".join(sizes))
    # every iptables name is the wrapper that picks the node's backend
    for name in ("iptables", "ip6tables", "iptables-save", "iptables-restore", "iptables-legacy",
                 "iptables-nft", "ip6tables-legacy-save", "ip6tables-nft-restore"):
        info, _ = layer[f"usr/sbin/{name}"]
        assert info.isfile() or (info.issym() and info.linkname == "iptables"), name


# ---- iptables: legacy built in, nft from the node, the choice -----------------

def test_iptables_follows_rules_in_legacy(shell_image):
    p = sh(shell_image, "iptables-legacy -A INPUT -p tcp --dport 4242 -j DROP && iptables -nvL INPUT && "
                        "iptables-save && iptables -nL INPUT", opts=NET)
    assert p.returncode == 0, p.stderr
    assert re.search(r"DROP .*tcp dpt:4242", p.stdout)
    assert "-A INPUT -p tcp -m tcp --dport 4242 -j DROP" in p.stdout
    # said once, although iptables ran three times
    assert p.stderr.count("iptables backend: legacy") == 1, p.stderr


def test_iptables_follows_rules_in_nft_through_the_nodes_tool(shell_image, netns):
    require("iptables-nft")
    in_ns(netns, "iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "4343", "-j", "DROP")
    opts = ["--network", f"ns:/run/netns/{netns}", "-v", "/:/host:ro", "--cap-drop", "ALL",
            "--cap-add", "NET_ADMIN,NET_RAW,SYS_CHROOT"]
    p = sh(shell_image, "iptables -nvL INPUT; echo ==; iptables-legacy -nvL INPUT", opts=opts)
    assert p.returncode == 0, p.stderr
    nft, legacy = p.stdout.split("==")
    assert re.search(r"DROP .*tcp dpt:4343", nft)
    # the choice looked at legacy without creating its tables (iptables-nft would warn)
    assert "iptables-legacy tables present" not in nft
    assert "4343" not in legacy
    assert "iptables backend: nft" in p.stderr
    # forced: RETINA_IPTABLES_BACKEND and the -legacy name win over the rules
    p = sh(shell_image, "RETINA_IPTABLES_BACKEND=legacy iptables -nvL INPUT", opts=opts)
    assert p.returncode == 0 and "4343" not in p.stdout and "legacy (RETINA_IPTABLES_BACKEND)" in p.stderr


def test_kube_proxy_hint_chain_in_legacy_wins_over_more_nft_rules(shell_image, netns):
    require("iptables-nft", "iptables-legacy")
    for port in ("1", "2", "3"):
        in_ns(netns, "iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", port, "-j", "DROP")
    in_ns(netns, "iptables-legacy", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT")
    opts = ["--network", f"ns:/run/netns/{netns}", "-v", "/:/host:ro", "--cap-drop", "ALL",
            "--cap-add", "NET_ADMIN,NET_RAW,SYS_CHROOT"]
    p = sh(shell_image, "iptables -t mangle -nL KUBE-IPTABLES-HINT", opts=opts)
    assert p.returncode == 0, p.stderr
    assert "iptables backend: legacy" in p.stderr


def test_iptables_nft_without_the_host_filesystem_names_the_flag(shell_image):
    p = sh(shell_image, "iptables-nft -nL", opts=NET)
    assert p.returncode == 1
    assert "--mount-host-filesystem" in p.stderr and p.stderr.count("\n") == 1, p.stderr


def test_iptables_without_net_admin_fails_and_capcheck_says_why(shell_image):
    p = sh(shell_image, "iptables-legacy -nL", opts=["--cap-drop", "ALL"])
    assert p.returncode != 0
    p = shell_image.run("capcheck", "iptables", "tcpdump", opts=["--cap-drop", "ALL"])
    assert p.returncode == 1
    assert re.search(r"^iptables +missing +cap NET_ADMIN,NET_RAW +--capabilities NET_ADMIN,NET_RAW$",
                     p.stdout, re.M), p.stdout
    assert re.search(r"^tcpdump +missing +cap NET_RAW +--capabilities NET_RAW$", p.stdout, re.M), p.stdout
    p = shell_image.run("capcheck", "-q", "iptables", "tcpdump", opts=NET)
    assert p.returncode == 0


# ---- tcpdump ------------------------------------------------------------------

WAIT_LISTENING = "while ! grep -q listening /tmp/err 2>/dev/null; do sleep 0.1; done"


def test_tcpdump_captures_retinas_ping_on_lo(shell_image):
    p = sh(shell_image, f"tcpdump -c 1 -n -i lo icmp 2>/tmp/err & {WAIT_LISTENING}; "
                        "ping -c 1 -W 5 127.0.0.1 >/dev/null; wait $!; cat /tmp/err >&2",
           opts=["--cap-drop", "ALL", "--cap-add", "NET_RAW"])
    assert p.returncode == 0, p.stderr
    assert re.search(r"IP 127\.0\.0\.1 > 127\.0\.0\.1: ICMP echo request", p.stdout), p.stdout
    assert "1 packet captured" in p.stderr


def test_tcpdump_write_opens_in_tshark(shell_image, tmp_path):
    require("tshark")
    tmp_path.chmod(0o777)
    p = sh(shell_image, f"tcpdump -c 2 -i lo -w /out/cap.pcap icmp 2>/tmp/err & {WAIT_LISTENING}; "
                        "ping -c 1 -W 5 127.0.0.1 >/dev/null; wait $!",
           opts=["--cap-drop", "ALL", "--cap-add", "NET_RAW", "-v", f"{tmp_path}:/out"])
    assert p.returncode == 0, p.stderr
    t = run(["tshark", "-r", str(tmp_path / "cap.pcap"), "-T", "fields", "-e", "icmp.type"])
    assert t.stdout.split() == ["8", "0"]


# ---- iproute2 and ethtool -----------------------------------------------------

def test_ss_lists_the_listening_socket_and_its_process(shell_image):
    p = sh(shell_image, "nc -l -p 4321 >/dev/null & while ! ss -Htln | grep -q :4321; do sleep 0.1; done; "
                        "ss -tanp; kill $!")
    assert p.returncode == 0, p.stderr
    assert re.search(r'LISTEN .*:4321 .*users:\(\("nc"', p.stdout), p.stdout


def test_ip_tc_bridge_and_ethtool_on_a_veth(shell_image, netpair):
    # sh -c: busybox runs its own ip/tc before PATH's; the login shell aliases them (below)
    p = sh(shell_image, f"/usr/sbin/ip -d link show {netpair.veth_a}; echo ==; "
                        f"/usr/sbin/tc qdisc show dev {netpair.veth_a}; echo ==; bridge link; echo ==; "
                        f"ethtool -i {netpair.veth_a}; echo ==; /usr/sbin/ip -j addr",
           opts=["--network", f"ns:/run/netns/{netpair.a}"])
    assert p.returncode == 0, p.stderr
    link, tc, _, eth, js = p.stdout.split("==\n")
    assert re.search(r"^\s+veth ", link, re.M), link     # -d: only iproute2's ip prints the kind
    assert "qdisc" in tc
    assert "driver: veth" in eth
    addrs = [a["local"] for i in json.loads(js) for a in i["addr_info"]]
    assert netpair.A4 in addrs


def test_tc_changes_need_net_admin(shell_image):
    p = sh(shell_image, "/usr/sbin/tc qdisc add dev lo root handle 1: htb && /usr/sbin/tc qdisc show dev lo",
           opts=NET)
    assert p.returncode == 0 and "qdisc htb 1: root" in p.stdout, p.stderr
    p = shell_image.run("tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb",
                        opts=["--cap-drop", "ALL"])
    assert p.returncode != 0 and "Operation not permitted" in p.stderr


def test_login_shell_and_exec_run_the_toolboxs_ip_and_tc_not_busyboxs(shell_image):
    # exec (the entrypoint: `kubectl retina shell -- ip ...`) searches PATH
    p = shell_image.run("ip", "-V")
    assert p.returncode == 0 and p.stdout.startswith("ip utility, iproute2-"), p.stdout + p.stderr
    # the login shell: /etc/profile aliases /usr/sbin's tools over busybox's applets
    p = shell_image.run(opts=["-i"], input="type ip tc ss\nip -V\ntc -V\n")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[:3] == [f"{t} is an alias for /usr/sbin/{t}" for t in ("ip", "tc", "ss")]
    assert lines[3].startswith("ip utility, iproute2-") and lines[4].startswith("tc utility, iproute2-")


# ---- jq, socat, drill, strace ---------------------------------------------------

def test_jq_reads_retinas_json(shell_image):
    p = sh(shell_image, "capcheck -o json tcpdump jq >/tmp/c.json; echo $?; jq . /tmp/c.json; echo ==; "
                        "jq -r '.tools[] | [.tool, .ok] | @tsv' /tmp/c.json; echo ==; cat /tmp/c.json",
           opts=["--cap-drop", "ALL"])
    assert p.returncode == 0, p.stderr
    status, pretty, tsv, raw = _split4(p.stdout)
    assert status == "1", status                  # tcpdump lacks NET_RAW
    assert json.loads(pretty) == json.loads(raw)
    assert pretty.startswith("{\n  \"") and pretty != raw, pretty[:80]
    assert tsv.splitlines() == ["tcpdump\tfalse", "jq\ttrue"], tsv


def _split4(out):
    first, rest = out.split("\n", 1)
    pretty, tsv, raw = rest.split("==\n")
    return first, pretty, tsv, raw


WAIT_TCP = "while ! ss -Htln | grep -q :{}; do sleep 0.1; done"


def test_socat_relays_a_tcp_connection(shell_image):
    # a server on 4401, socat relaying 4400 to it, a client on 4400; both ways
    p = sh(shell_image, "echo pong | nc -l -p 4401 >/tmp/srv & " + WAIT_TCP.format(4401) + "; "
                        "socat -d -d TCP-LISTEN:4400,bind=127.0.0.1 TCP:127.0.0.1:4401 2>/tmp/socat & "
                        + WAIT_TCP.format(4400) + "; "
                        "echo ping | nc -w 5 127.0.0.1 4400; wait; cat /tmp/srv; cat /tmp/socat >&2")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["pong", "ping"], p.stdout + p.stderr
    assert re.search(r"accepting connection from AF=2 127\.0\.0\.1:\d+ on AF=2 127\.0\.0\.1:4400", p.stderr)
    assert re.search(r"successfully connected from local address AF=2 127\.0\.0\.1:\d+", p.stderr)
    assert "exiting with status 0" in p.stderr


@pytest.fixture
def unbound_peer(netpair, tmp_path):
    """unbound answering example.test on the netpair's b side; the container joins a."""
    require("unbound", "dig")
    u = Unbound(str(tmp_path), netns=netpair.b, address=netpair.B4)
    try:
        yield netpair, u
    finally:
        u.close()


def test_drill_queries_a_dns_peer(shell_image, unbound_peer):
    pair, u = unbound_peer
    # options first: musl's getopt stops at the first operand (@server)
    p = sh(shell_image, f"drill -p {u.port} @{pair.B4} www.example.test A; echo ==; "
                        f"drill -t -p {u.port} @{pair.B4} example.test MX; echo ==; "
                        f"drill -x -p {u.port} @{pair.B4} 192.0.2.10",
           opts=["--network", f"ns:/run/netns/{pair.a}"])
    assert p.returncode == 0, p.stderr
    a, mx, ptr = p.stdout.split("==\n")
    assert ";; ->>HEADER<<- opcode: QUERY, rcode: NOERROR" in a, a
    answers = re.findall(r"^www\.example\.test\.\s+300\s+IN\s+A\s+(\S+)$", a, re.M)
    assert sorted(answers) == ["192.0.2.10", "192.0.2.11"], a
    assert f";; SERVER: {pair.B4}" in a
    assert re.search(r"^example\.test\.\s+3600\s+IN\s+MX\s+10 mail\.example\.test\.$", mx, re.M), mx
    assert re.search(r"^10\.2\.0\.192\.in-addr\.arpa\.\s+300\s+IN\s+PTR\s+www\.example\.test\.$", ptr,
                     re.M), ptr


def test_strace_shows_the_connect_of_retina_nc(shell_image):
    p = sh(shell_image, "nc -l -p 4402 >/dev/null & " + WAIT_TCP.format(4402) + "; "
                        "strace -f -e trace=connect retina nc -zv 127.0.0.1 4402; echo \"nc exit $?\"; wait")
    assert p.returncode == 0, p.stderr
    assert "nc exit 0" in p.stdout, p.stdout + p.stderr
    assert re.search(r'^(\[pid +\d+\] )?connect\(\d+, \{sa_family=AF_INET, sin_port=htons\(4402\), '
                     r'sin_addr=inet_addr\("127\.0\.0\.1"\)\}, 16\) = (0|-1 EINPROGRESS)', p.stderr, re.M), p.stderr
    assert re.search(r"^\+\+\+ exited with 0 \+\+\+$", p.stderr, re.M), p.stderr
