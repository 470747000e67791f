"""Shared fixtures: the built static binary, and a way to run it."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The build under test may have no default image repository (make IMAGE_REPO=...):
# every test that starts a debug pod gets this one, as a user would pass it.
# Tests of a build without a default remove it (tests/integration/test_ship.py).
os.environ["RETINA_SHELL_IMAGE_REPO"] = "registry.test/retina-shell"


@pytest.fixture(scope="session")
def retina():
    path = Path(os.environ.get("RETINA_BIN", ROOT / "build" / "retina"))
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make` first (make test does)")
    return str(path)


def run(argv, check=None, timeout=60, **kw):
    """Run argv (a list, never a shell string); return CompletedProcess with text output."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check is not None:
        assert p.returncode == check, f"{argv} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


@pytest.fixture(scope="session")
def helpers(tmp_path_factory):
    """Small C helpers for tests, compiled with the host compiler."""
    out = tmp_path_factory.mktemp("helpers")
    built = {}
    for src in (Path(__file__).parent / "helpers").glob("*.c"):
        exe = out / src.stem
        run(["gcc", "-O1", "-Wall", "-Werror", "-o", str(exe), str(src)], check=0)
        built[src.stem] = str(exe)
    return built


@pytest.fixture
def fake_tools(tmp_path):
    """A PATH directory where every debug-shell tool "is installed", so that
    capcheck's verdicts depend only on privileges (it only checks presence)."""
    d = tmp_path / "bin"
    d.mkdir()
    for name in ("bpftool", "pwru", "ig", "iptables", "nft", "chroot", "sysctl", "ping"):
        exe = d / name
        exe.write_text("#!/bin/sh\nexit 0\n")
        exe.chmod(0o755)
    return f"{d}:/usr/sbin:/usr/bin:/sbin:/bin"


def require(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.fail(f"test prerequisites missing: {missing} (deps/prereqs.sh test installs them)")


@pytest.fixture
def netpair():
    """Two network namespaces joined by veth (see netns.py); removed even on failure."""
    from netns import NetPair
    pair = NetPair()
    try:
        yield pair
    finally:
        pair.close()


@pytest.fixture(scope="session")
def shell_image():
    """The debug-shell image (`make image`, see shellimage.py), in podman's storage under a
    name of this session's own; removed at the end of the session."""
    require("podman", "skopeo", "buildah")
    from shellimage import ShellImage
    image = ShellImage()
    try:
        yield image
    finally:
        image.close()


@pytest.fixture
def containers(helpers):
    """Fake containers and kubelet-shaped cgroups (see containers.py); removed even on failure."""
    from containers import Containers
    c = Containers(helpers["fake_container"])
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A folder for the fake API server's PKI (tests/fixtures/mkpki.sh fills it), one per test
    module. test_curl.py has a pki of its own."""
    return tmp_path_factory.mktemp("pki")


@pytest.fixture
def plugin(retina, tmp_path):
    """kubectl-retina, as kubectl finds the plugin: a link to the binary under that name."""
    link = tmp_path / "bin" / "kubectl-retina"
    link.parent.mkdir()
    link.symlink_to(retina)
    return str(link)


def tshark_fields(path, *fields, stdin=None):
    """tshark's fields of every packet of path ("-": stdin, bytes)."""
    argv = ["tshark", "-r", path, "-T", "fields", "-E", "separator=|"]
    for f in fields:
        argv += ["-e", f]
    p = subprocess.run(argv, capture_output=True, input=stdin, timeout=60)
    assert p.returncode == 0, p.stderr
    return [line.split("|") for line in p.stdout.decode().splitlines()]
