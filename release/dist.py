#!/usr/bin/python3
"""Release archives for retina: one tarball per architecture, SHA256SUMS and
the krew plugin manifest, all reproducible (same inputs, same bytes).

usage: release/dist.py --version 1.2.3 --url-base URL [--out dist]
                       [--homepage URL] ARCH=BINARY...
  e.g. release/dist.py --version 0.0.0-g1234567 \\
           --url-base https://example.com/retina/v0.0.0-g1234567 \\
           amd64=build/retina arm64=build/arm64/retina

Writes OUT/retina-VERSION-linux-ARCH.tar.gz (a directory
retina-VERSION-linux-ARCH/ holding the binary `retina`, LICENSE, README.md
and licenses/ with the copyright files of the libraries linked into it),
OUT/SHA256SUMS (`sha256sum -c` format) and OUT/plugins/retina.yaml, the krew
manifest whose platform URIs are URL-BASE/TARBALL-NAME. Entries are sorted,
owned by 0:0, dated SOURCE_DATE_EPOCH (default: the last commit's time) and
gzip carries no name or time, so two runs on the same binaries give the same
checksums. Then it checks its own output (release/check_dist.py).
"""
import argparse
import glob
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "release"))
import check_dist  # noqa: E402

SHORT = "Debug Kubernetes node networking: shell, eBPF trace, probes"
DESCRIPTION = """\
One static binary (musl, no dependencies) that debugs Kubernetes node
networking. `kubectl retina shell NODE` (or pods/NAME) starts a debug pod
in the node's or the pod's network namespace; `kubectl retina bpftrace NODE`
streams packet drops with the kernel's reason, TCP resets, socket errors
and retransmits from an eBPF tracer on the node. The same file is the
toolbox inside the debug pod: ping, dig, nc, curl, capcheck, nsenter,
trace, execsnoop, traceloop."""
# What krew calls the architectures (GOARCH names), by ours.
ARCHES = ("amd64", "arm64")


def die(msg):
    sys.exit(f"dist: error: {msg}")


def source_date_epoch():
    v = os.environ.get("SOURCE_DATE_EPOCH")
    if v:
        return int(v)
    p = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True)
    return int(p.stdout.strip()) if p.returncode == 0 and p.stdout.strip() else 0


def copyright_files():
    """(name, path) of the copyright file of each library linked in (Debian's
    debian/copyright of the source built), sorted by name."""
    names = []
    with open(os.path.join(ROOT, "deps", "versions")) as f:
        names = [line.split()[0] for line in f if line.strip() and not line.startswith("#")]
    out = []
    for name in sorted(names + ["musl"]):
        found = sorted(glob.glob(os.path.join(ROOT, "build", "deps", "src", name + "-*", "debian", "copyright")))
        if not found and name == "musl":  # amd64 links Debian's musl-dev
            found = [p for p in ("/usr/share/doc/musl-dev/copyright", "/usr/share/doc/musl/copyright")
                     if os.path.isfile(p)]
        if not found:
            die(f"no copyright file for {name} (run `make` first: it fetches the sources to build/deps/src)")
        out.append((name, found[0]))
    return out


def tar_member(name, data, mode, mtime):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime = len(data), mode, mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.type = tarfile.REGTYPE
    return ti, io.BytesIO(data)


