"""retina curl against real peers on loopback: openssl s_server (PKI made by mkpki.sh),
a small HTTP/1.1 server, and a blackholed peer in a test namespace; compared with
Debian's curl where behaviour should match."""
import gzip
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import require, run
from httpfix import BIG, HTTPServer, SServer, free_port, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    require("openssl")
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def web():
    s = HTTPServer()
    yield s
    s.close()


@pytest.fixture
def tls(pki):
    made = []

    def start(name, addr="127.0.0.1", extra=()):
        s = SServer(pki, name, addr, extra)
        made.append(s)
        return s
    yield start
    for s in made:
        s.close()


def curl(retina, *args, **kw):
    return run([retina, "curl", *args], **kw)


def runb(argv):
    """Run argv with byte output (bodies are compared byte for byte)."""
    return subprocess.run(argv, capture_output=True, timeout=60)


def real_curl(*args, **kw):
    require("curl")
    return run(["curl", *args], **kw)


WOUT = "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total} %{http_code}\\n"


# ---- TLS ------------------------------------------------------------------

def test_tls_verified_with_cacert_matches_curl(retina, pki, tls):
    s = tls("server-ip")
    url = f"https://127.0.0.1:{s.port}/"
    a = curl(retina, "-sS", "--cacert", f"{pki}/ca.crt", url, "-w", "%{http_code}\\n")
    assert a.returncode == 0, a.stderr
    assert "<HTML>" in a.stdout and a.stdout.endswith("200\n")
    b = real_curl("-sS", "--cacert", f"{pki}/ca.crt", url, "-w", "%{http_code}\\n")
    assert b.returncode == 0 and b.stdout.endswith("200\n")


@pytest.mark.parametrize("cert,words", [
    ("server-other", "certificate signed by unknown authority"),
    ("server-dns", "certificate is valid for DNS:localhost, DNS:kubernetes.default.svc, not 127.0.0.1"),
    ("server-expired", "certificate has expired: it is valid from 2020-01-01 00:00:00 UTC to 2020-01-02"),
    ("server-future", "certificate is not yet valid"),
])
def test_tls_certificate_problems_exit_60_like_curl(retina, pki, tls, cert, words):
    s = tls(cert)
    url = f"https://127.0.0.1:{s.port}/"
    a = curl(retina, "--cacert", f"{pki}/ca.crt", url)
    assert a.returncode == 60
    assert a.stdout == ""
    lines = a.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("retina curl: (60) SSL certificate problem: x509: ")
    assert words in lines[0]
    assert real_curl("-s", "--cacert", f"{pki}/ca.crt", url).returncode == 60
    # -s hides the line, -sS shows it again
    assert curl(retina, "-s", "--cacert", f"{pki}/ca.crt", url).stderr == ""
    assert "(60)" in curl(retina, "-sS", "--cacert", f"{pki}/ca.crt", url).stderr


def test_insecure_skips_verification_with_a_warning(retina, pki, tls):
    s = tls("server-other")
    p = curl(retina, "-k", f"https://127.0.0.1:{s.port}/")
    assert p.returncode == 0 and "<HTML>" in p.stdout
    assert "warning: not verifying the server's certificate (-k)" in p.stderr


def test_ipv6_url_with_ip_san(retina, pki, tls):
    s = tls("server-ip", "::1")
    p = curl(retina, "-sS", "--cacert", f"{pki}/ca.crt", f"https://[::1]:{s.port}/", "-w", "%{remote_ip}")
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith("::1")


def test_dns_name_verified_through_resolve(retina, pki, tls):
    s = tls("server-dns")
    p = curl(retina, "-sS", "--cacert", f"{pki}/ca.crt", "--resolve", f"localhost:{s.port}:127.0.0.1",
             f"https://localhost:{s.port}/", "-o", "/dev/null", "-w", "%{http_code}")
    assert (p.returncode, p.stdout) == (0, "200"), p.stderr


