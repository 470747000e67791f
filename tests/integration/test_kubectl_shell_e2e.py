"""kubectl retina shell end to end: the fake API server's "kubelet" runs the project's image with
podman in a namespace-isolated "node" (a netns of the netpair fixture), so the shell lands in a
real container with the capabilities, mounts and network the pod spec asked for."""
import json
import os
import re

from conftest import run
from fakeapi import FakeAPI
from shellimage import podman


def leftover_containers(*texts):
    """Containers of the pods these outputs name that podman still has. Only this test's pods:
    other jobs on the machine may run their own fake-default-retina-shell-* containers."""
    pods = set(re.findall(r"pod default/(retina-shell-[a-z0-9]+)", "".join(texts)))
    assert pods, "no pod named in the plugin's output"
    left = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    return [n for n in left if any(n == "fake-default-" + p or n.startswith("fake-default-%s." % p) for p in pods)]


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
        assert not leftover_containers(r.stderr)
    finally:
        api.close()



def test_interactive_attach_under_a_terminal(retina, shell_image, netpair, tmp_path):
    """A terminal on stdin: the container gets tty: true and a terminal of its own, sized as ours,
    the local terminal is raw while attached, what is typed (once attached: raw mode flushes
    type-ahead) reaches the shell in the container and its exit code comes back."""
    import subprocess
    import threading
    import time
    api = start(tmp_path, netpair)
    try:
        kc = api.kubeconfig()
        repo, _, tag = shell_image.name.rpartition(":")
        cmd = (f"stty cols 120 rows 40; exec {retina} kubectl-retina shell --kubeconfig {kc} node-1 "
               f"--retina-shell-image-repo {repo} --retina-shell-image-version {tag}")
        p = subprocess.Popen(["script", "-qec", cmd, "/dev/null"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=dict(os.environ, HOME=str(tmp_path)))
        out = bytearray()
        reader = threading.Thread(target=lambda: [out.extend(b) for b in iter(lambda: p.stdout.read1(4096), b"")])
        reader.start()
        try:
            deadline = time.time() + 60
            while b"try pressing enter" not in out and time.time() < deadline and p.poll() is None:
                time.sleep(0.05)
            time.sleep(0.5)
            p.stdin.write(b"stty size; tty; echo tty-$((6*7)); exit 4\n")
            p.stdin.flush()
            assert p.wait(timeout=60) == 4, out.decode(errors="replace")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            reader.join(timeout=5)
            p.stdin.close()
        text = out.decode(errors="replace")
        assert "tty-42" in text and "deleted" in text, text
        # the container has a terminal of its own (podman run -t on the fake's pty), sized by channel 4
        assert "40 120" in text and "/dev/pts/" in text, text
        assert 'resize {"Width":120,"Height":40}' in (tmp_path / "apiserver.log").read_text()
        assert not leftover_containers(text)
    finally:
        api.close()


def test_real_kubectl_attaches_to_the_container(shell_image, netpair, tmp_path):
    """The fake's attach in podman mode carries real bytes to the container's own process
    (podman run -i, its stdin held by the fake), proven with the real kubectl: `kubectl run -i
    --rm` types into the shell that is PID 1 of the container, and gets its exit code."""
    from conftest import run as run_argv
    from fakeapi import kubectl_path
    api = start(tmp_path, netpair)
    try:
        kc = api.kubeconfig()
        r = run_argv([kubectl_path(), "run", "attached", f"--image={shell_image.name}", "--restart=Never", "-i", "--rm",
                      "--command", "--", "sh"], input="echo pid=$$ host=$(cat /etc/hostname); exit 5\n",
                     timeout=120, env=api.kubectl_env(kc))
        assert r.returncode == 5, r.stdout + r.stderr
        assert "pid=1 " in r.stdout, r.stdout
        left = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert "fake-default-attached" not in left
    finally:
        api.close()


def test_window_resize_reaches_the_containers_terminal(retina, shell_image, netpair, tmp_path):
    """The window changes mid-session: SIGWINCH -> channel 4 -> the fake -> the container's own
    terminal, where `stty size` sees the new size (the plugin runs on a pty this test holds)."""
    import fcntl
    import pty
    import struct
    import subprocess
    import termios
    import threading
    import time

    def set_size(fd, rows, cols):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    api = start(tmp_path, netpair)
    master, slave = pty.openpty()
    try:
        kc = api.kubeconfig()
        repo, _, tag = shell_image.name.rpartition(":")
        set_size(master, 40, 120)
        p = subprocess.Popen([retina, "kubectl-retina", "shell", "--kubeconfig", kc, "node-1",
                              "--retina-shell-image-repo", repo, "--retina-shell-image-version", tag],
                             stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                             preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
                             env=dict(os.environ, HOME=str(tmp_path)))
        os.close(slave)
        slave = None
        out = bytearray()

        def reader():
            while True:
                try:
                    b = os.read(master, 4096)
                except OSError:
                    return
                if not b:
                    return
                out.extend(b)
        t = threading.Thread(target=reader, daemon=True)
        t.start()

        def wait_for(what, timeout=60):
            deadline = time.time() + timeout
            while what not in out and time.time() < deadline and p.poll() is None:
                time.sleep(0.05)
            assert what in out, out.decode(errors="replace")
        try:
            wait_for(b"try pressing enter")
            time.sleep(0.5)
            os.write(master, b"stty size\n")
            wait_for(b"40 120")
            set_size(master, 30, 100)	# the kernel sends the plugin SIGWINCH
            time.sleep(1)
            os.write(master, b"stty size; exit 6\n")
            assert p.wait(timeout=60) == 6, out.decode(errors="replace")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        t.join(5)
        assert b"30 100" in out, out.decode(errors="replace")
        assert 'resize {"Width":100,"Height":30}' in (tmp_path / "apiserver.log").read_text()
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
        api.close()


def test_pod_shell_is_an_ephemeral_container_beside_the_pod(retina, shell_image, netpair, tmp_path):
    """shell pods/POD in podman mode: the ephemeral container is a container of its own in the
    pod's network namespace; with --target-container it also sees the target's processes."""
    from conftest import run as run_argv
    from fakeapi import kubectl_path
    api = start(tmp_path, netpair)
    try:
        kc = api.kubeconfig()
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "target"},
               "spec": {"containers": [{"name": "main", "image": shell_image.name, "command": ["sleep", "600"]}]}}
        f = tmp_path / "target.json"
        f.write_text(json.dumps(pod))
        env = api.kubectl_env(kc)
        run_argv([kubectl_path(), "create", "--validate=false", "-f", str(f)], env=env, check=0)
        run_argv([kubectl_path(), "wait", "--for=condition=Ready", "pod/target", "--timeout=60s"], env=env, check=0)
        main_net = run_argv([kubectl_path(), "exec", "target", "--", "readlink", "/proc/self/ns/net"], env=env,
                            check=0).stdout.strip()
        probe = ["--", "sh", "-c", "readlink /proc/self/ns/net; cat /proc/1/comm"]
        r = shell(retina, api, kc, shell_image.name, "pods/target", *probe)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.split() == [main_net, "sh"], r.stdout
        r = shell(retina, api, kc, shell_image.name, "pods/target", "--target-container", "main", *probe)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.split() == [main_net, "sleep"], r.stdout
        containers = podman("ps", "--format", "{{.Names}}").stdout.split()
        assert len([n for n in containers if n.startswith("fake-default-target.retina-shell-")]) == 2, containers
    finally:
        api.close()
    left = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not [n for n in left if n.startswith("fake-default-target")], left
