"""nsenter for real: "containers" made here (fake_container: own mount, UTS, IPC, PID and
network namespaces, root = an empty tmpfs with no binaries), pods made of real cgroup
directories named as kubelet names them, and the errors an SRE meets."""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import require, run
from containers import CGROUP_V1_PIDS, cid, new_uid, v2_root

# ---- -t PID: applets inside a target with no binaries -----------------------------------

def test_applet_runs_inside_a_container_with_no_binaries(retina, containers):
    pid = containers.start("--tmpfs", "/marker")
    assert not os.path.exists("/marker")
    # The container's root holds no file to execute: capcheck can only be this binary.
    root = os.listdir(f"/proc/{pid}/root/")
    assert sorted(root) == ["marker", "proc"]
    env = dict(os.environ, HOST_ROOT="/marker")
    p = run([retina, "nsenter", "-v", "-t", str(pid), "-a", "--", "capcheck", "-o", "json"], env=env, check=0)
    r = json.loads(p.stdout)
    # /marker is a mount point only inside the container: we were in its mount namespace and root.
    assert r["process"]["host_fs"]["mounted"] is True
    assert r["process"]["host_pid"] is False
    assert r["process"]["host_net"] is False
    assert "running applet 'capcheck' of this binary" in p.stderr
    assert "mnt" in p.stderr and "net" in p.stderr and "pid" in p.stderr


def test_applet_sees_the_targets_pid_namespace(retina, containers):
    # Inside, capcheck's own PID is small; retina --list names nsenter (the multicall entry works too).
    pid = containers.start()
    p = run([retina, "nsenter", "-t", str(pid), "--", "retina", "--list"], check=0)
    assert "nsenter" in p.stdout.split()
    p = run([retina, "nsenter", "-t", str(pid), "-p", "--applet", "--", "nsenter", "--list"])
    # no pod processes are visible from inside the container's PID namespace
    assert p.returncode == 1
    assert "host's PID namespace" in p.stderr


def test_retinas_ping_and_dig_work_in_a_container_with_no_binaries(retina, containers, netpair, tmp_path):
    """The distroless case: the target's root is an empty tmpfs; our applets run inside
    its namespaces and reach its network (its veth peer, and a DNS server there)."""
    from dnsfix import Unbound
    require("unbound")
    pid = containers.start("--netns", f"/run/netns/{netpair.a}")
    p = run([retina, "nsenter", "-t", str(pid), "-a", "--", "ping", "-c", "1", "-W", "3", netpair.B4])
    assert p.returncode == 0, p.stderr
    assert f"64 bytes from {netpair.B4}: icmp_seq=1" in p.stdout
    # a real DNS server on the container's veth peer
    dns_dir = tmp_path / "dns"
    dns_dir.mkdir()
    ub = Unbound(str(dns_dir), netns=netpair.b, address=netpair.B4)
    try:
        p = run([retina, "nsenter", "-t", str(pid), "-a", "--", "dig", f"@{netpair.B4}", "-p", str(ub.port),
                 "+short", "www.example.test"])
        assert p.returncode == 0, p.stderr
        assert sorted(p.stdout.split()) == ["192.0.2.10", "192.0.2.11"]
    finally:
        ub.close()


def test_targets_own_binary_wins_and_sees_its_network_and_hostname(retina, containers, netpair):
    require("busybox")
    pid = containers.start("--netns", f"/run/netns/{netpair.a}", "--hostname", "web-1",
                           "--copy", "/bin/busybox=/bin/busybox")
    p = run([retina, "nsenter", "-v", "-t", str(pid), "--", "busybox", "hostname"], check=0)
    assert p.stdout.strip() == "web-1"
    assert "running /bin/busybox of the target" in p.stderr
    p = run([retina, "nsenter", "-t", str(pid), "-n", "--", "/bin/busybox", "ip", "-4", "addr"], check=0)
    assert netpair.A4 in p.stdout
    # its veth peer answers from inside the container
    p = run([retina, "nsenter", "-t", str(pid), "-a", "--", "busybox", "ping", "-c1", "-W2", netpair.B4], check=0)
    assert "1 packets received" in p.stdout
    # exit status is the command's
    p = run([retina, "nsenter", "-t", str(pid), "--", "busybox", "sh", "-c", "exit 7"])
    assert p.returncode == 7
    # --applet forces this binary's applet even though a file of that name exists in the target
    p = run([retina, "nsenter", "-t", str(pid), "--applet", "--", "busybox"])
    assert p.returncode == 127 and "not an applet" in p.stderr


