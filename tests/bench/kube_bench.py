#!/usr/bin/env python3
"""kubectl-retina against the real kubectl 1.32, side by side, on the fake API server
(tests/fixtures/fake_apiserver.py, TLS on 127.0.0.1, which logs when each request arrives).

1. startup: exec to the first request arriving at the server, wall time, requests, peak RSS,
   for the same single API call: `kubectl-retina cleanup` (one LIST of retina's pods) against
   `kubectl get --raw` of that very path, and both through kubectl's plugin dispatch.
2. shell: `kubectl retina shell node-1` against `kubectl run -i --rm` of an equivalent pod
   (nodeName, hostNetwork; what `kubectl debug node/...` makes, which cannot run here: it posts
   protobuf, which the fake does not speak): requests and time from the command to the attach
   (the moment the container's stdin is connected: a prompt would show), then a line typed and
   echoed by the container, stdin closed, exit code read and pod deleted.

Peak RSS is the largest process's (kubectl's dispatch: kubectl, then the plugin it execs in its
place), measured by tests/bench/maxrss.c so that this Python's own RSS is not counted.
Medians of RUNS runs (env KUBE_BENCH_RUNS, default 7), after one warm-up each. Prints numbers,
asserts nothing about them. usage: kube_bench.py build/retina
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from fakeapi import KUBECTL, FakeAPI, kubectl_missing  # noqa: E402

RUNS = int(os.environ.get("KUBE_BENCH_RUNS", "7"))


def build_maxrss(tmp):
    """tests/bench/maxrss.c, static: peak RSS of a command without this Python's in it."""
    out = Path(tmp) / "maxrss"
    for cc in ("musl-gcc", "gcc"):
        p = subprocess.run([cc, "-static", "-Os", "-o", str(out), str(Path(__file__).with_name("maxrss.c"))],
                           capture_output=True, text=True)
        if p.returncode == 0:
            return str(out)
    sys.exit("kube_bench: cannot build maxrss.c: " + p.stderr)


class Bench:
    def __init__(self, tmp, retina):
        self.tmp = Path(tmp)
        self.maxrss = build_maxrss(tmp)
        self.rssfile = self.tmp / "rss"
        self.reqlog = self.tmp / "requests.jsonl"
        self.api = FakeAPI(tmp, "--request-log", str(self.reqlog))
        self.kc = self.api.kubeconfig()
        bindir = self.tmp / "bin"
        bindir.mkdir()
        self.plugin = bindir / "kubectl-retina"
        self.plugin.symlink_to(retina)
        self.env = dict(os.environ, KUBECONFIG=self.kc, HOME=str(self.tmp),
                        PATH="%s:%s" % (bindir, os.environ.get("PATH", "/usr/bin:/bin")))
        for k in ("RETINA_SHELL_IMAGE_REPO", "RETINA_SHELL_IMAGE_VERSION", "HTTPS_PROXY", "https_proxy"):
            self.env.pop(k, None)
        self.env["RETINA_SHELL_IMAGE_REPO"] = "registry.test/retina-shell"	# the build may have no default

    def requests(self, since):
        if not self.reqlog.exists():
            return []
        return [r for r in map(json.loads, self.reqlog.read_text().splitlines()) if r["t"] >= since]

    def run(self, argv, attach_input=None, expect_rc=0):
        """Run argv; its wall time, first-request and attach latencies (s), requests, peak RSS (KiB).
        attach_input: stdin held open until the attach arrives, then this is written and stdin closed."""
        self.reqlog.write_text("")
        t0 = time.monotonic()
        p = subprocess.Popen([self.maxrss, str(self.rssfile), *map(str, argv)], env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        attach = None
        if attach_input is not None:
            deadline = t0 + 60
            while attach is None and time.monotonic() < deadline and p.poll() is None:
                attach = next((r["t"] for r in self.requests(t0) if "/attach" in r["path"]), None)
                time.sleep(0.002)
            p.stdin.write(attach_input)
        p.stdin.close()
        out = p.stdout.read()
        err = p.stderr.read()
        p.wait()
        wall = time.monotonic() - t0
        if p.returncode != expect_rc:
            raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(map(str, argv)), p.returncode,
                                                      out.decode(errors="replace"), err.decode(errors="replace")))
        if attach_input is not None and attach_input.strip() not in out:
            raise RuntimeError("%s: the typed line did not come back: %r" % (argv[0], out))
        reqs = self.requests(t0)
        return {"wall": wall, "first": reqs[0]["t"] - t0 if reqs else float("nan"),
                "attach": (attach - t0) if attach else float("nan"), "requests": len(reqs),
                "rss": int(self.rssfile.read_text()), "paths": [r["method"] + " " + r["path"] for r in reqs]}

    def median(self, argv, **kw):
        self.run(argv, **kw)	# warm-up: page cache, kubectl's discovery cache
        runs = [self.run(argv, **kw) for _ in range(RUNS)]
        m = {k: statistics.median(r[k] for r in runs) for k in ("wall", "first", "attach", "rss")}
        m["requests"] = runs[-1]["requests"]
        m["paths"] = runs[-1]["paths"]
        return m

    def close(self):
        self.api.close()


