"""kubectl retina bpftrace through the built binary against the fake API server,
whose pods run their command as local processes: the trace pod runs the real
`retina trace -o json` here (as root), so a refused connect in a netpair shows up
through the plugin. Only events of the test's own namespaces are asserted on."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run
from fakeapi import KUBECTL, FakeAPI, go_roundtrip, schema_errors, unknown_fields
from tracer import connect

MANAGED = "app.kubernetes.io/managed-by=kubectl-retina"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return tmp_path_factory.mktemp("pki")


@pytest.fixture
def bindir(retina, tmp_path):
    """kubectl-retina for us, and `retina` on the PATH the fake's pods inherit."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "kubectl-retina").symlink_to(retina)
    (d / "retina").symlink_to(retina)
    return d


class Cluster:
    def __init__(self, tmp, pki, bindir):
        self.tmp = Path(tmp)
        self.rec = self.tmp / "record.jsonl"
        self.env = dict(os.environ, HOME=str(self.tmp), PATH=f"{bindir}:{os.environ['PATH']}")
        for k in ("RETINA_SHELL_IMAGE_REPO", "RETINA_SHELL_IMAGE_VERSION", "KUBECONFIG"):
            self.env.pop(k, None)
        saved = os.environ["PATH"]
        os.environ["PATH"] = self.env["PATH"]	# FakeAPI's server (and its pods) inherit it
        try:
            self.api = FakeAPI(tmp, "--record", str(self.rec), pki=pki)
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

    def managed_pods(self):
        return run([KUBECTL, "get", "pods", "-A", "-l", MANAGED, "-o", "name"],
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
    assert ctr["command"] == ["retina", "trace", "-o", "json", "--rst", "--port", "9", "--ip", netpair.B4]
    caps = ctr["securityContext"]["capabilities"]
    assert caps["drop"] == ["ALL"] and sorted(caps["add"]) == ["BPF", "PERFMON"]
    assert "privileged" not in ctr["securityContext"]


def test_refused_connect_arrives_as_table(cluster, netpair, tmp_path):
    code, out, err = trace_until_refused(cluster, netpair, tmp_path, "node-1", "--drops", "--port", "9")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "TYPE", "REASON", "PROBE", "SRC", "->", "DST"]
    rows = [line.split() for line in lines[1:] if f"{netpair.A4}:" in line and f"{netpair.B4}:9" in line]
    assert any(r[1:4] == ["DROP", "NO_SOCKET", "kfree_skb"] for r in rows), out
    assert all(r[1] == "DROP" for r in (line.split() for line in lines[1:]))	# --drops
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
    ([], "which node"),
    (["node-1", "node-2"], "one node only"),
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
