"""The fake API server is faithful: the real kubectl 1.32 drives it end to end."""
import json
import os
import subprocess
import time

import pytest

from conftest import run
from fakeapi import FakeAPI, kubectl_path

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"generateName": "retina-test-", "labels": {"app.kubernetes.io/managed-by": "kubectl-retina"}},
    "spec": {"restartPolicy": "Never", "containers": [{
        "name": "main", "image": "retina:test",
        "command": ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"]}]},
}


@pytest.fixture
def api(tmp_path):
    kubectl_path()	# the fake is proven against the real kubectl: skipped without one
    a = FakeAPI(tmp_path)
    try:
        yield a
    finally:
        a.close()


def kubectl(api, kubeconfig, *args, check=0, timeout=60):
    return run([kubectl_path(), *args], check=check, timeout=timeout, env=api.kubectl_env(kubeconfig))


def test_version_and_nodes(api):
    kc = api.kubeconfig()
    v = json.loads(kubectl(api, kc, "get", "--raw", "/version").stdout)
    assert v["gitVersion"] == "v1.32.0-fake"
    out = kubectl(api, kc, "get", "nodes", "-o", "name").stdout.split()
    assert out == ["node/node-1", "node/win-1"]
    node = json.loads(kubectl(api, kc, "get", "node", "win-1", "-o", "json").stdout)
    assert node["metadata"]["labels"]["kubernetes.io/os"] == "windows"


def test_pod_lifecycle_create_wait_logs_delete(api, tmp_path):
    kc = api.kubeconfig(user="rsa")
    f = tmp_path / "pod.json"
    f.write_text(json.dumps(POD))
    out = kubectl(api, kc, "create", "--validate=false", "-f", str(f), "-o", "name").stdout.strip()
    assert out.startswith("pod/retina-test-")
    name = out.split("/")[1]

    kubectl(api, kc, "wait", "--for=condition=Ready", out, "--timeout=20s")
    table = kubectl(api, kc, "get", "pod", name).stdout
    assert name in table and "NAME" in table.splitlines()[0]
    # logs -f streams until the container ends
    logs = kubectl(api, kc, "logs", "-f", name, timeout=30).stdout
    assert logs == "line 1\nline 2\nline 3\n"
    kubectl(api, kc, "wait", "--for=jsonpath={.status.phase}=Succeeded", out, "--timeout=20s")
    pod = json.loads(kubectl(api, kc, "get", "pod", name, "-o", "json").stdout)
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    events = kubectl(api, kc, "get", "events", "--field-selector", f"involvedObject.name={name}",
                     "-o", "json").stdout
    assert {"Scheduled", "Started"} <= {e["reason"] for e in json.loads(events)["items"]}

    kubectl(api, kc, "delete", "pod", name, "--grace-period=0", "--force", "--wait=true", "--timeout=20s")
    gone = kubectl(api, kc, "get", "pod", name, check=1)
    assert f'Error from server (NotFound): pods "{name}" not found' in gone.stderr


def test_auth_token_and_refusals(tmp_path):
    a = FakeAPI(tmp_path, "--forbid", "create:pods")
    try:
        kc = a.kubeconfig(user="token")
        assert kubectl(a, kc, "get", "--raw", "/api/v1/nodes/node-1").returncode == 0
        bad = a.kubeconfig("bad", user={"token": "wrong"})
        r = kubectl(a, bad, "get", "nodes", check=1)
        assert "Unauthorized" in r.stderr
        f = tmp_path / "pod.json"
        f.write_text(json.dumps(POD))
        r = kubectl(a, kc, "create", "--validate=false", "-f", str(f), check=1)
        assert 'Error from server (Forbidden): error when creating' in r.stderr
        assert 'pods is forbidden: User "token-user" cannot create resource "pods"' in r.stderr
        # the server is verified: an unknown CA is refused by kubectl too
        noca = a.kubeconfig("noca", ca=False)
        r = kubectl(a, noca, "get", "nodes", check=1)
        assert "certificate signed by unknown authority" in r.stderr
    finally:
        a.close()



def test_rbac_per_namespace_as_kubectl_sees_it(tmp_path):
    """--forbid list:pods with --allow list:pods@a: a RoleBinding in a only. kubectl lists a,
    and says Forbidden, with the real apiserver's wording, in b and at the cluster scope."""
    kubectl_path()
    a = FakeAPI(tmp_path, "--forbid", "list:pods", "--allow", "list:pods@a")
    try:
        kc = a.kubeconfig(user="token")
        r = kubectl(a, kc, "get", "pods", "-n", "a")
        assert "No resources found in a namespace." in r.stderr
        r = kubectl(a, kc, "get", "pods", "-n", "b", check=1)
        assert r.stderr.strip() == ('Error from server (Forbidden): pods is forbidden: User "token-user" cannot '
                                    'list resource "pods" in API group "" in the namespace "b"'), r.stderr
        r = kubectl(a, kc, "get", "pods", "-A", check=1)
        assert r.stderr.strip() == ('Error from server (Forbidden): pods is forbidden: User "token-user" cannot '
                                    'list resource "pods" in API group "" at the cluster scope'), r.stderr
    finally:
        a.close()

def test_injected_failures_show_in_kubectl(api, tmp_path):
    kc = api.kubeconfig()
    for inject, want in (("image-pull-backoff", "ImagePullBackOff"), ("unschedulable", "Pending")):
        pod = json.loads(json.dumps(POD))
        pod["metadata"]["annotations"] = {"fake.retina.io/inject": inject}
        f = tmp_path / f"{inject}.json"
        f.write_text(json.dumps(pod))
        name = kubectl(api, kc, "create", "--validate=false", "-f", str(f), "-o", "name").stdout.strip()
        deadline = time.time() + 10
        while time.time() < deadline:
            row = kubectl(api, kc, "get", name, "--no-headers").stdout
            if want in row:
                break
            time.sleep(0.2)
        assert want in row, row
        r = kubectl(api, kc, "wait", "--for=condition=Ready", name, "--timeout=1s", check=1)
        assert "timed out" in r.stderr


def running_pod(api, kc, tmp_path):
    pod = json.loads(json.dumps(POD))
    pod["spec"]["containers"][0]["command"] = ["sleep", "60"]
    f = tmp_path / "sleeper.json"
    f.write_text(json.dumps(pod))
    name = kubectl(api, kc, "create", "--validate=false", "-f", str(f), "-o", "name").stdout.strip()
    kubectl(api, kc, "wait", "--for=condition=Ready", name, "--timeout=20s")
    return name.split("/")[1]


def test_kubectl_exec_over_websocket(api, tmp_path):
    kc = api.kubeconfig()
    name = running_pod(api, kc, tmp_path)
    r = kubectl(api, kc, "exec", name, "--", "sh", "-c", "echo out; echo err >&2")
    assert r.stdout == "out\n" and r.stderr == "err\n"
    # stdin reaches the process, and its end closes the process's stdin
    r = run([kubectl_path(), "exec", "-i", name, "--", "tr", "a-z", "A-Z"], input="hello\n", timeout=30,
            env=api.kubectl_env(kc))
    assert r.returncode == 0 and r.stdout == "HELLO\n", r.stderr
    # a non-zero exit code comes back through channel 3
    r = kubectl(api, kc, "exec", name, "--", "sh", "-c", "exit 7", check=7)
    assert "command terminated with exit code 7" in r.stderr


def test_kubectl_exec_it_under_a_terminal(api, tmp_path):
    """kubectl exec -it (under script(1), so it has a terminal): raw mode, resize on channel 4, exit code."""
    kc = api.kubeconfig()
    name = running_pod(api, kc, tmp_path)
    cmd = f"stty cols 123 rows 45; exec {kubectl_path()} exec -it {name} -- sh -c 'sleep 0.5; echo in-tty; exit 5'"
    r = run(["script", "-qec", cmd, "/dev/null"], timeout=30, env=api.kubectl_env(kc), stdin=subprocess.DEVNULL)
    assert r.returncode == 5, r.stdout + r.stderr
    assert "in-tty" in r.stdout and "command terminated with exit code 5" in r.stdout
    assert 'resize {"Width":123,"Height":45}' in (tmp_path / "apiserver.log").read_text()


def test_go_types_catch_unknown_fields(tmp_path):
    """The check every pod retina builds goes through: decoded by kubectl's Go types, nothing may vanish."""
    from fakeapi import go_roundtrip, unknown_fields
    assert unknown_fields(POD, go_roundtrip(POD, tmp_path)) == []
    bad = json.loads(json.dumps(POD))
    bad["spec"]["restartPolicyy"] = "Never"
    bad["spec"]["containers"][0]["securityContex"] = {"privileged": True}
    assert sorted(unknown_fields(bad, go_roundtrip(bad, tmp_path))) == [
        ".spec.containers[].securityContex", ".spec.restartPolicyy"]


def test_schemas_catch_bad_values():
    """The second check for every pod retina builds: the Kubernetes OpenAPI schemas (npm kubernetes-models)."""
    from fakeapi import schema_errors
    assert schema_errors(POD) == ""
    bad = json.loads(json.dumps(POD))
    bad["spec"]["restartPolicy"] = "Sometimes"
    bad["spec"]["containers"][0]["ports"] = [{"containerPort": "http"}]
    err = schema_errors(bad)
    assert "restartPolicy must be equal to one of the allowed values" in err
    assert "containerPort must be integer" in err


def test_kubectl_attach_joins_the_containers_own_process(api, tmp_path):
    """attach reaches the container's main process, as the kubelet's does: what kubectl attach -i
    sends is its stdin (stdinOnce: the end of it ends the process) and its exit code lands in the
    pod's status, where kubectl run -i reads it."""
    kc = api.kubeconfig()
    pod = json.loads(json.dumps(POD))
    c = pod["spec"]["containers"][0]
    c.update(command=["sh", "-c", "read line; echo got:$line; exit 3"], stdin=True, stdinOnce=True)
    f = tmp_path / "reader.json"
    f.write_text(json.dumps(pod))
    name = kubectl(api, kc, "create", "--validate=false", "-f", str(f), "-o", "name").stdout.strip()
    kubectl(api, kc, "wait", "--for=condition=Ready", name, "--timeout=20s")
    r = run([kubectl_path(), "attach", "-i", name.split("/")[1]], input="hello\n", timeout=30, env=api.kubectl_env(kc))
    assert r.returncode == 0, r.stderr
    assert "got:hello" in r.stdout
    kubectl(api, kc, "wait", "--for=jsonpath={.status.phase}=Failed", name, "--timeout=20s")
    code = kubectl(api, kc, "get", name, "-o", "jsonpath={.status.containerStatuses[0].state.terminated.exitCode}")
    assert code.stdout == "3"
    # kubectl run -i --rm: create, wait, attach, the exit code from the pod's status, delete
    r = run([kubectl_path(), "run", "runner", "--image=retina:test", "--restart=Never", "-i", "--rm", "--command", "--",
             "sh", "-c", "read line; echo ran:$line; exit 4"], input="x\n", timeout=60, env=api.kubectl_env(kc))
    assert r.returncode == 4, r.stdout + r.stderr
    assert "ran:x" in r.stdout
    assert kubectl(api, kc, "get", "pod", "runner", check=1).returncode == 1


def watching(api, kc, tmp_path, *args):
    """`kubectl get ARGS -w -o name` (a list, then a watch from its resourceVersion), stdout to a file."""
    out = tmp_path / ("watch-%s.out" % args[0])
    f = open(out, "w")
    p = subprocess.Popen([kubectl_path(), "get", *args, "-w", "-o", "name"], stdout=f, stderr=subprocess.STDOUT,
                         env=api.kubectl_env(kc))
    return p, f, out


def until(pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_services_and_nodes_list_and_watch(api, tmp_path):
    """What kubectl retina bpftrace lists and watches to name addresses: services (a ClusterIP
    allocated on create), nodes; kubectl's own list + watch sees each change."""
    kc = api.kubeconfig()
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop"},
           "spec": {"selector": {"app": "api"}, "ports": [{"port": 443, "targetPort": 8443}]}}
    (tmp_path / "svc.json").write_text(json.dumps(svc))
    p, f, out = watching(api, kc, tmp_path, "services", "-A")
    q, g, nout = watching(api, kc, tmp_path, "nodes")
    try:
        assert until(lambda: "node/node-1" in nout.read_text()), nout.read_text()
        kubectl(api, kc, "create", "--validate=false", "-f", str(tmp_path / "svc.json"))
        assert until(lambda: "service/api" in out.read_text()), out.read_text()
        got = json.loads(kubectl(api, kc, "get", "service", "-n", "shop", "api", "-o", "json").stdout)
        assert got["spec"]["clusterIP"].startswith("10.96.") and got["spec"]["clusterIPs"] == [got["spec"]["clusterIP"]]
        listed = json.loads(kubectl(api, kc, "get", "services", "-A", "-o", "json").stdout)
        assert [s["metadata"]["name"] for s in listed["items"]] == ["api"]
        assert kubectl(api, kc, "get", "services", "-n", "other", "-o", "name").stdout == ""
        kubectl(api, kc, "delete", "service", "-n", "shop", "api")
        assert until(lambda: out.read_text().count("service/api") == 2), out.read_text()	# ADDED, DELETED
        r = kubectl(api, kc, "get", "service", "-n", "shop", "api", check=1)
        assert 'services "api" not found' in r.stderr
    finally:
        for proc, fh in ((p, f), (q, g)):
            proc.terminate()
            proc.wait(timeout=10)
            fh.close()


def test_lists_come_in_chunks(api, tmp_path):
    """kubectl asks lists in chunks (--chunk-size: limit + continue); every item comes, once."""
    kc = api.kubeconfig()
    items = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s%d" % i, "namespace": "shop"},
              "spec": {"ports": [{"port": 80}]}} for i in range(5)]
    (tmp_path / "list.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    kubectl(api, kc, "create", "--validate=false", "-f", str(tmp_path / "list.json"))
    out = kubectl(api, kc, "get", "services", "-A", "--chunk-size=2", "-o", "name", "-v", "6").stdout
    assert out.split() == ["service/s%d" % i for i in range(5)]
    r = kubectl(api, kc, "get", "services", "-A", "--chunk-size=2", "-o", "name", "-v", "6")
    assert r.stderr.count("limit=2") == 3, r.stderr	# three pages