def tarball(path, top, binary, mtime, licenses):
    files = {"retina": (open(binary, "rb").read(), 0o755),
             "LICENSE": (open(os.path.join(ROOT, "LICENSE"), "rb").read(), 0o644),
             "README.md": (open(os.path.join(ROOT, "README.md"), "rb").read(), 0o644)}
    for name, src in licenses:
        files[f"licenses/{name}.copyright"] = (open(src, "rb").read(), 0o644)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = sorted({top} | {f"{top}/{os.path.dirname(n)}" for n in files if "/" in n})
        for d in dirs:
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = tarfile.DIRTYPE, 0o755, mtime, 0, 0, "", ""
            tar.addfile(ti)
        for n in sorted(files):
            data, mode = files[n]
            tar.addfile(*tar_member(f"{top}/{n}", data, mode, mtime))
    with open(path + ".tmp", "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())
    os.replace(path + ".tmp", path)


def manifest(version, url_base, homepage, tarballs):
    """The krew manifest (YAML written by hand: key order fixed, no library
    needed; free text as JSON strings, which YAML reads as quoted scalars)."""
    q = json.dumps
    lines = ["apiVersion: krew.googlecontainertools.github.com/v1alpha2",
             "kind: Plugin",
             "metadata:",
             "  name: retina",
             "spec:",
             f"  version: v{version}",
             f"  homepage: {q(homepage)}",
             f"  shortDescription: {q(SHORT)}",
             "  description: |"]
    lines += ["    " + line if line else "" for line in DESCRIPTION.split("\n")]
    lines += ["  caveats: |",
              "    The node commands need a cluster where debug pods may run with host",
              "    networking; see `kubectl retina shell --help` for the capabilities asked.",
              "  platforms:"]
    for arch, (name, digest, top) in sorted(tarballs.items()):
        lines += ["  - selector:",
                  "      matchLabels:",
                  "        os: linux",
                  f"        arch: {arch}",
                  f"    uri: {q(url_base.rstrip('/') + '/' + name)}",
                  f"    sha256: {digest}",
                  "    files:",
                  f"    - from: {top}/retina",
                  "      to: kubectl-retina",
                  f"    - from: {top}/LICENSE",
                  "      to: .",
                  "    bin: kubectl-retina"]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description="retina release archives and krew manifest")
    ap.add_argument("--version", required=True, help="semantic version, without the v")
    ap.add_argument("--url-base", required=True, help="where the tarballs will be published (https)")
    ap.add_argument("--homepage", default="https://github.com/retina-dev/retina")
    ap.add_argument("--out", default=os.path.join(ROOT, "dist"))
    ap.add_argument("binaries", nargs="+", metavar="ARCH=BINARY")
    a = ap.parse_args()
    if a.version.startswith("v"):
        die(f"--version {a.version}: give it without the leading v (the manifest adds it)")
    if not check_dist.SEMVER.match(a.version):
        die(f"--version {a.version} is not a semantic version (X.Y.Z[-pre][+build]); krew needs one")
    mtime = source_date_epoch()
    licenses = copyright_files()
    os.makedirs(os.path.join(a.out, "plugins"), exist_ok=True)
    tarballs = {}
    for spec in a.binaries:
        arch, sep, binary = spec.partition("=")
        if not sep or arch not in ARCHES:
            die(f"{spec}: expected ARCH=BINARY with ARCH one of {', '.join(ARCHES)}")
        if not os.path.isfile(binary):
            die(f"{binary}: no such binary (build it first: make ARCH={arch})")
        top = f"retina-{a.version}-linux-{arch}"
        path = os.path.join(a.out, top + ".tar.gz")
        tarball(path, top, binary, mtime, licenses)
        tarballs[arch] = (top + ".tar.gz", hashlib.sha256(open(path, "rb").read()).hexdigest(), top)
    with open(os.path.join(a.out, "SHA256SUMS"), "w") as f:
        for arch in sorted(tarballs):
            f.write(f"{tarballs[arch][1]}  {tarballs[arch][0]}\n")
    with open(os.path.join(a.out, "plugins", "retina.yaml"), "w") as f:
        f.write(manifest(a.version, a.url_base, a.homepage, tarballs))
    errors = check_dist.check(a.out)
    for e in errors:
        print(f"dist: {e}", file=sys.stderr)
    if errors:
        sys.exit(1)
    for arch in sorted(tarballs):
        name = tarballs[arch][0]
        print(f"{os.path.join(a.out, name)}: {os.path.getsize(os.path.join(a.out, name))} bytes, "
              f"sha256 {tarballs[arch][1]}")
    print(f"{os.path.join(a.out, 'SHA256SUMS')}, {os.path.join(a.out, 'plugins', 'retina.yaml')} (krew manifest: checked)")


if __name__ == "__main__":
    main()
