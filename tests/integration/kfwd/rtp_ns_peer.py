#!/usr/bin/env python3
"""One RTP party for kfwd_test.py, run inside a network namespace (ip netns exec):
sends COUNT packets (PT 8, 160-byte payloads tagged with their index) from BIND to TO
every INTERVAL ms once GO exists (READY says it is bound), receives what comes back on the same socket with its TOS and TTL,
and writes what it received as JSON to OUT once EXPECT packets arrived or nothing came
for IDLE seconds after its own last send."""
import argparse
import json
import os
import select
import socket
import struct
import threading
import time

IP_RECVTOS = getattr(socket, "IP_RECVTOS", 13)
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)


def addr(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def payload(i):
    return struct.pack("!I", i) + bytes((i * 7 + k) & 0xFF for k in range(156))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--ssrc", type=lambda v: int(v, 0), required=True)
    ap.add_argument("--seq0", type=int, required=True)
    ap.add_argument("--ts0", type=int, required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--idle", type=float, default=3.0)
    ap.add_argument("--ttl", type=int, default=0)
    ap.add_argument("--ready", required=True, help="created once the socket is bound")
    ap.add_argument("--go", required=True, help="sending starts once this exists")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(addr(a.bind))
    s.setsockopt(socket.IPPROTO_IP, IP_RECVTOS, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    if a.ttl:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, a.ttl)
    to = addr(a.to)
    done = threading.Event()
    open(a.ready, "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(a.go):   # every party bound before anyone sends
        if time.monotonic() > deadline:
            raise SystemExit("no go")
        time.sleep(0.01)

    def send():
        t0 = time.monotonic()
        for i in range(a.count):
            hdr = struct.pack("!BBHII", 0x80, 8, (a.seq0 + i) & 0xFFFF,
                              (a.ts0 + 160 * i) & 0xFFFFFFFF, a.ssrc)
            s.sendto(hdr + payload(i), to)
            delay = t0 + (i + 1) * a.interval_ms / 1000.0 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        done.set()

    th = threading.Thread(target=send, daemon=True)
    th.start()
    got = []
    last = time.monotonic()
    while len(got) < a.expect:
        r, _, _ = select.select([s], [], [], 0.2)
        now = time.monotonic()
        if not r:
            if done.is_set() and now - last > a.idle:
                break
            continue
        data, anc, _, src = s.recvmsg(2048, 256)
        last = now
        tos = ttl = None
        for level, kind, val in anc:
            # the control messages carry IP_TOS and IP_TTL as their types
            if level == socket.IPPROTO_IP and kind == socket.IP_TOS:
                tos = val[0]
            elif level == socket.IPPROTO_IP and kind == socket.IP_TTL:
                ttl = struct.unpack("i", val[:4])[0]
        rec = {"src": "%s:%d" % src, "len": len(data), "tos": tos, "ttl": ttl}
        if len(data) >= 16:
            b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
            idx = struct.unpack("!I", data[12:16])[0]
            rec.update(v=b0 >> 6, pt=b1 & 0x7F, seq=seq, ts=ts, ssrc=ssrc, idx=idx,
                       intact=data[12:] == payload(idx))
        got.append(rec)
    th.join(timeout=a.count * a.interval_ms / 1000.0 + 5)
    with open(a.out, "w") as f:
        json.dump(got, f)


if __name__ == "__main__":
    main()
