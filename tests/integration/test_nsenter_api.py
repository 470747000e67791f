"""nsenter --pod NAMESPACE/NAME through the API server (the fake one): the pod's UID and its
containers' IDs come from GET pods/NAME, the processes from real kubelet-shaped cgroup
directories whose pod UID matches the fake's pod; and what happens when the server says
404, 403, or cannot be reached."""
import json
import os

import pytest

from conftest import run
from containers import cid, new_uid, v2_root
from fakeapi import FakeAPI


def pod_json(name, uid, containers, node="node-1", **spec):
    """A running pod as the API shows it; containers: (name, id or None, state)."""
    statuses = [{"name": n, "image": "x", "ready": bool(i), "restartCount": 0,
                 "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}} if i else
                 {"waiting": {"reason": state}}, **({"containerID": f"containerd://{i}"} if i else {})}
                for n, i, state in containers]
    return {"metadata": {"name": name, "namespace": "shop", "uid": uid},
            "spec": {"nodeName": node, "containers": [{"name": n, "image": "x"} for n, _, _ in containers], **spec},
            "status": {"phase": "Running", "containerStatuses": statuses}}


class Pods:
    """Two pods on this "node": shop/web (spec.hostname set, so the hostname method cannot find it;
    containers app and sidecar plus its pause container) and shop/plain (hostname = its name)."""

    def __init__(self, containers, tmp):
        self.web_uid, self.plain_uid = new_uid(), new_uid()
        self.app_c, self.side_c, self.pause_c, self.plain_c = cid(), cid(), cid(), cid()
        base = v2_root()
        web = f"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{self.web_uid.replace('-', '_')}.slice"
        for c, args in ((self.pause_c, ("--comm", "pause")),
                        (self.app_c, ("--tmpfs", "/app", "--file", "/etc/hostname=custom-host\n")),
                        (self.side_c, ("--tmpfs", "/side", "--file", "/etc/hostname=custom-host\n"))):
            containers.place(containers.start(*args), base, f"{web}/cri-containerd-{c}.scope")
        plain = f"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{self.plain_uid.replace('-', '_')}.slice"
        self.plain_pid = containers.start("--tmpfs", "/plain", "--file", "/etc/hostname=plain\n",
                                          "--file", "/var/run/secrets/kubernetes.io/serviceaccount/namespace=shop")
        containers.place(self.plain_pid, base, f"{plain}/cri-containerd-{self.plain_c}.scope")
        files = []
        for name, obj in (
                ("web", pod_json("web", self.web_uid, [("app", self.app_c, ""), ("sidecar", self.side_c, ""),
                                                      ("late", None, "ContainerCreating")], hostname="custom-host")),
                ("plain", pod_json("plain", self.plain_uid, [("main", self.plain_c, "")])),
                ("elsewhere", pod_json("elsewhere", new_uid(), [("main", cid(), "")], node="node-2"))):
            path = tmp / f"pod-{name}.json"
            path.write_text(json.dumps(obj))
            files += ["--pod-file", str(path)]
        self.files = files


@pytest.fixture
def pods(containers, tmp_path):
    return Pods(containers, tmp_path)


