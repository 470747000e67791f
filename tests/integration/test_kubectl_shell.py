"""kubectl retina shell through the built binary against the fake API server:
the pod it posts for every flag, waiting hints, exit codes, cleanup on every way out."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run
from fakeapi import kubectl_path, FakeAPI, go_roundtrip, schema_errors, unknown_fields, TEST_IMAGE_REPO

MANAGED = "app.kubernetes.io/managed-by=kubectl-retina"


class Cluster:
    def __init__(self, tmp, pki, *args):
        self.tmp = Path(tmp)
        self.rec = self.tmp / "record.jsonl"
        self.api = FakeAPI(tmp, "--record", str(self.rec), *args, pki=pki)
        self.kc = self.api.kubeconfig()

    def shell(self, plugin, *args, input="", env=None, timeout=60):
        e = dict(os.environ, HOME=str(self.tmp))
        for k in ("RETINA_SHELL_IMAGE_REPO", "RETINA_SHELL_IMAGE_VERSION", "KUBECONFIG"):
            e.pop(k, None)
        e["RETINA_SHELL_IMAGE_REPO"] = TEST_IMAGE_REPO
        e.update(env or {})
        return run([plugin, "shell", "--kubeconfig", self.kc, *args], input=input, env=e, timeout=timeout)

    def records(self, key):
        if not self.rec.exists():
            return []
        return [r[key] for r in map(json.loads, self.rec.read_text().splitlines()) if key in r]

    def kubectl(self, *args, check=0):
        return run([kubectl_path(), *args], check=check, env=self.api.kubectl_env(self.kc))

    def managed_pods(self):
        return self.kubectl("get", "pods", "-A", "-l", MANAGED, "-o", "name").stdout.split()


@pytest.fixture
def cluster(tmp_path, pki):
    c = Cluster(tmp_path, pki)
    try:
        yield c
    finally:
        c.api.close()


def start_cluster(tmp_path, pki, *args):
    return Cluster(tmp_path, pki, *args)


def check_valid_pod(pod, tmp_path):
    assert unknown_fields(pod, go_roundtrip(pod, tmp_path)) == []
    assert schema_errors(pod) == ""


FLAG_CASES = [
    ([], {}),
    (["-m"], {"mount": True}),
    (["-w"], {"mount": True, "write": True}),
    (["-c", "net_admin,CAP_NET_RAW,Sys_Ptrace"], {"add": ["NET_ADMIN", "NET_RAW", "SYS_PTRACE"]}),
    (["--host-pid", "--seccomp-unconfined", "--apparmor-unconfined", "-n", "tools"],
     {"hostpid": True, "seccomp": True, "apparmor": True, "ns": "tools"}),
    (["--retina-shell-image-repo", "mirror.local:5000/rs", "--retina-shell-image-version", "v9"],
     {"image": "mirror.local:5000/rs:v9"}),
    (["-w", "-c", "BPF,PERFMON,SYS_ADMIN", "--host-pid", "--timeout", "1m"],
     {"mount": True, "write": True, "hostpid": True, "add": ["SYS_ADMIN", "PERFMON", "BPF"]}),
]


@pytest.mark.parametrize("flags,want", FLAG_CASES, ids=[" ".join(f) or "plain" for f, _ in FLAG_CASES])
def test_node_pod_spec_for_each_flag(cluster, plugin, tmp_path, flags, want):
    r = cluster.shell(plugin, "node-1", *flags, "--", "true")
    assert r.returncode == 0, r.stderr
    [pod] = cluster.records("create")
    md, spec = pod["metadata"], pod["spec"]
    assert md["name"].startswith("retina-shell-")
    assert md["namespace"] == want.get("ns", "default")
    assert md["labels"] == {"app.kubernetes.io/managed-by": "kubectl-retina", "retina.io/node": "node-1"}
    assert spec["nodeName"] == "node-1" and spec["hostNetwork"] is True
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["restartPolicy"] == "Never" and spec["terminationGracePeriodSeconds"] == 0
    assert spec["automountServiceAccountToken"] is False
    assert spec.get("hostPID", False) == want.get("hostpid", False)
    [c] = spec["containers"]
    assert c["stdin"] is True and c["stdinOnce"] is True and "tty" not in c	# stdin is not a terminal
    assert "command" not in c	# the image's entrypoint: its login shell
    image = want.get("image") or TEST_IMAGE_REPO + ":"
    assert c["image"].startswith(image)
    sc = c["securityContext"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sorted(sc["capabilities"].get("add", [])) == sorted(want.get("add", []))
    assert ("seccompProfile" in sc) == want.get("seccomp", False)
    assert ("appArmorProfile" in sc) == want.get("apparmor", False)
    if want.get("seccomp"):
        assert sc["seccompProfile"] == {"type": "Unconfined"}
        assert sc["appArmorProfile"] == {"type": "Unconfined"}
    if want.get("mount"):
        mount = {"name": "host-root", "mountPath": "/host"}
        if not want.get("write"):
            mount["readOnly"] = True
        assert c["volumeMounts"] == [mount]
        assert spec["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]
    else:
        assert "volumeMounts" not in c and "volumes" not in spec
    assert "privileged" not in json.dumps(pod)
    check_valid_pod(pod, tmp_path)
    assert f"pod {md['namespace']}/{md['name']} deleted" in r.stderr
    assert cluster.managed_pods() == []


def test_image_from_env_and_flag_wins(cluster, plugin):
    env = {"RETINA_SHELL_IMAGE_REPO": "reg.internal/retina-shell", "RETINA_SHELL_IMAGE_VERSION": "t1"}
    assert cluster.shell(plugin, "node/node-1", "--", "true", env=env).returncode == 0
    assert cluster.shell(plugin, "nodes/node-1", "--retina-shell-image-version", "t2", "--", "true",
                         env=env).returncode == 0
    images = [p["spec"]["containers"][0]["image"] for p in cluster.records("create")]
    assert images == ["reg.internal/retina-shell:t1", "reg.internal/retina-shell:t2"]
    version = run([plugin.replace("kubectl-retina", "kubectl-retina"), "shell", "--help"]).stdout
    assert "RETINA_SHELL_IMAGE_REPO" in version


def test_exit_code_and_output_of_a_command(cluster, plugin):
    r = cluster.shell(plugin, "node-1", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert r.returncode == 7
    assert r.stdout == "out\n" and "err\n" in r.stderr
    assert cluster.managed_pods() == []


def test_piped_stdin_reaches_the_attached_shell(cluster, plugin):
    # attach joins the container (the fake image with no command: cat): what we pipe in comes back,
    # the end of stdin ends it (stdinOnce) and its exit code comes from the pod's status
    r = cluster.shell(plugin, "node-1", input="ip addr\nexit\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ip addr\nexit\n"
    assert cluster.managed_pods() == []


def test_ephemeral_container_for_a_pod(cluster, plugin, tmp_path):
    f = tmp_path / "app.json"
    f.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1"},
                             "spec": {"containers": [{"name": "app", "image": "app:1",
                                                      "command": ["sleep", "60"]}]}}))
    cluster.kubectl("create", "--validate=false", "-n", "web", "-f", str(f))
    cluster.kubectl("wait", "-n", "web", "--for=condition=Ready", "pod/web-1", "--timeout=20s")
    r = cluster.shell(plugin, "-n", "web", "pods/web-1", "--target-container", "app", "-c", "NET_RAW",
                      "--seccomp-unconfined", "--", "sh", "-c", "exit 4")
    assert r.returncode == 4, r.stderr
    # no pod created for a pod shell: only the test's own
    assert [p["metadata"]["name"] for p in cluster.records("create")] == ["web-1"]
    [patch] = cluster.records("ephemeral")
    [ec] = patch["spec"]["ephemeralContainers"]
    assert ec["name"].startswith("retina-shell-") and ec["targetContainerName"] == "app"
    assert ec["stdin"] and ec["stdinOnce"] and ec["securityContext"] == {
        "capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]}, "seccompProfile": {"type": "Unconfined"}}
    pod = json.loads(cluster.kubectl("get", "pod", "-n", "web", "web-1", "-o", "json").stdout)
    pod["spec"]["ephemeralContainers"] = [ec]
    for k in ("status", "metadata"):
        pod.pop(k)
    pod["metadata"] = {"name": "web-1", "namespace": "web"}
    check_valid_pod(pod, tmp_path)
    # a missing pod is named
    r = cluster.shell(plugin, "pods/nope", "--", "true")
    assert r.returncode == 1 and 'pods "nope" not found' in r.stderr


@pytest.mark.parametrize("inject,want", [
    ("image-pull-backoff", ["cannot pull image " + TEST_IMAGE_REPO + ":", "ImagePullBackOff",
                            "--retina-shell-image-repo", "RETINA_SHELL_IMAGE_REPO"]),
    ("err-image-pull", ["cannot pull image", "ErrImagePull", "mirror"]),
    ("create-config-error", ["CreateContainerConfigError", 'secret "missing" not found', "Events:"]),
    ("unschedulable", ["cannot be scheduled", "untolerated taint"]),
])
def test_waiting_hints(tmp_path, pki, plugin, inject, want):
    c = start_cluster(tmp_path, pki, "--inject", inject)
    try:
        t0 = time.time()
        r = c.shell(plugin, "node-1", "--timeout", "20s")
        assert r.returncode == 1
        for w in want:
            assert w in r.stderr, r.stderr
        assert time.time() - t0 < 10	# fails fast, not at the timeout
        assert c.managed_pods() == []
        assert "deleted" in r.stderr.splitlines()[-1]
    finally:
        c.api.close()


def test_timeout_prints_events_and_cleans_up(tmp_path, pki, plugin):
    c = start_cluster(tmp_path, pki, "--inject", "stuck")
    try:
        r = c.shell(plugin, "node-1", "--timeout", "1500ms")
        assert r.returncode == 1
        assert "timed out after 2 s" in r.stderr and "longer --timeout" in r.stderr
        assert "Events:" in r.stderr and "Scheduled" in r.stderr
        assert c.managed_pods() == []
    finally:
        c.api.close()


def wait_for(pred, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("phase", ["waiting", "attached"])
def test_signals_clean_up(tmp_path, pki, plugin, sig, phase):
    c = start_cluster(tmp_path, pki, *(["--inject", "stuck"] if phase == "waiting" else []))
    try:
        env = dict(os.environ, HOME=str(tmp_path))
        errf = open(tmp_path / "stderr", "w+")
        p = subprocess.Popen([plugin, "shell", "--kubeconfig", c.kc, "node-1"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=errf)
        try:
            want = "starting" if phase == "waiting" else "running"
            assert wait_for(lambda: f": {want}" in (tmp_path / "stderr").read_text())
            assert len(c.managed_pods()) == 1
            time.sleep(0.2)
            p.send_signal(sig)
            assert p.wait(timeout=15) == 128 + sig
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdin.close()
            p.stdout.close()
        err = (tmp_path / "stderr").read_text()
        assert "deleted" in err.splitlines()[-1]
        assert c.managed_pods() == []
    finally:
        c.api.close()


def test_node_refusals(tmp_path, pki, plugin):
    c = start_cluster(tmp_path, pki, "--forbid", "create:pods")
    try:
        r = c.shell(plugin, "win-1")
        assert r.returncode == 1
        assert r.stderr == ("kubectl-retina shell: node win-1 runs windows (kubernetes.io/os), "
                            "and retina's shell needs a Linux node\n")
        r = c.shell(plugin, "node-9")
        assert r.returncode == 1
        assert r.stderr == 'kubectl-retina shell: Error from server (NotFound): nodes "node-9" not found\n'
        r = c.shell(plugin, "node-1")
        assert r.returncode == 1
        assert "Error from server (Forbidden)" in r.stderr and 'cannot create resource "pods"' in r.stderr
        assert c.records("create") == []	# refused (403) before the fake saw it; win-1, node-9 never got there
        assert c.managed_pods() == []
    finally:
        c.api.close()


@pytest.mark.parametrize("args,want", [
    ([], "which node or pod?"),
    (["--frob", "node-1"], "--frob"),
    (["node-1", "node-2"], "one target only"),
    (["deploy/x"], "the target is NODE, node/NODE or pods/POD"),
    (["Node_1"], "is not a valid node name"),
    (["-c", "NET_ADMIN,CAP_FLY", "node-1"], "unknown capability 'CAP_FLY'"),
    (["--timeout", "soon", "node-1"], "bad --timeout 'soon'"),
    (["-m", "pods/web-1"], "-m/--mount-host-filesystem is for node shells"),
    (["-w", "pods/web-1"], "-w/--allow-host-filesystem-write is for node shells"),
    (["--host-pid", "pods/web-1"], "--host-pid is for node shells"),
    (["--target-container", "app", "node-1"], "--target-container is for pods"),
    (["node-1", "--"], "nothing after '--'"),
    (["--retina-shell-image-version", "a b", "node-1"], "bad image version"),
])
def test_bad_usage_exits_2_with_one_line(plugin, tmp_path, args, want):
    r = run([plugin, "shell", *args], env=dict(os.environ, KUBECONFIG=str(tmp_path / "none")))
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and r.stderr.count("\n") == 1 and want in r.stderr, r.stderr
    assert "try 'kubectl-retina shell --help'" in r.stderr
    if "CAP_FLY" in args[1] if len(args) > 1 else False:
        assert "NET_ADMIN" in r.stderr and "CHECKPOINT_RESTORE" in r.stderr


def test_tty_exec_sends_the_terminal_size(cluster, plugin):
    cmd = (f"stty cols 111 rows 33; exec {plugin} shell --kubeconfig {cluster.kc} node-1 -- "
           "sh -c 'sleep 0.3; echo in-tty; exit 6'")
    r = run(["script", "-qec", cmd, "/dev/null"], timeout=60, stdin=subprocess.DEVNULL,
            env=dict(os.environ, HOME=str(cluster.tmp)))
    assert r.returncode == 6, r.stdout + r.stderr
    assert "in-tty" in r.stdout
    assert 'resize {"Width":111,"Height":33}' in (cluster.tmp / "apiserver.log").read_text()
    [pod] = cluster.records("create")
    assert pod["spec"]["containers"][0]["tty"] is True
    assert cluster.managed_pods() == []


def test_tty_resize_while_attached(cluster, plugin):
    """SIGWINCH mid-session: the new size goes out on channel 4 (the window changes under the client)."""
    cmd = (f"stty cols 100 rows 30; {plugin} shell --kubeconfig {cluster.kc} node-1 -- "
           "sh -c 'sleep 2; exit 0' </dev/tty & sleep 1; stty cols 90 rows 20; wait $!")
    r = run(["script", "-qec", cmd, "/dev/null"], timeout=60, stdin=subprocess.DEVNULL,
            env=dict(os.environ, HOME=str(cluster.tmp)))
    assert r.returncode == 0, r.stdout + r.stderr
    log = (cluster.tmp / "apiserver.log").read_text()
    assert 'resize {"Width":100,"Height":30}' in log and 'resize {"Width":90,"Height":20}' in log, log
    assert cluster.managed_pods() == []


def test_ctrl_c_to_the_whole_process_group_while_waiting(tmp_path, pki, plugin):
    """A terminal's Ctrl-C reaches parent and child at once: the pod still goes."""
    c = start_cluster(tmp_path, pki, "--inject", "stuck")
    try:
        errf = open(tmp_path / "stderr", "w+")
        p = subprocess.Popen([plugin, "shell", "--kubeconfig", c.kc, "node-1"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=errf, start_new_session=True,
                             env=dict(os.environ, HOME=str(tmp_path)))
        try:
            assert wait_for(lambda: ": starting" in (tmp_path / "stderr").read_text())
            os.killpg(p.pid, signal.SIGINT)
            assert p.wait(timeout=15) == 130
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdin.close()
        assert "deleted" in (tmp_path / "stderr").read_text().splitlines()[-1]
        assert c.managed_pods() == []
    finally:
        c.api.close()


def test_real_kubectl_runs_the_plugin(cluster, plugin):
    env = dict(os.environ, PATH=f"{Path(plugin).parent}:{os.environ['PATH']}", KUBECONFIG=cluster.kc,
               HOME=str(cluster.tmp))
    r = run([kubectl_path(), "retina", "shell", "node-1", "-c", "NET_ADMIN", "--", "sh", "-c", "echo via-kubectl; exit 3"],
            env=env)
    assert r.returncode == 3, r.stderr
    assert r.stdout == "via-kubectl\n"
    [pod] = cluster.records("create")
    assert pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]
    assert cluster.managed_pods() == []


