"""Test peers for curl: a small HTTP/1.1 server (in a thread) that records what it
received, and `openssl s_server -www` with a certificate from tests/fixtures/mkpki.sh."""
import gzip
import http.server
import json
import os
import socket
import subprocess
import threading
import time

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
BIG = bytes((i * 7) % 251 for i in range(100000))


def free_port(family=socket.AF_INET, addr="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def make_pki(d):
    subprocess.run(["sh", os.path.join(FIXTURES, "mkpki.sh"), str(d)], check=True)
    return str(d)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self, body=b""):
        self.server.requests.append({"method": self.command, "path": self.path,
                                     "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": body.decode("latin-1")})

    def reply(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route(self, body=b""):
        self.record(body)
        p = self.path.split("?")[0]
        if p == "/":
            self.reply(200, b"hello\n")
        elif p == "/big":
            self.reply(200, BIG, "application/octet-stream")
        elif p == "/echo":
            self.reply(200, json.dumps(self.server.requests[-1]).encode(), "application/json")
        elif p == "/missing":
            self.reply(404, b"nope\n")
        elif p == "/redir":
            self.reply(302, b"moved\n", extra=[("Location", "/")])
        elif p == "/redir-abs":
            self.reply(301, b"", extra=[("Location", f"http://127.0.0.1:{self.server.server_port}/big")])
        elif p == "/see-other":
            self.reply(303, b"", extra=[("Location", "echo")])
        elif p == "/loop":
            self.reply(302, b"", extra=[("Location", "/loop")])
        elif p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first part,", b"second part,", b"x" * 5000, b"end\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif p == "/gzip":
            z = gzip.compress(BIG)
            self.reply(200, z, "application/octet-stream", [("Content-Encoding", "gzip")])
        elif p == "/slow":
            time.sleep(3)
            self.reply(200, b"late\n")
        else:
            self.reply(404, b"no such path\n")

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.route(self.rfile.read(n))

    do_PUT = do_POST


class HTTPServer:
    """A threaded HTTP/1.1 server on addr (an ephemeral port); .requests lists what came."""

    def __init__(self, addr="127.0.0.1"):
        cls = http.server.ThreadingHTTPServer
        if ":" in addr:
            cls = type("V6", (http.server.ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
        self.srv = cls((addr, 0), Handler)
        self.srv.daemon_threads = True
        self.srv.requests = []
        self.port = self.srv.server_port
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    @property
    def requests(self):
        return self.srv.requests

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class SServer:
    """openssl s_server -www with pki/NAME.{crt,key} on addr:port (a fresh port)."""

    def __init__(self, pki, name, addr="127.0.0.1", extra=()):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.port = free_port(fam, addr)
        acc = f"[{addr}]:{self.port}" if ":" in addr else f"{addr}:{self.port}"
        self.p = subprocess.Popen(["openssl", "s_server", "-accept", acc, "-www", "-quiet",
                                   "-cert", f"{pki}/{name}.crt", "-key", f"{pki}/{name}.key", *extra],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((addr, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError("openssl s_server did not start")

    def close(self):
        self.p.kill()
        self.p.wait()
