"""retina nc against listening and closed TCP/UDP ports in a namespace peer."""
import subprocess
import time

import pytest

from conftest import run

ECHO_TCP = ("import socket,sys\n"
            "fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
            "s=socket.socket(fam);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            "s.bind((sys.argv[1],int(sys.argv[2])));s.listen(8);print('up',flush=True)\n"
            "while True:\n"
            "  c,_=s.accept();d=b''\n"
            "  while True:\n"
            "    x=c.recv(4096)\n"
            "    if not x: break\n"
            "    d+=x\n"
            "  c.sendall(d.upper());c.close()\n")
ECHO_UDP = ("import socket,sys\n"
            "fam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
            "s=socket.socket(fam,socket.SOCK_DGRAM);s.bind((sys.argv[1],int(sys.argv[2])));print('up',flush=True)\n"
            "while True:\n"
            "  d,a=s.recvfrom(4096)\n"
            "  if d: s.sendto(d.upper(),a)\n")


class Server:
    def __init__(self, netpair, code, addr, port):
        self.p = netpair.popen(netpair.b, ["python3", "-c", code, addr, str(port)], stdout=subprocess.PIPE,
                               text=True)
        assert self.p.stdout.readline().strip() == "up"

    def close(self):
        self.p.kill()
        self.p.wait()


@pytest.fixture
def servers(netpair, retina):
    # a fresh veth answers IPv6 only after ~1 s of neighbour discovery: resolve
    # both neighbours first, so -w 1 checks measure the port, not ND
    for dst in (netpair.B4, netpair.B6):
        netpair.run(netpair.a, [retina, "ping", "-c", "1", "-W", "3", dst])
    made = []

    def start(code, addr, port):
        s = Server(netpair, code, addr, port)
        made.append(s)
        return s
    yield start
    for s in made:
        s.close()


@pytest.mark.parametrize("v6", [False, True])
def test_tcp_connect_check_open_and_closed(retina, netpair, servers, v6):
    dst = netpair.B6 if v6 else netpair.B4
    servers(ECHO_TCP, dst, 8080)
    shown = f"[{dst}]:8080" if v6 else f"{dst}:8080"
    p = netpair.run(netpair.a, [retina, "nc", "-zv", dst, "8080"])
    assert p.returncode == 0
    assert p.stderr == f"retina nc: Connected to {shown}.\n"
    p = netpair.run(netpair.a, [retina, "nc", "-zv", dst, "8081"])
    assert p.returncode == 1
    assert p.stderr == "retina nc: Connection refused.\n"
    # -z without -v: silent, the status answers
    p = netpair.run(netpair.a, [retina, "nc", "-z", dst, "8080"])
    assert p.returncode == 0 and p.stderr == ""


def test_tcp_connect_timeout(retina, netpair):
    netpair.run(netpair.b, ["iptables", "-A", "INPUT", "-p", "tcp", "--dport", "8082", "-j", "DROP"])
    t0 = time.monotonic()
    p = netpair.run(netpair.a, [retina, "nc", "-zv", "-w", "1", netpair.B4, "8082"])
    assert p.returncode == 1
    assert p.stderr == "retina nc: TIMEOUT.\n"
    assert time.monotonic() - t0 < 3


@pytest.mark.parametrize("v6", [False, True])
def test_udp_connect_check_open_and_closed(retina, netpair, servers, v6):
    dst = netpair.B6 if v6 else netpair.B4
    servers(ECHO_UDP, dst, 5353)
    p = netpair.run(netpair.a, [retina, "nc", "-zvu", "-w", "1", dst, "5353"])
    assert p.returncode == 0, p.stderr
    assert "Connected to" in p.stderr
    p = netpair.run(netpair.a, [retina, "nc", "-zvu", "-w", "1", dst, "5354"])
    assert p.returncode == 1
    assert p.stderr == "retina nc: Connection refused.\n"


