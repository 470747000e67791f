"""kubectl retina bpftrace through the built binary against the fake API server,
whose pods run their command as local processes: the trace pod runs the real
`retina trace -o json` here (as root), so a refused connect in a netpair shows up
through the plugin. Only events of the test's own namespaces are asserted on."""
import json
import re
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import require, run, tshark_fields
from fakeapi import kubectl_path, FakeAPI, go_roundtrip, schema_errors, unknown_fields, TEST_IMAGE_REPO
from tracer import connect, finish

MANAGED = "app.kubernetes.io/managed-by=kubectl-retina"


@pytest.fixture
def bindir(retina, tmp_path):
    """kubectl-retina for us, and `retina` on the PATH the fake's pods inherit."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "kubectl-retina").symlink_to(retina)
    (d / "retina").symlink_to(retina)
    return d


class Cluster:
    def __init__(self, tmp, pki, bindir, *fake_args):
        self.tmp = Path(tmp)
        self.rec = self.tmp / "record.jsonl"
        self.env = dict(os.environ, HOME=str(self.tmp), PATH=f"{bindir}:{os.environ['PATH']}")
        for k in ("RETINA_SHELL_IMAGE_REPO", "RETINA_SHELL_IMAGE_VERSION", "KUBECONFIG"):
            self.env.pop(k, None)
        self.env["RETINA_SHELL_IMAGE_REPO"] = TEST_IMAGE_REPO
        saved = os.environ["PATH"]
        os.environ["PATH"] = self.env["PATH"]	# FakeAPI's server (and its pods) inherit it
        try:
            self.api = FakeAPI(tmp, "--record", str(self.rec), *fake_args, pki=pki)
        finally:
            os.environ["PATH"] = saved
        self.kc = self.api.kubeconfig()
        self.plugin = str(bindir / "kubectl-retina")

    def argv(self, *args):
        return [self.plugin, "bpftrace", "--kubeconfig", self.kc, *args]

    def records(self, key):
        if not self.rec.exists():
            return []
        return [r[key] for r in map(json.loads, self.rec.read_text().splitlines()) if key in r]

    def requests(self):
        return self.records("request")

    def managed_pods(self):
        return run([kubectl_path(), "get", "pods", "-A", "-l", MANAGED, "-o", "name"],
                   env=self.api.kubectl_env(self.kc)).stdout.split()


@pytest.fixture
def cluster(tmp_path, pki, bindir):
    c = Cluster(tmp_path, pki, bindir)
    try:
        yield c
    finally:
        c.api.close()


def wait_for(pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def trace_until_refused(c, netpair, tmp_path, *args):
    """Start the plugin, wait until the pod's tracer attached, connect a -> b:9 (closed), stop with SIGINT."""
    errf = tmp_path / "stderr"
    with open(errf, "w") as ef:
        p = subprocess.Popen(c.argv(*args), stdout=subprocess.PIPE, stderr=ef, text=True, env=c.env)
        try:
            assert wait_for(lambda: " attached " in errf.read_text()), errf.read_text()
            assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
            time.sleep(1.0)
            p.send_signal(signal.SIGINT)
            out, _ = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return p.returncode, out, errf.read_text()


def test_refused_connect_arrives_as_json_with_node_and_filter(cluster, netpair, tmp_path):
    code, out, err = trace_until_refused(cluster, netpair, tmp_path, "node-1", "-o", "json", "--rst",
                                         "--port", "9", "--ip", netpair.B4)
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]	# pure JSON lines on stdout
    mine = {netpair.inode(netpair.a), netpair.inode(netpair.b)}
    ev = [e for e in events if e.get("netns") in mine]
    assert all(e["node"] == "node-1" for e in events)
    assert {e["type"] for e in events} <= {"RST_SENT", "RST_RECV"}	# --rst
    assert all(9 in (e["src_port"], e["dst_port"]) for e in events)	# --port 9
    assert [e for e in ev if e["type"] == "RST_SENT" and e["src_ip"] == netpair.B4 and e["src_port"] == 9
            and e["dst_ip"] == netpair.A4], events
    assert "node node-1:" in err and "RST_SENT" in err	# the summary
    assert "deleted" in err.splitlines()[-1]
    assert cluster.managed_pods() == []
    # the pod as posted: valid, and only what the tracer needs
    [pod] = cluster.records("create")
    assert unknown_fields(pod, go_roundtrip(pod, tmp_path)) == []
    assert schema_errors(pod) == ""
    spec = pod["spec"]
    assert spec["nodeName"] == "node-1" and spec["hostNetwork"] is True
    assert spec["restartPolicy"] == "Never" and spec["terminationGracePeriodSeconds"] == 0
    assert spec["automountServiceAccountToken"] is False
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-retina"
    [ctr] = spec["containers"]
    assert ctr["command"] == ["retina", "trace", "-o", "json", "--stats-interval", "1s",
                              "--rst", "--port", "9", "--ip", netpair.B4]
    caps = ctr["securityContext"]["capabilities"]
    assert caps["drop"] == ["ALL"] and sorted(caps["add"]) == ["BPF", "PERFMON"]
    assert "privileged" not in ctr["securityContext"]


