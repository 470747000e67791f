"""--ship-binary (issue 21): retina carried to the node in a ConfigMap and run in an image the node
already has, and the build settings behind it (IMAGE_REPO, the ConfigMap limit in make size).

Against the fake API server: in its local mode the pod's command runs from the folder the fake's
kubelet wrote the ConfigMap into (the ConfigMap's own bytes run), in its podman mode the ConfigMap
is mounted (defaultMode 0555) into a container of a pause-like image (empty, USER 65535) with
imagePullPolicy: Never, in a network namespace of the test's own."""
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, run
from fakeapi import FakeAPI, go_roundtrip, kubectl_path, schema_errors, unknown_fields
from shellimage import podman
from tracer import connect, finish, wait_for

PAUSE = "registry.k8s.io/pause:3.10"	# what the fake's nodes list in status.images


def sha(path):
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Cluster:
    def __init__(self, tmp, pki, retina, *fake_args):
        self.tmp = Path(tmp)
        self.rec = self.tmp / "record.jsonl"
        self.api = FakeAPI(tmp, "--record", str(self.rec), *fake_args, pki=pki)
        self.kc = self.api.kubeconfig()
        self.retina = retina
        self.env = dict(os.environ, HOME=str(self.tmp))
        self.env.pop("RETINA_SHELL_IMAGE_REPO", None)	# --ship-binary needs none

    def argv(self, sub, *args):
        return [self.retina, "kubectl-retina", sub, "--kubeconfig", self.kc, *args]

    def records(self, key):
        if not self.rec.exists():
            return []
        return [r[key] for r in map(json.loads, self.rec.read_text().splitlines()) if key in r]

    def kubectl(self, *args):
        return run([kubectl_path(), *args], env=self.api.kubectl_env(self.kc))

    def left(self):
        """Managed pods and ConfigMaps still in the cluster."""
        return self.kubectl("get", "pods,configmaps", "-A", "-l", "app.kubernetes.io/managed-by=kubectl-retina",
                            "-o", "name").stdout.split()

    def close(self):
        self.api.close()


@pytest.fixture
def cluster(tmp_path, pki, retina):
    c = Cluster(tmp_path, pki, retina)
    try:
        yield c
    finally:
        c.close()


def start(c, *args, errname="stderr"):
    errf = c.tmp / errname
    ef = open(errf, "w")
    p = subprocess.Popen(c.argv("bpftrace", *args), stdout=subprocess.PIPE, stderr=ef, text=True, env=c.env)
    p.errf = errf
    return p


# ---- build settings ----

def test_a_build_without_image_repo_says_what_to_pass(retina, tmp_path):
    v = run([retina, "kubectl-retina", "--version"], check=0).stdout
    assert "default image: none (built without IMAGE_REPO)" in v
    env = dict(os.environ, KUBECONFIG=str(tmp_path / "none"))
    env.pop("RETINA_SHELL_IMAGE_REPO")
    for sub in (["shell", "node-1"], ["bpftrace", "node-1"]):
        p = run([retina, "kubectl-retina", *sub], env=env)
        assert p.returncode == 2 and len(p.stderr.splitlines()) == 1, p.stderr
        assert "--retina-shell-image-repo" in p.stderr and "--ship-binary" in p.stderr


def test_make_image_repo_is_stamped_into_the_binary(retina, tmp_path):
    """make IMAGE_REPO=... rebuilds one object; the plugin shows it and uses it by default. (~15 s)"""
    if Path(retina).resolve() != (ROOT / "build" / "retina").resolve():
        pytest.skip("stamps build/retina, and RETINA_BIN is another binary")
    repo = "registry.example:5000/retina-shell"
    try:
        p = run(["make", "-C", str(ROOT), f"IMAGE_REPO={repo}"], timeout=600)
        assert p.returncode == 0, p.stderr
        v = run([retina, "kubectl-retina", "--version"], check=0).stdout
        assert f"default image: {repo}:" in v
        assert f"default: {repo}" not in run([retina, "kubectl-retina", "bpftrace", "--help"], check=0).stdout
        api = FakeAPI(tmp_path, "--record", str(tmp_path / "rec"))
        try:
            env = dict(os.environ, HOME=str(tmp_path))
            env.pop("RETINA_SHELL_IMAGE_REPO")
            r = run([retina, "kubectl-retina", "shell", "--kubeconfig", api.kubeconfig(), "node-1", "--", "true"],
                    env=env)
            assert r.returncode == 0, r.stderr
        finally:
            api.close()
        [pod] = [json.loads(x)["create"] for x in (tmp_path / "rec").read_text().splitlines() if '"create"' in x]
        assert pod["spec"]["containers"][0]["image"].startswith(repo + ":")
        bad = run(["make", "-C", str(ROOT), "-n", "IMAGE_REPO=a b;c"])
        assert bad.returncode == 2 and "IMAGE_REPO=" in bad.stderr
    finally:
        assert run(["make", "-C", str(ROOT)], timeout=600).returncode == 0	# the build as it was
    assert "default image: none" in run([retina, "kubectl-retina", "--version"], check=0).stdout


