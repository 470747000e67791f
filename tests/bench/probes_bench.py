#!/usr/bin/env python3
"""Cold start + one query/probe: retina dig/ping/nc/curl side by side with bind9 dig,
iputils ping and Debian's curl, on loopback (a private unbound on a free port for DNS,
a listener the script owns for nc, openssl s_server with a throwaway PKI and a small
HTTP server for curl). Prints times and ratios; never fails on timing.

usage: probes_bench.py RETINA [RUNS]"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from dnsfix import Unbound  # noqa: E402
from httpfix import HTTPServer, SServer, make_pki  # noqa: E402


def bench(argv, runs):
    """Median and minimum wall time in ms of `runs` cold starts of argv (after one warm-up).
    The machine is shared: the minimum is the least disturbed run."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1000)
        if p.returncode != 0:
            return None
    return statistics.median(times), min(times)


def row(label, ours, theirs):
    def fmt(r):
        return "          failed" if r is None else f"{r[0]:7.2f} ({r[1]:5.2f}) ms"
    ratio = f"{theirs[0] / ours[0]:6.2f}x ({theirs[1] / ours[1]:5.2f}x)" if ours and theirs else "     -"
    print(f"  {label:<36} {fmt(ours)} {fmt(theirs) if theirs is not False else '               -'}  {ratio}")


def main():
    retina = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    print(f"probes: median (min) of {runs} cold runs each, after one warm-up; ratio = reference / retina "
          "(>1: retina faster)")
    print(f"  {'probe':<36} {'retina':>19} {'reference':>19}  ratio")
    with tempfile.TemporaryDirectory() as work:
        ub = None
        if shutil.which("unbound") and shutil.which("dig"):
            ub = Unbound(work)
            q = ["@127.0.0.1", "-p", str(ub.port), "+short", "www.example.test"]
            row("dig +short (UDP) vs bind9 dig", bench([retina, "dig", *q], runs), bench(["dig", *q], runs))
            q = ["@127.0.0.1", "-p", str(ub.port), "+tcp", "example.test", "MX"]
            row("dig +tcp MX (full output) vs bind9", bench([retina, "dig", *q], runs), bench(["dig", *q], runs))
        else:
            print("  dig: skipped (unbound or bind9 dig missing: deps/prereqs.sh test installs them)")
        if ub:
            ub.close()
        p = ["-c", "1", "127.0.0.1"]
        row("ping -c 1 127.0.0.1 vs iputils", bench([retina, "ping", *p], runs),
            bench(["ping", *p], runs) if shutil.which("ping") else False)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1024)
        port = str(s.getsockname()[1])
        row("nc -z (TCP connect) [no reference]", bench([retina, "nc", "-z", "127.0.0.1", port], runs), False)
        s.close()
        curl_rows(retina, runs, work)
    print(f"  binary: {os.path.getsize(retina)} bytes (static, all applets)")


def curl_rows(retina, runs, work):
    if not (shutil.which("curl") and shutil.which("openssl")):
        print("  curl: skipped (Debian's curl or openssl missing: deps/prereqs.sh test installs them)")
        return
    pki = make_pki(os.path.join(work, "pki"))
    web = HTTPServer()
    url = f"http://127.0.0.1:{web.port}/"
    row("curl http GET vs curl", bench([retina, "curl", "-s", "-o", "/dev/null", url], runs),
        bench(["curl", "-s", "-o", "/dev/null", url], runs))
    web.close()
    for cert, label, resolve in (("server-ip", "RSA-2048", None), ("server-dns", "ECDSA P-256", "localhost")):
        s = SServer(pki, cert)
        host = resolve or "127.0.0.1"
        args = ["-s", "-o", "/dev/null", "--cacert", f"{pki}/ca.crt", f"https://{host}:{s.port}/"]
        if resolve:
            args[0:0] = ["--resolve", f"{resolve}:{s.port}:127.0.0.1"]
        row(f"curl https GET ({label}) vs curl", bench([retina, "curl", *args], runs), bench(["curl", *args], runs))
        s.close()


if __name__ == "__main__":
    main()
