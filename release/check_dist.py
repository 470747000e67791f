#!/usr/bin/python3
"""Check a release directory written by release/dist.py (make dist).

usage: release/check_dist.py [DIST_DIR]     (default: dist)

- SHA256SUMS lists every tarball, and each checksum is the file's;
- each tarball holds one directory retina-VERSION-linux-ARCH/ with an
  executable `retina` that is a static ELF for ARCH, LICENSE and README.md,
  no absolute or `..` paths, everything owned by 0:0;
- plugins/retina.yaml passes krew's own manifest validation
  (sigs.k8s.io/krew internal/index/validation: apiVersion, kind, a safe name
  equal to the file's, a one-line shortDescription, a `v`-prefixed semantic
  version, platforms each with uri, a 64-hex sha256, bin, well-formed files
  and an os/arch-only selector) and the rules of the krew index (https URIs,
  homepage), and agrees with the tarballs: each platform's sha256 is its
  tarball's, every `from` is in it, `bin` is where `files` puts the binary.
Prints each problem on one line and exits 1 if there are any.
"""
import hashlib
import os
import re
import sys
import tarfile

import yaml

# semver.org 2.0.0 (what krew's k8s.io/apimachinery ParseSemantic accepts, strictly)
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
                    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")
SAFE_NAME = re.compile(r"^[\w-]+$")
SHA256 = re.compile(r"^[a-f0-9]{64}$")
WINDOWS_FORBIDDEN = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
API_VERSION = "krew.googlecontainertools.github.com/v1alpha2"
ELF_MACHINE = {"amd64": 62, "arm64": 183}	# EM_X86_64, EM_AARCH64
TARBALL = re.compile(r"^retina-(.+)-linux-(amd64|arm64)\.tar\.gz$")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def elf_problems(data, arch):
    """Why data is not a static 64-bit little-endian ELF executable for arch."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return ["not a 64-bit little-endian ELF file"]
    machine = int.from_bytes(data[18:20], "little")
    out = []
    if machine != ELF_MACHINE[arch]:
        out.append(f"ELF machine {machine}, not {arch}'s {ELF_MACHINE[arch]}")
    phoff = int.from_bytes(data[32:40], "little")
    phentsize, phnum = int.from_bytes(data[54:56], "little"), int.from_bytes(data[56:58], "little")
    for i in range(phnum):
        if int.from_bytes(data[phoff + i * phentsize:phoff + i * phentsize + 4], "little") == 3:
            out.append("dynamically linked (has PT_INTERP)")
    return out


def check_tarball(path, arch):
    """(problems, member names) of one tarball."""
    top = os.path.basename(path)[:-len(".tar.gz")]
    problems, names = [], []
    try:
        with tarfile.open(path, "r:gz") as tar:
            for m in tar.getmembers():
                names.append(m.name)
                if m.name.startswith("/") or ".." in m.name.split("/"):
                    problems.append(f"{m.name}: unsafe path")
                if m.name != top and not m.name.startswith(top + "/"):
                    problems.append(f"{m.name}: outside {top}/")
                if m.uid or m.gid:
                    problems.append(f"{m.name}: owned by {m.uid}:{m.gid}, not 0:0")
            for want in ("retina", "LICENSE", "README.md"):
                if f"{top}/{want}" not in names:
                    problems.append(f"no {top}/{want}")
            if f"{top}/retina" in names:
                m = tar.getmember(f"{top}/retina")
                if not m.isfile() or not m.mode & 0o111:
                    problems.append(f"{top}/retina is not an executable file (mode {m.mode:o})")
                else:
                    problems += [f"{top}/retina: {p}" for p in elf_problems(tar.extractfile(m).read(), arch)]
    except (OSError, tarfile.TarError) as e:
        problems.append(f"cannot read: {e}")
    return [f"{os.path.basename(path)}: {p}" for p in problems], names


def krew_problems(plugin, file_name):
    """krew's ValidatePlugin, plus the krew index's https rule."""
    p = []
    if not isinstance(plugin, dict):
        return ["not a YAML mapping"]
    spec = plugin.get("spec") or {}
    name = (plugin.get("metadata") or {}).get("name")
    if plugin.get("apiVersion") != API_VERSION:
        p.append(f"apiVersion {plugin.get('apiVersion')!r}, not {API_VERSION}")
    if plugin.get("kind") != "Plugin":
        p.append(f"kind {plugin.get('kind')!r}, not Plugin")
    stem = os.path.basename(file_name).rsplit(".", 1)[0]
    if not SAFE_NAME.match(stem) or stem.upper() in WINDOWS_FORBIDDEN:
        p.append(f"plugin name {stem!r} is not allowed (must match {SAFE_NAME.pattern})")
    if name != stem:
        p.append(f"metadata.name {name!r}: the plugin should be named {stem!r}, as its file")
    short = spec.get("shortDescription") or ""
    if not short:
        p.append("spec.shortDescription is missing")
    if "\r" in short or "\n" in short:
        p.append("spec.shortDescription has a line break")
    version = str(spec.get("version") or "")
    if not version.startswith("v") or not SEMVER.match(version[1:]):
        p.append(f"spec.version {version!r} is not v + a semantic version")
    homepage = str(spec.get("homepage") or "")
    if homepage and not homepage.startswith("https://"):
        p.append(f"spec.homepage {homepage!r} is not https")
    platforms = spec.get("platforms")
    if not platforms:
        p.append("spec.platforms is empty")
    seen = set()
    for i, pl in enumerate(platforms or []):
        where = f"spec.platforms[{i}]"
        uri, digest, bin_ = pl.get("uri"), pl.get("sha256"), pl.get("bin")
        if not uri:
            p.append(f"{where}: uri has to be set")
        elif not str(uri).startswith("https://"):
            p.append(f"{where}: uri {uri} is not https")
        if not digest:
            p.append(f"{where}: sha256 has to be set")
        elif not SHA256.match(str(digest)):
            p.append(f"{where}: sha256 {digest} does not match {SHA256.pattern}")
        if not bin_:
            p.append(f"{where}: bin has to be set")
        files = pl.get("files")
        if files is not None:
            if not files:
                p.append(f"{where}: files has to be unspecified or non-empty")
            for op in files or []:
                if not op.get("from") or not op.get("to"):
                    p.append(f"{where}: files entry {op} needs from and to")
                elif os.path.isabs(op["to"]) or ".." in op["to"].split("/"):
                    p.append(f"{where}: files entry to {op['to']!r} leaves the plugin directory")
        sel = pl.get("selector")
        if not sel:
            p.append(f"{where}: nil or empty selector is not supported")
            continue
        labels = sel.get("matchLabels")
        exprs = sel.get("matchExpressions")
        if labels is None and not exprs:
            p.append(f"{where}: empty selector is not supported")
        keys = list(labels or {}) + [e.get("key") for e in exprs or []]
        for k in keys:
            if k not in ("os", "arch"):
                p.append(f"{where}: selector key {k!r} not supported")
        if labels is not None and not labels:
            p.append(f"{where}: matchLabels specified but empty")
        if exprs is not None and not exprs:
            p.append(f"{where}: matchExpressions specified but empty")
        key = tuple(sorted((labels or {}).items()))
        if key in seen:
            p.append(f"{where}: a second platform with selector {dict(key)}")
        seen.add(key)
    return p


def check(dist):
    """Every problem with the release directory dist, as lines."""
    problems = []
    tarballs = sorted(f for f in os.listdir(dist) if TARBALL.match(f)) if os.path.isdir(dist) else []
    if not tarballs:
        return [f"{dist}: no retina-VERSION-linux-ARCH.tar.gz (run make dist)"]
    sums = {}
    try:
        for n, line in enumerate(open(os.path.join(dist, "SHA256SUMS")), 1):
            m = re.match(r"^([a-f0-9]{64})  (\S+)$", line.rstrip("\n"))
            if not m:
                problems.append(f"SHA256SUMS line {n}: not `SHA256  NAME`")
                continue
            sums[m.group(2)] = m.group(1)
    except OSError as e:
        problems.append(f"SHA256SUMS: {e.strerror}")
    contents, versions, actual = {}, set(), {}
    for t in tarballs:
        version, arch = TARBALL.match(t).groups()
        versions.add(version)
        got = actual[t] = sha256(os.path.join(dist, t))
        if t not in sums:
            problems.append(f"SHA256SUMS does not list {t}")
        elif sums[t] != got:
            problems.append(f"{t}: sha256 {got}, SHA256SUMS says {sums[t]}")
        bad, contents[t] = check_tarball(os.path.join(dist, t), arch)
        problems += bad
    for name in sums:
        if name not in tarballs:
            problems.append(f"SHA256SUMS lists {name}, which is not in {dist}")
    if len(versions) > 1:
        problems.append(f"tarballs of several versions: {', '.join(sorted(versions))}")

    path = os.path.join(dist, "plugins", "retina.yaml")
    try:
        plugin = yaml.safe_load(open(path))
    except (OSError, yaml.YAMLError) as e:
        return problems + [f"{path}: {e}"]
    problems += [f"{path}: {p}" for p in krew_problems(plugin, path)]
    spec = plugin.get("spec") or {} if isinstance(plugin, dict) else {}
    if versions and spec.get("version") != "v" + min(versions):
        problems.append(f"{path}: spec.version {spec.get('version')} is not the tarballs' v{min(versions)}")
    arches = set()
    for i, pl in enumerate(spec.get("platforms") or []):
        where = f"{path}: spec.platforms[{i}]"
        name = os.path.basename(str(pl.get("uri", "")))
        labels = (pl.get("selector") or {}).get("matchLabels") or {}
        arches.add(labels.get("arch"))
        if name not in contents:
            problems.append(f"{where}: uri {pl.get('uri')} names no tarball in {dist}")
            continue
        if labels != {"os": "linux", "arch": TARBALL.match(name).group(2)}:
            problems.append(f"{where}: selector {labels} does not match {name}")
        if pl.get("sha256") != actual[name]:
            problems.append(f"{where}: sha256 {pl.get('sha256')} is not {name}'s {actual[name]}")
        installed = set()
        for op in pl.get("files") or []:
            if op.get("from") not in contents[name]:
                problems.append(f"{where}: files from {op.get('from')} is not in {name}")
            to = op.get("to", "")
            installed.add(os.path.basename(op.get("from", "")) if to in (".", "./") else to.rstrip("/"))
        if pl.get("files") and pl.get("bin") not in installed:
            problems.append(f"{where}: bin {pl.get('bin')} is not installed by files ({sorted(installed)})")
        if pl.get("bin") != "kubectl-retina":
            problems.append(f"{where}: bin {pl.get('bin')}, not kubectl-retina (kubectl finds plugins by that name)")
    for t in tarballs:
        if TARBALL.match(t).group(2) not in arches:
            problems.append(f"{path}: no platform for {t}")
    return problems


def main():
    dist = sys.argv[1] if len(sys.argv) > 1 else "dist"
    problems = check(dist)
    for p in problems:
        print(f"check_dist: {p}")
    if problems:
        sys.exit(1)
    print(f"check_dist: {dist}: tarballs, SHA256SUMS and plugins/retina.yaml are consistent; krew rules pass")


if __name__ == "__main__":
    main()
