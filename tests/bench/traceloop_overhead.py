#!/usr/bin/python3
"""Syscall overhead of traceloop recording, side by side with no tracing and strace -f.

usage: traceloop_overhead.py build/retina [N]

A tight loop of N getppid() syscalls (a C helper compiled here) runs in a test
cgroup: untraced; while `retina traceloop record` records that cgroup; while it
records another cgroup (the cost every other process on the node pays); and
under `strace -f -o /dev/null`. Prints ns per syscall (median of 3 runs) and
ratios against untraced. Numbers only: nothing here passes or fails on timing.
Needs root (cgroup v2, BPF).
"""
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOOP_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long n = atol(argv[1]);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
	return 0;
}
"""


def cgroup2_root():
    for line in open("/proc/self/mountinfo"):
        parts = line.split(" - ")
        if len(parts) == 2 and parts[1].split()[0] == "cgroup2":
            return Path(line.split()[4])
    sys.exit("no cgroup2 mount")


def run_loop(loop, n, cg=None, prefix=()):
    argv = list(prefix) + [loop, str(n)]
    if cg:
        argv = ["sh", "-c", 'echo $$ > "$0/cgroup.procs"; exec "$@"', str(cg)] + argv
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def median(f, reps=3):
    return statistics.median(f() for _ in range(reps))


def main():
    retina = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
    tmp = Path(tempfile.mkdtemp())
    root = cgroup2_root()
    traced, other = root / f"retina-bench-{os.getpid()}", root / f"retina-bench-other-{os.getpid()}"
    recorder = None
    try:
        (tmp / "loop.c").write_text(LOOP_C)
        subprocess.run(["gcc", "-O2", "-o", str(tmp / "loop"), str(tmp / "loop.c")], check=True)
        loop = str(tmp / "loop")
        traced.mkdir()
        other.mkdir()
        rows = [("untraced", median(lambda: run_loop(loop, n, traced)))]
        sock = tmp / "tl.sock"
        p = subprocess.run([retina, "traceloop", "record", "--cgroup", str(traced), "--socket", str(sock)],
                           capture_output=True, text=True, check=True)
        recorder = int(re.search(r"pid (\d+)", p.stdout).group(1))
        rows.append(("traceloop, traced cgroup", median(lambda: run_loop(loop, n, traced))))
        rows.append(("traceloop, other cgroup", median(lambda: run_loop(loop, n, other))))
        os.kill(recorder, signal.SIGTERM)
        time.sleep(0.5)
        recorder = None
        if shutil.which("strace"):
            rows.append(("strace -f", median(lambda: run_loop(loop, n, traced, ["strace", "-f", "-o", "/dev/null"]))))
        else:
            rows.append(("strace -f", None))
        base = rows[0][1]
        print(f"traceloop overhead: {n} getppid() syscalls, median of 3 runs")
        print(f"  {'mode':28} {'ns/syscall':>10} {'x untraced':>10}")
        for name, ns in rows:
            if ns is None:
                print(f"  {name:28} {'(strace not installed)':>21}")
            else:
                print(f"  {name:28} {ns:10.1f} {ns / base:10.2f}")
    finally:
        if recorder:
            os.kill(recorder, signal.SIGTERM)
            time.sleep(0.5)
        for d in (traced, other):
            for _ in range(20):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