def test_cleanup_deletes_only_managed_pods(cluster, plugin, tmp_path):
    def make(name, ns, managed):
        f = tmp_path / f"{name}.json"
        md = {"name": name}
        if managed:
            md["labels"] = {"app.kubernetes.io/managed-by": "kubectl-retina"}
        f.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": md,
                                 "spec": {"containers": [{"name": "c", "image": "x", "command": ["sleep", "60"]}]}}))
        cluster.kubectl("create", "--validate=false", "-n", ns, "-f", str(f))
    make("left-1", "default", True)
    make("left-2", "tools", True)
    make("app", "default", False)
    env = dict(os.environ, HOME=str(tmp_path))
    r = run([plugin, "cleanup", "--kubeconfig", cluster.kc], env=env, check=0)
    assert r.stdout == "pod default/left-1 deleted\n"
    assert cluster.managed_pods() == ["pod/left-2"]
    r = run([plugin, "cleanup", "--kubeconfig", cluster.kc, "-A"], env=env, check=0)
    assert r.stdout == "pod tools/left-2 deleted\n"
    r = run([plugin, "cleanup", "--kubeconfig", cluster.kc, "--all-namespaces"], env=env, check=0)
    assert r.stdout == "no pods left by kubectl-retina in any namespace\n"
    assert cluster.kubectl("get", "pods", "-o", "name").stdout.split() == ["pod/app"]
    r = run([plugin, "cleanup", "-A", "-n", "x"], env=env, check=2)
    assert r.stderr.count("\n") == 1


