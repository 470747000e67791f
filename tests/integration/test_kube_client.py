"""kube/ through the built plugin against the fake API server, beside the real kubectl where
kubectl has a say: kubeconfig paths and lists as kubectl reads them, --request-timeout on a
slow server, a terminal resize mid-session when the identity comes from an exec plugin."""
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import run
from fakeapi import kubectl_path, TOKEN, FakeAPI


@pytest.fixture
def api(tmp_path, pki):
    a = FakeAPI(tmp_path, pki=pki)
    try:
        yield a
    finally:
        a.close()


def env_for(api, **extra):
    e = dict(os.environ, HOME=str(api.tmp / "home"))
    for k in ("KUBECONFIG", "HTTPS_PROXY", "https_proxy"):
        e.pop(k, None)
    e.update(extra)
    return e


def test_tilde_in_a_kubeconfig_path_is_relative_as_in_kubectl(api, plugin, tmp_path):
    """client-go's ResolvePaths expands no '~': '~/ca.crt' is relative, joined to the file's folder."""
    d = tmp_path / "cfg"
    (d / "~").mkdir(parents=True)
    (tmp_path / "home").mkdir()
    ca = (api.pki / "ca.crt").read_bytes()
    cfg = json.loads(Path(api.kubeconfig()).read_text())
    del cfg["clusters"][0]["cluster"]["certificate-authority-data"]
    cfg["clusters"][0]["cluster"]["certificate-authority"] = "~/ca.crt"
    kc = d / "kc"
    kc.write_text(json.dumps(cfg))
    (d / "~" / "ca.crt").write_bytes(ca)
    e = env_for(api)
    assert run([plugin, "cleanup", "--kubeconfig", str(kc)], env=e).returncode == 0
    assert run([kubectl_path(), "--kubeconfig", str(kc), "get", "--raw", "/version"], env=e).returncode == 0
    # the CA only in $HOME: neither looks there
    (d / "~" / "ca.crt").unlink()
    (tmp_path / "home" / "ca.crt").write_bytes(ca)
    r = run([plugin, "cleanup", "--kubeconfig", str(kc)], env=e, check=1)
    assert str(d / "~" / "ca.crt") in r.stderr, r.stderr
    r = run([kubectl_path(), "--kubeconfig", str(kc), "get", "--raw", "/version"], env=e, check=1)
    assert "~/ca.crt" in r.stderr


def test_a_file_listed_twice_in_kubeconfig_is_read_once(api, plugin, tmp_path):
    """KUBECONFIG=f:f reads f once, as kubectl's deduplicate() does: a FIFO (KUBECONFIG=<(...))
    can be read only once, so a second read would wait forever."""
    text = Path(api.kubeconfig()).read_bytes()
    fifo = tmp_path / "kc.fifo"
    for argv in ([plugin, "cleanup"], [kubectl_path(), "get", "--raw", "/version"]):
        os.mkfifo(fifo)

        def feed():
            with open(fifo, "wb") as f:
                f.write(text)
        t = threading.Thread(target=feed, daemon=True)
        t.start()
        try:
            r = run(argv, env=env_for(api, KUBECONFIG=f"{fifo}:{fifo}"), timeout=20)
            assert r.returncode == 0, r.stderr
        finally:
            if t.is_alive():	# the reader never came: let the writer go
                os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
            t.join(5)
            fifo.unlink()


def test_request_timeout_on_a_slow_server(tmp_path, pki, plugin):
    """--slow-ms: every answer comes late. A timeout shorter than that ends the command with a
    clear line (what timed out, which request, the flag to change) instead of waiting; one
    longer than that gets the answer; bad values are usage errors."""
    a = FakeAPI(tmp_path, "--slow-ms", "6000", pki=pki)
    try:
        kc = a.kubeconfig()
        start = time.monotonic()
        r = run([plugin, "cleanup", "--kubeconfig", kc, "--request-timeout", "1s"], env=env_for(a), check=1,
                timeout=60)
        took = time.monotonic() - start
        assert "timed out after 1000 ms waiting for GET /api/v1/namespaces/default/pods" in r.stderr, r.stderr
        assert "--request-timeout" in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert took < 5.5, f"gave up after {took:.1f} s, the server answers after 6 s"
        r = run([plugin, "cleanup", "--kubeconfig", kc, "--request-timeout", "0"], env=env_for(a), timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        a.close()
    for bad in ("soon", "-1s", "2d"):
        r = run([plugin, "cleanup", "--request-timeout", bad], check=2)
        assert "bad --request-timeout" in r.stderr


PLUGIN = """#!/usr/bin/python3
import json, sys
open(sys.argv[1], "a").write("ran\\n")
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"clientCertificateData": open(sys.argv[2]).read(),
                             "clientKeyData": open(sys.argv[3]).read()}}))
"""


def test_resize_mid_session_with_an_exec_plugin_certificate(api, plugin, tmp_path):
    """The identity is a client certificate an exec plugin hands out: the exec over WebSocket
    uses it, and a SIGWINCH mid-session still sends the new size on channel 4."""
    cred = tmp_path / "cred-plugin"
    cred.write_text(PLUGIN)
    cred.chmod(0o755)
    runs = tmp_path / "plugin-runs"
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(cred),
                     "args": [str(runs), str(api.pki / "client-rsa.crt"), str(api.pki / "client-rsa.key")],
                     "interactiveMode": "Never"}}
    kc = api.kubeconfig("exec-kc", user=user)
    cmd = (f"stty cols 100 rows 30; {plugin} shell --kubeconfig {kc} node-1 -- "
           "sh -c 'sleep 2; echo done-$((6*7)); exit 0' </dev/tty & sleep 1; stty cols 90 rows 20; wait $!")
    r = run(["script", "-qec", cmd, "/dev/null"], timeout=60, stdin=subprocess.DEVNULL, env=env_for(api))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "done-42" in r.stdout
    log = (api.tmp / "apiserver.log").read_text()
    assert 'resize {"Width":100,"Height":30}' in log and 'resize {"Width":90,"Height":20}' in log, log
    assert runs.read_text().count("ran") >= 1
    assert "deleted" in r.stdout
    assert "client-certificate" not in Path(kc).read_text()