def test_make_size_fails_over_the_configmap_limit(tmp_path):
    """size_report.py (make size, ARCH=arm64 too): binary + key 'retina' must fit 1,048,576 bytes."""
    report = ["/usr/bin/python3", str(ROOT / "tests/bench/size_report.py"), str(ROOT / "build/retina.map")]
    fits, over = tmp_path / "fits", tmp_path / "over"
    for f, n in ((fits, 1048576 - 6), (over, 1048576 - 5)):
        with open(f, "wb") as h:
            h.truncate(n)
    p = run([*report, str(fits)])
    assert p.returncode == 0 and "headroom: 0 bytes" in p.stdout, p.stdout + p.stderr
    p = run([*report, str(over)])
    assert p.returncode == 1 and "1 over the limit" in p.stderr and "ConfigMap" in p.stderr
    p = run([*report, str(ROOT / "build/retina")])
    assert p.returncode == 0 and "headroom: " in p.stdout


# ---- ConfigMaps in the fake, proven with the real kubectl ----

def kubectl_create_configmap(cluster, tmp_path, name, source):
    """kubectl's own ConfigMap (it picks binaryData for bytes that are no UTF-8), created as JSON:
    its typed `create configmap` speaks protobuf, which the fake does not."""
    r = cluster.kubectl("create", "configmap", name, f"--from-file={source}", "--dry-run=client", "-o", "json")
    assert r.returncode == 0, r.stderr
    (tmp_path / f"{name}.json").write_text(r.stdout)
    return cluster.kubectl("create", "--validate=false", "-f", str(tmp_path / f"{name}.json"))


def test_fake_stores_configmaps_as_kubectl_expects(cluster, retina, tmp_path):
    r = kubectl_create_configmap(cluster, tmp_path, "bin", f"retina={retina}")
    assert r.returncode == 0 and "configmap/bin created" in r.stdout, r.stderr
    r = cluster.kubectl("get", "configmap", "bin", "-o", "json")
    cm = json.loads(r.stdout)
    import base64
    assert base64.b64decode(cm["binaryData"]["retina"]) == Path(retina).read_bytes()	# kubectl chose binaryData
    assert "AlreadyExists" in kubectl_create_configmap(cluster, tmp_path, "bin", f"retina={retina}").stderr
    assert "bin" in cluster.kubectl("get", "configmaps", "-o", "name").stdout
    big = tmp_path / "big"
    big.write_bytes(b"\0" * (1048576 - 2))
    r = kubectl_create_configmap(cluster, tmp_path, "big", f"xyz={big}")
    assert r.returncode != 0 and "must have at most 1048576 bytes" in r.stderr
    assert cluster.kubectl("delete", "configmap", "bin").returncode == 0
    r = cluster.kubectl("get", "configmap", "bin", "-o", "json")
    assert r.returncode != 0 and 'configmaps "bin" not found' in r.stderr


# ---- bpftrace --ship-binary, local mode: the ConfigMap's bytes run as the tracer ----

def refused_port_9(p, netpair):
    """A connection to a closed port in the test's namespaces, p (tracing --rst -o json) stopped:
    the RST_SENT events it saw there (at least one), its stdout and its stderr."""
    assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
    time.sleep(1.0)
    code, out, err = finish(p)
    assert code == 0, err
    mine = {netpair.inode(netpair.a), netpair.inode(netpair.b)}
    ev = [e for e in map(json.loads, out.splitlines()) if e.get("netns") in mine]
    ev = [e for e in ev if e["type"] == "RST_SENT" and e["src_port"] == 9]
    assert ev, out
    return ev, out, err


