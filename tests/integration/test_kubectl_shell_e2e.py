"""kubectl retina shell end to end: the fake API server's "kubelet" runs the project's image with
podman in a namespace-isolated "node" (a netns of the netpair fixture), so the shell lands in a
real container with the capabilities, mounts and network the pod spec asked for."""
import json
import os

from conftest import run
from fakeapi import FakeAPI
from shellimage import podman


def start(tmp_path, netpair):
    return FakeAPI(tmp_path, "--podman-network", f"ns:/run/netns/{netpair.a}")


def shell(retina, api, kc, image, *args, input=""):
    repo, _, tag = image.rpartition(":")
    env = dict(os.environ, HOME=str(api.tmp))
    return run([retina, "kubectl-retina", "shell", "--kubeconfig", kc, "--retina-shell-image-repo", repo,
                "--retina-shell-image-version", tag, *args], input=input, env=env, timeout=120)


def test_node_shell_in_a_real_container(retina, shell_image, netpair, tmp_path):
    api = start(tmp_path, netpair)
    try:
        kc = api.kubeconfig()
        # the node's network: the shell reaches the peer namespace over the veth
        r = shell(retina, api, kc, shell_image.name, "node-1", "-c", "NET_RAW", "--",
                  "retina", "ping", "-c", "1", "-W", "5", netpair.B4)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "1 received" in r.stdout
        # capabilities: only what -c asked for; /host read-only with -m
        r = shell(retina, api, kc, shell_image.name, "node-1", "-c", "net_admin", "-m", "--",
                  "retina", "capcheck", "-o", "json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["process"]["effective"] == ["NET_ADMIN"]
        r = shell(retina, api, kc, shell_image.name, "node-1", "-m", "--", "sh", "-c",
                  "test -e /host/etc/os-release && ! touch /host/retina-probe 2>/dev/null; exit $?")
        assert r.returncode == 0, r.stdout + r.stderr
        # a script on stdin goes to the shell; its exit code comes back
        r = shell(retina, api, kc, shell_image.name, "node-1", input="retina capcheck ping -q; echo rc=$?; exit 3\n")
        assert r.returncode == 3, r.stdout + r.stderr
        assert "rc=" in r.stdout
        # nothing left: pods deleted, containers removed
        assert "pod default/retina-shell-" in r.stderr and "deleted" in r.stderr
        left = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert not [n for n in left if n.startswith("fake-default-retina-shell-")]
    finally:
        api.close()
