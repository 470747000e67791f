"""Start tests/fixtures/fake_apiserver.py with a fresh PKI and write kubeconfigs for it."""
import base64
import json
import os
import re
import shutil
import subprocess
import time

from procs import stop
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
# The real kubectl the fake is proven against: $KUBECTL, else kubectl on PATH
# (1.26 or later: the plugin completion relay, kubectl_complete-*, came then).
# Google Cloud SDK's kubectl is a dispatcher that reads the kubeconfig itself
# to pick the kubectl.X.Y beside it (a FIFO kubeconfig would then be read
# twice): its own kubectl.X.Y is used instead.
KUBECTL_MIN = (1, 26)
INSTALL_KUBECTL = ("install kubectl 1.26 or later on PATH, or set KUBECTL=/path/to/kubectl "
                   "(https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/; Debian's "
                   "kubernetes-client package is 1.20, too old)")


def _client_version(path):
    """(major, minor, gitVersion) of kubectl at path."""
    p = subprocess.run([path, "version", "--client", "-o", "json"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, KUBECONFIG=os.devnull))
    v = json.loads(p.stdout)["clientVersion"]
    return int(v["major"]), int(re.match(r"\d+", v["minor"]).group()), v.get("gitVersion", "")


def _find_kubectl():
    """(path, '') of a kubectl the tests can use, or (None, why not)."""
    path = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not path:
        return None, "no kubectl on PATH: " + INSTALL_KUBECTL
    try:
        major, minor, git = _client_version(path)
        if "dispatcher" in git:
            real = Path(os.path.realpath(path)).with_name(f"kubectl.{major}.{minor}")
            if not os.access(real, os.X_OK):
                return None, f"{path} is Google Cloud SDK's dispatcher and {real} is missing: " + INSTALL_KUBECTL
            path = str(real)
            major, minor, git = _client_version(path)
    except (OSError, ValueError, KeyError, AttributeError, subprocess.TimeoutExpired) as e:
        return None, f"{path} does not tell its version ({e}): " + INSTALL_KUBECTL
    if (major, minor) < KUBECTL_MIN:
        return None, f"{path} is kubectl {major}.{minor}: " + INSTALL_KUBECTL
    return path, ""


KUBECTL, _KUBECTL_MISSING = _find_kubectl()


def kubectl_missing():
    """Why no kubectl can serve the tests, or '' when KUBECTL can."""
    return _KUBECTL_MISSING


def kubectl_path():
    """KUBECTL for a test, which is skipped (saying how to install kubectl) when there is none."""
    import pytest
    if kubectl_missing():
        pytest.skip(kubectl_missing())
    return KUBECTL


TOKEN = "fake-token-0123456789"
# The image repository tests pass (RETINA_SHELL_IMAGE_REPO): the build under
# test has no default one (make IMAGE_REPO=... sets it; tests/integration/test_ship.py).
TEST_IMAGE_REPO = "registry.test/retina-shell"


def b64(path):
    return base64.b64encode(Path(path).read_bytes()).decode()


