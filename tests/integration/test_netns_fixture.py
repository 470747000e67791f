"""The test network itself works and is removed afterwards."""
import os

from netns import NetPair


def test_pair_is_connected_both_families_and_cleaned_up():
    pair = NetPair()
    try:
        names = (pair.a, pair.b)
        # a raw TCP connect over v4 and v6 from b to a listener in a
        listener = pair.popen(pair.a, ["python3", "-c",
                              "import socket,sys\n"
                              "s=socket.socket(socket.AF_INET6);s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,0)\n"
                              "s.bind(('::',7001));s.listen(4);print('up',flush=True)\n"
                              "for _ in range(2): c,_=s.accept();c.sendall(b'hi');c.close()\n"],
                              stdout=__import__("subprocess").PIPE, text=True)
        assert listener.stdout.readline().strip() == "up"
        for host in (pair.A4, f"{pair.A6}"):
            p = pair.run(pair.b, ["python3", "-c",
                         f"import socket;print(socket.create_connection(('{host}',7001),timeout=5).recv(2).decode())"])
            assert p.stdout.strip() == "hi", p.stderr
        listener.wait(timeout=10)
    finally:
        pair.close()
    for ns in names:
        assert not os.path.exists(f"/run/netns/{ns}")
