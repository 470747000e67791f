"""retina dig against a real unbound (compared with bind9's dig) and against hostile servers."""
import re
import time

import pytest

from conftest import require, run
from dnsfix import HostileServer, Unbound


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    require("unbound", "dig")
    u = Unbound(str(tmp_path_factory.mktemp("unbound")))
    yield u
    u.close()


def ours(retina, port, *args, check=0, **kw):
    return run([retina, "dig", "@127.0.0.1", "-p", str(port), *args], check=check, **kw)


def bind(port, *args):
    return run(["dig", "@127.0.0.1", "-p", str(port), *args], check=0)


QUERIES = [
    ("www.example.test", "A"), ("www.example.test", "AAAA"), ("alias.example.test", "CNAME"),
    ("example.test", "MX"), ("example.test", "NS"), ("example.test", "SOA"),
    ("_sip._tcp.example.test", "SRV"), ("example.test", "TXT"), ("example.test", "CAA"),
    ("10.2.0.192.in-addr.arpa", "PTR"), ("nope.example.test", "A"), ("www.example.test", "MX"),
    ("www.example.test", "ANY"),
]


@pytest.mark.parametrize("name,qtype", QUERIES)
def test_short_answers_match_bind9_dig(retina, unbound, name, qtype):
    a = ours(retina, unbound.port, "+short", name, qtype)
    b = bind(unbound.port, "+short", name, qtype)
    assert sorted(a.stdout.splitlines()) == sorted(b.stdout.splitlines())
    if name != "nope.example.test" and not (name.startswith("www") and qtype in ("MX", "ANY")):
        assert a.stdout.strip(), f"no answer for {name} {qtype}"


@pytest.mark.parametrize("addr", ["192.0.2.10", "2001:db8::10"])
def test_reverse_lookup_matches_bind9(retina, unbound, addr):
    a = ours(retina, unbound.port, "+short", "-x", addr)
    b = bind(unbound.port, "+short", "-x", addr)
    assert a.stdout == b.stdout == "www.example.test.\n"


def normalize(out):
    """Drop what legitimately differs: the banner, ids, timings, the date."""
    lines = []
    for line in out.splitlines():
        if line.startswith("; <<>>") or line.startswith(";; WHEN:"):
            continue
        line = re.sub(r"id: \d+", "id: N", line)
        line = re.sub(r"Query time: \d+", "Query time: N", line)
        lines.append(line)
    return lines


@pytest.mark.parametrize("args", [["www.example.test"], ["example.test", "MX"], ["nope.example.test"],
                                  ["example.test", "SOA", "+norecurse"], ["+tcp", "example.test", "TXT"],
                                  ["+noedns", "example.test", "CAA"], ["-x", "192.0.2.10"],
                                  ["_sip._tcp.example.test", "SRV"], ["www.example.test", "AAAA"],
                                  ["a-very-long-label-to-push-the-columns.example.test"],
                                  ["-x", "2001:db8::10"], ["example.test", "ANY"]])
def test_full_output_is_bind9s_line_for_line(retina, unbound, args):
    a = ours(retina, unbound.port, *args)
    b = bind(unbound.port, *args)
    # bind prints the server list line after the banner; the rest must match exactly
    assert normalize(a.stdout) == normalize(b.stdout)


def test_nxdomain_is_an_answer_with_status_and_authority(retina, unbound):
    p = ours(retina, unbound.port, "nope.example.test")
    assert "status: NXDOMAIN" in p.stdout
    assert ";; AUTHORITY SECTION:\nexample.test.\t\t300\tIN\tSOA\tns1.example.test." in p.stdout


def test_truncated_udp_answer_is_retried_over_tcp(retina, unbound):
    p = ours(retina, unbound.port, "big.example.test", "TXT")
    assert ";; Truncated, retrying in TCP mode." in p.stdout
    assert "(TCP)" in p.stdout
    assert p.stdout.count("\tTXT\t") == 10
    short = ours(retina, unbound.port, "+short", "big.example.test", "TXT")
    assert sorted(short.stdout.splitlines()) == sorted(bind(unbound.port, "+short", "big.example.test",
                                                            "TXT").stdout.splitlines())
    # +ignore keeps the truncated UDP answer
    ign = ours(retina, unbound.port, "+ignore", "big.example.test", "TXT")
    assert "(UDP)" in ign.stdout and " tc" in ign.stdout


def test_search_list_and_ndots_show_each_name_tried(retina, unbound, tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\nsearch svc.cluster.test example.test other.test\n"
                    "options ndots:5 timeout:1 attempts:1\n")
    env = {"RETINA_RESOLV_CONF": str(conf), "PATH": "/usr/bin:/bin"}
    # "www" (0 dots < 5): search domains first; the second one answers
    p = run([retina, "dig", "-p", str(unbound.port), "+search", "www"], check=0, env=env)
    assert ";; trying www.svc.cluster.test.: NXDOMAIN" in p.stdout
    assert ";; trying www.example.test.: NOERROR, 2 answers" in p.stdout
    assert "www.other.test." not in p.stdout
    assert "192.0.2.10" in p.stdout
    # the pod surprise: www.example.test has 2 dots < 5, so the suffixes come first and one matches
    p = run([retina, "dig", "-p", str(unbound.port), "+search", "www.example.test"], check=0, env=env)
    tried = re.findall(r";; trying (\S+):", p.stdout)
    assert tried == ["www.example.test.svc.cluster.test.", "www.example.test.example.test.",
                     "www.example.test.other.test."]
    assert "192.0.2.66" in p.stdout
    # with ndots:1 the name as given goes first
    conf.write_text("nameserver 127.0.0.1\nsearch svc.cluster.test other.test\noptions ndots:1\n")
    p = run([retina, "dig", "-p", str(unbound.port), "+search", "+short", "www.example.test"], check=0, env=env)
    assert sorted(p.stdout.split()) == ["192.0.2.10", "192.0.2.11"]
    # +nosearch (the default) asks the name as given only
    p = run([retina, "dig", "-p", str(unbound.port), "+short", "api"], check=0, env=env)
    assert p.stdout == ""