class FakeAPI:
    """The fake API server on 127.0.0.1 (TLS), stopped by close() even on failure."""

    def __init__(self, tmp, *args, pki=None):
        self.tmp = Path(tmp)
        self.pki = Path(pki) if pki else self.tmp / "pki"
        if not (self.pki / "ca.crt").exists():
            subprocess.run([str(FIXTURES / "mkpki.sh"), str(self.pki)], check=True)
        portfile = self.tmp / "apiserver.port"
        self.log = open(self.tmp / "apiserver.log", "w")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", str(FIXTURES / "fake_apiserver.py"),
             "--cert", str(self.pki / "server-ip.crt"), "--key", str(self.pki / "server-ip.key"),
             "--client-ca", str(self.pki / "ca.crt"), "--token", TOKEN, *args, str(portfile)],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if portfile.exists():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("fake_apiserver.py exited: " + (self.tmp / "apiserver.log").read_text())
            time.sleep(0.025)
        self.port = int(portfile.read_text())
        self.server = f"https://127.0.0.1:{self.port}"

    def kubeconfig(self, name="kubeconfig", user="cert", namespace=None, ca=True):
        """A kubeconfig for this server; user: cert (EC client cert), rsa, token, or a dict."""
        if user == "cert":
            u = {"client-certificate-data": b64(self.pki / "client-ec.crt"),
                 "client-key-data": b64(self.pki / "client-ec.key")}
        elif user == "rsa":
            u = {"client-certificate-data": b64(self.pki / "client-rsa.crt"),
                 "client-key-data": b64(self.pki / "client-rsa.key")}
        elif user == "token":
            u = {"token": TOKEN}
        else:
            u = user
        cluster = {"server": self.server}
        if ca:
            cluster["certificate-authority-data"] = b64(self.pki / "ca.crt")
        ctx = {"cluster": "fake", "user": "fake"}
        if namespace:
            ctx["namespace"] = namespace
        import json
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "fake",
               "clusters": [{"name": "fake", "cluster": cluster}],
               "users": [{"name": "fake", "user": u}],
               "contexts": [{"name": "fake", "context": ctx}]}
        path = self.tmp / name
        path.write_text(json.dumps(cfg, indent=1))
        return str(path)

    def kubectl_env(self, kubeconfig):
        env = dict(os.environ)
        env.update(KUBECONFIG=kubeconfig, HOME=str(self.tmp))	# discovery cache stays in tmp
        return env

    def close(self):
        stop(self.proc)
        self.log.close()


def go_roundtrip(obj, tmp):
    """Decode obj into kubectl's real Go types and back (offline: `set env --local`).
    Unknown or misspelled fields vanish; returns the decoded object without the probe variable."""
    import json
    path = Path(tmp) / "roundtrip.json"
    path.write_text(json.dumps(obj))
    p = subprocess.run([kubectl_path(), "set", "env", "--local", "-o", "json", "-f", str(path), "RETINA_PROBE=1"],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(tmp)))
    if p.returncode != 0:
        raise AssertionError(f"kubectl could not decode it: {p.stderr}")
    out = json.loads(p.stdout)
    for c in out.get("spec", {}).get("containers", []):
        c["env"] = [e for e in c.get("env", []) if e["name"] != "RETINA_PROBE"]
        if not c["env"]:
            del c["env"]
    return out


def unknown_fields(obj, decoded, path=""):
    """Paths of fields in obj that the Go types dropped."""
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            if not isinstance(decoded, dict) or k not in decoded:
                out.append(f"{path}.{k}")
            else:
                out += unknown_fields(v, decoded[k], f"{path}.{k}")
        return out
    if isinstance(obj, list) and isinstance(decoded, list):
        return [p for a, b in zip(obj, decoded) for p in unknown_fields(a, b, path + "[]")]
    return []


VALIDATE_SRC = FIXTURES / "k8s-validate"
VALIDATE_DIR = ROOT / "build" / "k8s-validate"


def schema_errors(obj):
    """Validate obj with the npm kubernetes-models schemas (installed into build/ on first use,
    versions pinned by tests/fixtures/k8s-validate/package-lock.json). Returns '' when valid."""
    import json
    import shutil
    if not (VALIDATE_DIR / "node_modules" / "kubernetes-models").exists():
        VALIDATE_DIR.mkdir(parents=True, exist_ok=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copy(VALIDATE_SRC / f, VALIDATE_DIR / f)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=VALIDATE_DIR,
                       check=True, capture_output=True, timeout=300)
    shutil.copy(VALIDATE_SRC / "validate.mjs", VALIDATE_DIR / "validate.mjs")
    p = subprocess.run(["node", str(VALIDATE_DIR / "validate.mjs")], input=json.dumps(obj),
                       capture_output=True, text=True, timeout=60)
    if p.returncode not in (0, 1):
        raise AssertionError(f"validate.mjs failed: {p.stderr}")
    return p.stderr.strip()