def test_ship_binary_traces_and_cleans_up_on_sigint(cluster, retina, netpair, tmp_path):
    p = start(cluster, "node-1", "--ship-binary", "-o", "json", "--rst", "--port", "9")
    assert wait_for(lambda: " attached " in p.errf.read_text(), 30), p.errf.read_text()
    [made] = cluster.records("create-configmap")
    assert made["binaryData"] == {"retina": sha(retina)}	# the bytes are this binary
    assert made["immutable"] is True
    name = made["metadata"]["name"]
    assert name == "retina-bin-" + sha(retina)[7:47]
    assert f"configmap/{name}" in cluster.left()
    ev, out, err = refused_port_9(p, netpair)
    assert [e for e in ev if e["node"] == "node-1"], out
    # the pod: an image the node has, never pulled, the ConfigMap mounted executable, root
    [pod] = cluster.records("create")
    [c] = pod["spec"]["containers"]
    assert c["image"] == PAUSE and c["imagePullPolicy"] == "Never"
    assert c["command"][:6] == ["/retina-bin/retina", "trace", "-o", "json", "--stats-interval", "1s"]
    assert c["volumeMounts"] == [{"name": "retina-bin", "mountPath": "/retina-bin", "readOnly": True}]
    assert pod["spec"]["volumes"] == [{"name": "retina-bin", "configMap": {"name": name, "defaultMode": 0o555}}]
    assert c["securityContext"]["runAsUser"] == 0 and sorted(c["securityContext"]["capabilities"]["add"]) == \
        ["BPF", "PERFMON"]
    assert unknown_fields(pod, go_roundtrip(pod, tmp_path)) == []
    assert schema_errors(pod) == ""
    # pods first, then the ConfigMap
    assert err.splitlines()[-1] == f"kubectl-retina bpftrace: configmap default/{name} deleted"
    assert cluster.left() == []


@pytest.mark.parametrize("how", ["sigterm", "duration", "failed-start"])
def test_ship_binary_leaves_nothing_on_every_exit(tmp_path, pki, retina, how):
    c = Cluster(tmp_path, pki, retina, *(["--inject", "err-image-pull"] if how == "failed-start" else []))
    try:
        args = ["node-1", "--ship-binary"] + (["--duration", "2s"] if how == "duration" else [])
        p = start(c, *args)
        if how == "sigterm":
            assert wait_for(lambda: " attached " in p.errf.read_text(), 30), p.errf.read_text()
        code, _, err = finish(p, signal.SIGTERM if how == "sigterm" else None)
        assert code == (1 if how == "failed-start" else 0), err
        assert "configmap default/retina-bin-" in err and err.rstrip().endswith("deleted")
        assert c.left() == []
        # a second run makes its own: nothing stale is reused (a create, answered 201)
        if how == "duration":
            code, _, err = finish(start(c, *args), None)
            assert code == 0, err
            assert len(c.records("create-configmap")) == 2 and c.left() == []
    finally:
        c.close()


def test_a_leftover_configmap_with_other_bytes_is_replaced(cluster, retina, tmp_path):
    name = "retina-bin-" + sha(retina)[7:47]
    stale = tmp_path / "retina"
    stale.write_bytes(b"stale bytes")
    assert kubectl_create_configmap(cluster, tmp_path, name, f"retina={stale}").returncode == 0
    code, _, err = finish(start(cluster, "node-1", "--ship-binary", "--duration", "1s"), None)
    assert code == 0, err
    assert [m["binaryData"] for m in cluster.records("create-configmap")][-1] == {"retina": sha(retina)}
    assert any(r == f"DELETE /api/v1/namespaces/default/configmaps/{name}" for r in cluster.records("request"))
    assert cluster.left() == []


# ---- errors a user can act on ----

def test_bpftrace_image_flags_do_not_mix_with_ship_binary(retina, tmp_path):
    p = run([retina, "kubectl-retina", "bpftrace", "--kubeconfig", str(tmp_path / "none"), "node-1",
             "--ship-binary", "--retina-shell-image-version", "v1"])
    assert p.returncode == 2 and "--retina-shell-image-version does not apply" in p.stderr, p.stderr


def test_configmap_create_forbidden_names_verb_and_resource(tmp_path, pki, retina):
    c = Cluster(tmp_path, pki, retina, "--forbid", "create:configmaps")
    try:
        code, _, err = finish(start(c, "node-1", "--ship-binary"), None)
        assert code == 1
        line = [x for x in err.splitlines() if "Forbidden" in x]
        assert line and "create and delete on resource configmaps in namespace default" in line[0], err
        assert c.records("create") == [] and c.left() == []	# no pod without its binary
    finally:
        c.close()


