"""make image-pins (image/pins.sh) offline: file:// release trees stand in for
GitHub, laid out as bpftool, pwru and ig publish their tarballs and checksum
files. The six ARGs are written only when every tarball matches."""
import hashlib
import re
import shutil

from conftest import ROOT, run

TOOLS = {
    "bpftool": "libbpf/bpftool/releases/download/{v}/bpftool-{v}-{a}.tar.gz",
    "pwru": "cilium/pwru/releases/download/{v}/pwru-linux-{a}.tar.gz",
    "ig": "inspektor-gadget/inspektor-gadget/releases/download/{v}/ig-linux-{a}-{v}.tar.gz",
}


def releases(tmp_path, tamper=None):
    """A release tree for the Dockerfile's versions; {ARG: sha256}."""
    text = (ROOT / "Dockerfile").read_text()
    ver = {t: re.search(rf"^ARG {t.upper()}_VERSION=(.*)$", text, re.M).group(1) for t in TOOLS}
    root = tmp_path / "rel"
    sums = {}
    for tool, path in TOOLS.items():
        for a in ("amd64", "arm64"):
            f = root / path.format(v=ver[tool], a=a)
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(f"{tool} {a}\n".encode())
            h = hashlib.sha256(f.read_bytes()).hexdigest()
            sums[f"{tool.upper()}_SHA256_{a.upper()}"] = h
            listed = "0" * 64 if (tool, a) == tamper else h
            if tool == "bpftool":
                (f.parent / (f.name + ".sha256sum")).write_text(f"{listed}  {f.name}\n")
            elif tool == "pwru":
                with open(f.parent / "sha256sum.txt", "a") as s:
                    s.write(f"{listed}  {f.name}\n")
            else:
                with open(f.parent / f"inspektor-gadget-{ver[tool]}_checksums.txt", "a") as s:
                    s.write(f"{listed}  ig-linux-{a}-tar-gz/{f.name}\n")
    return root, sums


def pins(tmp_path, root):
    df = tmp_path / "Dockerfile"
    shutil.copy(ROOT / "Dockerfile", df)
    p = run(["env", f"RELEASES=file://{root}", str(ROOT / "image" / "pins.sh"), str(df)])
    return p, df


def test_image_pins_writes_the_six_checksums(tmp_path):
    root, sums = releases(tmp_path)
    p, df = pins(tmp_path, root)
    assert p.returncode == 0, p.stderr
    args = dict(re.findall(r"^ARG (\w+_SHA256_\w+)=(.*)$", df.read_text(), re.M))
    assert args == sums
    # nothing else in the Dockerfile changed
    strip = lambda t: re.sub(r"^(ARG \w+_SHA256_\w+=).*$", r"\1", t, flags=re.M)  # noqa: E731
    assert strip(df.read_text()) == strip((ROOT / "Dockerfile").read_text())


def test_image_pins_refuses_a_tarball_its_checksum_file_disowns(tmp_path):
    root, _ = releases(tmp_path, tamper=("pwru", "arm64"))
    p, df = pins(tmp_path, root)
    assert p.returncode == 1
    assert re.match(r"retina image-pins: pwru arm64: pwru-linux-arm64\.tar\.gz has sha256 [0-9a-f]{64}, "
                    r"but .*sha256sum\.txt says 0{64}$", p.stderr.strip()), p.stderr
    assert df.read_text() == (ROOT / "Dockerfile").read_text()


def test_image_pins_names_a_missing_download(tmp_path):
    root, _ = releases(tmp_path)
    next(root.rglob("ig-linux-amd64-*.tar.gz")).unlink()
    p, df = pins(tmp_path, root)
    assert p.returncode == 1
    assert "could not download file://" in p.stderr and "ig-linux-amd64-" in p.stderr
    assert df.read_text() == (ROOT / "Dockerfile").read_text()
