"""make dist's promises, on the amd64 binary (the arm64 half runs in
`make test ARCH=arm64`, tests/arm64): tarballs whose checksums SHA256SUMS and
the krew manifest carry, reproducible bytes, and a manifest krew would accept
(release/check_dist.py implements krew's validation rules; each rule is shown
to reject a manifest that breaks it)."""
import copy
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

from conftest import ROOT, run

sys.path.insert(0, str(ROOT / "release"))
import check_dist  # noqa: E402

VERSION = "1.2.3-rc.1"
URL = "https://downloads.example.com/retina/v1.2.3-rc.1"


def make_dist(retina, out, epoch="1700000000"):
    env = dict(os.environ, SOURCE_DATE_EPOCH=epoch)
    return run(["/usr/bin/python3", str(ROOT / "release" / "dist.py"), "--version", VERSION,
                "--url-base", URL, "--homepage", "https://example.com/retina", "--out", str(out),
                f"amd64={retina}"], env=env)


@pytest.fixture(scope="module")
def dist(retina, tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    p = make_dist(retina, out)
    assert p.returncode == 0, p.stdout + p.stderr
    return out


def test_tarball_checksums_match_sha256sums(dist):
    tarball = dist / f"retina-{VERSION}-linux-amd64.tar.gz"
    assert tarball.is_file()
    # the system's sha256sum, not our hashing, checks SHA256SUMS
    p = run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, check=0)
    assert p.stdout.strip() == f"{tarball.name}: OK"
    got = run(["sha256sum", str(tarball)], check=0).stdout.split()[0]
    assert (dist / "SHA256SUMS").read_text() == f"{got}  {tarball.name}\n"


def test_tarball_holds_the_executable_binary_license_and_readme(dist, retina, tmp_path):
    top = f"retina-{VERSION}-linux-amd64"
    listing = run(["tar", "-tvzf", str(dist / f"{top}.tar.gz")], check=0).stdout.splitlines()
    names = [line.split()[-1] for line in listing]
    for want in ("retina", "LICENSE", "README.md", "licenses/libbpf.copyright", "licenses/musl.copyright"):
        assert f"{top}/{want}" in names, listing
    assert all(n == f"{top}/" or n.startswith(f"{top}/") for n in names)
    mode = next(line.split()[0] for line in listing if line.endswith(f"{top}/retina"))
    assert mode == "-rwxr-xr-x"
    assert all(line.split()[1] == "0/0" for line in listing)
    run(["tar", "-xzf", str(dist / f"{top}.tar.gz"), "-C", str(tmp_path)], check=0)
    binary = tmp_path / top / "retina"
    assert binary.read_bytes() == open(retina, "rb").read()
    assert "Apache License" in (tmp_path / top / "LICENSE").read_text()
    # runs as the plugin name krew installs it under
    link = tmp_path / "kubectl-retina"
    link.symlink_to(binary)
    assert run([str(link), "--help"]).returncode == 0


def test_manifest_sha256_is_the_tarballs(dist):
    plugin = yaml.safe_load((dist / "plugins" / "retina.yaml").read_text())
    (pl,) = plugin["spec"]["platforms"]
    tarball = dist / f"retina-{VERSION}-linux-amd64.tar.gz"
    assert pl["sha256"] == run(["sha256sum", str(tarball)], check=0).stdout.split()[0]
    assert pl["uri"] == f"{URL}/{tarball.name}"
    assert pl["selector"] == {"matchLabels": {"os": "linux", "arch": "amd64"}}
    assert pl["bin"] == "kubectl-retina"
    assert plugin["spec"]["version"] == f"v{VERSION}"
    assert check_dist.check(str(dist)) == []


def test_two_runs_give_the_same_bytes(dist, retina, tmp_path):
    again = tmp_path / "again"
    assert make_dist(retina, again).returncode == 0
    for name in ("SHA256SUMS", "plugins/retina.yaml", f"retina-{VERSION}-linux-amd64.tar.gz"):
        assert (again / name).read_bytes() == (dist / name).read_bytes(), name
    # and the date inside is SOURCE_DATE_EPOCH, not the time of the run
    with tarfile.open(again / f"retina-{VERSION}-linux-amd64.tar.gz") as t:
        assert {m.mtime for m in t.getmembers()} == {1700000000}


