"""Run `retina trace` in the background for a test: wait until it has attached, let
the test provoke events, stop it with SIGINT and hand back the parsed events."""
import json
import os
import select
import signal
import subprocess
import time


class Tracer:
    def __init__(self, retina, *args, env=None, prefix=()):
        """prefix: a command that runs retina (setpriv ... --)."""
        self.argv = [*prefix, retina, "trace", "-o", "json", *args]
        self.env = env
        self.proc = None
        self.stdout = self.stderr = ""
        self.banner = ""

    def __enter__(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=self.env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stderr], [], [], 0.5)
            if r:
                # straight from the fd: a buffered readline could hold back a line select never sees
                chunk = os.read(self.proc.stderr.fileno(), 65536)
                if not chunk:
                    break
                self.banner += chunk.decode(errors="replace")
                if " attached " in self.banner:
                    return self
            elif self.proc.poll() is not None:
                break
        self.proc.kill()
        out, err = self.proc.communicate()
        raise AssertionError(f"retina trace did not attach: {self.banner}{err}")

    def stop(self, settle=0.5):
        """SIGINT after `settle` seconds (the reader drains on a 100 ms timer)."""
        if self.proc.poll() is None:
            time.sleep(settle)
            self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=20)
        self.stdout, self.stderr = out, self.banner + err
        return self.proc.returncode

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def events(self, pair=None):
        """Parsed events; with pair, only those of its two namespaces (other jobs on
        this machine may use the same documentation addresses at the same time)."""
        evs = [json.loads(line) for line in self.stdout.splitlines()]
        if pair is None:
            return evs
        mine = {pair.inode(pair.a), pair.inode(pair.b)}
        return [e for e in evs if e.get("netns") in mine]


def find(events, type_, **fields):
    """Events of type_ whose fields all equal the given values."""
    return [e for e in events if e["type"] == type_ and all(e.get(k) == v for k, v in fields.items())]


def wait_for(pred, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def finish(p, sig=signal.SIGINT):
    """Stop a background process (sig; None: let it end), its exit code, stdout and p.errf's text."""
    try:
        if sig:
            p.send_signal(sig)
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    return p.returncode, out, p.errf.read_text()


PY_CONNECT = """
import socket, sys
host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
if timeout > 0:
    s.settimeout(timeout)
try:
    s.connect((host, port))
    print('connected')
except OSError as e:
    print('error', e.errno)
"""


def connect(pair, ns, host, port, timeout=0):
    """A TCP connect from namespace ns; returns 'connected' or 'error ERRNO'."""
    p = pair.run(ns, ["python3", "-c", PY_CONNECT, host, str(port), str(timeout)], timeout=60)
    return p.stdout.strip()


def py_env():
    env = dict(os.environ)
    return env


def fdinfo_ids(pid, field):
    """The BPF object ids (field: prog_id, map_id, link_id) of every fd process pid holds."""
    import re
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            m = re.search(rf"^{field}:\s+(\d+)", open(f"/proc/{pid}/fdinfo/{fd}").read(), re.M)
        except OSError:
            continue	# closed meanwhile
        if m:
            ids.add(int(m.group(1)))
    return ids