def test_only_entering_the_net_namespace_keeps_our_files(retina, containers, netpair):
    pid = containers.start("--netns", f"/run/netns/{netpair.a}")
    # our busybox (from the node) runs in the container's network namespace
    p = run([retina, "nsenter", "-t", str(pid), "-n", "--", "busybox", "ip", "-4", "addr"], check=0)
    assert netpair.A4 in p.stdout
    p = run([retina, "nsenter", f"--net=/run/netns/{netpair.b}", "--", "busybox", "ip", "-4", "addr"], check=0)
    assert netpair.B4 in p.stdout


def test_missing_command_and_shell_are_clear(retina, containers):
    pid = containers.start()
    p = run([retina, "nsenter", "-t", str(pid), "--", "tcpdump"])
    assert p.returncode == 127
    assert "'tcpdump' is neither in the target's PATH" in p.stderr
    p = run([retina, "nsenter", "-t", str(pid)], env=dict(os.environ, SHELL="/bin/sh"))
    assert p.returncode == 127
    assert "no shell /bin/sh in the target" in p.stderr and "capcheck" in p.stderr


# ---- errors --------------------------------------------------------------------------------

def test_no_such_pid(retina):
    p = run([retina, "nsenter", "-t", "2147483647", "--", "capcheck"])
    assert p.returncode == 1
    assert "no process with PID 2147483647" in p.stderr


def test_not_a_host_pid_shell_says_so(retina):
    require("unshare")
    shell = ["unshare", "--pid", "--fork", "--mount-proc", "--"]
    p = run(shell + [retina, "nsenter", "-t", "4000000", "--", "capcheck"])
    assert p.returncode == 1
    assert "not a host-PID shell" in p.stderr and "--host-pid" in p.stderr
    p = run(shell + [retina, "nsenter", "--pod", new_uid(), "--", "capcheck"])
    assert p.returncode == 1
    assert "not in the host's PID namespace" in p.stderr and "kubectl retina shell --host-pid" in p.stderr


def test_missing_sys_admin_is_named_with_the_flag(retina, containers):
    require("setpriv")
    pid = containers.start()
    drop = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-all", "--"]
    p = run(drop + [retina, "nsenter", "-t", str(pid), "-n", "--", "capcheck", "-q"])
    assert p.returncode == 1
    assert "entering the net namespace of PID" in p.stderr
    assert "EPERM: needs CAP_SYS_ADMIN: kubectl retina shell --capabilities SYS_ADMIN" in p.stderr


def test_bad_usage_exits_2(retina):
    for argv in (["-t", "abc"], ["--container", "x", "-t", "1"], ["--pod", "not-a-uid"], ["--pod", "/x"],
                 ["-t", "1", "--pod", new_uid()], ["--bogus"], ["-a"]):
        p = run([retina, "nsenter", *argv, "--", "capcheck"])
        assert p.returncode == 2, (argv, p.stderr)
        assert "--help" in p.stderr


# ---- --pod: pods found through real cgroup directories ----------------------------------------

def test_pod_by_uid_and_by_name_systemd_driver_cgroup_v2(retina, containers):
    uid, c = new_uid(), cid()
    pid = containers.start("--hostname", "web-7d9f", "--tmpfs", "/marker",
                           "--file", "/etc/hostname=web-7d9f\n",
                           "--file", "/var/run/secrets/kubernetes.io/serviceaccount/namespace=shop")
    slice_ = f"kubepods-besteffort-pod{uid.replace('-', '_')}.slice"
    containers.place(pid, v2_root(), f"kubepods.slice/kubepods-besteffort.slice/{slice_}/cri-containerd-{c}.scope")
    env = dict(os.environ, HOST_ROOT="/marker", RETINA_RUNTIME_STATE="/nonexistent")
    for pod in (uid, uid.replace("-", "_").upper(), "shop/web-7d9f"):
        p = run([retina, "nsenter", "-v", "--pod", pod, "--", "capcheck", "-o", "json"], env=env, check=0)
        assert json.loads(p.stdout)["process"]["host_fs"]["mounted"] is True, pod
        assert f"pod {uid} container ? ({c[:12]}): pid {pid}" in p.stderr
    # the wrong namespace does not match
    p = run([retina, "nsenter", "--pod", "other/web-7d9f", "--", "capcheck"], env=env)
    assert p.returncode == 1
    assert "no pod other/web-7d9f" in p.stderr and "no kubeconfig or in-cluster config" in p.stderr
    p = run([retina, "nsenter", "--list"], env=env, check=0)
    row = [l for l in p.stdout.splitlines() if l.startswith(uid)]
    assert row and row[0].split() == [uid, "shop", "web-7d9f", "?", c[:12], str(pid), "fake_container"]