def test_verbose_shows_tls_and_certificate_and_headers(retina, pki, tls):
    s = tls("server-ip")
    p = curl(retina, "-v", "--cacert", f"{pki}/ca.crt", f"https://127.0.0.1:{s.port}/", "-o", "/dev/null")
    assert p.returncode == 0, p.stderr
    e = p.stderr
    assert re.search(r"^\* SSL connection using TLSv1\.2 / ECDHE-RSA-AES(128|256)-GCM-SHA(256|384)$", e, re.M)
    assert "*  subject: CN=kube-apiserver\n" in e
    assert "*  subjectAltName: IP:127.0.0.1, IP:::1\n" in e
    assert "*  issuer: CN=retina-test-ca\n" in e
    assert re.search(r"^\*  expire date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", e, re.M)
    assert "*  SSL certificate verify ok.\n" in e
    assert f"> GET / HTTP/1.1\n> Host: 127.0.0.1:{s.port}\n" in e
    assert "< HTTP/1.0 200 ok\n" in e


def test_client_certificate_when_the_server_demands_one(retina, pki, tls):
    s = tls("server-ip", extra=["-Verify", "1", "-CAfile", f"{pki}/ca.crt"])
    url = f"https://127.0.0.1:{s.port}/"
    p = curl(retina, "-sS", "--cacert", f"{pki}/ca.crt", "--cert", f"{pki}/client-ec.crt",
             "--key", f"{pki}/client-ec.key", url)
    assert p.returncode == 0 and "<HTML>" in p.stdout, p.stderr
    p = curl(retina, "--cacert", f"{pki}/ca.crt", url)
    assert p.returncode in (35, 56), p.stderr       # refused in the handshake or right after it
    assert real_curl("-s", "--cacert", f"{pki}/ca.crt", url).returncode in (35, 56)


def test_verbose_with_k_says_not_verified(retina, pki, tls):
    s = tls("server-other")
    p = curl(retina, "-vk", f"https://127.0.0.1:{s.port}/", "-o", "/dev/null")
    assert p.returncode == 0
    assert "*  issuer: CN=someone-else\n" in p.stderr
    assert "SSL certificate verify result: NOT verified (-k)" in p.stderr


def test_system_bundle_from_ssl_cert_file(retina, pki, tls):
    s = tls("server-ip")
    url = f"https://127.0.0.1:{s.port}/"
    env = dict(os.environ, SSL_CERT_FILE=f"{pki}/ca.crt")
    assert curl(retina, "-sS", url, env=env).returncode == 0
    env["SSL_CERT_FILE"] = "/nonexistent/ca.pem"
    p = curl(retina, url, env=env)
    assert p.returncode == 77 and "/nonexistent/ca.pem" in p.stderr


def test_tls_to_a_plain_port_is_a_handshake_error_35(retina, web):
    url = f"https://127.0.0.1:{web.port}/"
    p = curl(retina, "-k", url, timeout=20)
    assert p.returncode == 35, p.stderr
    assert "(35) TLS handshake with 127.0.0.1 failed" in p.stderr
    assert real_curl("-sk", url).returncode == 35


@pytest.fixture
def raw_listener():
    """A TCP listener on 127.0.0.1 that never speaks: accept=False leaves connections in
    the backlog (the TCP handshake completes, nothing else), accept=True closes each at once."""
    made = []

    def start(accept):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        made.append(s)
        if accept:
            def loop():
                while True:
                    try:
                        c, _ = s.accept()
                    except OSError:
                        return
                    c.recv(4096)
                    c.close()
            threading.Thread(target=loop, daemon=True).start()
        return s.getsockname()[1]
    yield start
    for s in made:
        s.close()


def test_silent_tls_server_times_out_28(retina, raw_listener):
    port = raw_listener(False)
    t0 = time.monotonic()
    p = curl(retina, "--connect-timeout", "1", f"https://127.0.0.1:{port}/")
    assert p.returncode == 28, p.stderr
    assert "(28) TLS handshake with 127.0.0.1 timed out" in p.stderr
    assert time.monotonic() - t0 < 3


def test_empty_reply_is_52_like_curl(retina, raw_listener):
    url = f"http://127.0.0.1:{raw_listener(True)}/"
    p = curl(retina, url, "-w", "%{http_code}")
    assert p.returncode == 52 and "(52) Empty reply from server" in p.stderr
    assert p.stdout == "000"
    assert real_curl("-s", url).returncode == 52


