"""kubectl retina bpftrace names the addresses of its events: the fake API server serves pods
with the addresses the test's network namespaces really use (netpair a = shop/client,
b = shop/server), the trace pod runs the real tracer here, and a refused connect a -> b:9
comes out with src_pod/dst_pod (JSON) or "(pod shop/server)" beside the address (table).
A pod deleted and recreated under another name with the same address mid-trace: the events
after it carry the new name. Listing pods forbidden cluster-wide: the namespaces the user
may list are named (a watch each), with one notice naming the RBAC verb and resource and
the namespaces named and not. (The map's by-time rule for
events that arrive late is unit-tested: tests/unit/test_kube_names.c.)"""
import json
import signal
import subprocess

from conftest import run
from fakeapi import kubectl_path
from test_kubectl_bpftrace import Cluster, bindir, wait_for  # noqa: F401 (bindir: a fixture)
from tracer import connect


def pod(name, ips, ns="shop"):
    """A pod some node runs, with these addresses (the fake keeps its status as given)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "annotations": {"fake.retina.io/status": "as-given"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "app:1"}]},
            "status": {"phase": "Running", "podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]}}


def kubectl(c, *args, stdin=None):
    return run([kubectl_path(), *args], input=stdin, env=c.api.kubectl_env(c.kc))


def create(c, obj):
    kubectl(c, "create", "--validate=false", "-f", "-", stdin=json.dumps(obj))


def trace_pods(c):
    """The trace pods the plugin created (not the test's own)."""
    return [r for r in c.records("create") if "kubectl-retina" in (r["metadata"].get("labels") or {}).values()]


def refused(netpair):
    assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"


def start(c, tmp_path, *args):
    errf = tmp_path / "stderr"
    ef = open(errf, "w")
    p = subprocess.Popen(c.argv("node-1", "--rst", "--port", "9", "-v", "1", *args), stdout=subprocess.PIPE,
                         stderr=ef, text=True, env=c.env)
    return p, ef, errf


def stop(p, ef):
    try:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        ef.close()
    return p.returncode, out


def rst_from_b(events, netpair):
    return [e for e in events if e.get("netns") in (netpair.inode(netpair.a), netpair.inode(netpair.b))
            and e["type"] == "RST_SENT" and e["src_ip"] == netpair.B4]


def test_json_names_pods_and_follows_a_recreated_pod(tmp_path, pki, bindir, netpair):  # noqa: F811
    c = Cluster(tmp_path, pki, bindir)
    try:
        create(c, pod("client", [netpair.A4, netpair.A6]))
        create(c, pod("server", [netpair.B4, netpair.B6]))
        p, ef, errf = start(c, tmp_path, "-o", "json")
        try:
            assert wait_for(lambda: " attached " in errf.read_text()
                            and "names: pod shop/server ADDED" in errf.read_text()), errf.read_text()
            refused(netpair)
            kubectl(c, "delete", "pod", "-n", "shop", "server")
            create(c, pod("server-2", [netpair.B4, netpair.B6]))
            assert wait_for(lambda: "names: pod shop/server-2 ADDED" in errf.read_text()), errf.read_text()
            refused(netpair)
        finally:
            code, out = stop(p, ef)
        assert code == 0, errf.read_text()
        rst = rst_from_b([json.loads(line) for line in out.splitlines()], netpair)
        assert len(rst) == 2, out
        assert [(e["src_pod"], e["dst_pod"]) for e in rst] == [("shop/server", "shop/client"),
                                                               ("shop/server-2", "shop/client")]
        assert all("src_svc" not in e and "src_node" not in e for e in rst)
        assert "cannot" not in errf.read_text()
    finally:
        c.api.close()


def test_table_names_beside_the_address_when_pods_are_listable_only_in_the_namespace(tmp_path, pki, bindir,
                                                                                     netpair):  # noqa: F811
    c = Cluster(tmp_path, pki, bindir, "--forbid", "list:pods@cluster")
    c.kc = c.api.kubeconfig(namespace="shop")
    try:
        create(c, pod("client", [netpair.A4, netpair.A6]))
        create(c, pod("server", [netpair.B4, netpair.B6]))
        p, ef, errf = start(c, tmp_path)
        try:
            assert wait_for(lambda: " attached " in errf.read_text()
                            and "names: pod shop/server ADDED" in errf.read_text()), errf.read_text()
            refused(netpair)
        finally:
            code, out = stop(p, ef)
        err = errf.read_text()
        assert code == 0, err
        row = f"{netpair.B4}:9 (pod shop/server) -> {netpair.A4}:"
        assert [line for line in out.splitlines() if "RST_SENT" in line and row in line and "(pod shop/client)" in line], out
        notices = [line for line in err.splitlines() if "cannot list pods at the cluster scope" in line]
        assert len(notices) == 1, err
        assert "verbs list and watch on resource pods" in notices[0]
        assert notices[0].endswith("naming the pods of 5 namespaces you may list: default, kube-node-lease, "
                                   "kube-public, kube-system, shop"), notices[0]
        assert "cannot list services" not in err and "cannot list nodes" not in err
    finally:
        c.api.close()


OTHER = "198.51.100.7"	# pod shop/other: an address on b's loopback, on the same node


def test_pods_name_traces_only_that_pods_addresses(tmp_path, pki, bindir, netpair):  # noqa: F811
    """bpftrace pods/client: node-1 traced, the kernel filter is client's two addresses; a RST of
    shop/other on the same node does not appear, client's do (named)."""
    run(netpair.cmd(netpair.b, ["ip", "addr", "add", OTHER + "/32", "dev", "lo"]))
    c = Cluster(tmp_path, pki, bindir)
    try:
        create(c, pod("client", [netpair.A4, netpair.A6]))
        create(c, pod("server", [netpair.B4, netpair.B6]))
        create(c, pod("other", [OTHER]))
        errf = tmp_path / "stderr"
        ef = open(errf, "w")
        p = subprocess.Popen(c.argv("-n", "shop", "pods/client", "--rst", "-o", "json"), stdout=subprocess.PIPE,
                             stderr=ef, text=True, env=c.env)
        try:
            assert wait_for(lambda: " attached " in errf.read_text()), errf.read_text()
            assert connect(netpair, netpair.b, OTHER, 9) == "error 111"	# other's own RST, first
            refused(netpair)
        finally:
            code, out = stop(p, ef)
        assert code == 0, errf.read_text()
        events = [json.loads(line) for line in out.splitlines()]
        assert [e for e in events if e["type"] == "RST_SENT" and e["dst_ip"] == netpair.A4
                and e["src_pod"] == "shop/server" and e["dst_pod"] == "shop/client"], out
        assert all({e["src_ip"], e["dst_ip"]} & {netpair.A4, netpair.A6} for e in events), out
        assert not [e for e in events if OTHER in (e["src_ip"], e["dst_ip"])]
        [created] = trace_pods(c)
        assert created["spec"]["nodeName"] == "node-1"
        cmd = created["spec"]["containers"][0]["command"]
        assert cmd[cmd.index("--rst") + 1:] == ["--ip", netpair.A4, "--ip", netpair.A6]
    finally:
        c.api.close()


def test_pod_selector_unions_the_pods_and_bad_pod_arguments(tmp_path, pki, bindir, retina, netpair):  # noqa: F811
    c = Cluster(tmp_path, pki, bindir)
    try:
        a, b = pod("client", [netpair.A4]), pod("server", [netpair.B4, netpair.B6])
        a["metadata"]["labels"] = b["metadata"]["labels"] = {"tier": "web"}
        create(c, a)
        create(c, b)
        create(c, pod("other", [OTHER]))
        r = run(c.argv("-n", "shop", "--pod-selector", "tier=web", "--rst", "-d", "1s"), env=c.env, timeout=120)
        assert r.returncode == 0, r.stderr
        [created] = trace_pods(c)	# one node, one pod
        cmd = created["spec"]["containers"][0]["command"]
        assert cmd[cmd.index("--rst") + 1:] == ["--ip", netpair.A4, "--ip", netpair.B4, "--ip", netpair.B6]
        r = run(c.argv("-n", "shop", "pods/nope"), env=c.env, check=1)
        assert 'pods "nope" not found' in r.stderr
        r = run(c.argv("-n", "shop", "--pod-selector", "tier=db"), env=c.env, check=1)
        assert "no running pod in namespace shop matches --pod-selector 'tier=db'" in r.stderr
        assert len(trace_pods(c)) == 1	# no pod for either
    finally:
        c.api.close()
    for args, msg in ((["pods/Bad_Name"], "is not a valid pod name"),
                      (["pods/a", "node-1"], "not both"),
                      (["pods/a", "--ip", "10.0.0.1"], "leave out --ip and --cidr"),
                      (["--pod-selector", "a=b", "-l", "x=y"], "not both")):
        r = run([str(bindir / "kubectl-retina"), "bpftrace", *args], check=2)
        assert msg in r.stderr, (args, r.stderr)


def test_a_service_on_the_second_page_of_the_list_is_named(tmp_path, pki, bindir, netpair):  # noqa: F811
    """The plugin lists in pages of 500: the 501st service (ClusterIP = b's address) names b's RST."""
    c = Cluster(tmp_path, pki, bindir)
    try:
        items = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-%03d" % i, "namespace": "shop"},
                  "spec": {"ports": [{"port": 80}], **({"clusterIP": netpair.B4} if i == 500 else {})}}
                 for i in range(501)]
        kubectl(c, "create", "--validate=false", "-f", "-",
                stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        p, ef, errf = start(c, tmp_path, "-o", "json")
        try:
            assert wait_for(lambda: " attached " in errf.read_text()
                            and "names: svc shop/svc-500 ADDED" in errf.read_text()), errf.read_text()[-2000:]
            refused(netpair)
        finally:
            code, out = stop(p, ef)
        assert code == 0
        rst = rst_from_b([json.loads(line) for line in out.splitlines()], netpair)
        assert rst and all(e["src_svc"] == "shop/svc-500" for e in rst), out
        assert any("/api/v1/services?limit=500&continue=" in r for r in c.requests())
    finally:
        c.api.close()


def rbac(*grants):
    """Fake API server flags: list and watch of pods forbidden but in these namespaces."""
    args = ["--forbid", "list:pods", "--forbid", "watch:pods"]
    for ns in grants:
        args += ["--allow", f"list:pods@{ns}", "--allow", f"watch:pods@{ns}"]
    return args


def rst_to(events, dst):
    return [e for e in events if e["type"] == "RST_SENT" and e["dst_ip"] == dst]


def test_pods_forbidden_cluster_wide_are_named_in_the_namespaces_the_user_may_list(tmp_path, pki, bindir,
                                                                                  netpair):  # noqa: F811
    """Pods may be listed in a and b only (RoleBindings there), the trace runs from a: the pods of
    a and b are named, those of c not, and one line says which namespaces and why. Services may
    be listed, not watched: said once, not asked again and again."""
    c = Cluster(tmp_path, pki, bindir, *rbac("a", "b"), "--forbid", "watch:services")
    c.kc = c.api.kubeconfig(namespace="a")
    try:
        create(c, pod("client", [netpair.A4], "a"))
        create(c, pod("server", [netpair.B4], "b"))
        create(c, pod("client6", [netpair.A6], "c"))
        create(c, pod("server6", [netpair.B6], "c"))
        p, ef, errf = start(c, tmp_path, "-o", "json")
        try:
            assert wait_for(lambda: " attached " in errf.read_text()
                            and "names: pod b/server ADDED" in errf.read_text()), errf.read_text()
            refused(netpair)
            assert connect(netpair, netpair.a, netpair.B6, 9) == "error 111"
        finally:
            code, out = stop(p, ef)
        err = errf.read_text()
        assert code == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        named = rst_to(events, netpair.A4)
        assert named and all((e["src_pod"], e["dst_pod"]) == ("b/server", "a/client") for e in named), out
        unnamed = rst_to(events, netpair.A6)
        assert unnamed and all("src_pod" not in e and "dst_pod" not in e for e in unnamed), out
        assert "pod c/" not in err
        notices = [line for line in err.splitlines() if "cannot list pods" in line]
        assert notices == ["kubectl-retina bpftrace: cannot list pods at the cluster scope (RBAC: verbs list and watch "
                           "on resource pods, see docs/rbac.md); naming the pods of 2 namespaces you may list: "
                           "a, b; not in c, default, kube-node-lease, kube-public, kube-system (RBAC: list pods "
                           "there)"], err
        assert "cannot list services" not in err and "cannot list nodes" not in err
        assert [x for x in err.splitlines() if "cannot watch" in x] == [
            "kubectl-retina bpftrace: cannot watch services (RBAC: verb watch on resource services, see "
            "docs/rbac.md): named as first listed, not followed"], err
        reqs = c.requests()
        assert sum(r.startswith("GET /api/v1/services?watch=1") for r in reqs) == 1
        assert sum(r.startswith("GET /api/v1/namespaces/b/pods?watch=1") for r in reqs) >= 1
        assert not [r for r in reqs if r.startswith("GET /api/v1/namespaces/c/pods?watch=1")]
    finally:
        c.api.close()


def test_a_user_who_may_list_nothing_gets_the_trace_unnamed_and_told_why(tmp_path, pki, bindir,
                                                                         netpair):  # noqa: F811
    """Only what the trace itself needs (its pod, in namespace retina): no services, nodes or
    namespaces, no pods elsewhere. The events come out unnamed, the trace does not fail, and each
    resource says once why."""
    c = Cluster(tmp_path, pki, bindir, *rbac("retina"), "--forbid", "list:services", "--forbid", "list:nodes",
                "--forbid", "list:namespaces")
    c.kc = c.api.kubeconfig(namespace="retina")
    try:
        create(c, pod("client", [netpair.A4, netpair.A6]))
        create(c, pod("server", [netpair.B4, netpair.B6]))
        p, ef, errf = start(c, tmp_path, "-o", "json")
        try:
            assert wait_for(lambda: " attached " in errf.read_text()
                            and "cannot list nodes" in errf.read_text()), errf.read_text()
            refused(netpair)
        finally:
            code, out = stop(p, ef)
        err = errf.read_text()
        assert code == 0, err
        rst = rst_from_b([json.loads(line) for line in out.splitlines()], netpair)
        assert rst and all(not {"src_pod", "dst_pod", "src_svc", "dst_svc", "src_node", "dst_node"} & e.keys()
                           for e in rst), out
        lines = err.splitlines()
        assert [x for x in lines if "cannot list pods" in x] == [
            "kubectl-retina bpftrace: cannot list pods at the cluster scope (RBAC: verbs list and watch on resource pods, "
            "see docs/rbac.md) nor namespaces (RBAC: verb list on resource namespaces); naming the pods of 1 "
            "namespace you may list: retina"], err
        assert [x for x in lines if "cannot list services" in x] == [
            "kubectl-retina bpftrace: cannot list services at the cluster scope (RBAC: verbs list and watch on resource "
            "services, see docs/rbac.md) nor namespaces (RBAC: verb list on resource namespaces); no services "
            "are named: list services is forbidden in retina"], err
        assert [x for x in lines if "cannot list nodes" in x] == [
            "kubectl-retina bpftrace: cannot list nodes (RBAC: verbs list and watch on resource nodes, see docs/rbac.md): "
            "their addresses are not named"], err
    finally:
        c.api.close()


def test_at_most_16_namespaces_are_watched_and_the_rest_is_said(tmp_path, pki, bindir):  # noqa: F811
    """Pods forbidden only cluster-wide, 24 namespaces: the first 16 are asked and watched (a
    connection each), the other 8 are not even asked, and the notice says so."""
    c = Cluster(tmp_path, pki, bindir, "--forbid", "list:pods@cluster", "--forbid", "watch:pods@cluster")
    try:
        items = [pod("p", ["203.0.113.%d" % i], "ns-%02d" % i) for i in range(20)]
        kubectl(c, "create", "--validate=false", "-f", "-",
                stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        r = run(c.argv("node-1", "--rst", "-d", "1s"), env=c.env, timeout=120)
        assert r.returncode == 0, r.stderr
        notices = [line for line in r.stderr.splitlines() if "cannot list pods" in line]
        watched = ["default", "kube-node-lease", "kube-public", "kube-system"] + ["ns-%02d" % i for i in range(12)]
        assert notices == ["kubectl-retina bpftrace: cannot list pods at the cluster scope (RBAC: verbs list and "
                           "watch on resource pods, see docs/rbac.md); naming the pods of 16 namespaces you may "
                           "list: " + ", ".join(watched) + "; 8 more not tried (at most 16 namespaces are "
                           "watched, 256 asked)"], r.stderr
        asked = {q.split("/")[4] for q in c.requests() if q.startswith("GET /api/v1/namespaces/")
                 and "/pods?" in q and "fieldSelector" not in q}
        assert asked <= set(watched) and "ns-11" in asked, asked
    finally:
        c.api.close()