def test_no_usable_image_on_the_node(tmp_path, pki, retina):
    c = Cluster(tmp_path, pki, retina, "--node-images", "node-1=")
    try:
        code, _, err = finish(start(c, "node-1", "--ship-binary"), None)
        assert code == 1
        assert "no usable image on node node-1 for --ship-binary" in err and "without --ship-binary" in err
        assert c.records("create") == [] and c.left() == []
    finally:
        c.close()


def relabelled(retina, tmp, arch_dir):
    """This build's bytes with the ELF machine of aarch64 (183): what the plugin checks of an arm64
    retina is its header, that it is static, and its version string; all are this build's here."""
    d = tmp / "bins" / arch_dir
    d.mkdir(parents=True)
    data = bytearray(Path(retina).read_bytes())
    data[18:20] = (183).to_bytes(2, "little")
    (d / "retina").write_bytes(bytes(data))
    return tmp / "bins", d / "retina"


def test_an_arm64_node_gets_the_arm64_binary(tmp_path, pki, retina):
    bins, arm = relabelled(retina, tmp_path, "retina-1.2.3-linux-arm64")
    c = Cluster(tmp_path, pki, retina, "--node", "node-2", "--node-arch", "node-2=arm64", "--inject", "stuck")
    try:
        code, _, err = finish(start(c, "node-1", "node-2", "--ship-binary", "--retina-binaries", str(bins),
                                    "--startup-timeout", "2s"), None)
        made = {m["binaryData"]["retina"]: m["metadata"]["name"] for m in c.records("create-configmap")}
        assert set(made) == {sha(retina), sha(arm)}	# one ConfigMap per architecture
        assert Path(arm).read_bytes()[18:20] == b"\xb7\x00"	# whose bytes are an aarch64 ELF
        pods = {p["spec"]["nodeName"]: p for p in c.records("create")}
        vol = lambda n: pods[n]["spec"]["volumes"][0]["configMap"]["name"]	# noqa: E731
        assert vol("node-2") == made[sha(arm)] and vol("node-1") == made[sha(retina)]
        assert c.left() == []
    finally:
        c.close()


def test_missing_or_wrong_other_arch_binary_says_what_to_download(tmp_path, pki, retina):
    bins = tmp_path / "bins"
    (bins / "arm64").mkdir(parents=True)
    (bins / "arm64" / "retina").write_bytes(Path(retina).read_bytes())	# an amd64 file in the arm64 place
    c = Cluster(tmp_path, pki, retina, "--node-arch", "node-1=arm64")
    try:
        code, _, err = finish(start(c, "node-1", "--ship-binary", "--retina-binaries", str(bins)), None)
        assert code == 1
        assert "no arm64 retina of version" in err and "retina-VERSION-linux-arm64.tar.gz" in err
        assert "built for amd64, not arm64" in err	# why the one there was refused
        assert c.records("create") == [] and c.left() == []
    finally:
        c.close()


def test_binary_over_the_configmap_limit(tmp_path, pki, retina):
    bins = tmp_path / "bins"
    (bins / "arm64").mkdir(parents=True)
    with open(bins / "arm64" / "retina", "wb") as f:
        f.truncate(1100000)
    c = Cluster(tmp_path, pki, retina, "--node-arch", "node-1=arm64")
    try:
        code, _, err = finish(start(c, "node-1", "--ship-binary", "--retina-binaries", str(bins)), None)
        assert code == 1 and "over what a ConfigMap holds (1048576 bytes with its key 'retina')" in err
    finally:
        c.close()


# ---- shell --ship-binary -- APPLET ----

