"""The oldest and newest amd64 kernels of tests/kernels/versions, booted under
qemu-system by tests/kernels/matrix.py (make test-kernels runs them all): each
(kernel, check) is one test. A check passes, or is "unsupported" only where
that kernel is known to lack the feature, with the reason the guest printed."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT

KERNELS = ["5.10", "6.12"]
FAMILIES = ["v4", "v6"]
CHECKS = (["modules", "netns", "nft-ruleset", "ping-v4", "ping-v6", "nc",
           "dig-v4", "dig-v6", "dig-tcp", "dig-nxdomain", "trace-attach"] +
          [f"{c}-{f}" for f in FAMILIES for c in ("rst-sent", "rst-sent-nosocket", "rst-recv", "sockerr-refused",
                                                  "drop-noport", "drop-nft", "retrans", "sockerr-timeout")] +
          ["drop-location-noport-v4", "drop-location-noport-v6", "drop-location-nft", "trace-table-reason",
           "trace-list-reasons", "trace-reason-filter",
           "trace-stack", "trace-pcapng", "trace-filter", "trace-nft", "trace-count", "capcheck", "execsnoop", "traceloop",
           "nsenter"])
# What each kernel lacks, and the words its refusal must contain.
UNSUPPORTED = {
    "5.10": {
        **{f"sockerr-{k}-{f}": "no tracepoint inet_sk_error_report" for k in ("refused", "timeout") for f in FAMILIES},
        **{f"rst-sent-nosocket-{f}": "resets from a socket only" for f in FAMILIES},
        "trace-nft": "no NETFILTER_DROP drop reason (5.17+)",
        "trace-list-reasons": "enum skb_drop_reason came in 5.17",
        "trace-reason-filter": "no drop reasons (5.17+)",
        "traceloop": "predates BPF atomic fetch-and-add (5.12)",
    },
    "6.12": {},
}


@pytest.fixture(scope="module")
def results(retina, tmp_path_factory):
    out = tmp_path_factory.mktemp("kernels") / "results.json"
    p = subprocess.run([sys.executable, str(ROOT / "tests/kernels/matrix.py"), "--json", str(out), *KERNELS],
                       capture_output=True, text=True, timeout=1200, env={"RETINA_BIN": retina, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    print(p.stdout[-4000:], p.stderr[-2000:])
    assert out.exists(), f"matrix.py wrote no results (exit {p.returncode}):\n{p.stderr[-2000:]}"
    return json.loads(out.read_text())


@pytest.mark.parametrize("kernel", KERNELS)
def test_guest_reports_every_check(results, kernel):
    assert sorted(results[kernel]["checks"]) == sorted(CHECKS)


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_check(results, kernel, check):
    status, detail = results[kernel]["checks"].get(check, ("missing", "the guest did not report it"))
    want = UNSUPPORTED[kernel].get(check)
    if want:
        assert status == "unsupported" and want in detail, (status, detail)
    else:
        assert status == "pass", detail