def test_check_dist_catches_a_tampered_tarball(dist, tmp_path):
    bad = tmp_path / "bad"
    run(["cp", "-a", str(dist), str(bad)], check=0)
    tarball = bad / f"retina-{VERSION}-linux-amd64.tar.gz"
    tarball.write_bytes(tarball.read_bytes() + b"\0")
    problems = check_dist.check(str(bad))
    assert any("SHA256SUMS says" in p for p in problems), problems
    assert any("is not" in p and "sha256" in p for p in problems), problems
    p = run(["/usr/bin/python3", str(ROOT / "release" / "check_dist.py"), str(bad)])
    assert p.returncode == 1 and "check_dist:" in p.stdout


def test_dist_refuses_a_version_krew_cannot_parse(retina, tmp_path):
    for bad in ("1.2", "v1.2.3", "01.2.3", "1.2.3-", "abc"):
        p = run(["/usr/bin/python3", str(ROOT / "release" / "dist.py"), "--version", bad, "--url-base", URL,
                 "--out", str(tmp_path), f"amd64={retina}"])
        assert p.returncode == 1 and "dist: error:" in p.stderr, (bad, p.stderr)
    assert not list(tmp_path.glob("*.tar.gz"))


GOOD = {
    "apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
    "kind": "Plugin",
    "metadata": {"name": "retina"},
    "spec": {
        "version": "v1.2.3",
        "homepage": "https://example.com/retina",
        "shortDescription": "Debug node networking",
        "platforms": [{
            "selector": {"matchLabels": {"os": "linux", "arch": "amd64"}},
            "uri": "https://example.com/retina-1.2.3-linux-amd64.tar.gz",
            "sha256": "a" * 64,
            "files": [{"from": "retina-1.2.3-linux-amd64/retina", "to": "kubectl-retina"}],
            "bin": "kubectl-retina",
        }],
    },
}


def broken(path, value):
    m = copy.deepcopy(GOOD)
    *parents, last = path
    d = m
    for k in parents:
        d = d[k]
    if value is KeyError:
        del d[last]
    else:
        d[last] = value
    return m


P = ("spec", "platforms", 0)


@pytest.mark.parametrize("path,value,expect", [
    (("apiVersion",), "krew.googlecontainertools.github.com/v1alpha1", "apiVersion"),
    (("kind",), "Plugins", "kind"),
    (("metadata", "name"), "retina2", "should be named"),
    (("spec", "shortDescription"), KeyError, "shortDescription is missing"),
    (("spec", "shortDescription"), "two\nlines", "line break"),
    (("spec", "version"), "1.2.3", "semantic version"),
    (("spec", "version"), "v1.2", "semantic version"),
    (("spec", "version"), "v1.2.3-01", "semantic version"),
    (("spec", "platforms"), [], "platforms is empty"),
    (P + ("uri",), KeyError, "uri has to be set"),
    (P + ("uri",), "http://example.com/r.tar.gz", "not https"),
    (P + ("sha256",), "A" * 64, "does not match"),
    (P + ("sha256",), "a" * 63, "does not match"),
    (P + ("bin",), KeyError, "bin has to be set"),
    (P + ("files",), [], "non-empty"),
    (P + ("files",), [{"from": "x"}], "needs from and to"),
    (P + ("files",), [{"from": "x", "to": "../x"}], "leaves the plugin directory"),
    (P + ("selector",), KeyError, "selector"),
    (P + ("selector",), {"matchLabels": {}}, "empty"),
    (P + ("selector",), {"matchLabels": {"os": "linux", "distro": "debian"}}, "'distro' not supported"),
])
def test_krew_rules_reject_what_krew_rejects(path, value, expect):
    assert check_dist.krew_problems(GOOD, "plugins/retina.yaml") == []
    problems = check_dist.krew_problems(broken(path, value), "plugins/retina.yaml")
    assert any(expect in p for p in problems), problems


def test_krew_rules_want_the_file_named_as_the_plugin():
    assert check_dist.krew_problems(GOOD, "plugins/retina.yaml") == []
    assert any("should be named" in p for p in check_dist.krew_problems(GOOD, "plugins/other.yaml"))
    m = broken(("metadata", "name"), "CON")
    assert any("not allowed" in p for p in check_dist.krew_problems(m, "plugins/CON.yaml"))


def test_make_dist_names_the_version_krew_needs():
    # no tag on HEAD: 0.0.0-gHASH, which krew parses
    v = subprocess.run(["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-dist-version"],
                       cwd=ROOT, input="print-dist-version:\n\t@echo $(DIST_VERSION)\n",
                       capture_output=True, text=True).stdout.strip()
    assert check_dist.SEMVER.match(v), v