def env_for(tmp, root=None, **more):
    """No kubeconfig unless given, no runtime state: only the API and the cgroups name things."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBECONFIG", "KUBERNETES_"))}
    env.update(HOME=str(tmp), RETINA_RUNTIME_STATE="/nonexistent", **more)
    if root:
        env["HOST_ROOT"] = root
    return env


def entered(p):
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["process"]["host_fs"]["mounted"]


def test_pod_by_name_from_the_api_server_with_container_names(retina, pods, tmp_path):
    api = FakeAPI(tmp_path, *pods.files)
    try:
        kc = api.kubeconfig()
        p = run([retina, "nsenter", "-v", "--kubeconfig", kc, "--pod", "shop/web", "--container", "sidecar", "--",
                 "capcheck", "-o", "json"], env=env_for(tmp_path, "/side"))
        assert entered(p) is True
        assert f"pod shop/web: uid {pods.web_uid} on node node-1 (Running), from the API server {api.server}" \
            in p.stderr
        assert f"container sidecar ({pods.side_c[:12]})" in p.stderr
        # KUBECONFIG works as kubectl's does; app is another container of the same pod
        p = run([retina, "nsenter", "--pod", "shop/web", "--container", "app", "--", "capcheck", "-o", "json"],
                env=env_for(tmp_path, "/app", KUBECONFIG=kc))
        assert entered(p) is True
        p = run([retina, "nsenter", "--pod", "shop/web", "--container", "app", "--", "capcheck", "-o", "json"],
                env=env_for(tmp_path, "/side", KUBECONFIG=kc))
        assert entered(p) is False	# not the sidecar's root: the test can tell containers apart
        # no --container: the API's names in the error (the runtime's state is not readable here)
        p = run([retina, "nsenter", "--kubeconfig", kc, "--pod", "shop/web", "--", "capcheck"], env=env_for(tmp_path))
        assert p.returncode == 1
        assert "several containers" in p.stderr
        assert f"app ({pods.app_c[:12]})" in p.stderr and f"sidecar ({pods.side_c[:12]})" in p.stderr
        p = run([retina, "nsenter", "--kubeconfig", kc, "--pod", "shop/web", "--container", "late", "--", "capcheck"],
                env=env_for(tmp_path))
        assert p.returncode == 1
        assert "container late has not started (waiting: ContainerCreating)" in p.stderr
        p = run([retina, "nsenter", "--kubeconfig", kc, "--pod", "shop/web", "--container", "redis", "--", "capcheck"],
                env=env_for(tmp_path))
        assert p.returncode == 1
        assert "has no container 'redis' (the API server lists: app, sidecar, late)" in p.stderr
        # the API's pod is elsewhere: say which node
        p = run([retina, "nsenter", "--kubeconfig", kc, "--pod", "shop/elsewhere", "--", "capcheck"],
                env=env_for(tmp_path))
        assert p.returncode == 1
        assert "has no process on this node: the API server places it on node node-2" in p.stderr
    finally:
        api.close()


def test_pod_not_found_is_the_api_servers_answer(retina, pods, tmp_path):
    api = FakeAPI(tmp_path, *pods.files)
    try:
        p = run([retina, "nsenter", "--kubeconfig", api.kubeconfig(), "--pod", "shop/nope", "--", "capcheck"],
                env=env_for(tmp_path))
    finally:
        api.close()
    assert p.returncode == 1
    assert "pod nope not found in namespace shop" in p.stderr and "kubectl get pods -n shop" in p.stderr


def test_forbidden_names_the_rbac_verb_and_falls_back_to_the_node(retina, pods, tmp_path):
    api = FakeAPI(tmp_path, "--forbid", "get:pods", *pods.files)
    try:
        env = env_for(tmp_path, "/plain", KUBECONFIG=api.kubeconfig())
        p = run([retina, "nsenter", "--pod", "shop/plain", "--", "capcheck", "-o", "json"], env=env)
        assert entered(p) is True	# found by its hostname after all
        assert 'lacks the RBAC verb "get" on "pods" in namespace shop' in p.stderr
        assert "looking for pod shop/plain on this node instead" in p.stderr
        # spec.hostname hides web from the hostname method: both reasons in the one error
        p = run([retina, "nsenter", "--pod", "shop/web", "--", "capcheck"], env=env)
        assert p.returncode == 1
        err = p.stderr.splitlines()[-1]
        assert "no pod shop/web" in err and "spec.hostname or hostNetwork" in err
        assert '"get" on "pods"' in err and "--pod UID" in err
    finally:
        api.close()


def test_unreachable_server_falls_back_to_the_node(retina, pods, tmp_path):
    api = FakeAPI(tmp_path)
    cfg = json.loads(open(api.kubeconfig()).read())
    api.close()	# nothing listens on its port any more
    kc = tmp_path / "dead-kubeconfig"
    kc.write_text(json.dumps(cfg))
    p = run([retina, "nsenter", "--kubeconfig", str(kc), "--pod", "shop/plain", "--", "capcheck", "-o", "json"],
            env=env_for(tmp_path, "/plain"))
    assert entered(p) is True
    assert f"cannot reach the API server {api.server}" in p.stderr


def test_without_any_config_the_node_alone_answers(retina, pods, tmp_path):
    p = run([retina, "nsenter", "--pod", "shop/plain", "--", "capcheck", "-o", "json"],
            env=env_for(tmp_path, "/plain"))
    assert entered(p) is True and "API server" not in p.stderr
    p = run([retina, "nsenter", "--pod", "shop/web", "--", "capcheck"], env=env_for(tmp_path))
    assert p.returncode == 1
    assert "no kubeconfig or in-cluster config to ask the API server" in p.stderr
    # a --kubeconfig that cannot be read is an error, not a silent fallback
    p = run([retina, "nsenter", "--kubeconfig", str(tmp_path / "none"), "--pod", "shop/plain", "--", "capcheck"],
            env=env_for(tmp_path))
    assert p.returncode == 1 and "--kubeconfig" in p.stderr
    for bad in (["--kubeconfig", "x", "-t", "1"], ["--context", "c", "--pod", new_uid()]):
        assert run([retina, "nsenter", *bad, "--", "true"]).returncode == 2, bad


def test_in_cluster_config_is_used_in_a_pod(retina, pods, tmp_path):
    """In a debug pod: no kubeconfig, but KUBERNETES_SERVICE_HOST/PORT and the service
    account's token and CA (mounted here on a private tmpfs over /run, in our own mount namespace)."""
    from fakeapi import TOKEN
    api = FakeAPI(tmp_path, *pods.files)
    try:
        sa = "/run/secrets/kubernetes.io/serviceaccount"
        script = (f'mount -t tmpfs none /run && mkdir -p {sa} && cp "$1" {sa}/ca.crt && '
                  f'printf %s "$2" > {sa}/token && echo shop > {sa}/namespace && shift 2 && exec "$@"')
        env = env_for(tmp_path, "/side", KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(api.port))
        p = run(["unshare", "-m", "sh", "-c", script, "sh", str(api.pki / "ca.crt"), TOKEN,
                 retina, "nsenter", "-v", "--pod", "shop/web", "--container", "sidecar", "--", "capcheck", "-o",
                 "json"], env=env)
        assert entered(p) is True
        assert f"from the API server {api.server}" in p.stderr
    finally:
        api.close()