def ms(x):
    return "%8.1f" % (x * 1000) if x == x else "       -"


def row(name, m):
    print("%-44s %s %s %s %5d %8d" % (name, ms(m["first"]), ms(m.get("attach", float("nan"))), ms(m["wall"]),
                                      m["requests"], m["rss"]))


def header(title):
    print("\n" + title)
    print("%-44s %8s %8s %8s %5s %8s" % ("", "1st req", "attach", "wall", "reqs", "peak RSS"))
    print("%-44s %8s %8s %8s %5s %8s" % ("", "ms", "ms", "ms", "", "KiB"))


def ratio(what, a, b):
    if a == a and b == b and a > 0:
        print("  %s: kubectl / retina = %.1fx" % (what, b / a))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: kube_bench.py path/to/retina")
    retina = os.path.abspath(sys.argv[1])
    if kubectl_missing():
        sys.exit("kube_bench: the comparison needs the real kubectl: " + kubectl_missing())
    with tempfile.TemporaryDirectory(prefix="kube-bench-") as tmp:
        b = Bench(tmp, retina)
        try:
            print("kube_bench: %d runs each (median), fake API server on 127.0.0.1 over TLS, "
                  "EC client certificate" % RUNS)
            plugin = b.median([str(b.plugin), "cleanup"])
            path = plugin["paths"][0].split(" ", 1)[1]
            raw = b.median([KUBECTL, "get", "--raw", path])
            dispatched = b.median([KUBECTL, "retina", "cleanup"])
            getpods = b.median([KUBECTL, "get", "pods", "-l", "app.kubernetes.io/managed-by=kubectl-retina"])
            header("startup: one LIST of retina's pods (%s)" % path)
            row("kubectl-retina cleanup", plugin)
            row("kubectl get --raw PATH", raw)
            row("kubectl retina cleanup (kubectl's dispatch)", dispatched)
            row("kubectl get pods -l ... (discovery cached)", getpods)
            ratio("exec to first request", plugin["first"], raw["first"])
            ratio("wall", plugin["wall"], raw["wall"])
            ratio("peak RSS", plugin["rss"], raw["rss"])

            line = b"echo-through-the-attach\n"
            shell = b.median([str(b.plugin), "shell", "node-1"], attach_input=line)
            overrides = {"apiVersion": "v1", "spec": {"nodeName": "node-1", "hostNetwork": True,
                                                      "automountServiceAccountToken": False}}
            run = b.median([KUBECTL, "run", "kb-%d" % os.getpid(), "--image=ghcr.io/microsoft/retina/retina-shell:v1",
                            "--restart=Never", "-i", "--rm", "--quiet", "--overrides", json.dumps(overrides)],
                           attach_input=line)
            header("shell: command to attached, a line echoed, exit, pod deleted")
            row("kubectl-retina shell node-1", shell)
            row("kubectl run -i --rm (same pod)", run)
            ratio("command to attach", shell["attach"], run["attach"])
            ratio("requests", shell["requests"], run["requests"])
            ratio("wall", shell["wall"], run["wall"])
            ratio("peak RSS", shell["rss"], run["rss"])
            print("\nrequests, kubectl-retina shell node-1:")
            for p in shell["paths"]:
                print("  " + p)
            print("requests, kubectl run -i --rm:")
            for p in run["paths"]:
                print("  " + p)
        finally:
            b.close()


if __name__ == "__main__":
    main()
