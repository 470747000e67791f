#!/usr/bin/python3
"""Busybox-style size accounting for the retina multicall binary.

usage: size_report.py build/retina.map build/retina
       (make size ARCH=arm64: build/arm64/retina.map build/arm64/retina)

Prints the binary's size against the 1 MiB (stripped) budget, then what each
library and each applet adds to it, from the GNU ld map (-Wl,-Map=..., linked
with --gc-sections): every input section kept in an allocated output section
is counted; what --gc-sections discarded is not.  Columns: text (.text, .init,
.fini), rodata+data (every other allocated section, .eh_frame included: all
stored in the file), bss (.bss, .tbss: memory only), total = text + data.
Names the Debian revision of each dependency (SYSROOT/.versions beside the
map).  Exits 1 if the map is missing or unparsable, or the binary is over budget.

The budget is a hard limit: `kubectl retina ... --ship-binary` carries the
binary to a node in a ConfigMap, which holds at most 1,048,576 bytes of keys
and values together; its key is "retina" (SHIP_KEY, applets/kubectl/kubectl_ship.h).
"""
import glob
import os
import re
import signal
import struct
import sys
from collections import Counter, defaultdict

BUDGET = 1 << 20
CONFIGMAP_KEY = "retina"
LIMIT = BUDGET - len(CONFIGMAP_KEY)	# the binary plus its key fit one ConfigMap
TEXT = {".text", ".init", ".fini", ".plt", ".iplt", ".plt.got", ".plt.sec"}
BSS = {".bss", ".tbss", ".lbss", ".sbss"}
NOT_ALLOC = re.compile(r"^(\.comment|\.debug|\.note|\.stab|\.symtab|\.strtab|"
                       r"\.shstrtab|\.gnu\.build\.attributes|\.gnu_debuglink|"
                       r"\.gnu\.lto|\.line|/DISCARD/)")
OUT_SEC = re.compile(r"^(\.\S+|/DISCARD/)")
IN_SEC = re.compile(r"^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(\S.*))?$")
IN_WRAPPED = re.compile(r"^ ([^\s*]\S*)$")
CONT = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)(?:\s+(\S.*))?$")
CRT = re.compile(r"^(S|r|g)?crt(1|i|n|begin\w*|end\w*)\.o$")


def die(msg):
    sys.exit(f"size_report: error: {msg}")


