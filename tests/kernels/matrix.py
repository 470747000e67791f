#!/usr/bin/env python3
"""make test-kernels: boot each kernel of tests/kernels/versions under
qemu-system (TCG), run tests/kernels/guest.sh inside and print one table,
kernel x check -> pass / fail / unsupported (with the kernel's reason).

usage: tests/kernels/matrix.py [--md docs/kernels.md] [--json FILE] [NAME...]

The initramfs holds busybox-static, retina for the kernel's architecture,
iproute2's ip, nft and unbound (the guest's DNS peer) with their shared
libraries (amd64: the build machine's; arm64: from the mirror), and the kernel's own modules (veth, nf_tables, ...)
with a modules.dep made by depmod. Exit status 1 when any check failed."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KDIR = os.path.join(ROOT, "build", "kernels")
# what the guest loads (those that exist: some are built in on some kernels)
MODULES = ["crc32c_generic", "veth", "nfnetlink", "nf_tables", "nft_counter", "nft_reject", "nft_reject_inet"]
QEMU = {
    "amd64": ["qemu-system-x86_64", "-accel", "tcg", "-M", "q35"],
    "arm64": ["qemu-system-aarch64", "-accel", "tcg", "-M", "virt", "-cpu", "max"],
}
CONSOLE = {"amd64": "ttyS0", "arm64": "ttyAMA0"}
RETINA = {"amd64": os.environ.get("RETINA_BIN") or "build/retina", "arm64": "build/arm64/retina"}
# host user-space tools the guest runs (amd64 guests only take the host's)
TOOLS = ["/usr/sbin/nft", "/usr/sbin/ip", "/usr/sbin/unbound"]


def die(msg):
    print("retina kernels: " + msg, file=sys.stderr)
    sys.exit(2)


def kernels():
    out = []
    with open(os.path.join(HERE, "versions")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, arch, suite, pattern = line.split()
                out.append({"name": name, "arch": arch, "suite": suite, "pattern": pattern})
    return out


def libs_of(path):
    """The shared libraries (and the loader) a host binary needs."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            found.append(m.group(1))
    return found


