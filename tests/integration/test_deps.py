"""The dependency scripts: pins of upstream tarballs that survive the mirror
moving (the newest Debian revision is taken and recorded, a changed upstream
tarball is refused), and clear failures: not root, a pin the mirror lacks, no
network to the mirror. The error paths and the revision logic run against a
local apt repository (file://, its own Sources index, a private APT_CONFIG),
so they do not depend on what Debian's mirror offers today; only the happy
path and the unreachable mirror use the real one."""
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile

import pytest

from conftest import ROOT, run

PKG = "rtnfake"  # the local repository's source package


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def orig_tarball(hello, top=f"{PKG}-1.0"):
    """A deterministic upstream tarball: TOP/hello.txt."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo(f"{top}/hello.txt")
        info.size, info.mtime, info.mode = len(hello), 0, 0o644
        t.addfile(info, io.BytesIO(hello))
    return gzip.compress(raw.getvalue(), mtime=0)


GOOD = orig_tarball(b"hello\n")
CHANGED = orig_tarball(b"hello, with a backdoor\n")


class Repo:
    """A local apt repository of source packages, and an apt configuration
    that sees only it: what fetch.sh, pin.sh and check.sh get as APT_CONFIG."""

    def __init__(self, d):
        self.d, self.pool = d, d / "repo"
        self.pool.mkdir(parents=True)
        for sub in ("etc/sources.list.d", "lists/partial", "cache/archives/partial"):
            (d / sub).mkdir(parents=True)
        (d / "status").write_text("")
        (d / "etc/sources.list").write_text(f"deb-src [trusted=yes] file:{self.pool} ./\n")
        self.conf = d / "apt.conf"
        self.conf.write_text("".join(f'{k} "{v}";\n' for k, v in (
            ("Dir::Etc::sourcelist", d / "etc/sources.list"), ("Dir::Etc::sourceparts", d / "etc/sources.list.d"),
            ("Dir::State::Lists", d / "lists"), ("Dir::Cache", d / "cache"), ("Dir::State::status", d / "status"))))

    def add(self, version, orig=GOOD, patch=None):
        """Source package rtnfake VERSION (1.0-N); patch: text hello.txt gets."""
        upstream = version.split("-")[0]
        (self.pool / f"{PKG}_{upstream}.orig.tar.gz").write_bytes(orig)
        tree = self.pool / f"{PKG}-{upstream}"
        shutil.rmtree(tree, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(orig)) as t:
            t.extractall(self.pool)
        deb = tree / "debian"
        (deb / "source").mkdir(parents=True)
        (deb / "source/format").write_text("3.0 (quilt)\n")
        (deb / "control").write_text(f"Source: {PKG}\nMaintainer: retina tests <t@example.org>\n\n"
                                     f"Package: {PKG}\nArchitecture: all\nDescription: test\n test\n")
        (deb / "changelog").write_text(f"{PKG} ({version}) unstable; urgency=low\n\n  * test\n\n"
                                       " -- retina tests <t@example.org>  Thu, 01 Jan 2026 00:00:00 +0000\n")
        if patch:
            (deb / "patches").mkdir()
            (deb / "patches/series").write_text("fix.patch\n")
            old = (tree / "hello.txt").read_text()
            (deb / "patches/fix.patch").write_text(
                f"--- a/hello.txt\n+++ b/hello.txt\n@@ -1 +1 @@\n-{old}+{patch}\n")
        run(["dpkg-source", "-b", tree.name], cwd=self.pool, check=0)
        shutil.rmtree(tree)

    def publish(self):
        """Index the pool (a Sources and a Release file), as a mirror push does,
        and update the lists of the private apt configuration."""
        sources = run(["dpkg-scansources", "."], cwd=self.pool, check=0).stdout.encode()
        (self.pool / "Sources").write_bytes(sources)
        (self.pool / "Release").write_text("Origin: retina-test\nSuite: test\nDate: Thu, 01 Jan 2026 00:00:00 UTC\n"
                                           f"SHA256:\n {sha256(sources)} {len(sources)} Sources\n")
        run(["apt-get", "-o", "APT::Sandbox::User=root", "-qq", "update"], env=self.env(), check=0)

    def env(self, **kw):
        return dict(os.environ, APT_CONFIG=str(self.conf), **kw)


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path / "apt")


def pins_file(tmp_path, pins):
    versions = tmp_path / "versions"
    versions.write_text(pins)
    return versions


def fetch(tmp_path, pins, prefix=(), env=None, used=None):
    env = dict(env or os.environ, DEPS_VERSIONS=str(pins_file(tmp_path, pins)))
    argv = list(prefix) + [str(ROOT / "deps" / "fetch.sh"), str(tmp_path / "src")] + ([str(used)] if used else [])
    return run(argv, env=env, timeout=300)


def test_prereqs_as_non_root_names_packages_and_the_fix():
    # A dpkg-query that knows no package: everything is "missing". It and a copy
    # of prereqs.sh live in a directory the unprivileged user can reach: pytest's
    # tmp_path is 0700, and so may be any directory above the clone.
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        fake = os.path.join(d, "dpkg-query")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\nexit 1\n")
        os.chmod(fake, 0o755)
        script = os.path.join(d, "prereqs.sh")
        shutil.copyfile(ROOT / "deps" / "prereqs.sh", script)
        os.chmod(script, 0o755)
        env = dict(os.environ, PATH=f"{d}:/usr/bin:/bin")
        p = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", script, "build"],
                env=env, cwd=d)
    assert p.returncode == 1
    assert "missing build prerequisites: make gcc musl-tools clang llvm bpftool" in p.stderr
    assert "run 'make' as root, or install them first: sudo apt-get install" in p.stderr


def test_prereqs_installed_is_silent():
    p = run([str(ROOT / "deps" / "prereqs.sh"), "build"], check=0)
    assert p.stdout == "" and p.stderr == ""


def test_newer_revision_is_taken_with_its_patches_and_recorded(tmp_path, repo):
    pin = f"{PKG} 1.0 {sha256(GOOD)}\n"
    repo.add("1.0-1")
    repo.publish()
    used = tmp_path / "used"
    p = fetch(tmp_path, pin, env=repo.env(), used=used)
    assert p.returncode == 0, p.stderr
    assert used.read_text() == f"{PKG} 1.0-1\n"
    assert (tmp_path / "src" / f"{PKG}-1.0" / "hello.txt").read_text() == "hello\n"
    # The mirror gains a revision (a security update): the same pin takes it,
    # with its patch applied, and records it.
    repo.add("1.0-1+deb12u1", patch="hello, fixed\n")
    repo.publish()
    p = fetch(tmp_path, pin, env=repo.env(), used=used)
    assert p.returncode == 0, p.stderr
    assert f"fetching {PKG} 1.0-1+deb12u1" in p.stdout
    assert used.read_text() == f"{PKG} 1.0-1+deb12u1\n"
    assert (tmp_path / "src" / f"{PKG}.used").read_text() == f"{PKG} 1.0-1+deb12u1\n"
    assert (tmp_path / "src" / f"{PKG}-1.0" / "hello.txt").read_text() == "hello, fixed\n"
    # Nothing new: nothing fetched again.
    p = fetch(tmp_path, pin, env=repo.env(), used=used)
    assert p.returncode == 0 and "fetching" not in p.stdout, p.stdout + p.stderr
    assert used.read_text() == f"{PKG} 1.0-1+deb12u1\n"


def test_revision_the_mirror_lists_but_cannot_serve_falls_back_aloud(tmp_path, repo):
    repo.add("1.0-1")
    repo.add("1.0-2")
    repo.publish()
    (repo.pool / f"{PKG}_1.0-2.dsc").unlink()
    used = tmp_path / "used"
    p = fetch(tmp_path, f"{PKG} 1.0 {sha256(GOOD)}\n", env=repo.env(), used=used)
    assert p.returncode == 0, p.stderr
    assert f"retina deps: warning: the mirror lists {PKG} 1.0-2 but did not serve it (" in p.stderr
    assert p.stderr.endswith("); took 1.0-1\n")
    assert used.read_text() == f"{PKG} 1.0-1\n"
    p = run([str(ROOT / "deps" / "check.sh"), str(tmp_path / "src"), str(tmp_path / "versions")], env=repo.env())
    assert p.stdout == f"{PKG} 1.0: in use 1.0-1; the mirror lists 1.0-2 but did not serve it at the last fetch\n"


def test_changed_upstream_tarball_is_refused(tmp_path, repo):
    repo.add("1.0-1", orig=CHANGED)
    repo.publish()
    p = fetch(tmp_path, f"{PKG} 1.0 {sha256(GOOD)}\n", env=repo.env())
    assert p.returncode == 1
    assert (f"retina deps: {PKG}_1.0.orig.tar.gz ({PKG} 1.0-1) has sha256 {sha256(CHANGED)}, "
            f"but {tmp_path}/versions pins {sha256(GOOD)} for {PKG} 1.0: refusing a changed upstream tarball") in p.stderr
    assert not (tmp_path / "src" / f"{PKG}-1.0").exists()
    assert not (tmp_path / "src" / f"{PKG}.used").exists()


def test_pin_not_on_the_mirror_says_what_is_offered_and_how_to_move(tmp_path, repo):
    repo.add("1.0-1")
    repo.add("1.0-2")
    repo.publish()
    p = fetch(tmp_path, f"{PKG} 0.9 {'0' * 64}\n", env=repo.env())
    assert p.returncode == 1
    assert p.stderr == (f"retina deps: {PKG} 0.9 is not on the mirror, which offers: 1.0-1 1.0-2; "
                        f"to move the pin: DEPS_VERSIONS={tmp_path}/versions deps/pin.sh {PKG} 1.0\n")
    # ...and that command moves it: the sha256 comes from the index, fetch takes it.
    p = run([str(ROOT / "deps" / "pin.sh"), PKG, "1.0"], env=repo.env(DEPS_VERSIONS=str(tmp_path / "versions")))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "versions").read_text().split() == [PKG, "1.0", sha256(GOOD)]
    p = run([str(ROOT / "deps" / "fetch.sh"), str(tmp_path / "src")],
            env=repo.env(DEPS_VERSIONS=str(tmp_path / "versions")), timeout=300)
    assert p.returncode == 0, p.stderr


def test_pin_script_refuses_what_the_mirror_lacks(tmp_path, repo):
    repo.add("1.0-1")
    repo.publish()
    p = run([str(ROOT / "deps" / "pin.sh"), PKG, "2.0"], env=repo.env(DEPS_VERSIONS=str(pins_file(tmp_path, ""))))
    assert p.returncode == 1
    assert p.stderr == f"retina deps: {PKG} 2.0 is not on the mirror, which offers: 1.0-1\n"
    assert (tmp_path / "versions").read_text() == ""


def test_pin_script_moves_the_line_in_the_file_that_holds_it(tmp_path, repo):
    repo.add("1.0-1")
    repo.publish()
    # a copy of deps/: pin.sh edits the versions* file beside it
    deps = tmp_path / "deps"
    deps.mkdir()
    for f in ("pin.sh", "mirror.sh"):
        shutil.copy(ROOT / "deps" / f, deps / f)
    (deps / "versions").write_text("# main pins\nzlib 1.2.13.dfsg " + "1" * 64 + "\n")
    (deps / "versions-extra").write_text(f"# extra\n{PKG}        0.9    {'2' * 64}\nother 1 {'3' * 64}\n")
    p = run([str(deps / "pin.sh"), PKG, "1.0-1"], env=repo.env())
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"retina deps: pinned {PKG} 1.0 in {deps}/versions-extra (now Debian's 1.0-1); `make` fetches and builds it\n"
    assert (deps / "versions-extra").read_text() == \
        f"# extra\n{PKG}     1.0                       {sha256(GOOD)}\nother 1 {'3' * 64}\n"
    assert (deps / "versions").read_text() == "# main pins\nzlib 1.2.13.dfsg " + "1" * 64 + "\n"


def test_deps_check_lists_revision_in_use_and_newer_offers(tmp_path, repo):
    repo.add("1.0-1")
    repo.publish()
    pins = pins_file(tmp_path, f"# a comment\n{PKG} 1.0 {sha256(GOOD)}\n")
    src = tmp_path / "src"
    assert run([str(ROOT / "deps" / "fetch.sh"), str(src)], env=repo.env(DEPS_VERSIONS=str(pins)),
               timeout=300).returncode == 0
    check = [str(ROOT / "deps" / "check.sh"), str(src), str(pins)]
    p = run(check, env=repo.env())
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"{PKG} 1.0: in use 1.0-1, the newest revision on the mirror\n"
    repo.add("1.0-2")
    repo.add("1.1-1", orig=orig_tarball(b"hello 1.1\n", f"{PKG}-1.1"))
    repo.publish()
    p = run(check, env=repo.env())
    assert p.returncode == 0, p.stderr
    assert p.stdout == (f"{PKG} 1.0: in use 1.0-1; the mirror offers 1.0-2: take it with: touch {pins} && make\n"
                        f"  newer upstream on the mirror: 1.1; move the pin with: DEPS_VERSIONS={pins} deps/pin.sh {PKG} 1.1\n")
    # a pin the mirror no longer carries makes the check fail
    pins.write_text(f"{PKG} 0.9 {sha256(GOOD)}\n")
    p = run(check, env=repo.env())
    assert p.returncode == 1
    assert f"{PKG} 0.9: NOT on the mirror (offers: 1.0-1 1.0-2 1.1-1)" in p.stdout


def test_apt_config_without_deb_src_is_named_and_etc_untouched(tmp_path, repo):
    (repo.d / "etc/sources.list").write_text("")
    before = sorted(os.listdir("/etc/apt/sources.list.d"))
    p = fetch(tmp_path, f"{PKG} 1.0 {sha256(GOOD)}\n", env=repo.env())
    assert p.returncode == 1
    assert p.stderr == f"retina deps: the apt configuration APT_CONFIG={repo.conf} has no deb-src entry; add one there\n"
    assert sorted(os.listdir("/etc/apt/sources.list.d")) == before


def test_malformed_pin_is_named(tmp_path, repo):
    p = fetch(tmp_path, "zlib 1:1.2.13.dfsg-1\n", env=repo.env())
    assert p.returncode == 1
    assert p.stderr == (f"retina deps: {tmp_path}/versions: 'zlib 1:1.2.13.dfsg-1': "
                        "want 'name upstream-version sha256-of-the-upstream-tarball'\n")


# The real mirror: only what holds whatever revisions it carries today.
ZLIB = "zlib 1.2.13.dfsg 71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1\n"


def offered_zlib():
    p = run(["apt-cache", "showsrc", "zlib"], check=0)
    return {line.split()[1] for line in p.stdout.splitlines() if line.startswith("Version: ")}


def test_pinned_source_is_fetched_with_the_newest_revision_served(tmp_path):
    used = tmp_path / "used"
    p = fetch(tmp_path, ZLIB, used=used)
    assert p.returncode == 0, p.stderr
    name, version = used.read_text().split()
    assert name == "zlib" and version in offered_zlib()
    # the newest revision of 1.2.13.dfsg the mirror lists, or one it lists
    # but did not serve (its index can run ahead of its pool), said aloud
    for other in offered_zlib():
        if other.split(":")[-1].rsplit("-", 1)[0] == "1.2.13.dfsg" and \
           subprocess.run(["dpkg", "--compare-versions", version, "lt", other]).returncode == 0:
            assert f"the mirror lists zlib {other}" in p.stderr and p.stderr.endswith(f"took {version}\n"), other
    # what is unpacked is that revision, Debian's patches applied
    changelog = (tmp_path / "src" / "zlib-1.2.13.dfsg" / "debian" / "changelog").read_text()
    assert changelog.startswith(f"zlib ({version})")
    # a second run takes the same; with nothing newer listed, it fetches nothing
    warned = "did not serve" in p.stderr
    p = fetch(tmp_path, ZLIB, used=used)
    assert p.returncode == 0 and used.read_text() == f"zlib {version}\n", p.stderr
    assert warned or "fetching" not in p.stdout


def test_unreachable_mirror_is_named(tmp_path):
    # A new network namespace has no route anywhere: the download must fail fast and say why.
    p = fetch(tmp_path, ZLIB, prefix=["unshare", "--net"])
    assert p.returncode == 1
    assert "could not download zlib 1:1.2.13.dfsg-" in p.stderr
    assert ": is the Debian mirror reachable?" in p.stderr
