#!/usr/bin/env python3
"""gen-traffic.py -- many short, distinct flows for softflowd to account (used by make-captures.sh).

Injects Ethernet frames on an interface with an AF_PACKET socket (needs CAP_NET_RAW; run it inside
the client network namespace). Both directions of every conversation are injected from the client
side, so the router's softflowd sees request and reply packets on the interface it sniffs and
exports one record per direction. The router does not forward (ip_forward=0), so nothing goes
anywhere: the frames exist to be seen by softflowd.

Traffic, seeded (same flows on every run):
  * TCP conversations: SYN, SYN-ACK, ACK, 1-4 data segments each way, FIN/ACK both ways (some end with RST);
  * UDP request/response (DNS-, NTP-, syslog-, QUIC-like ports; some one-way);
  * ICMP / ICMPv6 echo request + reply;
  * addresses: clients 198.18.64.0/18 and fd00:a::/64, servers 198.19.0.0/16 and fd00:b::/48
    (RFC 2544 benchmark range, ULA); ephemeral source ports, varied server ports; varied sizes, TOS.

usage: gen-traffic.py --iface IF --dst-mac MAC --flows N [--ipv6-share F] [--pps N] [--seed S]
"""
import argparse
import random
import socket
import struct
import time


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, tos: int, ttl: int, ident: int) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident & 0xFFFF, 0x4000, ttl, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def ipv6(src: bytes, dst: bytes, nh: int, payload: bytes, tc: int, hlim: int, label: int) -> bytes:
    return struct.pack("!IHBB16s16s", (6 << 28) | (tc << 20) | (label & 0xFFFFF), len(payload), nh, hlim, src, dst) + payload


def pseudo(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if len(src) == 4:
        return struct.pack("!4s4sBBH", src, dst, 0, proto, length)
    return struct.pack("!16s16sIxxxB", src, dst, length, proto)


def l4(src: bytes, dst: bytes, proto: int, seg: bytes, ck_at: int) -> bytes:
    c = csum(pseudo(src, dst, proto, len(seg)) + seg)
    return seg[:ck_at] + struct.pack("!H", c) + seg[ck_at + 2:]


def tcp(src, dst, sp, dp, seq, ack, flags, data=b""):
    seg = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 64240, 0, 0) + data
    return l4(src, dst, 6, seg, 16)


def udp(src, dst, sp, dp, data):
    seg = struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
    return l4(src, dst, 17, seg, 6)