def test_pod_with_several_containers_cgroupfs_driver_cgroup_v1(retina, containers, tmp_path):
    uid = new_uid()
    pause_c, web_c, side_c = cid(), cid(), cid()
    base = f"kubepods/burstable/pod{uid}"
    pause = containers.start("--comm", "pause")
    web = containers.start("--tmpfs", "/web", "--file", "/etc/resolv.conf=search  team-a.svc.cluster.local svc.cluster.local\n",
                           "--file", "/etc/hostname=api-0\n")
    side = containers.start("--tmpfs", "/sidecar")
    containers.place(pause, CGROUP_V1_PIDS, f"{base}/{pause_c}")
    containers.place(web, CGROUP_V1_PIDS, f"{base}/{web_c}")
    containers.place(side, CGROUP_V1_PIDS, f"{base}/{side_c}")
    no_state = dict(os.environ, RETINA_RUNTIME_STATE=str(tmp_path / "none"))

    p = run([retina, "nsenter", "--pod", uid, "--", "capcheck"], env=no_state)
    assert p.returncode == 1
    assert "several containers" in p.stderr and "--container NAME" in p.stderr
    assert f"({pause_c[:12]}, pause)" in p.stderr
    # an ID prefix picks one; the hostname and resolv.conf name the pod
    env = dict(no_state, HOST_ROOT="/sidecar")
    p = run([retina, "nsenter", "--pod", "team-a/api-0", "--container", side_c[:8], "--", "capcheck", "-o", "json"],
            env=env, check=0)
    assert json.loads(p.stdout)["process"]["host_fs"]["mounted"] is True

    # containerd's state names the containers and the pod
    for c, name in ((web_c, "web"), (side_c, "envoy"), (pause_c, "")):
        d = tmp_path / "state" / c
        d.mkdir(parents=True)
        ann = {"io.kubernetes.cri.sandbox-name": "api-0", "io.kubernetes.cri.sandbox-namespace": "team-b"}
        if name:
            ann["io.kubernetes.cri.container-name"] = name
        (d / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "annotations": ann}))
    env = dict(os.environ, RETINA_RUNTIME_STATE=str(tmp_path / "state"), HOST_ROOT="/web")
    p = run([retina, "nsenter", "--pod", "team-b/api-0", "--container", "web", "--", "capcheck", "-o", "json"],
            env=env, check=0)
    assert json.loads(p.stdout)["process"]["host_fs"]["mounted"] is True
    p = run([retina, "nsenter", "--pod", uid, "--container", "db", "--", "capcheck"], env=env)
    assert p.returncode == 1
    assert "has no container 'db'" in p.stderr and "web (" in p.stderr and "envoy (" in p.stderr
    p = run([retina, "nsenter", "--list"], env=env, check=0)
    rows = {tuple(l.split()[:4]) for l in p.stdout.splitlines() if l.startswith(uid)}
    assert rows == {(uid, "team-b", "api-0", "web"), (uid, "team-b", "api-0", "envoy"),
                    (uid, "team-b", "api-0", "(pause)")}


def test_pod_with_only_its_pause_container_enters_it_with_a_warning(retina, containers, netpair):
    uid = new_uid()
    pause = containers.start("--comm", "pause", "--netns", f"/run/netns/{netpair.a}")
    containers.place(pause, v2_root(), f"kubepods.slice/kubepods-pod{uid.replace('-', '_')}.slice/cri-containerd-{cid()}.scope")
    p = run([retina, "nsenter", "--pod", uid, "-n", "--", "busybox", "ip", "-4", "addr"], check=0)
    assert netpair.A4 in p.stdout
    assert "runs only its pause container" in p.stderr


def test_unknown_pod_uid_names_what_was_searched(retina):
    uid = new_uid()
    p = run([retina, "nsenter", "--pod", uid, "--", "capcheck"])
    assert p.returncode == 1
    assert f"no process of pod {uid} on this node" in p.stderr and "retina nsenter --list" in p.stderr