def test_next_server_is_tried_when_one_fails(retina, unbound, tmp_path):
    conf = tmp_path / "resolv.conf"
    # nothing listens on 127.0.0.2 at that port: refused at once, then 127.0.0.1 answers
    conf.write_text("nameserver 127.0.0.2\nnameserver 127.0.0.1\n")
    p = run([retina, "dig", "-p", str(unbound.port), "www.example.test", "AAAA"], check=0,
            env={"RETINA_RESOLV_CONF": str(conf)})
    assert f"no usable answer from 127.0.0.2#{unbound.port}" in p.stderr
    assert "connection refused" in p.stderr
    assert f";; SERVER: 127.0.0.1#{unbound.port}(127.0.0.1) (UDP)" in p.stdout
    # -6 keeps only IPv6 servers: none here
    p = run([retina, "dig", "-6", "-p", str(unbound.port), "www.example.test"], env={"RETINA_RESOLV_CONF": str(conf)})
    assert p.returncode == 1 and "no IPv6 nameserver" in p.stderr


def test_resolv_conf_servers_are_used_without_at_server(retina, unbound, tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\n")
    p = run([retina, "dig", "-p", str(unbound.port), "www.example.test", "AAAA", "+short"], check=0,
            env={"RETINA_RESOLV_CONF": str(conf)})
    assert p.stdout == "2001:db8::10\n"


@pytest.mark.parametrize("mode,words", [
    ("loop", "loop"),
    ("truncated_record", "past the end"),
    ("label_past_end", "past the end"),
    ("wrong_id", "ID"),
    ("wrong_question", "does not match"),
    ("tc_then_bad_tcp", "TCP"),
])
def test_hostile_responses_give_a_clear_error_not_a_hang(retina, mode, words):
    srv = HostileServer(mode)
    try:
        t0 = time.monotonic()
        p = run([retina, "dig", "@127.0.0.1", "-p", str(srv.port), "+timeout=1", "+tries=1", "x.example.test"],
                timeout=20)
        took = time.monotonic() - t0
    finally:
        srv.close()
    assert p.returncode == 1, p.stdout + p.stderr
    assert words in p.stderr, p.stderr
    assert "127.0.0.1#" in p.stderr
    assert took < 5
    assert "Traceback" not in p.stderr and "Sanitizer" not in p.stderr


def test_closed_port_is_refused_quickly(retina):
    from dnsfix import free_port
    port = free_port()
    t0 = time.monotonic()
    p = run([retina, "dig", "@127.0.0.1", "-p", str(port), "+timeout=3", "x.test"])
    assert p.returncode == 1
    assert "connection refused" in p.stderr
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize("args,words", [
    (["+bogus", "x.test"], "unknown query option '+bogus'"),
    (["-t", "NOPE", "x.test"], "unknown type 'NOPE'"),
    (["-x", "not-an-ip"], "-x needs"),
    (["+timeout=0", "x.test"], "+timeout"),
    (["a..b"], "not a valid DNS name"),
    (["-Z"], "unknown option '-Z'"),
])
def test_usage_errors_exit_2_with_one_line(retina, args, words):
    p = run([retina, "dig", *args])
    assert p.returncode == 2
    assert words in p.stderr
    assert len(p.stderr.splitlines()) == 1


def test_default_port_is_53(retina):
    # a fresh network namespace with lo down: the send fails, and the error names the server and port
    p = run(["unshare", "-n", retina, "dig", "@127.0.0.1", "+tries=1", "+timeout=1", "x.test"])
    assert p.returncode == 1
    assert "127.0.0.1#53" in p.stderr


def test_query_ids_and_source_ports_are_random(retina):
    srv = HostileServer("record")
    try:
        for _ in range(8):
            p = run([retina, "dig", "@127.0.0.1", "-p", str(srv.port), "+short", "x.example.test"])
            assert p.returncode == 0, p.stderr
    finally:
        srv.close()
    ids = {i for i, _ in srv.seen}
    ports = {port for _, port in srv.seen}
    assert len(srv.seen) == 8
    assert len(ids) >= 7 and len(ports) >= 7, srv.seen


def test_resolv_conf_timeout_and_attempts_apply(retina, tmp_path):
    srv = HostileServer("silent")
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
    try:
        t0 = time.monotonic()
        p = run([retina, "dig", "-p", str(srv.port), "x.example.test"], env={"RETINA_RESOLV_CONF": str(conf)})
        took = time.monotonic() - t0
        # +tries on the command line wins over resolv.conf
        q = run([retina, "dig", "-p", str(srv.port), "+tries=1", "x.example.test"],
                env={"RETINA_RESOLV_CONF": str(conf)})
    finally:
        srv.close()
    assert p.returncode == 1
    assert "timed out: no answer in 2 tries of 1000 ms" in p.stderr
    assert 1.8 < took < 4
    assert srv.queries == 3
    assert "1 try of 1000 ms" in q.stderr


@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_ipv6_server(retina, unbound, transport):
    args = ["@::1", "-p", str(unbound.port), transport, "www.example.test", "AAAA"]
    a = run([retina, "dig", *args], check=0)
    b = run(["dig", *args], check=0)
    assert normalize(a.stdout) == normalize(b.stdout)
    shown = "TCP" if transport == "+tcp" else "UDP"
    assert f";; SERVER: ::1#{unbound.port}(::1) ({shown})" in a.stdout
