#!/usr/bin/python3
"""nfq-delay.py -- a fixed one-way delay for forwarded packets, for lab tests on kernels without
netem: an NFQUEUE verdict daemon (pure Python, raw netfilter netlink, no libraries).

The kernel holds every packet an iptables NFQUEUE rule hands to queue N until user space gives
its verdict; this daemon gives NF_ACCEPT `--delay-ms` after the packet was queued, in arrival
order (FIFO, no reordering), so the packet leaves that much later.

    iptables-legacy  -A FORWARD -o IF -j NFQUEUE --queue-num N --queue-bypass
    ip6tables-legacy -A FORWARD -o IF -j NFQUEUE --queue-num N --queue-bypass
    nfq-delay.py --queue N --delay-ms 100 --max-seconds 60

Bounded: it exits after --max-seconds at the latest, and on SIGTERM/SIGINT; either way it first
accepts every packet it still holds and unbinds the queue. With --queue-bypass the kernel
accepts packets itself while no daemon is bound, so a stopped daemon never blackholes traffic;
the queue is also configured fail-open (a full queue accepts instead of dropping).

Output (stdout, one line each, flushed): `nfq-delay ready queue=N delay_ms=D` once the kernel
acknowledged the bind and the configuration; `nfq-delay stats {json}` at exit with the packets
queued, the verdicts given and the largest lateness of a verdict beyond its due time (ms). The
due time counts from the packet's kernel timestamp when it has one (a capture on the host turns
timestamping on), else from when the daemon read it.
Errors go to stderr with exit status 1.
"""
import argparse
import heapq
import json
import os
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 3, 4, 5
NFQA_CFG_F_FAIL_OPEN = 1
NFQA_TIMESTAMP = 4  # struct nfqnl_msg_packet_timestamp: __be64 sec, usec
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND = 1, 2
NFQNL_COPY_META = 1
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLA_TYPE_MASK = 0x3FFF


def attr(atype, payload):
    a = struct.pack("=HH", 4 + len(payload), atype) + payload
    return a + b"\0" * ((-len(a)) % 4)


class Queue:
    def __init__(self, num):
        self.num = num
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

    def send(self, msg_type, attrs, flags=NLM_F_REQUEST):
        self.seq += 1
        body = struct.pack("!BBH", socket.AF_UNSPEC, 0, self.num) + b"".join(attr(t, p) for t, p in attrs)
        header = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self.seq, 0)
        self.sock.send(header + body)
        return self.seq

    def config(self, attrs, what, deadline=5.0):
        """Sends a config message with NLM_F_ACK and waits for the kernel's answer."""
        seq = self.send(NFQNL_MSG_CONFIG, attrs, NLM_F_REQUEST | NLM_F_ACK)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            r, _, _ = select.select([self.sock], [], [], max(0.0, end - time.monotonic()))
            if not r:
                break
            buf = self.sock.recv(65536)
            for typ, mseq, payload in messages(buf):
                if typ == NLMSG_ERROR and mseq == seq:
                    err = struct.unpack("=i", payload[:4])[0]
                    if err != 0:
                        raise OSError(-err, f"{what}: {os.strerror(-err)}")
                    return
        raise TimeoutError(f"{what}: no answer from the kernel")

    def verdict(self, packet_id, verdict=NF_ACCEPT):
        self.send(NFQNL_MSG_VERDICT, [(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id))])


def messages(buf):
    """(type, seq, payload after the nlmsghdr) of each netlink message in buf."""
    i = 0
    while i + 16 <= len(buf):
        ln, typ, _flags, seq, _pid = struct.unpack("=IHHII", buf[i:i + 16])
        if ln < 16 or i + ln > len(buf):
            break
        yield typ, seq, buf[i + 16:i + ln]
        i += (ln + 3) & ~3


def packet_meta(payload):
    """Packet id and kernel timestamp (seconds, or None) of an NFQNL_MSG_PACKET payload (nfgenmsg, then attributes)."""
    j = 4
    pid = stamp = None
    while j + 4 <= len(payload):
        alen, atype = struct.unpack("=HH", payload[j:j + 4])
        if alen < 4:
            break
        t = atype & NLA_TYPE_MASK
        if t == NFQA_PACKET_HDR:
            pid = struct.unpack("!I", payload[j + 4:j + 8])[0]
        elif t == NFQA_TIMESTAMP and alen >= 20:
            sec, usec = struct.unpack("!QQ", payload[j + 4:j + 20])
            stamp = sec + usec / 1e6
        j += (alen + 3) & ~3
    return pid, stamp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queue", type=int, required=True)
    ap.add_argument("--delay-ms", type=float, required=True)
    ap.add_argument("--max-seconds", type=float, default=60)
    a = ap.parse_args()
    if not 0 <= a.queue <= 65535 or not 0 <= a.delay_ms <= 10_000 or not 0 < a.max_seconds <= 3600:
        ap.error("out of range")

    stop = []
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop.append(1))

    q = Queue(a.queue)
    q.config([(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0))], f"bind queue {a.queue}")
    q.config([(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))], "copy mode")
    q.config([(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 4096))], "queue length")
    q.config([(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN)),
              (NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN))], "fail-open")
    print(f"nfq-delay ready queue={a.queue} delay_ms={a.delay_ms:g}", flush=True)

    delay = a.delay_ms / 1000.0
    end = time.monotonic() + a.max_seconds
    pending = []  # (due, arrival order, packet id)
    queued = verdicts = 0
    last_due = 0.0
    max_late = 0.0
    while not stop and time.monotonic() < end:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            due, _, pid = heapq.heappop(pending)
            q.verdict(pid)
            verdicts += 1
            max_late = max(max_late, now - due)
        timeout = min(end - now, (pending[0][0] - now) if pending else 0.25)
        try:
            r, _, _ = select.select([q.sock], [], [], max(0.0, timeout))
        except InterruptedError:
            continue
        if not r:
            continue
        try:
            buf = q.sock.recv(1 << 20)
        except BlockingIOError:
            continue
        except OSError as e:  # ENOBUFS: the socket overflowed; the kernel keeps the packets (fail-open)
            print(f"nfq-delay: recv: {e}", file=sys.stderr, flush=True)
            continue
        arrived = time.monotonic()
        # The kernel's timestamp of the packet (when it has one) is when it really arrived: the
        # time it waited in the queue before this read counts towards the delay and lateness.
        mono_minus_real = arrived - time.time()
        for typ, _seq, payload in messages(buf):
            if typ == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                pid, stamp = packet_meta(payload)
                if pid is None:
                    continue
                queued += 1
                start = min(arrived, stamp + mono_minus_real) if stamp else arrived
                due = max(start + delay, last_due)  # FIFO
                last_due = due
                heapq.heappush(pending, (due, queued, pid))
            elif typ == NLMSG_ERROR:
                err = struct.unpack("=i", payload[:4])[0]
                if err:
                    print(f"nfq-delay: netlink error {err}", file=sys.stderr, flush=True)

    for _, _, pid in sorted(pending):
        q.verdict(pid)
        verdicts += 1
    try:
        q.config([(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_UNBIND, 0))], "unbind", 1.0)
    except (OSError, TimeoutError) as e:
        print(f"nfq-delay: {e}", file=sys.stderr, flush=True)
    stats = {"queued": queued, "verdicts": verdicts, "max_late_ms": round(max_late * 1000, 3),
             "reason": "signal" if stop else "max-seconds"}
    print(f"nfq-delay stats {json.dumps(stats)}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report and fail
        print(f"nfq-delay: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