def test_signal_while_the_create_is_in_flight(tmp_path, pki, plugin):
    """Killed between sending the create and its answer: the pod the server makes anyway is deleted.
    (Every response of this fake takes 1.5 s; the signal lands while the create waits.)"""
    c = start_cluster(tmp_path, pki, "--slow-ms", "1500")
    try:
        p = subprocess.Popen([plugin, "shell", "--kubeconfig", c.kc, "node-1", "--", "true"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=dict(os.environ, HOME=str(tmp_path)))
        time.sleep(2.3)	# the node GET is answered at ~1.5 s, the create at ~3 s
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        assert p.returncode == 128 + signal.SIGTERM, err
        assert len(c.records("create")) == 1, "the signal came too early or too late to test the race"
        assert c.managed_pods() == []
        assert err.decode().splitlines()[-1].endswith("deleted")
    finally:
        c.api.close()


def test_v4_server_says_why_the_shell_goes_on_after_stdin_ends(tmp_path, pki, plugin):
    """An API server before 1.30 speaks only v4.channel.k8s.io, which has no way to pass on the
    end of stdin: the shell keeps running, so the plugin says so (no silent hang), and Ctrl-C /
    SIGTERM still ends it and deletes the pod."""
    c = start_cluster(tmp_path, pki, "--ws-protocols", "v4.channel.k8s.io")
    try:
        p = subprocess.Popen([plugin, "shell", "--kubeconfig", c.kc, "node-1"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, HOME=str(tmp_path)))
        p.stdin.write(b"typed\n")
        p.stdin.close()
        err = b""
        deadline = time.time() + 30
        while b"v4.channel.k8s.io" not in err and time.time() < deadline and p.poll() is None:
            err += p.stderr.read1(4096)
        assert b"cannot pass that on" in err and b"'exit'" in err, err
        os.set_blocking(p.stdout.fileno(), False)
        out = b""
        while b"typed" not in out and time.time() < deadline:
            out += p.stdout.read() or b""
            time.sleep(0.05)
        assert out == b"typed\n"	# what was typed got there
        assert p.poll() is None	# still attached: the shell (cat here) never saw the end
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 128 + signal.SIGTERM
        assert b"deleted" in p.stderr.read()
        assert c.managed_pods() == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        c.api.close()
