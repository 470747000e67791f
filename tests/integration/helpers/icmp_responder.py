"""A scripted echo responder for ping tests (run inside a namespace whose kernel
echo is off): replies twice ("dup"), or holds the reply to seq 1 until seq 2
arrived and answers 2 before 1 ("reorder"). Prints "up" when listening."""
import socket
import struct
import sys


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f">{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def reply_for(icmp):
    r = bytearray(icmp)
    r[0] = 0
    r[2:4] = b"\0\0"
    r[2:4] = struct.pack(">H", checksum(bytes(r)))
    return bytes(r)


mode = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("up", flush=True)
held = None
while True:
    pkt, (src, _) = s.recvfrom(65535)
    icmp = pkt[(pkt[0] & 0xF) * 4:]
    if icmp[0] != 8:
        continue
    seq = struct.unpack(">H", icmp[6:8])[0]
    rep = reply_for(icmp)
    if mode == "dup":
        s.sendto(rep, (src, 0))
        s.sendto(rep, (src, 0))
    elif mode == "reorder":
        if seq == 1:
            held = rep
            continue
        s.sendto(rep, (src, 0))
        if held:
            s.sendto(held, (src, 0))
            held = None