def test_static_pod_is_found_by_its_config_hash(retina, containers, tmp_path):
    """A static pod's cgroup carries the kubelet's config hash; the API shows its mirror pod,
    whose own UID is another: the kubernetes.io/config.mirror annotation is the one to look for."""
    import uuid
    config_hash = uuid.uuid4().hex	# 32 hex digits, as the kubelet names a static pod
    c = cid()
    pid = containers.start("--tmpfs", "/etcd")
    containers.place(pid, v2_root(), f"kubepods.slice/kubepods-pod{config_hash}.slice/cri-containerd-{c}.scope")
    pod = pod_json("etcd-node-1", new_uid(), [("etcd", c, "")])
    pod["metadata"].update(namespace="kube-system",
                           annotations={"kubernetes.io/config.mirror": config_hash,
                                        "kubernetes.io/config.source": "file"})
    (tmp_path / "etcd.json").write_text(json.dumps(pod))
    api = FakeAPI(tmp_path, "--pod-file", str(tmp_path / "etcd.json"))
    try:
        p = run([retina, "nsenter", "--kubeconfig", api.kubeconfig(), "--pod", "kube-system/etcd-node-1", "--",
                 "capcheck", "-o", "json"], env=env_for(tmp_path, "/etcd"))
    finally:
        api.close()
    assert entered(p) is True