def icmp_echo(src, dst, reply, ident, seq, data):
    if len(src) == 4:
        t = 0 if reply else 8
        m = struct.pack("!BBHHH", t, 0, 0, ident, seq) + data
        return 1, m[:2] + struct.pack("!H", csum(m)) + m[4:]
    t = 129 if reply else 128
    m = struct.pack("!BBHHH", t, 0, 0, ident, seq) + data
    return 58, l4(src, dst, 58, m, 2)


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
TCP_PORTS = [80, 443, 443, 443, 8080, 22, 25, 110, 143, 993, 3306, 5432, 6379, 9092, 27017, 8443, 5672, 11211]
UDP_PORTS = [53, 53, 53, 123, 514, 443, 161, 5353, 1194, 4789, 3478, 19302]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--flows", type=int, required=True)
    ap.add_argument("--ipv6-share", type=float, default=0.0)
    ap.add_argument("--pps", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    src_mac = s.getsockname()[4]
    dst_mac = bytes.fromhex(a.dst_mac.replace(":", ""))

    def frame(v6: bool, packet: bytes) -> bytes:
        return dst_mac + src_mac + struct.pack("!H", 0x86DD if v6 else 0x0800) + packet

    sent = 0
    start = time.monotonic()

    def send(v6, packet):
        nonlocal sent
        s.send(frame(v6, packet))
        sent += 1
        if sent % 200 == 0:  # pace: never ahead of --pps
            ahead = sent / a.pps - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)

    kinds = {"tcp": 0, "udp": 0, "icmp": 0, "v6": 0}
    for i in range(a.flows):
        v6 = rnd.random() < a.ipv6_share
        if v6:
            c = bytes.fromhex("fd00000a000000000000") + rnd.getrandbits(48).to_bytes(6, "big")
            sv = bytes.fromhex("fd00000b") + rnd.getrandbits(16).to_bytes(2, "big") + bytes(8) + rnd.getrandbits(16).to_bytes(2, "big")
        else:
            c = bytes([198, 18, 64 + rnd.randrange(64), rnd.randrange(1, 255)])
            sv = bytes([198, 19, rnd.randrange(256), rnd.randrange(1, 255)])

        def pkt(from_client: bool, proto: int, seg: bytes, tos: int) -> None:
            a_, b_ = (c, sv) if from_client else (sv, c)
            ttl = 64 if from_client else rnd.choice([52, 57, 60, 63])
            if v6:
                send(True, ipv6(a_, b_, proto, seg, tos, ttl, i))
            else:
                send(False, ipv4(a_, b_, proto, seg, tos, ttl, rnd.getrandbits(16)))

        r = rnd.random()
        tos = rnd.choice([0, 0, 0, 0, 0x10, 0x28, 0xB8])
        if r < 0.55:
            kinds["tcp"] += 1
            cp, spt = rnd.randrange(32768, 61000), rnd.choice(TCP_PORTS)
            cs, ss = rnd.getrandbits(32), rnd.getrandbits(32)

            def seg(fc, seq, ack, fl, data=b""):
                a_, b_ = (c, sv) if fc else (sv, c)
                return tcp(a_, b_, *((cp, spt) if fc else (spt, cp)), seq, ack, fl, data)

            pkt(True, 6, seg(True, cs, 0, SYN), tos)
            if rnd.random() < 0.08:  # refused connection
                pkt(False, 6, seg(False, 0, cs + 1, RST | ACK), tos)
                continue
            pkt(False, 6, seg(False, ss, cs + 1, SYN | ACK), tos)
            cs += 1
            ss += 1
            pkt(True, 6, seg(True, cs, ss, ACK), tos)
            for _ in range(rnd.randrange(1, 4)):
                d = bytes(rnd.randrange(40, 600))
                pkt(True, 6, seg(True, cs, ss, PSH | ACK, d), tos)
                cs += len(d)
                d = bytes(rnd.randrange(100, 1400))
                pkt(False, 6, seg(False, ss, cs, PSH | ACK, d), tos)
                ss += len(d)
            if rnd.random() < 0.1:
                pkt(True, 6, seg(True, cs, ss, RST | ACK), tos)
            else:
                pkt(True, 6, seg(True, cs, ss, FIN | ACK), tos)
                pkt(False, 6, seg(False, ss, cs + 1, FIN | ACK), tos)
                pkt(True, 6, seg(True, cs + 1, ss + 1, ACK), tos)
        elif r < 0.92:
            kinds["udp"] += 1
            cp, spt = rnd.randrange(1024, 65535), rnd.choice(UDP_PORTS)
            oneway = spt == 514 or rnd.random() < 0.1
            for _ in range(rnd.randrange(1, 4)):
                pkt(True, 17, udp(c, sv, cp, spt, bytes(rnd.randrange(20, 300))), tos)
                if not oneway:
                    pkt(False, 17, udp(sv, c, spt, cp, bytes(rnd.randrange(40, 1200))), tos)
        else:
            kinds["icmp"] += 1
            ident = rnd.getrandbits(16)
            for n in range(rnd.randrange(1, 4)):
                proto, m = icmp_echo(c, sv, False, ident, n, bytes(56))
                pkt(True, proto, m, 0)
                proto, m = icmp_echo(sv, c, True, ident, n, bytes(56))
                pkt(False, proto, m, 0)
        if v6:
            kinds["v6"] += 1
    el = time.monotonic() - start
    print(f"gen-traffic: {a.flows} conversations ({kinds}), {sent} frames in {el:.1f}s on {a.iface}")


if __name__ == "__main__":
    main()