def parse_map(path):
    """Return (sections, loaded): sections is a list of (output section,
    size, file or None for *fill*); loaded lists the files ld loaded.
    Merged string sections (.rodata.*.str1.1) can be listed larger than
    the room they take, overlapping the next entry: clip each entry to the
    address of the next one so the sums match the output sections."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line.rstrip() for line in f]
    except OSError as e:
        die(f"cannot read map file {path}: {e.strerror} (link with -Wl,-Map=...)")
    if "Linker script and memory map" not in lines:
        die(f"{path}: no 'Linker script and memory map' line; not a GNU ld map?")
    start = lines.index("Linker script and memory map")
    sections, loaded, out, pending = [], [], None, None
    for line in lines[start + 1:]:
        if line.startswith("LOAD "):
            if line != "LOAD linker stubs":  # not a file: ld's own veneers (aarch64)
                loaded.append(line[5:])
            continue
        m = OUT_SEC.match(line)
        if m:
            out, pending = m.group(1), None
            continue
        if out is None:
            continue
        m = IN_SEC.match(line)
        if m:
            name, addr, size, obj = m.groups()
            pending = None
            if name == "*fill*":  # aarch64 maps show the fill pattern (a nop) after it
                sections.append((out, int(addr, 16), int(size, 16), None))
            elif obj:
                sections.append((out, int(addr, 16), int(size, 16), obj))
            continue
        m = IN_WRAPPED.match(line)
        if m:
            pending = m.group(1)
            continue
        m = CONT.match(line)
        if m and pending and m.group(3):
            sections.append((out, int(m.group(1), 16), int(m.group(2), 16),
                             m.group(3)))
        pending = None
    if not sections:
        die(f"{path}: no input sections found after the memory map header")
    clipped = []
    for (out, addr, size, obj), nxt in zip(sections, sections[1:] + [None]):
        if nxt and nxt[0] == out and nxt[1] >= addr:
            size = min(size, nxt[1] - addr)
        clipped.append((out, size, obj))
    return clipped, loaded


def kind(out):
    """text, data or bss for an output section; None if not allocated."""
    if not NOT_ALLOC.match(out):
        return "text" if out in TEXT else "bss" if out in BSS else "data"


def library(obj):
    """The library (or project directory) an input file belongs to."""
    if obj is None:
        return "padding"
    ar = os.path.basename(re.sub(r"\(.*\)$", "", obj))
    if ar.endswith(".a"):
        if ar.startswith("libgcc"):
            return "crt+libgcc"
        return "libc.a (musl)" if ar == "libc.a" else ar
    if CRT.match(ar):
        return "crt+libgcc"
    if not os.path.isabs(obj):
        parts = obj.split("/")
        d = "applets" if "applets" in parts[:-1] else os.path.basename(os.path.dirname(obj)) or "."
        return "retina: " + {"bpf": "bpf skeletons"}.get(d, d)
    return ar


def applet_groups(objs):
    """Map each project object (build/DIR/NAME.o) to its applet row."""
    def top(o):  # "applets" for build/applets/NAME.o and build/applets/FAMILY/NAME.o
        parts = o.split("/")
        return "applets" if "applets" in parts[:-1] else parts[-2] if len(parts) > 1 else "."
    applets = {os.path.basename(o)[:-2] for o in objs if top(o) == "applets"}
    groups = {}
    for o in objs:
        d, stem = top(o), os.path.basename(o)[:-2]
        if d != "applets":
            groups[o] = "lib/ (shared helpers)" if d == "lib" else d + "/"
        elif stem == "main":
            groups[o] = "multicall (main)"
        else:
            prefix = stem.split("_", 1)[0]
            groups[o] = (prefix if prefix in applets else stem).replace("_", "-")
    return groups


def table(title, rows, file_size):
    """rows: {name: {"text","data","bss"}} -> printed, sorted by total."""
    tot = {k: sum(r[k] for r in rows.values()) for k in ("text", "data", "bss")}
    w = max([len(n) for n in rows] + [len(title), 5])
    rule = "-" * (w + 46)
    print(f"\n{title:<{w}} {'text':>8} {'rodata+data':>11} {'bss':>7} "
          f"{'total':>8} {'share':>6}\n{rule}")
    for name, r in sorted(rows.items(), key=lambda kv: (
            -kv[1]["text"] - kv[1]["data"], kv[0])) + [(rule, None), ("TOTAL", tot)]:
        if r is None:
            print(rule)
            continue
        total = r["text"] + r["data"]
        print(f"{name:<{w}} {r['text']:>8} {r['data']:>11} {r['bss']:>7} "
              f"{total:>8} {100 * total / file_size:>5.1f}%")
    return tot


def stripped(path):
    """False if the ELF file still has a symbol table (SHT_SYMTAB)."""
    data = open(path, "rb").read()
    if data[:5] != b"\x7fELF\x02":  # not 64-bit ELF: assume so
        return True
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    return all(struct.unpack_from("<I", data, shoff + i * shentsize + 4)[0] != 2
               for i in range(shnum))


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `make size | head` is fine
    if len(sys.argv) != 3:
        die("usage: size_report.py MAPFILE BINARY")
    map_path, binary = sys.argv[1:]
    if not os.path.isfile(binary):
        die(f"binary {binary} not found")
    sections, loaded = parse_map(map_path)
    size = os.path.getsize(binary)
    verdict = (f"{binary}: {size} bytes ({size / 1024:.1f} KiB), "
               f"{100 * size / BUDGET:.1f}% of the 1 MiB budget")
    print(verdict)
    if not stripped(binary):
        print(f"note: {binary} is not stripped; its size includes symbols")
    # the Debian revisions deps/fetch.sh took (the stamp beside the map)
    stamp = os.path.join(os.path.dirname(map_path), "sysroot", ".versions")
    if os.path.isfile(stamp):
        with open(stamp, encoding="utf-8") as f:
            print("built with: " + ", ".join(" ".join(line.split()) for line in f if line.strip()))

    libs, applets = defaultdict(Counter), defaultdict(Counter)
    project = [o for o in loaded if library(o).startswith("retina:")]
    groups = applet_groups(project)
    for o in loaded:  # list everything linked, even if nothing of it was kept
        libs.setdefault(library(o), Counter())
        if o in groups:
            applets.setdefault(groups[o], Counter())
    for out, n, obj in sections:
        k = kind(out)
        if k:
            libs[library(obj)][k] += n
            if obj in groups:
                applets[groups[obj]][k] += n

    tot = table("library", libs, size)
    table("applet", applets, size)
    for f in sorted(glob.glob(os.path.join(os.path.dirname(map_path), "bpf/*.bpf.o"))):
        print(f"  ({f}, {os.path.getsize(f)} bytes, is embedded in the .rodata "
              "of the applets that include its skeleton)")
    acc = tot["text"] + tot["data"]
    print(f"\naccounted: {acc} of {size} bytes "
          f"(ELF headers, alignment: {size - acc})")
    if size > LIMIT:
        die(f"{binary}: {size} bytes, {size - LIMIT} over the limit: with its ConfigMap key "
            f"'{CONFIGMAP_KEY}' it must fit one ConfigMap ({BUDGET} bytes) for --ship-binary")
    print(f"headroom: {LIMIT - size} bytes until the binary and its key '{CONFIGMAP_KEY}' "
          f"fill a ConfigMap ({BUDGET} bytes)")


if __name__ == "__main__":
    main()
