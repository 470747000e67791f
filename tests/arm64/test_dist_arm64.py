"""The arm64 half of make dist: its tarball, checksum and krew platform
(release/check_dist.py checks the ELF machine of each tarball's binary), and
the binary from the tarball runs under qemu-user as kubectl-retina."""
import os
import tarfile
from pathlib import Path

from conftest import QEMU, ROOT, run

VERSION = "0.9.0"
URL = "https://downloads.example.com/retina/v0.9.0"


def test_arm64_and_amd64_tarballs_with_one_manifest(retina, tmp_path):
    binaries = [f"arm64={retina}"]
    amd64 = ROOT / "build" / "retina"
    if amd64.exists():
        binaries.append(f"amd64={amd64}")
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    p = run(["/usr/bin/python3", str(ROOT / "release" / "dist.py"), "--version", VERSION, "--url-base", URL,
             "--homepage", "https://example.com/retina", "--out", str(tmp_path), *binaries], env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    p = run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, check=0)
    assert f"retina-{VERSION}-linux-arm64.tar.gz: OK" in p.stdout
    p = run(["/usr/bin/python3", str(ROOT / "release" / "check_dist.py"), str(tmp_path)], check=0)
    manifest = (tmp_path / "plugins" / "retina.yaml").read_text()
    assert f"uri: \"{URL}/retina-{VERSION}-linux-arm64.tar.gz\"" in manifest
    assert manifest.count("- selector:") == len(binaries)

    top = f"retina-{VERSION}-linux-arm64"
    with tarfile.open(tmp_path / f"{top}.tar.gz") as t:
        t.extractall(tmp_path / "x")
    binary = tmp_path / "x" / top / "retina"
    assert binary.read_bytes() == Path(retina).read_bytes()
    link = tmp_path / "x" / "kubectl-retina"
    link.symlink_to(binary)
    p = run([QEMU, str(link), "--help"])
    assert p.returncode == 0, p.stderr


def test_an_amd64_binary_in_the_arm64_slot_is_caught(retina, tmp_path):
    amd64 = ROOT / "build" / "retina"
    wrong = amd64 if amd64.exists() else "/bin/true"	# any x86_64 ELF
    p = run(["/usr/bin/python3", str(ROOT / "release" / "dist.py"), "--version", VERSION, "--url-base", URL,
             "--out", str(tmp_path), f"arm64={wrong}"])
    assert p.returncode == 1
    assert "not arm64's 183" in p.stderr, p.stderr