def test_refused_connect_arrives_as_table(cluster, netpair, tmp_path):
    code, out, err = trace_until_refused(cluster, netpair, tmp_path, "node-1", "--drops", "--port", "9")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "TYPE", "REASON", "PROBE", "SRC", "->", "DST"]
    assert set(lines[1]) == {"-"} and len(lines[1]) == len(lines[0])	# the ruled header of the docs
    rows = [line.split() for line in lines[2:] if f"{netpair.A4}:" in line and f"{netpair.B4}:9" in line]
    assert any(r[1:4] == ["DROP", "NO_SOCKET", "kfree_skb"] for r in rows), out
    assert all(r[1] == "DROP" for r in (line.split() for line in lines[2:]))	# --drops
    # the tracer's counts arrived before the pod went: a lost count, not "unknown"
    assert "node node-1:" in err and " 0 lost (ring buffer full)" in err, err
    assert cluster.managed_pods() == []


def test_duration_stops_and_leaves_no_pod(cluster, tmp_path):
    t0 = time.monotonic()
    p = run(cluster.argv("node-1", "--duration", "3s", "--port", "9"), env=cluster.env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - t0 < 40
    assert "node node-1:" in p.stderr and "deleted" in p.stderr.splitlines()[-1]
    assert cluster.managed_pods() == []


def test_sigterm_while_starting_leaves_no_pod(cluster, tmp_path):
    errf = tmp_path / "stderr"
    with open(errf, "w") as ef:
        p = subprocess.Popen(cluster.argv("node-1"), stdout=subprocess.PIPE, stderr=ef, env=cluster.env)
        try:
            assert wait_for(lambda: "pod " in errf.read_text())
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()
    assert "deleted" in errf.read_text().splitlines()[-1]
    assert cluster.managed_pods() == []


def test_unknown_node_fails_without_a_pod(cluster):
    p = run(cluster.argv("nope"), env=cluster.env, timeout=30)
    assert p.returncode == 1 and 'nodes "nope" not found' in p.stderr
    assert cluster.records("create") == []


@pytest.mark.parametrize("args, msg", [
    (["node-1", "--ip", "300.1.1.1"], "bad --ip '300.1.1.1'"),
    (["node-1", "--cidr", "10.0.0.0/33"], "bad --cidr"),
    (["node-1", "--port", "0"], "bad --port '0'"),
    (["node-1", "-o", "yaml"], "bad output format 'yaml'"),
    (["node-1", "--duration", "soon"], "bad --duration"),
    (["node-1", "--startup-timeout", "0"], "bad --startup-timeout"),
    (["node-1", "--frobnicate"], "--frobnicate"),
    (["Node_1"], "not a valid node name"),
    (["node-1", "Node_2"], "'Node_2' is not a valid node name"),
    ([], "which nodes"),
    (["node-1", "-l", "pool=blue"], "not both"),
    (["-l", "pool=blue;rm"], "bad -l"),
    (["-l", "pool=blue", "--max-nodes", "0"], "bad --max-nodes '0'"),
    ([f"node-{i}" for i in range(21)], "21 nodes given: a trace pod on more than 20 nodes needs --max-nodes 21"),
    ([f"node-{i}" for i in range(5)] + ["--max-nodes", "4"], "5 nodes given, more than --max-nodes 4"),
])
def test_bad_flags_exit_2_before_any_request(retina, tmp_path, args, msg):
    # an unreachable kubeconfig: any request would fail differently (exit 1)
    p = run([retina, "kubectl-retina", "bpftrace", "--kubeconfig", str(tmp_path / "none"), *args])
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr


def test_tracer_failing_in_the_pod_is_reported_and_the_pod_deleted(tmp_path, pki, retina):
    """The pod's `retina` is a stand-in that fails as a tracer without BPF would."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "kubectl-retina").symlink_to(retina)
    fake = d / "retina"
    fake.write_text("#!/bin/sh\necho 'retina trace: cannot load BPF programs: EPERM' >&2\nexit 1\n")
    fake.chmod(0o755)
    c = Cluster(tmp_path, pki, d)
    try:
        p = run(c.argv("node-1", "--drops"), env=c.env, timeout=60)
        assert p.returncode == 1, p.stderr
        assert "node-1: retina trace: cannot load BPF programs: EPERM" in p.stderr or "ended" in p.stderr, p.stderr
        assert "deleted" in p.stderr.splitlines()[-1]
        assert c.managed_pods() == []
    finally:
        c.api.close()


# ---- several nodes ----

def start(c, tmp_path, *args):
    errf = tmp_path / "stderr"
    ef = open(errf, "w")
    p = subprocess.Popen(c.argv(*args), stdout=subprocess.PIPE, stderr=ef, text=True, env=c.env)
    ef.close()
    p.errf = errf
    return p


def attached(p, n):
    return wait_for(lambda: p.errf.read_text().count(" attached ") >= n)


@pytest.fixture
def two_nodes(tmp_path, pki, bindir):
    c = Cluster(tmp_path, pki, bindir, "--node", "node-2:pool=blue")
    try:
        yield c
    finally:
        c.api.close()


def test_two_nodes_merge_into_one_table_with_a_node_column(two_nodes, netpair, tmp_path):
    c = two_nodes
    p = start(c, tmp_path, "node-1", "node-2", "--drops", "--port", "9")
    assert attached(p, 2), p.errf.read_text()
    assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
    time.sleep(1.0)
    code, out, err = finish(p, signal.SIGTERM)	# SIGTERM mid-trace: summary, no pod left
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NODE", "TIME", "TYPE", "REASON", "PROBE", "SRC", "->", "DST"]
    assert set(lines[1]) == {"-"} and len(lines[1]) == len(lines[0])
    mine = [ln.split() for ln in lines[2:] if f"{netpair.A4}:" in ln and f"{netpair.B4}:9" in ln]
    # both "nodes" run a real tracer on this kernel: the refused SYN's drop shows on each
    for node in ("node-1", "node-2"):
        assert any(r[0] == node and r[2:5] == ["DROP", "NO_SOCKET", "kfree_skb"] for r in mine), out
    # columns aligned: TYPE starts at the same offset in every row
    col = lines[0].index("TYPE")
    assert all(ln[col:].startswith("DROP") for ln in lines[2:]), out
    assert "node node-1:" in err and "node node-2:" in err and err.count(" 0 lost (ring buffer full)") == 2, err
    assert "NO_SOCKET" in err	# counts by reason
    pods = c.records("create")
    assert sorted(pod["spec"]["nodeName"] for pod in pods) == ["node-1", "node-2"]
    assert err.count("deleted") == 2
    assert c.managed_pods() == []


def test_two_nodes_json_lines_carry_the_node(two_nodes, netpair, tmp_path):
    c = two_nodes
    p = start(c, tmp_path, "node-1", "node/node-2", "-o", "json", "--rst", "--port", "9")
    assert attached(p, 2), p.errf.read_text()
    assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
    time.sleep(1.0)
    code, out, err = finish(p)
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]	# nothing but JSON on stdout
    assert all(e["type"] in ("RST_SENT", "RST_RECV") for e in events)	# no STATS, no banner
    mine = {netpair.inode(netpair.a), netpair.inode(netpair.b)}
    sent = [e for e in events if e.get("netns") in mine and e["type"] == "RST_SENT" and e["src_port"] == 9]
    assert {e["node"] for e in sent} == {"node-1", "node-2"}, events
    assert "node node-1:" in err and "node node-2:" in err
    assert c.managed_pods() == []


def test_label_selector_traces_the_matching_nodes(tmp_path, pki, bindir):
    c = Cluster(tmp_path, pki, bindir, "--node", "node-2:pool=blue", "--node", "node-3:pool=blue",
                "--node", "node-4:pool=green")
    try:
        p = run(c.argv("-l", "pool=blue", "--duration", "3s", "--port", "9"), env=c.env, timeout=60)
        assert p.returncode == 0, p.stderr
        assert sorted(pod["spec"]["nodeName"] for pod in c.records("create")) == ["node-2", "node-3"]
        assert "GET /api/v1/nodes?labelSelector=pool%3Dblue" in c.requests()
        assert "node node-2:" in p.stderr and "node node-3:" in p.stderr and "node node-4" not in p.stderr
        assert c.managed_pods() == []
        # nothing matches: said, and no pod
        p = run(c.argv("-l", "pool=red"), env=c.env, timeout=30)
        assert p.returncode == 1 and "no Linux node matches -l 'pool=red'" in p.stderr, p.stderr
        assert len(c.records("create")) == 2
    finally:
        c.api.close()


def test_more_than_20_nodes_need_max_nodes_before_any_pod(tmp_path, pki, bindir):
    nodes = [arg for i in range(21) for arg in ("--node", f"big-{i:02d}:pool=big")]
    c = Cluster(tmp_path, pki, bindir, "--inject", "stuck", *nodes)
    try:
        p = run(c.argv("-l", "pool=big"), env=c.env, timeout=30)
        assert p.returncode == 2, p.stderr
        assert "21 nodes match -l: a trace pod on more than 20 nodes needs --max-nodes 21" in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
        p = run(c.argv("-l", "pool=big", "--max-nodes", "20"), env=c.env, timeout=30)
        assert p.returncode == 2 and "more than --max-nodes 20" in p.stderr, p.stderr
        assert not [r for r in c.requests() if not r.startswith("GET ")]	# no POST, no DELETE
        # -l finds only Windows nodes: skipped and said, and no pod
        p = run(c.argv("-l", "kubernetes.io/os=windows"), env=c.env, timeout=30)
        assert p.returncode == 1 and "1 nodes skipped, not Linux" in p.stderr, p.stderr
        assert "no Linux node matches -l 'kubernetes.io/os=windows'" in p.stderr
        assert not [r for r in c.requests() if not r.startswith("GET ")]
        # allowed: 21 pods (stuck: never start), all deleted again
        p = run(c.argv("-l", "pool=big", "--max-nodes", "21", "--startup-timeout", "2s"), env=c.env, timeout=120)
        assert p.returncode == 1, p.stderr
        assert len(c.records("create")) == 21 and p.stderr.count("deleted") == 21
        assert "21 of 21 nodes failed" in p.stderr
        # each said as it failed, and again in the summary
        assert p.stderr.count("did not run within --startup-timeout 2s (last seen: starting)") == 2 * 21, p.stderr
        assert p.stderr.count("Events:") == 3	# the first few; the rest say the same
        assert c.managed_pods() == []
    finally:
        c.api.close()


def test_a_failing_node_is_reported_while_the_other_traces(tmp_path, pki, bindir, netpair):
    c = Cluster(tmp_path, pki, bindir, "--node", "node-2", "--inject-node", "node-2=image-pull-backoff")
    try:
        p = start(c, tmp_path, "node-1", "node-2", "-o", "json", "--drops", "--port", "9")
        assert attached(p, 1), p.errf.read_text()
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        time.sleep(1.0)
        code, out, err = finish(p)
        assert code == 1, err	# a node failed
        assert "node node-2: the node cannot pull image" in err and "ImagePullBackOff" in err
        events = [json.loads(line) for line in out.splitlines()]
        mine = {netpair.inode(netpair.b)}
        assert [e for e in events if e.get("netns") in mine and e["node"] == "node-1" and e["reason"] == "NO_SOCKET"]
        assert {e["node"] for e in events} == {"node-1"}
        assert "node node-1:" in err and "1 of 2 nodes failed; the others traced to the end" in err
        assert err.count("deleted") == 2
        assert c.managed_pods() == []
    finally:
        c.api.close()


def test_a_pod_deleted_mid_trace_is_reported_and_the_other_goes_on(two_nodes, netpair, tmp_path):
    c = two_nodes
    p = start(c, tmp_path, "node-1", "node-2", "-o", "json", "--drops", "--port", "9")
    assert attached(p, 2), p.errf.read_text()
    [pod2] = [r["metadata"]["name"] for r in c.records("create") if r["spec"]["nodeName"] == "node-2"]
    run([kubectl_path(), "delete", "pod", pod2], env=c.api.kubectl_env(c.kc), timeout=30)
    assert wait_for(lambda: "node node-2: the trace pod" in p.errf.read_text()), p.errf.read_text()
    assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"	# node-1 still traces
    time.sleep(1.0)
    code, out, err = finish(p, signal.SIGTERM)
    assert code == 1, err
    events = [json.loads(line) for line in out.splitlines()]
    mine = {netpair.inode(netpair.b)}
    assert [e for e in events if e.get("netns") in mine and e["node"] == "node-1"], events
    assert "FAILED" in err and "1 of 2 nodes failed" in err
    assert c.managed_pods() == []


def test_sigint_while_pods_start_leaves_none(tmp_path, pki, bindir):
    c = Cluster(tmp_path, pki, bindir, "--node", "node-2", "--inject", "stuck")
    try:
        p = start(c, tmp_path, "node-1", "node-2")
        assert wait_for(lambda: len(c.records("create")) == 2)
        code, _, err = finish(p)
        assert code != 0
        assert err.count("deleted") == 2, err
        assert c.managed_pods() == []
    finally:
        c.api.close()


def test_sigint_with_a_create_in_flight_leaves_no_pod(tmp_path, pki, bindir):
    """Every answer is slow: SIGINT lands while the second pod's POST is on its way."""
    c = Cluster(tmp_path, pki, bindir, "--node", "node-2", "--inject", "stuck", "--slow-ms", "700")
    try:
        p = start(c, tmp_path, "node-1", "node-2")
        assert wait_for(lambda: len([r for r in c.requests() if r.startswith("POST ")]) == 2)
        code, _, err = finish(p)
        assert code != 0
        time.sleep(1.0)	# were a create to land after our deletes, it would show now
        assert c.managed_pods() == [], err
        assert err.count("deleted") == 2, err
    finally:
        c.api.close()


def test_lost_events_reach_the_summary(tmp_path, pki, retina):
    """The pod's `retina` stands in for a tracer whose ring buffer overflowed."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "kubectl-retina").symlink_to(retina)
    fake = d / "retina"
    ev = ('{"time":1.0,"ts":"2026-11-22T01:30:04.123456789Z","type":"DROP","reason_code":3,"reason":"NO_SOCKET",'
          '"probe":"kfree_skb","proto":"tcp","src_ip":"192.0.2.1","src_port":40000,"dst_ip":"192.0.2.2",'
          '"dst_port":9}')
    st = '{"type":"STATS","events":1,"lost":7,"lost_by_type":{"DROP":7},"final":false}'
    fake.write_text(f"#!/bin/sh\necho 'retina trace: attached DROP'\necho '{ev}'\n"
                    f"while :; do echo '{st}'; sleep 0.3; done\n")
    fake.chmod(0o755)
    c = Cluster(tmp_path, pki, d)
    try:
        p = run(c.argv("node-1", "--duration", "2s"), env=c.env, timeout=60)
        assert p.returncode == 0, p.stderr
        assert "node-1: 7 events lost so far (the tracer's ring buffer was full)" in p.stderr
        assert "node node-1: " in p.stderr and "1 events, 7 lost (ring buffer full)" in p.stderr, p.stderr
        assert "  DROP      1 (+7 lost)" in p.stderr
        rows = p.stdout.splitlines()[2:]
        assert [r.split() for r in rows] == [["01:30:04.123", "DROP", "NO_SOCKET", "kfree_skb", "192.0.2.1:40000",
                                              "->", "192.0.2.2:9"]]
        assert c.managed_pods() == []
    finally:
        c.api.close()


def test_progress_on_a_terminal_is_one_rewritten_line(tmp_path, pki, bindir):
    """stderr a TTY: "[k/N running] pod ... on NODE: phase" redrawn in place, cleared before messages."""
    import pty
    c = Cluster(tmp_path, pki, bindir, "--node", "node-2", "--inject", "stuck")
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(c.argv("node-1", "node-2", "--startup-timeout", "2s"), stdout=subprocess.PIPE,
                             stderr=slave, env=c.env)
        os.close(slave)
        buf = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:	# EIO: the plugin closed the terminal
                break
            if not chunk:
                break
            buf += chunk
        p.wait(timeout=60)
        p.stdout.close()
        text = buf.decode(errors="replace")
        assert p.returncode == 1
        assert "\r\x1b[K[0/2 running] pod default/retina-bpftrace-" in text and " on node-1: " in text, text
        assert " on node-2: " in text
        # each failure starts on a cleared line, not after the progress text
        assert "\r\x1b[Kkubectl-retina bpftrace: node node-1: pod default/" in text, text
        assert c.managed_pods() == []
    finally:
        os.close(master)
        c.api.close()


# ---- drop forensics through the plugin: --stack, --nft, -w ----

def frames(stack):
    return [re.sub(r"\+0x[0-9a-f]+.*$", "", f) for f in stack]


def pod_caps(c):
    [pod] = c.records("create")
    [ctr] = pod["spec"]["containers"]
    return ctr["command"], sorted(ctr["securityContext"]["capabilities"]["add"])


def test_stack_passes_through_as_json_array_and_the_pod_gets_syslog(cluster, netpair, tmp_path):
    code, out, err = trace_until_refused(cluster, netpair, tmp_path, "node-1", "-o", "json", "--drops", "--stack",
                                         "--port", "9")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    mine = {netpair.inode(netpair.b)}
    drops = [e for e in events if e.get("netns") in mine and e["reason"] == "NO_SOCKET" and e["dst_port"] == 9]
    assert drops and drops[0]["node"] == "node-1", events
    assert "tcp_v4_rcv" in frames(drops[0]["stack"]), drops[0]
    assert all(re.match(r"^[\w.$]+\+0x[0-9a-f]+( \[\w+\])?$", f) for f in drops[0]["stack"]), drops[0]
    cmd, caps = pod_caps(cluster)
    assert cmd[-1] == "--stack" and caps == ["BPF", "PERFMON", "SYSLOG"]	# SYSLOG: only with --stack


NFT_RULESET = """
table inet t {
    chain input {
        type filter hook input priority 0; policy accept;
        udp dport 8091 counter drop
    }
}
"""


def netns_node(tmp_path, retina, ns):
    """A bin dir whose `retina` runs in network namespace ns: a "node" whose host network is ns."""
    d = tmp_path / "nsbin"
    d.mkdir()
    (d / "kubectl-retina").symlink_to(retina)
    w = d / "retina"
    w.write_text(f"#!/bin/sh\nexec ip netns exec {ns} {retina} \"$@\"\n")
    w.chmod(0o755)
    return d


def test_nft_and_stack_under_each_row_name_the_rule(tmp_path, pki, retina, netpair):
    require("nft")
    p = subprocess.run(netpair.cmd(netpair.b, ["nft", "-f", "-"]), input=NFT_RULESET, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    listing = json.loads(subprocess.run(netpair.cmd(netpair.b, ["nft", "-j", "-a", "list", "table", "inet", "t"]),
                                        capture_output=True, text=True, timeout=30).stdout)["nftables"]
    th = [i["table"]["handle"] for i in listing if "table" in i][0]
    ch = [i["chain"]["handle"] for i in listing if "chain" in i][0]
    [h] = [i["rule"]["handle"] for i in listing if "rule" in i]
    assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"	# the neighbour resolved
    c = Cluster(tmp_path, pki, netns_node(tmp_path, retina, netpair.b))
    try:
        p = start(c, tmp_path, "node-1", "--drops", "--stack", "--nft", "--allow-system-changes", "--ip",
                  netpair.B4, "--port", "8091")
        assert attached(p, 1), p.errf.read_text()
        assert wait_for(lambda: "retina_nftrace" in subprocess.run(
            netpair.cmd(netpair.b, ["nft", "list", "tables"]), capture_output=True, text=True).stdout)
        q = netpair.run(netpair.a, ["python3", "-c", "import socket; socket.socket(socket.AF_INET, "
                                    "socket.SOCK_DGRAM).sendto(b'x', ('%s', 8091))" % netpair.B4])
        assert q.returncode == 0, q.stderr
        time.sleep(1.0)
        code, out, err = finish(p)
        assert code == 0, err
        lines = out.splitlines()
        rows = [i for i, ln in enumerate(lines) if "NETFILTER_DROP" in ln and f"{netpair.B4}:8091" in ln]
        assert rows, out
        # as retina trace prints them: the rule first, then the frames, indented under the row
        assert lines[rows[0] + 1] == f"    nft: table inet t ({th}) chain input ({ch}) handle {h} drop", out
        below = []
        for ln in lines[rows[0] + 2:]:
            if not ln.startswith("    "):
                break
            below.append(ln.strip())
        assert "nft_do_chain" in frames(below) and "nf_hook_slow" in frames(below), out
        cmd, caps = pod_caps(c)
        assert cmd[-3:] == ["--stack", "--nft", "--allow-system-changes"]
        assert caps == ["BPF", "NET_ADMIN", "PERFMON", "SYSLOG"]
        assert c.managed_pods() == []
        # the tracer's table went with the pod
        assert wait_for(lambda: "retina_nftrace" not in subprocess.run(
            netpair.cmd(netpair.b, ["nft", "list", "tables"]), capture_output=True, text=True).stdout)
    finally:
        c.api.close()


@pytest.mark.parametrize("args, msg", [
    (["node-1", "--stack=some"], "bad --stack 'some'"),
    (["node-1", "--rst", "--stack"], "--stack shows the stacks of DROP events"),
    (["node-1", "--nft"], "allow that with --allow-system-changes"),
    (["node-1", "--rst", "--nft", "--allow-system-changes"], "--nft names the rule of netfilter drops"),
    (["node-1", "--allow-system-changes"], "use it with --nft"),
])
def test_bad_forensics_flags_exit_2_before_any_request(retina, tmp_path, args, msg):
    p = run([retina, "kubectl-retina", "bpftrace", "--kubeconfig", str(tmp_path / "none"), *args])
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr


def test_write_merges_both_nodes_drops_into_one_pcapng(two_nodes, netpair, tmp_path):
    require("tshark")
    c = two_nodes
    pcap = tmp_path / "drops.pcapng"
    p = start(c, tmp_path, "node-1", "node-2", "-o", "json", "--drops", "--port", "9", "-w", str(pcap),
              "--snaplen", "64")
    assert attached(p, 2), p.errf.read_text()
    assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
    time.sleep(1.0)
    code, out, err = finish(p)
    assert code == 0, err
    # stdout: the events, readable, without the packets' bytes
    events = [json.loads(line) for line in out.splitlines()]
    assert events and not [e for e in events if "packet" in e or "packet_len" in e], out[:2000]
    mine = str(netpair.inode(netpair.b))
    assert {e["node"] for e in events if str(e.get("netns")) == mine and e["reason"] == "NO_SOCKET"} == \
        {"node-1", "node-2"}, events
    assert oct(pcap.stat().st_mode & 0o777) == "0o600"	# packets may hold secrets
    rows = tshark_fields(str(pcap), "frame.interface_name", "ip.src", "ip.dst", "tcp.dstport", "tcp.flags.syn",
                         "frame.cap_len", "frame.comment")
    syn = [r for r in rows if r[1:4] == [netpair.A4, netpair.B4, "9"] and r[4] in ("1", "True")
           and f"netns={mine}" in r[6].split()]
    # the refused SYN, once per node, each on its node's interface and named in its comment
    assert sorted(r[0] for r in syn) == ["node-1", "node-2"], rows
    for r in syn:
        assert r[6].startswith(f"node={r[0]} type=DROP reason=NO_SOCKET probe=kfree_skb netns={mine}"), r
        assert f"ifname={netpair.veth_b}" in r[6] and int(r[5]) <= 64
    assert "packets from 2 of 2 nodes written to " + str(pcap) in err, err
    cmd = [pod["spec"]["containers"][0]["command"] for pod in c.records("create")]
    assert all(x[-3:] == ["--emit-packets", "--snaplen", "64"] for x in cmd), cmd
    assert c.managed_pods() == []


def test_write_to_stdout_streams_into_tshark_and_rows_go_to_stderr(cluster, netpair, tmp_path):
    require("tshark")
    errf = tmp_path / "stderr"
    with open(errf, "w") as ef:
        p = subprocess.Popen(cluster.argv("node-1", "--drops", "--port", "9", "-w", "-"), stdout=subprocess.PIPE,
                             stderr=ef, env=cluster.env)
        ts = subprocess.Popen(["tshark", "-r", "-", "-l", "-T", "fields", "-E", "separator=|", "-e", "ip.dst",
                               "-e", "tcp.dstport", "-e", "frame.comment"], stdin=p.stdout,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        p.stdout.close()
        try:
            assert wait_for(lambda: " attached " in errf.read_text()), errf.read_text()
            assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
            time.sleep(1.0)
            p.send_signal(signal.SIGINT)
            p.wait(timeout=30)
            out, terr = ts.communicate(timeout=60)
        finally:
            for x in (p, ts):
                if x.poll() is None:
                    x.kill()
                    x.wait()
    assert p.returncode == 0, errf.read_text()
    assert ts.returncode == 0, terr
    rows = [ln.split("|") for ln in out.splitlines()]
    mine = f"netns={netpair.inode(netpair.b)}"
    assert [r for r in rows if r[:2] == [netpair.B4, "9"] and r[2].startswith("node=node-1 type=DROP reason=NO_SOCKET")
            and mine in r[2].split()], rows
    err = errf.read_text()
    # the table went to stderr, with the rows
    assert "TIME" in err and "NO_SOCKET" in err and f"{netpair.B4}:9" in err, err
    assert "written to stdout" in err
    assert cluster.managed_pods() == []


@pytest.mark.parametrize("args, msg", [
    (["node-1", "--rst", "-w", "x.pcapng"], "-w writes dropped packets"),
    (["node-1", "--snaplen", "64"], "use it with -w FILE"),
    (["node-1", "-w", "x.pcapng", "--snaplen", "0"], "bad --snaplen '0'"),
    (["node-1", "-w", "x.pcapng", "--snaplen", "1025"], "bad --snaplen '1025'"),
    (["node-1", "-w", ""], "-w needs a file name"),
])
def test_bad_write_flags_exit_2_before_any_request(retina, tmp_path, args, msg):
    p = run([retina, "kubectl-retina", "bpftrace", "--kubeconfig", str(tmp_path / "none"), *args], cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr
    assert not (tmp_path / "x.pcapng").exists()


def test_unwritable_file_fails_before_any_pod(cluster, tmp_path):
    p = run(cluster.argv("node-1", "-w", str(tmp_path / "no" / "such" / "dir.pcapng")), env=cluster.env, timeout=30)
    assert p.returncode == 1 and "cannot write " in p.stderr and "No such file" in p.stderr, p.stderr
    assert cluster.requests() == []


def test_reader_of_stdout_gone_stops_the_trace_and_deletes_the_pod(cluster, netpair, tmp_path):
    """`-w - | tshark -c 1 -r -`: tshark ends after one packet; the next write's EPIPE stops us as Ctrl-C would."""
    require("tshark")
    errf = tmp_path / "stderr"
    with open(errf, "w") as ef:
        p = subprocess.Popen(cluster.argv("node-1", "--drops", "--port", "9", "-w", "-"), stdout=subprocess.PIPE,
                             stderr=ef, env=cluster.env)
        ts = subprocess.Popen(["tshark", "-c", "1", "-r", "-"], stdin=p.stdout, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
        p.stdout.close()
        try:
            assert wait_for(lambda: " attached " in errf.read_text()), errf.read_text()
            for _ in range(30):	# until tshark has its packet, then one more drop meets the closed pipe
                assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
                if p.poll() is not None:
                    break
                time.sleep(0.3)
            p.wait(timeout=30)
            ts.wait(timeout=30)
        finally:
            for x in (p, ts):
                if x.poll() is None:
                    x.kill()
                    x.wait()
            ts.stdout.close()
    err = errf.read_text()
    assert p.returncode == 0, err
    assert "node node-1:" in err and "written to stdout" in err and "deleted" in err.splitlines()[-1], err
    assert "failed" not in err, err	# a reader going away is the end, not an error
    assert cluster.managed_pods() == []


# ---- --count: every node's kernel counts merged ----

COUNT_PORT = 7011


def udp_drops(netpair, n):
    """n UDP packets a -> b:COUNT_PORT, each dropped by b's iptables rule; the rule's exact counter."""
    iptables = ["iptables", "-A", "INPUT", "-p", "udp", "--dport", str(COUNT_PORT), "-j", "DROP"]
    assert netpair.run(netpair.b, iptables).returncode == 0
    q = netpair.run(netpair.a, ["python3", "-c", "import socket, sys\ns = socket.socket(socket.AF_INET, "
                                "socket.SOCK_DGRAM)\nfor _ in range(%d): s.sendto(b'x', ('%s', %d))"
                                % (n, netpair.B4, COUNT_PORT)])
    assert q.returncode == 0, q.stderr
    out = netpair.run(netpair.b, ["iptables", "-L", "INPUT", "-v", "-x", "-n"]).stdout
    return int([ln for ln in out.splitlines() if f"dpt:{COUNT_PORT}" in ln][0].split()[0])


def test_count_merges_two_nodes_with_a_total_per_key(two_nodes, netpair, tmp_path):
    c = two_nodes
    p = start(c, tmp_path, "node-1", "node-2", "--drops", "--count", "--interval", "500ms", "--port",
              str(COUNT_PORT), "--top", "0")
    assert attached(p, 2), p.errf.read_text()
    dropped = udp_drops(netpair, 500)
    assert dropped == 500
    time.sleep(1.5)	# a count line from each node after the drops
    code, out, err = finish(p)
    assert code == 0, err
    assert "\033[" not in out	# piped: appended, never redrawn
    totals = out[out.index("totals over"):].splitlines()
    assert totals[1].split()[:3] == ["NODE", "COUNT", "RATE/s"]
    ns = str(netpair.inode(netpair.b))
    mine = [r.split() for r in totals[2:] if f" {ns} " in r]
    # both "nodes" run a real tracer on this kernel: each counted every drop, the "*" row is their sum
    assert [(r[0], r[1], r[3:7]) for r in mine] == [
        ("node-1", "500", ["DROP", "NETFILTER_DROP", "udp", str(COUNT_PORT)]),
        ("node-2", "500", ["DROP", "NETFILTER_DROP", "udp", str(COUNT_PORT)]),
        ("*", "1000", ["DROP", "NETFILTER_DROP", "udp", str(COUNT_PORT)])], out
    # the intervals came too, each with its title
    assert out.count(" UTC, last ") >= 2, out
    assert re.search(r"node node-1: [\d.]+s, \d+ events counted in the kernel, \d+ keys", err), err
    cmd = c.records("create")[0]["spec"]["containers"][0]["command"]
    assert cmd[:6] == ["retina", "trace", "-o", "json", "--interval", "500ms"] and "--count" in cmd
    assert "--stats-interval" not in cmd
    assert c.managed_pods() == []


def test_count_json_lines_carry_the_node_and_sum_per_node(two_nodes, netpair, tmp_path):
    c = two_nodes
    p = start(c, tmp_path, "node-1", "node-2", "-o", "json", "-c", "--drops", "--interval", "400ms", "--port",
              str(COUNT_PORT))
    assert attached(p, 2), p.errf.read_text()
    assert udp_drops(netpair, 300) == 300
    time.sleep(1.2)
    code, out, err = finish(p)
    assert code == 0, err
    lines = [json.loads(ln) for ln in out.splitlines()]	# nothing but JSON on stdout
    assert lines and all(x["type"] == "COUNTS" for x in lines)
    ns = netpair.inode(netpair.b)
    per_node = {}
    for x in lines:
        if not x["final"]:
            for k in x["keys"]:
                if k["netns"] == ns and k["dport"] == COUNT_PORT:
                    per_node[x["node"]] = per_node.get(x["node"], 0) + k["count"]
    assert per_node == {"node-1": 300, "node-2": 300}, lines


@pytest.mark.parametrize("args, msg", [
    (["node-1", "-c", "--stack"], "--stack works on each event, --count only counts"),
    (["node-1", "-c", "-w", "x.pcapng"], "-w works on each event"),
    (["node-1", "--top", "3"], "--top sets how --count prints"),
    (["node-1", "-c", "--interval", "0"], "bad --interval '0'"),
])
def test_bad_count_flags_exit_2_before_any_request(retina, tmp_path, args, msg):
    p = run([retina, "kubectl-retina", "bpftrace", "--kubeconfig", str(tmp_path / "none"), *args])
    assert p.returncode == 2, p.stderr
    assert msg in p.stderr and len(p.stderr.splitlines()) == 1, p.stderr