def test_server_verification_and_skip_verify_warning(api, plugin, tmp_path):
    """No CA for the server's certificate: refused in words, as kubectl refuses it; with
    insecure-skip-tls-verify the request goes through, after one warning line."""
    noca = api.kubeconfig("noca", ca=False)
    r = run([plugin, "cleanup", "--kubeconfig", noca], env=env_for(api), check=1)
    assert "unknown authority" in r.stderr, r.stderr
    cfg = json.loads(Path(noca).read_text())
    cfg["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    skip = tmp_path / "skip"
    skip.write_text(json.dumps(cfg))
    r = run([plugin, "cleanup", "--kubeconfig", str(skip)], env=env_for(api))
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "insecure-skip-tls-verify" in line]
    assert len(warnings) == 1, r.stderr
    assert run([kubectl_path(), "--kubeconfig", str(skip), "get", "--raw", "/version"], env=env_for(api)).returncode == 0


def in_pod_mounts(run_dir):
    """preexec_fn: a mount namespace of the child's own where run_dir is /run, as a pod's
    service account is mounted at /var/run/secrets/kubernetes.io/serviceaccount."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def setup():
        CLONE_NEWNS, MS_REC, MS_PRIVATE, MS_BIND = 0x20000, 0x4000, 0x40000, 0x1000
        if libc.unshare(CLONE_NEWNS) or libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) or \
                libc.mount(str(run_dir).encode(), b"/run", None, MS_BIND, None):
            os._exit(99)
    return setup


def test_in_cluster_config_beside_kubectl(plugin, tmp_path, pki):
    """No kubeconfig anywhere, KUBERNETES_SERVICE_HOST/PORT set and a service account mounted:
    both retina and kubectl reach the server with the account's token (no client certificate)
    and CA, in its namespace."""
    reqs = tmp_path / "requests.jsonl"
    api = FakeAPI(tmp_path, "--request-log", str(reqs), pki=pki)
    try:
        sa = tmp_path / "run" / "secrets" / "kubernetes.io" / "serviceaccount"
        sa.mkdir(parents=True)
        (sa / "token").write_text(TOKEN)
        (sa / "ca.crt").write_bytes((api.pki / "ca.crt").read_bytes())
        (sa / "namespace").write_text("tools")
        (tmp_path / "home").mkdir()
        e = env_for(api, KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(api.port))
        for argv in ([plugin, "cleanup"], [kubectl_path(), "get", "pods", "-o", "name"]):
            reqs.write_text("")
            p = subprocess.run(argv, env=e, capture_output=True, text=True, timeout=60,
                               preexec_fn=in_pod_mounts(tmp_path / "run"))
            assert p.returncode == 0, (argv[0], p.returncode, p.stderr)
            paths = [json.loads(line)["path"] for line in reqs.read_text().splitlines()]
            assert any(x.startswith("/api/v1/namespaces/tools/pods") for x in paths), paths
            assert TOKEN not in p.stdout + p.stderr
        # without the account's token: a message that says what is missing
        (sa / "token").unlink()
        p = subprocess.run([plugin, "cleanup"], env=e, capture_output=True, text=True, timeout=60,
                           preexec_fn=in_pod_mounts(tmp_path / "run"))
        assert p.returncode == 1 and "token" in p.stderr, p.stderr
    finally:
        api.close()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_proxy_url_through_a_real_proxy_beside_kubectl(api, plugin, tmp_path):
    """proxy-url in the kubeconfig: HTTP CONNECT through Debian's tinyproxy on loopback (TLS to
    the server inside the tunnel, still verified), for retina as for kubectl; a proxy that is
    not there is named in the error."""
    from procs import stop
    port = free_port()
    conf = tmp_path / "tinyproxy.conf"
    log = tmp_path / "tinyproxy.log"
    conf.write_text(f'Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nLogFile "{log}"\n')
    tp = subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while time.time() < deadline and not (log.exists() and "listening" in log.read_text().lower()):
            time.sleep(0.05)
        cfg = json.loads(Path(api.kubeconfig()).read_text())
        cfg["clusters"][0]["cluster"]["proxy-url"] = f"http://127.0.0.1:{port}"
        kc = tmp_path / "proxied"
        kc.write_text(json.dumps(cfg))
        e = env_for(api)
        r = run([plugin, "cleanup", "--kubeconfig", str(kc)], env=e)
        assert r.returncode == 0, r.stderr
        connects = log.read_text().count(f"CONNECT 127.0.0.1:{api.port}")
        assert connects >= 1, log.read_text()
        assert run([kubectl_path(), "--kubeconfig", str(kc), "get", "--raw", "/version"], env=e).returncode == 0
        assert log.read_text().count(f"CONNECT 127.0.0.1:{api.port}") > connects
    finally:
        stop(tp)
    # the proxy gone: the error names it
    r = run([plugin, "cleanup", "--kubeconfig", str(kc)], env=env_for(api), check=1)
    assert f"127.0.0.1:{port}" in r.stderr and "refused" in r.stderr.lower(), r.stderr
