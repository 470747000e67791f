"""The debug-shell image in podman, for tests: `make image` builds the OCI archive,
skopeo copies it into podman's storage under a name of this test session's own
(so a `retina-shell:latest` someone loaded by hand is never touched), containers
run with runc and no network, and everything made here is removed by name.

podman and buildah read the project's image/containers.conf (CONTAINERS_CONF),
never a changed /etc: runc, cgroupfs, ulimits within this host's limits, no
network by default (never podman's 10.88.0.0/16 bridge)."""
import itertools
import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = ROOT / "build" / "retina-shell.oci.tar"
ENV = dict(os.environ, CONTAINERS_CONF=str(ROOT / "image" / "containers.conf"))

_seq = itertools.count()


def podman(*args, timeout=60, **kw):
    """Run podman with the project's settings (argv only); CompletedProcess with text."""
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=ENV, timeout=timeout, **kw)


def _check(p, what):
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


class ShellImage:
    """The image from `make image`, loaded as localhost/retina-shell-test:PID."""

    def __init__(self):
        _check(subprocess.run(["make", "-C", str(ROOT), "image"], capture_output=True, text=True, env=ENV,
                              timeout=2400), "make image")
        self.archive = ARCHIVE
        self.name = f"localhost/retina-shell-test:{os.getpid()}"
        _check(subprocess.run(["skopeo", "copy", "--quiet", f"oci-archive:{ARCHIVE}",
                               f"containers-storage:{self.name}"], capture_output=True, text=True, env=ENV,
                              timeout=120), "skopeo copy into podman's storage")
        self.id = _check(podman("image", "inspect", "--format", "{{.Id}}", self.name), "podman image inspect") \
            .stdout.strip()
        self.containers = []

    def inspect(self):
        return json.loads(_check(podman("image", "inspect", self.name), "podman image inspect").stdout)[0]

    def run(self, *args, opts=(), input=None, timeout=60):
        """podman run --rm [opts] IMAGE [args]: args replace CMD (the entrypoint stays)."""
        name = f"retina-test-{os.getpid()}-{next(_seq)}"
        self.containers.append(name)
        net = [] if any(o.startswith("--network") for o in opts) else ["--network", "none"]
        try:
            return podman("run", "--rm", "--name", name, *net, *opts, self.name, *args, input=input,
                          timeout=timeout)
        finally:
            # --rm removed it unless podman itself was interrupted (a timeout)
            if podman("container", "exists", name).returncode == 0:
                podman("rm", "--force", "--time", "0", name)

    def close(self):
        for name in self.containers:
            if podman("container", "exists", name).returncode == 0:
                podman("rm", "--force", "--time", "0", name)
        # By name: removes this session's tag, and the image when nothing else names it.
        podman("rmi", self.name)
