"""retina trace --pods names each event's pod from the node alone: a process in the event's
network namespace (netpair b), its cgroup in the pod-like layout the nsenter tests build
(kubepods.slice/...-pod<UID>.slice/cri-containerd-<ID>.scope), and containerd's state on disk
(RETINA_RUNTIME_STATE: the sandbox's name and namespace in the container's config.json)."""
import json
import os
import subprocess
import time

from containers import cid, new_uid, v2_root
from tracer import Tracer, connect, find


def test_trace_pods_names_the_pod_of_the_events_namespace(retina, containers, netpair, tmp_path):
    uid, c = new_uid(), cid()
    pid = containers.start("--netns", f"/run/netns/{netpair.b}")
    containers.place(pid, v2_root(), f"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
                     f"{uid.replace('-', '_')}.slice/cri-containerd-{c}.scope")
    d = tmp_path / "state" / c
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "annotations": {
        "io.kubernetes.cri.sandbox-name": "server-7d9f", "io.kubernetes.cri.sandbox-namespace": "shop",
        "io.kubernetes.cri.container-name": "web"}}))
    env = dict(os.environ, RETINA_RUNTIME_STATE=str(tmp_path / "state"))
    with Tracer(retina, "--rst", "--port", "9", "--pods", env=env) as t:
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        assert t.stop() == 0, t.stderr
    evs = t.events(netpair)
    sent = find(evs, "RST_SENT", src_ip=netpair.B4, netns=netpair.inode(netpair.b))
    assert sent and all(e["pod"] == "shop/server-7d9f" for e in sent), evs
    # a's namespace holds no pod's process: no "pod"
    recv = find(evs, "RST_RECV", netns=netpair.inode(netpair.a))
    assert recv and all("pod" not in e for e in recv), evs
    # the table: the pod under the row
    p = subprocess.Popen([retina, "trace", "--rst", "--port", "9", "--pods", "-d", "4s"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        err = ""
        while " attached " not in err and time.monotonic() < deadline:
            err += os.read(p.stderr.fileno(), 4096).decode()
        assert connect(netpair, netpair.a, netpair.B4, 9) == "error 111"
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    lines = out.splitlines()
    rows = [i for i, line in enumerate(lines) if "RST_SENT" in line and f"{netpair.B4}:9" in line]
    # (other jobs may use the same documentation addresses: any of the rows)
    assert [i for i in rows if i + 1 < len(lines) and lines[i + 1] == "    pod: shop/server-7d9f"], out