def test_capcheck_knows_what_nsenter_and_the_tracers_need(retina):
    p = run(["setpriv", "--bounding-set=-sys_admin,-bpf,-perfmon", "--inh-caps=-all", "--", retina, "capcheck",
             "-o", "json", "nsenter", "execsnoop", "traceloop"])
    assert p.returncode == 1
    tools = {t["tool"]: t for t in json.loads(p.stdout)["tools"]}
    assert tools["nsenter"]["flags"] == "--capabilities SYS_ADMIN"
    assert tools["execsnoop"]["flags"] == tools["traceloop"]["flags"] == "--capabilities PERFMON,BPF"
    p = run(["unshare", "--pid", "--fork", "--mount-proc", "--", retina, "capcheck", "-o", "json", "nsenter"])
    assert p.returncode == 1
    assert "--host-pid" in json.loads(p.stdout)["tools"][0]["flags"]


# ---- each namespace flag alone, --root DIR, --wd DIR ------------------------------------------

def ns_of(pid, kind):
    return os.readlink(f"/proc/{pid}/ns/{kind}")


@pytest.mark.parametrize("flag,kind", [("-u", "uts"), ("-i", "ipc"), ("-n", "net"), ("-p", "pid"),
                                       ("-C", "cgroup"), ("-U", "user")])
def test_each_namespace_flag_enters_that_namespace_only(retina, containers, flag, kind):
    """The node's busybox (no -m: our files) reports the namespaces it runs in."""
    require("busybox")
    if kind in ("cgroup", "user"):	# fake_container has neither: make a target that has
        args = ["--cgroup", "--fork"] if kind == "cgroup" else ["--user", "--map-root-user", "--fork"]
        target = containers.track(subprocess.Popen(["unshare", *args, "sleep", "60"]))
        for _ in range(100):	# unshare forks: the sleep is its child
            kids = open(f"/proc/{target.pid}/task/{target.pid}/children").read().split()
            if kids and ns_of(kids[0], kind) != ns_of("self", kind):
                break
            time.sleep(0.02)
        pid = int(kids[0])
    else:
        pid = containers.start("--hostname", "flagged")
    p = run([retina, "nsenter", "-t", str(pid), flag, "--", "busybox", "sh", "-c",
             "for k in uts ipc net pid cgroup user mnt; do echo $k $(readlink /proc/self/ns/$k); done; hostname"])
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    got = dict(l.split() for l in lines[:-1])
    for k, link in got.items():
        want = ns_of(pid, k) if k == kind else ns_of("self", k)
        assert link == want, (flag, k)
    assert ns_of(pid, kind) != ns_of("self", kind)
    if kind == "uts":
        assert lines[-1] == "flagged"
    if kind == "user":	# uid 0 inside, as util-linux makes it
        q = run([retina, "nsenter", "-t", str(pid), "-U", "--", "busybox", "cat", "/proc/self/uid_map"])
        assert q.stdout.split() == ["0", "0", "1"], q.stdout


def test_root_and_wd_directories(retina, containers, tmp_path):
    require("busybox")
    root = tmp_path / "newroot"
    (root / "bin").mkdir(parents=True)
    (root / "data" / "sub").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    # --root DIR: a node path, opened before entering; --wd DIR: a path inside the new root
    p = run([retina, "nsenter", "-t", str(os.getpid()), f"--root={root}", "--wd=/data/sub", "--",
             "/bin/busybox", "sh", "-c", "pwd; ls /"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["/data/sub", "bin", "data"]
    # with -m, the target's root and working directory are the defaults; -w alone: the target's cwd
    pid = containers.start("--copy", "/bin/busybox=/bin/busybox", "--tmpfs", "/work")
    p = run([retina, "nsenter", "-t", str(pid), "-m", "--wd=/work", "--", "/bin/busybox", "pwd"])
    assert p.stdout.strip() == "/work", p.stderr
    p = run([retina, "nsenter", "-t", str(pid), "-m", "--", "/bin/busybox", "pwd"])
    assert p.stdout.strip() == os.readlink(f"/proc/{pid}/cwd"), p.stderr
    p = run([retina, "nsenter", "-t", str(pid), "-m", "--wd=/no-such-dir", "--", "/bin/busybox", "true"])
    assert p.returncode == 1 and "--wd /no-such-dir" in p.stderr
