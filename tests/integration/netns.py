"""Test networks: two network namespaces joined by a veth pair, made and removed by
the test itself. Addresses come from the documentation ranges (192.0.2.0/24,
2001:db8::/64), never the podman bridge; traffic stays inside the namespaces."""
import itertools
import os
import subprocess

_seq = itertools.count()


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class NetPair:
    """Namespaces `a` and `b`; a has 192.0.2.1 and 2001:db8::1, b has .2 and ::2."""

    A4, B4 = "192.0.2.1", "192.0.2.2"
    A6, B6 = "2001:db8::1", "2001:db8::2"

    def __init__(self):
        n = next(_seq)
        tag = f"rt{os.getpid() % 100000}x{n}"
        self.a, self.b = f"{tag}a", f"{tag}b"
        self.veth_a, self.veth_b = f"{tag}va", f"{tag}vb"
        self._made = []
        try:
            for ns in (self.a, self.b):
                _ip("netns", "add", ns)
                self._made.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            _ip("link", "add", self.veth_a, "netns", self.a, "type", "veth", "peer", "name", self.veth_b,
                "netns", self.b)
            for ns, dev, v4, v6 in ((self.a, self.veth_a, self.A4, self.A6), (self.b, self.veth_b, self.B4, self.B6)):
                _ip("-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
                _ip("-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
                _ip("-n", ns, "link", "set", dev, "up")
        except Exception:
            self.close()
            raise

    def cmd(self, ns, argv):
        """argv to run inside namespace ns (a list; never a shell string)."""
        return ["ip", "netns", "exec", ns, *argv]

    def run(self, ns, argv, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(self.cmd(ns, argv), **kw)

    def popen(self, ns, argv, **kw):
        return subprocess.Popen(self.cmd(ns, argv), **kw)

    def inode(self, ns):
        """The namespace's inode, as tracers report it."""
        return os.stat(f"/run/netns/{ns}").st_ino

    def close(self):
        for ns in self._made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self._made = []
