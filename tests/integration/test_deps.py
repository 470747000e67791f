"""The dependency scripts fail clearly: not root, a pin the mirror lacks, a bad
checksum, no network to the mirror."""
import os
import shutil
import tempfile

from conftest import ROOT, run

ZLIB = "zlib 1:1.2.13.dfsg-1 3fa1e6b2fc525062aa88207dda52fed8e045373c809d362fe8a2bfbf7cf515a8\n"


def fetch(tmp_path, pins, prefix=()):
    versions = tmp_path / "versions"
    versions.write_text(pins)
    env = dict(os.environ, DEPS_VERSIONS=str(versions))
    return run(list(prefix) + [str(ROOT / "deps" / "fetch.sh"), str(tmp_path / "src")], env=env, timeout=120)


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


def test_pin_not_on_the_mirror_says_what_is_offered(tmp_path):
    p = fetch(tmp_path, "zlib 9.9-9 0000\n")
    assert p.returncode == 1
    assert "zlib 9.9-9 is not on the mirror, which offers: 1:1.2.13.dfsg-1; update deps/versions" in p.stderr


def test_checksum_mismatch_is_refused(tmp_path):
    p = fetch(tmp_path, "zlib 1:1.2.13.dfsg-1 " + "0" * 64 + "\n")
    assert p.returncode == 1
    assert "zlib_1.2.13.dfsg-1.dsc does not match its pinned sha256" in p.stderr


def test_pinned_source_is_fetched_and_unpacked_with_patches(tmp_path):
    p = fetch(tmp_path, ZLIB)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "src" / "zlib-1.2.13.dfsg" / "debian" / "changelog").exists()
    # a second run with the .dsc present and matching does nothing
    p = fetch(tmp_path, ZLIB)
    assert p.returncode == 0 and "fetching" not in p.stdout


def test_unreachable_mirror_is_named(tmp_path):
    # A new network namespace has no route anywhere: the download must fail fast and say why.
    p = fetch(tmp_path, ZLIB, prefix=["unshare", "--net"])
    assert p.returncode == 1
    assert "could not download zlib 1:1.2.13.dfsg-1: is the Debian mirror reachable?" in p.stderr