def test_shell_ship_binary_runs_an_applet(cluster):
    r = run(cluster.argv("shell", "node-1", "--ship-binary", "--", "retina", "capcheck", "-o", "json"),
            env=cluster.env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["process"]["uid"] == 0
    [pod] = cluster.records("create")
    assert pod["spec"]["containers"][0]["command"] == ["/retina-bin/retina", "capcheck", "-o", "json"]
    r = run(cluster.argv("shell", "node-1", "--ship-binary", "--", "dig", "-p", "1", "@127.0.0.1", "+tries=1",
                         "+time=1", "x."), env=cluster.env, timeout=120)
    assert r.returncode != 0	# the applet's own exit code
    assert cluster.left() == []


@pytest.mark.parametrize("args, msg", [
    (["node-1"], "an interactive shell needs the image's sh"),
    (["node-1", "--", "sh", "-c", "true"], "'sh' is none"),
    (["pods/web", "--", "capcheck"], "an ephemeral container cannot mount a ConfigMap"),
    (["node-1", "--retina-binaries", "/tmp", "--", "capcheck"], "use it with --ship-binary"),
    (["node-1", "--retina-shell-image-repo", "r.io/x", "--", "capcheck"], "does not apply"),
])
def test_shell_ship_binary_usage(retina, tmp_path, args, msg):
    ship = [] if "--retina-binaries" in args else ["--ship-binary"]
    p = run([retina, "kubectl-retina", "shell", "--kubeconfig", str(tmp_path / "none"), *ship, *args])
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1 and msg in p.stderr, p.stderr


# ---- podman mode: a real container of a pause-like image, the ConfigMap mounted ----

@pytest.fixture
def pause_image():
    """An empty image named like a pause image, with its USER 65535: a container runs only what is
    mounted into it, and as root only because the pod asks (runAsUser: 0)."""
    name = f"localhost/pause:retina-test-{os.getpid()}"
    env = dict(os.environ, CONTAINERS_CONF=str(ROOT / "image" / "containers.conf"))
    ctr = run(["buildah", "from", "scratch"], env=env, check=0).stdout.strip()
    try:
        run(["buildah", "config", "--user", "65535:65535", "--entrypoint", '["/pause"]', ctr], env=env, check=0)
        run(["buildah", "commit", "-q", ctr, name], env=env, check=0)
    finally:
        run(["buildah", "rm", ctr], env=env)
    try:
        yield name
    finally:
        podman("rmi", name)


def test_podman_node_runs_the_mounted_binary_in_its_pause_image(tmp_path, pki, retina, netpair, pause_image):
    c = Cluster(tmp_path, pki, retina, "--podman-network", f"ns:/run/netns/{netpair.b}",
                "--node-images", f"node-1={pause_image}")
    try:
        p = start(c, "node-1", "--ship-binary", "-o", "json", "--rst", "--port", "9")
        assert wait_for(lambda: " attached " in p.errf.read_text(), 90), p.errf.read_text()
        refused_port_9(p, netpair)
        [pod] = c.records("create")
        assert pod["spec"]["containers"][0]["image"] == pause_image
        assert c.left() == []
        names = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert f"fake-default-{pod['metadata']['name']}" not in names
    finally:
        c.close()


def test_podman_runtime_refusing_never_is_explained(tmp_path, pki, retina, netpair):
    absent = f"localhost/pause:absent-{os.getpid()}"
    c = Cluster(tmp_path, pki, retina, "--podman-network", f"ns:/run/netns/{netpair.b}",
                "--node-images", f"node-1={absent}")
    try:
        code, _, err = finish(start(c, "node-1", "--ship-binary"), None)
        assert code == 1
        assert f"refused image {absent} with imagePullPolicy: Never (ErrImageNeverPull" in err, err
        assert "run again to pick another image, or run without --ship-binary" in err
        assert c.left() == []
    finally:
        c.close()


def test_two_runs_share_the_configmap_and_the_last_deletes_it(cluster, retina):
    """Two --ship-binary runs of one binary use one ConfigMap: the first to end leaves it to the
    other's pod (labelled retina.io/configmap) and says so; the last deletes it."""
    a = start(cluster, "node-1", "--ship-binary")
    assert wait_for(lambda: " attached " in a.errf.read_text(), 30), a.errf.read_text()
    b = start(cluster, "node-1", "--ship-binary", errname="stderr-b")
    assert wait_for(lambda: " attached " in b.errf.read_text(), 30), b.errf.read_text()
    name = "retina-bin-" + sha(retina)[7:47]
    pods = [p for p in cluster.records("create") if p["spec"]["volumes"][0]["configMap"]["name"] == name]
    assert len(pods) == 2 and all(p["metadata"]["labels"]["retina.io/configmap"] == name for p in pods)
    b_pod = pods[1]["metadata"]["name"]
    code, _, err = finish(a, signal.SIGINT)
    assert code == 0, err
    assert f"configmap default/{name} kept: pod default/{b_pod} of another run still mounts it" in err
    assert f"configmap/{name}" in cluster.left()
    code, _, err = finish(b, signal.SIGINT)
    assert code == 0, err
    assert err.splitlines()[-1] == f"kubectl-retina bpftrace: configmap default/{name} deleted"
    assert cluster.left() == []