def copy(src, root, dest=None):
    dest = os.path.join(root, (dest or src).lstrip("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy2(os.path.realpath(src), dest)


def module_closure(mroot, names):
    """modules.dep paths of names and their dependencies, dependencies first."""
    dep = {}
    with open(os.path.join(mroot, "modules.dep")) as f:
        for line in f:
            mod, _, deps = line.partition(":")
            dep[mod] = deps.split()
    by_name = {re.sub(r"\.ko(\.xz|\.zst|\.gz)?$", "", os.path.basename(m)).replace("-", "_"): m for m in dep}
    order, wanted = [], []
    for n in names:
        if n not in by_name:
            continue            # built in (or absent): nothing to load
        wanted.append(n)
        for m in reversed(dep[by_name[n]]):
            if m not in order:
                order.append(m)
        if by_name[n] not in order:
            order.append(by_name[n])
    return order, wanted


def build_initramfs(k, retina):
    kd = os.path.join(KDIR, k["name"])
    root = os.path.join(kd, "initramfs")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    if k["arch"] == "amd64":
        copy("/bin/busybox", root)
        for t in TOOLS:
            copy(t, root)
            for lib in libs_of(t):
                copy(lib, root)
    else:
        arm = os.path.join(KDIR, "userland-arm64", "root")
        if not os.path.isdir(arm):
            die("no arm64 user space in %s (tests/kernels/fetch.sh fetches it)" % arm)
        shutil.copytree(arm, root, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("gconv", "share", "systemd", "audit"))
        if not os.path.lexists(os.path.join(root, "usr/sbin/ip")):
            os.symlink("/bin/ip", os.path.join(root, "usr/sbin/ip"))
    copy(retina, root, "/bin/retina")
    copy(os.path.join(HERE, "guest.sh"), root, "/init")
    os.chmod(os.path.join(root, "init"), 0o755)
    # the kernel's modules, uncompressed (busybox insmod reads plain .ko)
    kver = os.listdir(os.path.join(kd, "root", "lib", "modules"))[0]
    src = os.path.join(kd, "root", "lib", "modules", kver)
    if not os.path.exists(os.path.join(src, "modules.dep")):
        subprocess.run(["depmod", "-b", os.path.join(kd, "root"), kver], check=True)
    order, wanted = module_closure(src, MODULES)
    dst = os.path.join(root, "lib", "modules", kver)
    for m in order:
        out = os.path.join(dst, re.sub(r"\.(xz|zst|gz)$", "", m))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        p = os.path.join(src, m)
        if m.endswith(".xz"):
            with open(out, "wb") as f:
                subprocess.run(["xz", "-dc", p], stdout=f, check=True)
        elif m.endswith(".zst"):
            subprocess.run(["zstd", "-qdf", p, "-o", out], check=True)
        else:
            shutil.copy2(p, out)
    for f in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        if os.path.exists(os.path.join(src, f)):
            shutil.copy2(os.path.join(src, f), dst)
    subprocess.run(["depmod", "-b", root, kver], check=True)
    with open(os.path.join(root, "modules.list"), "w") as f:
        f.write("\n".join(wanted) + "\n")
    cpio = os.path.join(kd, "initrd.cpio.gz")
    with open(cpio, "wb") as out:
        find = subprocess.Popen(["find", "."], cwd=root, stdout=subprocess.PIPE)
        pack = subprocess.Popen(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, stdin=find.stdout,
                                stdout=subprocess.PIPE)
        subprocess.run(["gzip", "-1"], stdin=pack.stdout, stdout=out, check=True)
        pack.wait()
        find.wait()
    vmlinuz = [f for f in os.listdir(os.path.join(kd, "root", "boot")) if f.startswith("vmlinuz")][0]
    return os.path.join(kd, "root", "boot", vmlinuz), cpio


def boot(k, vmlinuz, initrd, timeout):
    cmd = QEMU[k["arch"]] + ["-m", "1024", "-smp", "2", "-nographic", "-no-reboot", "-kernel", vmlinuz,
                             "-initrd", initrd, "-append",
                             "console=%s panic=-1 quiet loglevel=3" % CONSOLE[k["arch"]]]
    log = os.path.join(KDIR, k["name"], "console.log")
    t0 = time.monotonic()
    with open(log, "w") as f:
        try:
            subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            f.write("\n@@ guest timeout after %d s\n" % timeout)
    secs = time.monotonic() - t0
    with open(log, errors="replace") as f:
        return f.read(), secs


def parse(console):
    results, notes, done = {}, {}, False
    for line in console.splitlines():
        m = re.match(r"@@ (\S+) (pass|fail|unsupported) ?(.*)", line.strip("\r"))
        if m:
            results[m.group(1)] = (m.group(2), m.group(3).strip())
        elif line.startswith("@@ drop-locations:"):
            notes["drop-locations"] = line.split(":", 1)[1].strip().rstrip(", ")
        elif line.startswith("@@ done"):
            done = True
    if not done:
        results["guest"] = ("fail", "the guest did not finish (see its console.log)")
    return results, notes


def table(ks, res):
    checks = []
    for k in ks:
        for c in res[k["name"]]["checks"]:
            if c not in checks:
                checks.append(c)
    names = [k["name"] for k in ks]
    w = max(len(c) for c in checks + ["check"])
    lines = ["| " + "check".ljust(w) + " | " + " | ".join(n.ljust(11) for n in names) + " |",
             "|" + "-" * (w + 2) + "|" + "|".join("-" * 13 for _ in names) + "|"]
    for c in checks:
        cells = [res[n]["checks"].get(c, ("-", ""))[0] for n in names]
        lines.append("| " + c.ljust(w) + " | " + " | ".join(x.ljust(11) for x in cells) + " |")
    return lines, checks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--md", help="write the table and details here (docs/kernels.md)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per guest")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    ks = [k for k in kernels() if not a.names or k["name"] in a.names]
    unknown = set(a.names) - {k["name"] for k in ks}
    if unknown:
        die("no kernel %s in tests/kernels/versions" % ", ".join(sorted(unknown)))
    subprocess.run([os.path.join(HERE, "fetch.sh"), KDIR] + [k["name"] for k in ks], check=True)
    res = {}
    for k in ks:
        retina = os.path.join(ROOT, RETINA[k["arch"]])
        if not os.path.exists(retina):
            die("%s missing: make%s first" % (retina, " ARCH=arm64" if k["arch"] == "arm64" else ""))
        with open(os.path.join(KDIR, k["name"], "package")) as f:
            package = f.read().strip()
        t0 = time.monotonic()
        vmlinuz, initrd = build_initramfs(k, retina)
        console, secs = boot(k, vmlinuz, initrd, a.timeout)
        checks, notes = parse(console)
        res[k["name"]] = {"package": package, "arch": k["arch"], "seconds": round(secs, 1),
                          "build_seconds": round(time.monotonic() - t0 - secs, 1), "checks": checks,
                          "notes": notes}
        bad = [c for c, (s, _) in checks.items() if s == "fail"]
        print("%-10s %-55s %5.1f s  %d checks, %d failed%s" % (k["name"], package, secs, len(checks), len(bad),
              (": " + ", ".join(bad)) if bad else ""), flush=True)
    lines, checks = table(ks, res)
    print("\n".join(lines))
    for k in ks:
        for c, (s, detail) in res[k["name"]]["checks"].items():
            if s != "pass":
                print("%s %s: %s: %s" % (k["name"], c, s, detail))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    if a.md:
        write_md(a.md, ks, res, lines, checks)
    return 1 if any(s == "fail" for r in res.values() for s, _ in r["checks"].values()) else 0


def write_md(path, ks, res, lines, checks):
    with open(os.path.join(HERE, "kernels.md.in")) as f:
        head = f.read()
    out = [head.rstrip("\n"), "", "## The last run", "",
           "`make test-kernels` on %s (qemu TCG, 2 vCPUs, 1 GiB):" % time.strftime("%Y-%m-%d"), ""]
    out.append("| kernel | package (Debian) | boot and checks |")
    out.append("|--------|------------------|-----------------|")
    for k in ks:
        r = res[k["name"]]
        out.append("| %s | `%s` | %.0f s |" % (k["name"], r["package"], r["seconds"]))
    out += ["", *lines, "", "What each check saw (pass: the evidence; unsupported: the kernel's reason):", ""]
    for c in checks:
        out.append("- **%s**" % c)
        for k in ks:
            s, d = res[k["name"]]["checks"].get(c, ("-", ""))
            d = d.replace("|", "\\|")
            out.append("  - %s: %s%s" % (k["name"], s, (" — `%s`" % d[:220]) if d else ""))
    out += ["", "What `skb:kfree_skb` reported during each guest's run (`--all-reasons`, so "
            "hidden ones too), by location:", ""]
    for k in ks:
        out.append("- %s: %s" % (k["name"], res[k["name"]]["notes"].get("drop-locations", "-")))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
