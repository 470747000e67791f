"""Fake containers and kubelet-shaped cgroups for tests: fake_container (helpers/) gives a
process its own mount, UTS, IPC, PID and network namespaces and an empty tmpfs root;
Containers puts such processes (or any) into real cgroup directories, and undoes it all."""
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

CGROUP_V2 = Path("/sys/fs/cgroup/unified")	# this host is hybrid; a pure v2 host has it at /sys/fs/cgroup
CGROUP_V1_PIDS = Path("/sys/fs/cgroup/pids")


def v2_root():
    for p in (CGROUP_V2, Path("/sys/fs/cgroup")):
        if (p / "cgroup.procs").exists() and (p / "cgroup.controllers").exists():
            return p
    pytest.fail("no cgroup2 mount found at /sys/fs/cgroup/unified or /sys/fs/cgroup")


class Containers:
    """Start fake containers and put them into cgroups; undo everything at the end."""

    def __init__(self, helper):
        self.helper = helper
        self.procs = []
        self.cgroups = []	# directories we created, deepest last

    def start(self, *args):
        p = subprocess.Popen([self.helper, *args], stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        assert line.strip().isdigit(), f"fake_container did not start: {line!r}"
        return int(line)

    def mkdir(self, base, rel):
        """Create the cgroup directory base/rel (and its parents); removed at close."""
        d = base
        for part in Path(rel).parts:
            d = d / part
            if not d.exists():
                d.mkdir()
                self.cgroups.append(d)
        return d

    def place(self, pid, base, rel):
        d = self.mkdir(base, rel)
        (d / "cgroup.procs").write_text(f"{pid}\n")
        return d

    def track(self, popen):
        """A process the test started: terminated at close, before its cgroups are removed."""
        self.procs.append(popen)
        return popen

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for d in reversed(self.cgroups):
            for _ in range(50):	# a dead process leaves its cgroup a moment later
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def new_uid():
    return str(uuid.uuid4())


def cid():
    return uuid.uuid4().hex + uuid.uuid4().hex