def test_https_write_out_times_are_ordered(retina, pki, tls):
    s = tls("server-ip")
    p = curl(retina, "-sS", "--cacert", f"{pki}/ca.crt", f"https://127.0.0.1:{s.port}/", "-o", "/dev/null",
             "-w", WOUT)
    assert p.returncode == 0, p.stderr
    f = p.stdout.split()
    t = [float(x) for x in f[:5]]
    assert t == sorted(t) and t[2] > 0, p.stdout
    assert f[5] == "200"


# ---- plain HTTP -------------------------------------------------------------

def test_get_body_to_stdout_and_file_like_curl(retina, web, tmp_path):
    url = f"http://127.0.0.1:{web.port}/big"
    a = runb([retina, "curl", "-s", url])
    b = runb(["curl", "-s", url])
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout == BIG
    out = tmp_path / "body"
    p = curl(retina, "-s", "-o", str(out), url)
    assert p.returncode == 0 and p.stdout == ""
    assert out.read_bytes() == BIG
    # -f on an error status leaves no file behind
    gone = tmp_path / "gone"
    assert curl(retina, "-sf", "-o", str(gone), f"http://127.0.0.1:{web.port}/missing").returncode == 22
    assert not gone.exists()


def test_head_prints_headers_only(retina, web):
    p = runb([retina, "curl", "-I", f"http://127.0.0.1:{web.port}/"])
    assert p.returncode == 0
    out = p.stdout.decode()
    assert out.startswith("HTTP/1.1 200 OK\r\n")
    assert "Content-Length: 6\r\n" in out and out.endswith("\r\n\r\n")
    assert "hello" not in out
    assert web.requests[-1]["method"] == "HEAD"


