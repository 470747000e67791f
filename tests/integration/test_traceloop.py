"""traceloop for real: a background recorder on a test cgroup, the seed demo run in a
"container" cgroup that is then removed, and `show` recovering what it did; bounds under
a syscall storm; the pod lookup; errors."""
import json
import os
import re
import signal
import subprocess
import time

import pytest
from conftest import require, run
from ia32 import ia32_exec
from containers import CGROUP_V1_PIDS, cid, new_uid, v2_root


class Recorder:
    def __init__(self, retina, sock):
        self.retina, self.sock, self.pid = retina, str(sock), None

    def start(self, *args, expect=0):
        p = run([self.retina, "traceloop", "record", "--socket", self.sock, *args], timeout=30)
        assert p.returncode == expect, p.stdout + p.stderr
        m = re.search(r"pid (\d+), socket", p.stdout)
        if m:
            self.pid = int(m.group(1))
        return p

    def cmd(self, *args, expect=0):
        p = run([self.retina, "traceloop", *args, "--socket", self.sock])
        assert p.returncode == expect, p.stdout + p.stderr
        return p

    def close(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            for _ in range(100):
                if not os.path.exists(f"/proc/{self.pid}"):
                    break
                time.sleep(0.05)


@pytest.fixture
def recorder(retina, tmp_path):
    r = Recorder(retina, tmp_path / "tl.sock")
    try:
        yield r
    finally:
        r.close()


def run_in(cgdir, argv, **kw):
    """Run argv with its process moved into cgdir first (a shell that joins, then execs)."""
    return run(["sh", "-c", 'echo $$ > "$0/cgroup.procs"; exec "$@"', str(cgdir), *argv], **kw)


def test_seed_demo_is_recovered_after_the_container_is_gone(retina, containers, recorder, tmp_path):
    require("bash", "bc")
    scope = containers.mkdir(v2_root(), f"retina-traceloop-{os.getpid()}")
    ctr = containers.mkdir(scope, "ctr-1")
    p = recorder.start("--cgroup", str(scope))
    assert "up to 32 containers x 2048 records x 168 B = 10.5 MiB" in p.stdout
    work = tmp_path / "work"
    work.mkdir()
    demo = 'echo "3*7*2" | bc > file-$RANDOM; cat file-$RANDOM'
    p = run_in(ctr, ["bash", "-c", demo], cwd=work)
    assert p.returncode == 1	# cat looks for another $RANDOM: the bug traceloop shows
    written = os.listdir(work)
    assert len(written) == 1 and (work / written[0]).read_text() == "42\n"
    recorder.cmd("list")	# the recorder names cgroups while they exist (every 500 ms, and on list)
    ctr.rmdir()		# the container is gone; its ring stays
    containers.cgroups.remove(ctr)

    rows = [l.split() for l in recorder.cmd("list").stdout.splitlines()[1:]]
    row = [r for r in rows if r[-1] == str(ctr)]
    assert row and row[0][4] == "exited", rows
    out = recorder.cmd("show", row[0][0]).stdout
    assert re.search(r'^\d\d:\d\d\.\d{9} cpu#\d+ pid \d+ \[bc\] write\(fd=1, buf="42\\n", count=3\) = 3$', out, re.M), out
    created = re.findall(r'openat\(dfd=-100, filename="(file-\d+)", flags=577, mode=438\) = 3$', out, re.M)
    missing = re.findall(r'\[cat\] openat\(dfd=-100, filename="(file-\d+)", flags=0, mode=0\) = -1 ENOENT$', out,
                         re.M)
    assert created == written and len(missing) == 1 and missing[0] != created[0], out
    assert re.search(r'\[bc\] read\(fd=0, count=\d+\) = 6 "3\*7\*2\\n"$', out, re.M)
    assert re.search(r'execve\(argv=\["cat", "file-\d+"\]\) = 0$', out, re.M)
    assert re.search(r'\[cat\] exit_group\(status=1\) = \?$', out, re.M)
    js = json.loads(recorder.cmd("show", row[0][0], "-o", "json").stdout)
    assert any(e["syscall"] == "write" and e["comm"] == "bc" and e["result"] == "3" for e in js)
    # clear forgets the records; the container stays listed
    assert recorder.cmd("clear", row[0][0]).stdout.strip() == f"cleared {row[0][0]}"
    assert recorder.cmd("show", row[0][0]).stdout == ""
    assert json.loads(recorder.cmd("list", "-o", "json").stdout)[int(row[0][0])]["records"] == 0
    assert recorder.cmd("stop").stdout.strip() == "stopped"
    for _ in range(100):
        if not os.path.exists(f"/proc/{recorder.pid}"):
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{recorder.pid}")
    assert not os.path.exists(recorder.sock)


def test_syscall_storm_keeps_only_the_last_records(retina, containers, recorder):
    scope = containers.mkdir(v2_root(), f"retina-traceloop-s{os.getpid()}")
    a, b = containers.mkdir(scope, "a"), containers.mkdir(scope, "b")
    p = recorder.start("--cgroup", str(scope), "--records", "64", "--slots", "1")
    assert "up to 1 containers x 64 records x 168 B = 10.5 KiB" in p.stdout
    run_in(a, ["python3", "-c", "import os\nfor _ in range(20000): os.getppid()"], check=0)
    run_in(b, ["python3", "-c", "import os; os.getppid()"], check=0)	# no slot left for b
    listing = json.loads(recorder.cmd("list", "-o", "json").stdout)
    assert len(listing) == 1
    assert listing[0]["records"] == 64 and listing[0]["written"] > 40000
    assert listing[0]["path"] == str(a)
    footer = recorder.cmd("list").stdout.splitlines()[-1]
    assert re.fullmatch(r"\(\d+ syscalls of cgroups beyond the 1 slots were not recorded: restart with more "
                        r"--slots\)", footer), footer
    lines = recorder.cmd("show", "0").stdout.splitlines()
    assert 32 <= len(lines) <= 64
    assert any("getppid() = " in l for l in lines)


def test_pod_uid_names_pod_and_container(retina, containers, recorder):
    uid, c = new_uid(), cid()
    pod = f"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid.replace('-', '_')}.slice"
    ctr = containers.mkdir(v2_root(), f"{pod}/cri-containerd-{c}.scope")
    app = containers.track(subprocess.Popen(["sh", "-c", 'echo $$ > "$0/cgroup.procs"; read x; /bin/true',
                                             str(ctr)], stdin=subprocess.PIPE, text=True))
    for _ in range(100):
        if str(app.pid) in (ctr / "cgroup.procs").read_text():
            break
        time.sleep(0.02)
    recorder.start("--pod", uid)
    app.communicate("go\n", timeout=20)
    rows = [l.split() for l in recorder.cmd("list").stdout.splitlines()[1:]]
    assert rows and rows[0][2] == uid and rows[0][3] == c[:12], rows
    out = recorder.cmd("show", c[:10]).stdout	# by container ID prefix
    assert 'execve(argv=["/bin/true"]) = 0' in out


def test_pod_on_cgroup_v1_gets_a_ring_per_mount_namespace(retina, containers, recorder):
    require("busybox")
    uid, c = new_uid(), cid()
    ctr = containers.start("--copy", "/bin/busybox=/bin/busybox")
    containers.place(ctr, CGROUP_V1_PIDS, f"kubepods/besteffort/pod{uid}/{c}")
    p = recorder.start("--pod", uid)
    assert f"the mount namespaces of {uid}" in p.stdout
    run([retina, "nsenter", "-t", str(ctr), "-m", "--", "/bin/busybox", "sh", "-c", "echo hi > /x"], check=0)
    run(["/bin/echo", "on-the-node"], check=0)
    mnt = os.stat(f"/proc/{ctr}/ns/mnt").st_ino
    listing = json.loads(recorder.cmd("list", "-o", "json").stdout)
    assert [(e["mntns"], e["pod_uid"], e["container_id"], e["state"]) for e in listing] == \
        [(mnt, uid, c, "running")]
    out = recorder.cmd("show", "0").stdout
    assert re.search(r'\[busybox\] openat\(dfd=-100, filename="/x", flags=577, mode=438\) = 3$', out, re.M), out
    # even the way in is recorded: nsenter's setns returned into this mount namespace
    assert re.search(r'\[retina\] setns\(\.\.\.\) = 0$', out, re.M)
    assert 'write(fd=1, buf="hi\\n", count=3) = 3' in out
    assert "on-the-node" not in out
    containers.close()	# the container exits; its ring stays
    assert json.loads(recorder.cmd("list", "-o", "json").stdout)[0]["state"] == "exited"
    assert 'buf="hi\\n"' in recorder.cmd("show", c[:12]).stdout


def test_all_stays_within_its_slots_and_records(retina, recorder):
    p = recorder.start("--all", "--slots", "4", "--records", "16")
    assert "recording syscalls of every cgroup: up to 4 containers x 16 records" in p.stdout
    for _ in range(3):
        run(["/bin/true"], check=0)
    listing = json.loads(recorder.cmd("list", "-o", "json").stdout)
    assert 1 <= len(listing) <= 4
    assert all(e["records"] <= 16 and e["records"] == min(e["written"], 16) for e in listing)
    for e in listing:
        assert len(recorder.cmd("show", str(e["id"])).stdout.splitlines()) <= 16


def test_relative_socket_path_and_cwd(retina, containers, tmp_path):
    scope = containers.mkdir(v2_root(), f"retina-traceloop-r{os.getpid()}")
    r = Recorder(retina, "rel.sock")
    try:
        p = run([retina, "traceloop", "record", "--cgroup", str(scope), "--socket", "rel.sock"], cwd=tmp_path, check=0)
        r.pid = int(re.search(r"pid (\d+), socket", p.stdout).group(1))
        assert f"socket {tmp_path}/rel.sock" in p.stdout
        assert os.readlink(f"/proc/{r.pid}/cwd") == "/"
        assert run([retina, "traceloop", "list", "--socket", "rel.sock"], cwd=tmp_path).returncode == 0
    finally:
        r.close()


def test_errors(retina, recorder, containers, tmp_path):
    p = recorder.cmd("list", expect=1)
    assert "no recorder is running" in p.stderr and "traceloop record" in p.stderr
    for bad in ([], ["--all", "--pod", new_uid()], ["--all", "--records", "100"], ["--all", "--slots", "0"],
                ["--cgroup"], ["--all", "extra"], ["--mntns", "x"], ["--all", "--mntns", "4026531840"]):
        p = run([retina, "traceloop", "record", "--socket", str(tmp_path / "x.sock"), *bad])
        assert p.returncode == 2, (bad, p.stderr)
    for bad in (["frob"], ["show"], ["show", "1", "2"], ["list", "-o", "yaml"]):
        assert run([retina, "traceloop", *bad]).returncode == 2, bad
    p = run([retina, "traceloop", "record", "--cgroup", "/no-such-cgroup", "--socket", str(tmp_path / "x.sock")])
    assert p.returncode == 1 and "is a cgroup v2 directory" in p.stderr
    scope = containers.mkdir(v2_root(), f"retina-traceloop-e{os.getpid()}")
    recorder.start("--cgroup", str(scope))
    p = recorder.start("--cgroup", str(scope), expect=1)
    assert "already runs" in p.stderr
    p = recorder.cmd("show", "7", expect=1)
    assert "no recorded container '7'" in p.stderr
    drop = ["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin", "--inh-caps=-all", "--"]
    p = run(drop + [retina, "traceloop", "record", "--all", "--foreground", "--socket", str(tmp_path / "y.sock")])
    assert p.returncode == 1 and "--capabilities BPF,PERFMON" in p.stderr


NET_AND_CLONE = r"""
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(2, b"/etc/hostname", 0, 0)	# open(2) itself: libc only calls openat
os.close(fd)
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen()
    cli = socket.socket(fam, socket.SOCK_STREAM)
    cli.connect(srv.getsockname()[:2])
    print(srv.getsockname()[1], flush=True)
    cli.close(), srv.close()
pid = os.fork()
if pid == 0:
    os._exit(3)
os.waitpid(pid, 0)
print(pid)
"""


def test_decoded_open_connect_bind_clone_exit_group(retina, containers, recorder):
    scope = containers.mkdir(v2_root(), f"retina-traceloop-n{os.getpid()}")
    recorder.start("--cgroup", str(scope))
    p = run_in(scope, ["python3", "-c", NET_AND_CLONE], check=0)
    port4, port6, child = (int(x) for x in p.stdout.split())
    out = recorder.cmd("show", "0").stdout
    assert re.search(r'\[python3\] open\(filename="/etc/hostname", flags=0, mode=0\) = \d+$', out, re.M), out
    assert re.search(r"bind\(fd=\d+, addr=127\.0\.0\.1:0, addrlen=16\) = 0$", out, re.M), out
    assert re.search(rf"connect\(fd=\d+, addr=127\.0\.0\.1:{port4}, addrlen=16\) = 0$", out, re.M), out
    assert re.search(r"bind\(fd=\d+, addr=\[::1\]:0, addrlen=28\) = 0$", out, re.M), out
    assert re.search(rf"connect\(fd=\d+, addr=\[::1\]:{port6}, addrlen=28\) = 0$", out, re.M), out
    assert re.search(rf"\[python3\] clone\(flags=0x[0-9a-f]*11\) = {child}$", out, re.M), out	# SIGCHLD in the low byte
    assert re.search(rf"^\S+ cpu#\d+ pid {child} \[python3\] exit_group\(status=3\) = \?$", out, re.M), out
    js = json.loads(recorder.cmd("show", "0", "-o", "json").stdout)
    clone = [e for e in js if e["syscall"] == "clone"]
    assert clone and clone[0]["ret"] == child and clone[0]["pid"] == clone[0]["tid"]
    assert all({"time_ns", "cpu", "pid", "tid", "comm", "syscall"} <= set(e) for e in js)


def test_i386_syscalls_are_named_from_their_own_table(retina, containers, recorder, tmp_path):
    exe = ia32_exec(tmp_path)
    scope = containers.mkdir(v2_root(), f"retina-traceloop-32-{os.getpid()}")
    recorder.start("--cgroup", str(scope))
    run_in(scope, [exe], check=0)
    out = recorder.cmd("show", "0").stdout
    # int 0x80 execve is i386 call 11 (munmap in the x86_64 table); its arguments stay raw
    assert re.search(r"\[ia32-exec\] i386:execve\(0x[0-9a-f]+, 0x[0-9a-f]+, 0x0\) = -1 ENOENT$", out, re.M), out
    assert "[ia32-exec] munmap" not in out
    assert re.search(r'\[echo\] write\(fd=1, buf="ia32-marker\\n", count=12\) = 12$', out, re.M), out


def test_recorder_restarts_after_stop_and_after_a_kill(retina, containers, recorder):
    scope = containers.mkdir(v2_root(), f"retina-traceloop-k{os.getpid()}")
    for how in ("stop", "kill"):
        recorder.start("--cgroup", str(scope))
        run_in(scope, ["/bin/echo", f"before-{how}"], check=0)
        assert f'buf="before-{how}\\n"' in recorder.cmd("show", "0").stdout
        if how == "stop":
            assert recorder.cmd("stop").stdout.strip() == "stopped"
        else:
            os.kill(recorder.pid, signal.SIGKILL)	# leaves its socket file behind
        for _ in range(100):
            if not os.path.exists(f"/proc/{recorder.pid}"):
                break
            time.sleep(0.05)
        assert os.path.exists(recorder.sock) == (how == "kill")
        for cmd in (["list"], ["show", "0"], ["clear", "0"], ["stop"]):
            p = recorder.cmd(*cmd, expect=1)
            assert "no recorder is running" in p.stderr and "retina traceloop record" in p.stderr, (cmd, p.stderr)
    # a new recorder on the same socket starts empty: the rings were the old one's
    recorder.start("--cgroup", str(scope))
    assert json.loads(recorder.cmd("list", "-o", "json").stdout) == []
    run_in(scope, ["/bin/echo", "after"], check=0)
    out = recorder.cmd("show", "0").stdout
    assert 'buf="after\\n"' in out and "before-" not in out


def test_exec_from_a_second_thread_is_one_line(retina, containers, recorder, helpers):
    """execve entered by a non-leader thread returns in the thread that took the leader's ID:
    show pairs the two halves anyway."""
    scope = containers.mkdir(v2_root(), f"retina-traceloop-th{os.getpid()}")
    recorder.start("--cgroup", str(scope))
    run_in(scope, [helpers["exec_from_thread"], "/bin/echo", "from-a-thread"], check=0)
    out = recorder.cmd("show", "0").stdout
    lines = [l for l in out.splitlines() if "from-a-thread" in l and "execve" in l]
    assert len(lines) == 1 and lines[0].endswith(') = 0'), out
    leader = int(re.search(r" pid (\d+) ", lines[0]).group(1))
    js = json.loads(recorder.cmd("show", "0", "-o", "json").stdout)
    ex = [e for e in js if e["syscall"] == "execve" and "from-a-thread" in e.get("args", "")]
    assert len(ex) == 1 and ex[0]["ret"] == 0 and ex[0]["pid"] == leader and ex[0]["tid"] != leader


def test_list_names_the_pod_from_the_runtimes_state(retina, containers, recorder, tmp_path, monkeypatch):
    """list: the pod's namespace/name (containerd's state on disk for the container's ID) beside its UID."""
    uid, c = new_uid(), cid()
    pod = f"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid.replace('-', '_')}.slice"
    ctr = containers.mkdir(v2_root(), f"{pod}/cri-containerd-{c}.scope")
    d = tmp_path / "state" / c
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "annotations": {
        "io.kubernetes.cri.sandbox-name": "api-0", "io.kubernetes.cri.sandbox-namespace": "team-a"}}))
    monkeypatch.setenv("RETINA_RUNTIME_STATE", str(tmp_path / "state"))
    app = containers.track(subprocess.Popen(["sh", "-c", 'echo $$ > "$0/cgroup.procs"; read x; /bin/true',
                                             str(ctr)], stdin=subprocess.PIPE, text=True))
    for _ in range(100):
        if str(app.pid) in (ctr / "cgroup.procs").read_text():
            break
        time.sleep(0.02)
    recorder.start("--pod", uid)
    app.stdin.write("go\n")
    app.stdin.flush()
    listing = json.loads(recorder.cmd("list", "-o", "json").stdout)
    assert [(e["pod_uid"], e["pod"]) for e in listing] == [(uid, "team-a/api-0")], listing
    rows = [l.split() for l in recorder.cmd("list").stdout.splitlines()[1:]]
    assert rows and rows[0][2] == uid and rows[0][6] == "team-a/api-0", rows
    app.communicate("", timeout=20)
