#!/usr/bin/env python3
"""Functions longer than a limit (default 100 lines) in C files, kernel style:
a definition's body opens with '{' alone at column 0 and closes with '}' at
column 0. Prints FILE:LINE NAME LINES for each, exits 1 when there is one.

usage: func_length.py [--max N] [--list] DIR|FILE...   (--list: every function, longest first)
"""
import os
import re
import sys

NAME = re.compile(r"([A-Za-z_]\w*)\s*\(")


def functions(path):
    """(name, first line, length) of each function definition in path."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            # the signature: back to the line that starts at column 0 (not a comment or a brace)
            start = i - 1
            while start > 0 and (lines[start][:1] in (" ", "\t") or lines[start].startswith(")")):
                start -= 1
            sig = " ".join(lines[start:i])
            m = None
            for m in NAME.finditer(sig.split("(")[0] + "(") if "(" in sig else []:
                pass
            end = i + 1
            while end < len(lines) and not lines[end].startswith("}"):
                end += 1
            if m and "=" not in sig.split("(")[0]:
                out.append((m.group(1), start + 1, end - start + 1))
            i = end
        i += 1
    return out


def c_files(args):
    for a in args:
        if os.path.isdir(a):
            for root, _, names in os.walk(a):
                yield from (os.path.join(root, n) for n in sorted(names) if n.endswith(".c"))
        else:
            yield a


def main(argv):
    limit, listing, paths = 100, False, []
    it = iter(argv)
    for a in it:
        if a == "--max":
            limit = int(next(it))
        elif a == "--list":
            listing = True
        else:
            paths.append(a)
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    found = [(n, p, line, length) for p in c_files(paths) for n, line, length in functions(p)]
    if listing:
        for n, p, line, length in sorted(found, key=lambda x: -x[3]):
            print(f"{length:5d} {p}:{line} {n}")
        return 0
    long = [x for x in found if x[3] > limit]
    for n, p, line, length in long:
        print(f"{p}:{line} {n}: {length} lines, more than {limit}: split it into named phases")
    return 1 if long else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
