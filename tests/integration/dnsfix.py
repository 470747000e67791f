"""DNS peers for tests: a real unbound serving a test zone on a loopback port,
and a tiny hostile server (answers that are malformed on purpose)."""
import os
import socket
import struct
import subprocess
import threading
import time

from procs import stop

ZONE = [
    "example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 900 1209600 300",
    "example.test. 3600 IN NS ns1.example.test.",
    "example.test. 3600 IN NS ns2.example.test.",
    "example.test. 3600 IN MX 10 mail.example.test.",
    "example.test. 3600 IN MX 20 mail2.example.test.",
    'example.test. 3600 IN TXT "hello world" "second string"',
    'example.test. 3600 IN TXT "v=spf1 -all"',
    'example.test. 3600 IN CAA 0 issue "letsencrypt.org"',
    "example.test. 3600 IN A 192.0.2.80",
    "ns1.example.test. 3600 IN A 192.0.2.53",
    "www.example.test. 300 IN A 192.0.2.10",
    "www.example.test. 300 IN A 192.0.2.11",
    "www.example.test. 300 IN AAAA 2001:db8::10",
    "alias.example.test. 300 IN CNAME www.example.test.",
    "_sip._tcp.example.test. 300 IN SRV 10 5 5060 sip.example.test.",
    "10.2.0.192.in-addr.arpa. 300 IN PTR www.example.test.",
    "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR www.example.test.",
    "api.svc.cluster.test. 30 IN A 192.0.2.99",
    "www.example.test.other.test. 30 IN A 192.0.2.66",
] + [f'big.example.test. 300 IN TXT "{i:02d} {"x" * 200}"' for i in range(10)]


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (a small race, on loopback only)."""
    for _ in range(50):
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


class Unbound:
    """unbound in the foreground on 127.0.0.1:port (or on `address` inside network
    namespace `netns`), every answer local (no recursion out)."""

    def __init__(self, workdir, netns=None, address="127.0.0.1"):
        self.port = free_port()
        self.address = address
        inside = ["ip", "netns", "exec", netns] if netns else []
        conf = os.path.join(workdir, "unbound.conf")
        interfaces = [f"{address}@{self.port}"] + ([f"::1@{self.port}"] if not netns else [])
        lines = [
            "server:",
            *[f"  interface: {i}" for i in interfaces],
            f"  port: {self.port}",
            "  do-daemonize: no", '  username: ""', '  chroot: ""', f'  directory: "{workdir}"',
            '  pidfile: ""', "  use-syslog: no", "  do-ip6: yes", "  num-threads: 1",
            '  module-config: "iterator"', "  access-control: 127.0.0.0/8 allow", "  access-control: ::1 allow",
            "  access-control: 192.0.2.0/24 allow", "  access-control: 2001:db8::/64 allow",
            "  rrset-roundrobin: no",
            '  local-zone: "." static',	# never recurse out: unknown names are NXDOMAIN
            '  local-zone: "test." static',
            '  local-zone: "example.test." static',
            '  local-zone: "2.0.192.in-addr.arpa." static',
            '  local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." static',
        ] + [f"  local-data: '{rr}'" for rr in ZONE] + [
            "remote-control:", "  control-enable: no",
        ]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(workdir, "unbound.log"), "w")
        self.proc = subprocess.Popen(inside + ["unbound", "-d", "-c", conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"unbound exited {self.proc.returncode}; see {self.log.name}")
            p = subprocess.run(inside + ["dig", f"@{address}", "-p", str(self.port), "+short", "+time=1",
                                         "+tries=1", "www.example.test"], capture_output=True, text=True)
            if "192.0.2.10" in p.stdout:
                return
            time.sleep(0.1)
        self.close()
        raise RuntimeError("unbound did not answer within 15 s")

    def close(self):
        stop(self.proc)
        self.log.close()


def _name(n):
    return b"".join(bytes([len(label)]) + label.encode() for label in n.split(".") if label) + b"\0"


class HostileServer:
    """UDP (and TCP) server on 127.0.0.1 answering every query with one crafted reply.
    mode: loop | truncated_record | wrong_id | wrong_question | tc_then_bad_tcp | label_past_end,
    or record: a proper NXDOMAIN, keeping each query's (ID, source port) in self.seen"""

    def __init__(self, mode):
        self.mode = mode
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket()
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(4)
        self.stop = False
        self.queries = 0
        self.seen = []
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def reply(self, query):
        qid = struct.unpack(">H", query[:2])[0]
        qlen = query.index(b"\0", 12) + 5
        question = query[12:qlen]
        m = self.mode
        if m == "silent":
            return None
        if m == "record":
            return struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question
        if m == "loop":
            # the answer's owner name is a pointer to itself
            at = 12 + len(question)
            rr = struct.pack(">H", 0xC000 | at) + struct.pack(">HHIH", 1, 1, 60, 4) + bytes(4)
            return struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr
        if m == "truncated_record":
            rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 400) + bytes(4)
            return struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr
        if m == "label_past_end":
            return struct.pack(">HHHHHH", qid, 0x8180, 1, 0, 0, 0) + b"\x3fabc"
        if m == "wrong_id":
            return struct.pack(">HHHHHH", qid ^ 0x5555, 0x8180, 1, 0, 0, 0) + question
        if m == "wrong_question":
            return struct.pack(">HHHHHH", qid, 0x8180, 1, 0, 0, 0) + _name("evil.test") + b"\0\1\0\1"
        if m == "tc_then_bad_tcp":
            return struct.pack(">HHHHHH", qid, 0x8380, 1, 0, 0, 0) + question
        raise ValueError(m)

    def _serve_udp(self):
        self.udp.settimeout(0.2)
        while not self.stop:
            try:
                data, peer = self.udp.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            self.queries += 1
            self.seen.append((struct.unpack(">H", data[:2])[0], peer[1]))
            answer = self.reply(data)
            if answer:
                self.udp.sendto(answer, peer)

    def _serve_tcp(self):
        self.tcp.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.tcp.accept()
            except (socket.timeout, OSError):
                continue
            with c:
                c.settimeout(2)
                try:
                    n = struct.unpack(">H", c.recv(2))[0]
                    c.recv(n)
                    # a length that promises more than is sent, then close
                    c.sendall(struct.pack(">H", 1000) + b"\0" * 20)
                except (OSError, struct.error):
                    pass

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join(timeout=2)
        self.udp.close()
        self.tcp.close()