def test_tcp_client_pipes_stdin_and_stdout(retina, netpair, servers):
    servers(ECHO_TCP, netpair.B4, 8090)
    p = netpair.run(netpair.a, [retina, "nc", netpair.B4, "8090"], input="hello over tcp\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "HELLO OVER TCP\n"


def test_udp_client_pipes_stdin_and_stdout(retina, netpair, servers):
    servers(ECHO_UDP, netpair.B4, 5300)
    p = netpair.run(netpair.a, [retina, "nc", "-u", "-w", "2", netpair.B4, "5300"], input="dgram\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "DGRAM\n"


@pytest.mark.parametrize("udp", [False, True])
def test_listen_mode_receives_and_answers(retina, netpair, udp):
    args = [retina, "nc", "-lv", "-p", "9000"] + (["-u"] if udp else [])
    lst = netpair.popen(netpair.b, args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
    try:
        assert lst.stderr.readline().startswith("retina nc: Listening on [::]:9000")
        code = ("import socket,sys\n"
                f"s=socket.socket(socket.AF_INET,socket.{'SOCK_DGRAM' if udp else 'SOCK_STREAM'})\n"
                f"s.connect(('{netpair.B4}',9000));s.send(b'ping from a\\n')\n"
                "s.settimeout(5);print(s.recv(100).decode(),end='')\n")
        cl = netpair.popen(netpair.a, ["python3", "-c", code], stdout=subprocess.PIPE, text=True)
        assert lst.stdout.readline() == "ping from a\n"
        lst.stdin.write("pong from b\n")
        lst.stdin.flush()
        assert cl.communicate(timeout=10)[0] == "pong from b\n"
        assert f"Connection from {netpair.A4}:" in lst.stderr.readline()
        lst.stdin.close()
        assert lst.wait(timeout=10) == 0
    finally:
        if lst.poll() is None:
            lst.kill()
            lst.wait()


@pytest.mark.parametrize("args,words", [
    ([], "needs HOST and PORT"), (["host"], "needs HOST and PORT"), (["h", "99999"], "not a port number"),
    (["-l"], "needs a PORT"), (["-lz", "-p", "1"], "-z and -l"), (["-w", "x", "h", "1"], "-w needs"),
])
def test_usage_errors(retina, args, words):
    p = run([retina, "nc", *args])
    assert p.returncode == 2
    assert words in p.stderr


def test_unknown_host_is_a_clear_error(retina, tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    p = run([retina, "nc", "-z", "no-such-host.invalid", "80"], env={"RETINA_RESOLV_CONF": str(conf)})
    assert p.returncode == 1
    assert "cannot resolve 'no-such-host.invalid'" in p.stderr and str(conf) in p.stderr


@pytest.mark.parametrize("name", ["dig", "nc", "ping"])
def test_applets_run_by_link_name_with_help(retina, tmp_path, name):
    link = tmp_path / name
    link.symlink_to(retina)
    p = run([str(link), "--help"])
    assert p.returncode == 0
    assert p.stdout.startswith(f"usage: retina {name} ")
    assert "Examples:" in p.stdout


def test_families_and_host_names(retina):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    port = str(s.getsockname()[1])
    try:
        p = run([retina, "nc", "-zv", "localhost", port])
        assert p.returncode == 0 and p.stderr == f"retina nc: Connected to 127.0.0.1:{port}.\n"
        p = run([retina, "nc", "-6", "-z", "127.0.0.1", port])
        assert p.returncode == 1 and "not an IPv6 address" in p.stderr
        p = run([retina, "nc", "-6", "-zv", "::1", port])	# the listener is IPv4 only
        assert p.returncode == 1 and p.stderr == "retina nc: Connection refused.\n"
    finally:
        s.close()


def test_listen_6_is_ipv6_only_and_4_is_ipv4_only(retina):
    import socket
    from dnsfix import free_port
    for flag, ok, refused in (("-6", ("::1", socket.AF_INET6), ("127.0.0.1", socket.AF_INET)),
                              ("-4", ("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6))):
        port = free_port()
        lst = subprocess.Popen([retina, "nc", "-lv", flag, "-p", str(port)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert "Listening on" in lst.stderr.readline()
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((refused[0], port), timeout=5)
            c = socket.create_connection((ok[0], port), timeout=5)
            c.sendall(b"hi\n")
            c.close()
            assert lst.wait(timeout=10) == 0
            assert lst.stdout.read() == "hi\n"
        finally:
            if lst.poll() is None:
                lst.kill()
                lst.wait()
