"""execsnoop for real: known commands run inside a test cgroup (or a kubelet-shaped pod
cgroup, or a fake container's mount namespace) are seen exactly, with their arguments and
results; execs elsewhere are filtered out in the kernel."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import require, run
from containers import CGROUP_V1_PIDS, cid, new_uid, v2_root
from ia32 import ia32_exec


class Snoop:
    """retina execsnoop in the background; ready once it has attached."""

    def __init__(self, retina, *args):
        self.p = subprocess.Popen([retina, "execsnoop", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        line = self.p.stderr.readline()
        assert "tracing execs" in line, line + self.p.stderr.read()

    def stop(self):
        time.sleep(0.3)	# let the last events reach the ring buffer's reader
        self.p.send_signal(signal.SIGINT)
        out, err = self.p.communicate(timeout=20)
        assert self.p.returncode == 0, err
        return out, err

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def in_cgroup_sh(cgdir, script):
    """sh that moves itself into cgdir, then runs script: only script's execs are inside."""
    return ["sh", "-c", f'echo $$ > "$0/cgroup.procs"; {script}', str(cgdir)]


def events(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def test_cgroup_filter_sees_exactly_the_commands_run_inside(retina, containers):
    cg = containers.mkdir(v2_root(), f"retina-execsnoop-{os.getpid()}")
    s = Snoop(retina, "-o", "json", "--cgroup", str(cg), "--duration", "60s")
    try:
        sh = subprocess.Popen(in_cgroup_sh(cg, "/bin/echo hello 'a b' >/dev/null; /nonexistent-cmd x 2>/dev/null; "
                                               "/bin/true --flag; :"))
        sh.wait(timeout=20)
        run(["/bin/echo", "outside-the-cgroup"], check=0)
        out, _ = s.stop()
    finally:
        s.kill()
    got = [(e["comm"], e["args"], e["ret"]) for e in events(out)]
    assert got == [("echo", ["/bin/echo", "hello", "a b"], 0),
                   ("sh", ["/nonexistent-cmd", "x"], -2),
                   ("true", ["/bin/true", "--flag"], 0)]
    evs = events(out)
    assert all(e["ppid"] == sh.pid for e in evs)
    assert evs[1]["error"] == "ENOENT"
    assert len({e["cgroup_id"] for e in evs}) == 1 and evs[0]["cgroup_id"] == os.stat(cg).st_ino


def test_table_columns_and_comm_filter(retina, containers):
    cg = containers.mkdir(v2_root(), f"retina-execsnoop-t{os.getpid()}")
    s = Snoop(retina, "--cgroup", cg.name, "--comm", "true")	# relative to the cgroup2 mount
    try:
        sh = subprocess.Popen(in_cgroup_sh(cg, "/bin/echo not-this >/dev/null; /bin/true only-this; :"))
        sh.wait(timeout=20)
        out, _ = s.stop()
    finally:
        s.kill()
    lines = out.splitlines()
    assert lines[0].split() == ["PCOMM", "PID", "PPID", "RET", "ARGS"]
    assert len(lines) == 2, out
    comm, pid, ppid, ret, *args = lines[1].split()
    assert (comm, int(ppid), ret, args) == ("true", sh.pid, "0", ["/bin/true", "only-this"])


def test_pod_uid_on_cgroup_v2_follows_every_container_below_the_pod(retina, containers):
    uid = new_uid()
    pod = f"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid.replace('-', '_')}.slice"
    c1 = containers.mkdir(v2_root(), f"{pod}/cri-containerd-{cid()}.scope")
    # a pod process that waits for a line, then runs its commands
    app = containers.track(subprocess.Popen(in_cgroup_sh(c1, "read x; /bin/echo in-pod; exec /bin/true done"),
                                            stdin=subprocess.PIPE, text=True))
    for _ in range(100):
        if str(app.pid) in (c1 / "cgroup.procs").read_text():
            break
        time.sleep(0.02)
    s = Snoop(retina, "-o", "json", "--pod", uid)
    try:
        run(["/bin/echo", "not-in-pod"], check=0)
        app.communicate("go\n", timeout=20)
        out, _ = s.stop()
    finally:
        s.kill()
    assert [(e["comm"], e["args"]) for e in events(out)] == [("echo", ["/bin/echo", "in-pod"]),
                                                           ("true", ["/bin/true", "done"])]


def test_pod_on_cgroup_v1_is_followed_by_its_mount_namespace(retina, containers):
    require("busybox")
    uid = new_uid()
    ctr = containers.start("--copy", "/bin/busybox=/bin/busybox")
    containers.place(ctr, CGROUP_V1_PIDS, f"kubepods/besteffort/pod{uid}/{cid()}")
    s = Snoop(retina, "-o", "json", "--pod", uid)
    try:
        run([retina, "nsenter", "-t", str(ctr), "-m", "--", "/bin/busybox", "echo", "in-v1-pod"], check=0)
        run(["/bin/echo", "on-the-node"], check=0)
        out, _ = s.stop()
    finally:
        s.kill()
    got = [(e["comm"], e["args"]) for e in events(out)]
    assert got == [("busybox", ["/bin/busybox", "echo", "in-v1-pod"])]
    assert events(out)[0]["mntns"] == os.stat(f"/proc/{ctr}/ns/mnt").st_ino


def test_mntns_filter(retina, containers):
    require("busybox")
    ctr = containers.start("--copy", "/bin/busybox=/bin/busybox")
    mnt = os.stat(f"/proc/{ctr}/ns/mnt").st_ino
    s = Snoop(retina, "-o", "json", "--mntns", str(mnt))
    try:
        run([retina, "nsenter", "-t", str(ctr), "-m", "--", "/bin/busybox", "true", "in-mntns"], check=0)
        run(["/bin/true", "outside"], check=0)
        out, _ = s.stop()
    finally:
        s.kill()
    assert [(e["args"], e["mntns"]) for e in events(out)] == [(["/bin/busybox", "true", "in-mntns"], mnt)]


def test_duration_stops_by_itself(retina):
    t = time.monotonic()
    p = run([retina, "execsnoop", "-o", "json", "--comm", "no-such-comm", "-d", "1s"], check=0, timeout=30)
    assert time.monotonic() - t < 10
    assert p.stdout == ""


def test_errors(retina):
    p = run([retina, "execsnoop", "--pod", new_uid()])
    assert p.returncode == 1 and "no process of that pod" in p.stderr
    p = run([retina, "execsnoop", "--cgroup", "/no-such-cgroup-here"])
    assert p.returncode == 1 and "is a cgroup v2 directory" in p.stderr and "neither" in p.stderr
    for bad in (["-d", "soon"], ["--comm", "a-name-longer-than-15"], ["--mntns", "x"], ["extra"],
                ["--pod", "not-a-uid"], ["--pod", new_uid(), "--mntns", "4026531840"], ["-o", "yaml"]):
        p = run([retina, "execsnoop", *bad])
        assert p.returncode == 2, (bad, p.stderr)
    p = run([retina, "execsnoop", *["--mntns", "4026531840"] * 65])	# one over the filter's 64
    assert p.returncode == 2 and "at most 64 mount namespaces" in p.stderr, p.stderr
    drop = ["setpriv", "--bounding-set=-bpf,-perfmon,-sys_admin", "--inh-caps=-all", "--"]
    p = run(drop + [retina, "execsnoop", "-d", "1s"])
    assert p.returncode == 1
    assert "EPERM" in p.stderr and "--capabilities BPF,PERFMON" in p.stderr



def test_signal_while_stdout_is_blocked_loses_no_event(retina, containers):
    """A reader that falls behind (a full pipe nobody reads) when Ctrl-C comes: the
    blocked write finishes (SA_RESTART) rather than failing with EINTR and dropping
    stdio's buffer, so every event already taken from the ring still comes out whole."""
    cg = containers.mkdir(v2_root(), f"retina-execsnoop-s{os.getpid()}")
    s = Snoop(retina, "-o", "json", "--cgroup", str(cg))
    n = 120	# ~1.3 KB a line: ~50 fill the 64 KiB pipe, the rest wait in the 256 KiB ring
    long_arg = "x" * 250
    try:
        sh = subprocess.Popen(in_cgroup_sh(cg, f"i=0; while [ $i -lt {n} ]; do /bin/true {' '.join([long_arg] * 5)} "
                                               "$i; i=$((i+1)); done"))
        sh.wait(timeout=60)
        time.sleep(0.5)	# execsnoop is now stuck in a write
        s.p.send_signal(signal.SIGINT)
        time.sleep(0.2)
        out, err = s.p.communicate(timeout=30)
    finally:
        s.kill()
    assert s.p.returncode == 0, err
    evs = events(out)	# raises on a line cut short and glued to the next
    assert all(e["args"][:6] == ["/bin/true"] + [long_arg] * 5 for e in evs)
    assert [e["args"][6] for e in evs] == [str(i) for i in range(n)], err


def test_exec_from_a_second_thread_reports_the_process(retina, containers, helpers):
    """execve from a thread that is not the leader: at its return the thread has taken
    the leader's PID (de_thread), so an exec tracked by thread ID would vanish."""
    cg = containers.mkdir(v2_root(), f"retina-execsnoop-th{os.getpid()}")
    s = Snoop(retina, "-o", "json", "--cgroup", str(cg))
    try:
        sh = subprocess.Popen(in_cgroup_sh(cg, f'{helpers["exec_from_thread"]} /bin/echo from-a-thread & '
                                               'echo $! > /dev/stderr; wait'), stderr=subprocess.PIPE, text=True)
        child = int(sh.stderr.readline())
        sh.wait(timeout=20)
        out, _ = s.stop()
    finally:
        s.kill()
    evs = [e for e in events(out) if e["args"][:1] == ["/bin/echo"]]
    assert [(e["comm"], e["args"], e["ret"], e["pid"], e["ppid"]) for e in evs] == \
        [("echo", ["/bin/echo", "from-a-thread"], 0, child, sh.pid)]


def test_32_bit_compat_execve_is_seen(retina, containers, tmp_path):
    """int 0x80 execve is syscall 11 of the i386 table, not 59: it must be seen, with its
    32-bit argv, and i386 syscalls that share 59 or 322 with x86_64 execs must not be."""
    exe = ia32_exec(tmp_path)
    cg = containers.mkdir(v2_root(), f"retina-execsnoop-32-{os.getpid()}")
    s = Snoop(retina, "-o", "json", "--cgroup", str(cg))
    try:
        sh = subprocess.Popen(in_cgroup_sh(cg, f"{exe} >/dev/null"))
        sh.wait(timeout=20)
        out, _ = s.stop()
    finally:
        s.kill()
    got = [(e["comm"], e["args"], e["ret"]) for e in events(out)]
    assert got == [("ia32-exec", [exe], 0),	# the shell starts the i386 program (a native execve)
                   ("ia32-exec", ["/bin/echo", "ia32-marker"], -2),
                   ("echo", ["/bin/echo", "ia32-marker"], 0)]
    assert len({e["pid"] for e in events(out)}) == 1


def test_json_names_the_pod_from_the_runtimes_state(retina, containers, tmp_path, monkeypatch):
    """"pod": namespace/name beside cgroup_id, from containerd's state on disk for the container's ID."""
    uid, c = new_uid(), cid()
    pod = f"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid.replace('-', '_')}.slice"
    c1 = containers.mkdir(v2_root(), f"{pod}/cri-containerd-{c}.scope")
    d = tmp_path / "state" / c
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "annotations": {
        "io.kubernetes.cri.sandbox-name": "api-0", "io.kubernetes.cri.sandbox-namespace": "team-a"}}))
    monkeypatch.setenv("RETINA_RUNTIME_STATE", str(tmp_path / "state"))
    app = containers.track(subprocess.Popen(in_cgroup_sh(c1, "read x; exec /bin/sleep 3"), stdin=subprocess.PIPE,
                                            text=True))
    for _ in range(100):
        if str(app.pid) in (c1 / "cgroup.procs").read_text():
            break
        time.sleep(0.02)
    s = Snoop(retina, "-o", "json", "--pod", uid)
    try:
        app.stdin.write("go\n")
        app.stdin.flush()
        out, _ = s.stop() if wait_exec(app.pid) else (None, None)
    finally:
        s.kill()
    assert [(e["comm"], e.get("pod")) for e in events(out)] == [("sleep", "team-a/api-0")], out


def wait_exec(pid):
    """True once pid runs /bin/sleep (its exec happened)."""
    for _ in range(200):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "sleep":
                return True
        except OSError:
            return False
        time.sleep(0.02)
    return False