def test_post_data_and_headers_reach_the_server(retina, web):
    p = curl(retina, "-sS", "-H", "X-Test: yes", "-d", "a=1", "-d", "b=2", f"http://127.0.0.1:{web.port}/echo")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["method"] == "POST" and got["body"] == "a=1&b=2"
    assert got["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert got["headers"]["x-test"] == "yes"
    p = curl(retina, "-sS", "-X", "PUT", "-H", "Content-Type: application/json", "--data-binary", '{"x":1}',
             f"http://127.0.0.1:{web.port}/echo")
    got = json.loads(p.stdout)
    assert (got["method"], got["body"], got["headers"]["content-type"]) == ("PUT", '{"x":1}', "application/json")


def test_fail_exits_22_on_404_like_curl(retina, web):
    url = f"http://127.0.0.1:{web.port}/missing"
    a = curl(retina, url)
    assert a.returncode == 0 and a.stdout == "nope\n"
    a = curl(retina, "-f", url)
    assert a.returncode == 22 and a.stdout == ""
    assert a.stderr == "retina curl: (22) The requested URL returned error: 404\n"
    assert real_curl("-sf", url).returncode == 22
    w = curl(retina, "-s", "-o", "/dev/null", "-w", "%{http_code}", url)
    assert w.stdout == real_curl("-s", "-o", "/dev/null", "-w", "%{http_code}", url).stdout == "404"


def test_location_followed_with_L_only(retina, web):
    base = f"http://127.0.0.1:{web.port}"
    p = curl(retina, "-s", f"{base}/redir", "-w", "%{http_code}")
    assert p.stdout == "moved\n302"
    p = curl(retina, "-sL", f"{base}/redir", "-w", "%{http_code} %{num_redirects}")
    assert p.stdout == "hello\n200 1"
    a = runb([retina, "curl", "-sL", f"{base}/redir-abs"])
    assert a.returncode == 0 and a.stdout == BIG
    # 303 after a POST: GET of the relative target
    p = curl(retina, "-sL", "-d", "x=1", f"{base}/see-other")
    assert json.loads(p.stdout)["method"] == "GET"
    p = curl(retina, "-L", "--max-redirs", "3", f"{base}/loop")
    assert p.returncode == 47 and "Maximum (3) redirects followed" in p.stderr
    assert real_curl("-sL", "--max-redirs", "3", f"{base}/loop").returncode == 47


def test_write_out_fields_ordered_http(retina, web):
    p = curl(retina, "-s", "-o", "/dev/null", "-w", WOUT + "%{size_download} %{remote_port}",
             f"http://127.0.0.1:{web.port}/big")
    lines = p.stdout.splitlines()
    f = lines[0].split()
    t = [float(x) for x in f[:5]]
    assert t[0] <= t[1] <= t[3] <= t[4] and t[2] == 0.0    # curl: appconnect 0 without TLS
    assert f[5] == "200"
    assert lines[1] == f"{len(BIG)} {web.port}"


def test_resolve_pins_an_address(retina, web, tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    env = dict(os.environ, RETINA_RESOLV_CONF=str(conf))
    url = f"http://pinned.invalid:{web.port}/echo"
    p = curl(retina, "-sS", "--resolve", f"pinned.invalid:{web.port}:127.0.0.1", url, env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["headers"]["host"] == f"pinned.invalid:{web.port}"
    p = curl(retina, url, env=env)
    assert p.returncode == 6 and "(6) Could not resolve host: pinned.invalid" in p.stderr


def test_refused_is_7_like_curl(retina):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    p = curl(retina, url)
    assert p.returncode == 7 and "Connection refused" in p.stderr
    assert real_curl("-s", url).returncode == 7


def test_connect_timeout_on_blackholed_peer(retina, netpair):
    netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "tcp", "--dport", "80", "-j", "DROP"])
    t0 = time.monotonic()
    p = netpair.run(netpair.a, [retina, "curl", "--connect-timeout", "1", f"http://{netpair.B4}/"])
    took = time.monotonic() - t0
    assert p.returncode == 28, p.stderr
    assert "(28) Failed to connect to 192.0.2.2 port 80 after" in p.stderr
    assert took < 3


def test_max_time_bounds_a_slow_server(retina, web):
    t0 = time.monotonic()
    p = curl(retina, "-m", "0.5", f"http://127.0.0.1:{web.port}/slow")
    assert p.returncode == 28 and "Operation timed out" in p.stderr
    assert time.monotonic() - t0 < 2


def test_chunked_and_gzip_bodies_decoded(retina, web):
    p = curl(retina, "-sS", f"http://127.0.0.1:{web.port}/chunked")
    assert p.stdout == "first part,second part," + "x" * 5000 + "end\n"
    url = f"http://127.0.0.1:{web.port}/gzip"
    a = runb([retina, "curl", "-sS", "--compressed", url])
    assert a.returncode == 0 and a.stdout == BIG
    assert web.requests[-1]["headers"]["accept-encoding"] == "gzip"
    assert runb(["curl", "-sS", "--compressed", url]).stdout == BIG
    # without --compressed the bytes are passed through, as curl does
    raw = runb([retina, "curl", "-sS", url]).stdout
    assert gzip.decompress(raw) == BIG


def test_ipv6_plain_http(retina):
    s = HTTPServer("::1")
    try:
        p = curl(retina, "-sS", f"http://[::1]:{s.port}/echo")
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["headers"]["host"] == f"[::1]:{s.port}"
    finally:
        s.close()


@pytest.mark.parametrize("args", [["--bogus", "http://x/"], [], ["http://a/", "http://b/"],
                                  ["--resolve", "nope", "http://x/"], ["-m", "soon", "http://x/"]])
def test_usage_errors_exit_2(retina, args):
    p = curl(retina, *args)
    assert p.returncode == 2
    assert len(p.stderr.splitlines()) == 1 and "--help" in p.stderr


def test_bad_url_exits_3_or_1(retina):
    assert curl(retina, "http://").returncode == 3
    assert curl(retina, "ftp://example.test/").returncode == 1


def test_names_resolved_through_etc_hosts(retina, web):
    # localhost comes from /etc/hosts (A before AAAA): the server listens on 127.0.0.1 only
    p = curl(retina, "-sS", "-o", "/dev/null", "-w", "%{remote_ip} %{http_code}", f"http://localhost:{web.port}/")
    assert (p.returncode, p.stdout) == (0, "127.0.0.1 200"), p.stderr
