#!/usr/bin/env python3
"""The media ports attacked end to end: a transcoded call (the caller sends PCMU, the
callee PCMA, so trunxd decodes, buffers, conceals and encodes each way) while

  junk_flood     a stranger sprays every port of the media range, RTP and RTCP alike,
                 with malformed datagrams (random bytes, truncated headers, CSRC counts
                 and extension lengths past the end, padding longer than the packet,
                 RTCP with lying lengths, empty and 1,400-byte datagrams): both parties
                 still hear each other's tone in >= 90 % of the frames while it lasts,
                 the stranger gets nothing back, its packets are counted, and the log
                 does not grow with them
  spoofed_peer   a forged source (a raw socket, so the datagrams carry the parties'
                 own addresses and ports) injects mutated copies of each party's stream
                 for 2 s, on RTP and RTCP: their SSRC, sequence numbers (jumps of 1 to
                 65,535), timestamps (up to 2^31), payload types (telephone-event with
                 short and absurd payloads, comfort noise, unknown), sizes (0 to 1,400
                 bytes), CSRC lists, extensions, padding and marker bits; once it stops,
                 each party hears the other's tone again within 1 s, for >= 90 % of the
                 frames after that
  spoofed_peer_relay  the same on a relayed call (PCMU both ways)
  spoofed_port   the same forgeries from the parties' addresses but other ports: none
                 is taken (every packet counted in is the party's), nothing re-latches,
                 and both parties hear each other throughout
  reused_port    a media range of one call: the next call gets the last one's ports
                 while the last one's caller still sends to them from the same host;
                 the new call's parties hear each other, not the stale stream, and
                 the old caller gets nothing of the new call

After each, trunxd still runs, answers the hang-up with a call record, and exits
cleanly (sanitizer-clean under the ASan build). Every datagram goes to 127.x; each
attack is bounded in count and time.
"""
import os
import random
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "prompt"))

import prompt_test as pt  # noqa: E402
from harness import case  # noqa: E402

STRANGER = "127.0.0.7"
SECONDS = 6.0           # each party's tone
TONE_A, TONE_B = 1000, 600


def start_call(ctx, pt_b=8):
    """A call with both parties sending their tone for SECONDS from t0: transcoded
    (the callee sends PCMA, pt_b 8) or relayed (PCMU both ways, pt_b 0)."""
    c = pt.Call(ctx, pt_b=pt_b)
    n = int(SECONDS * 50)
    c.t0 = time.monotonic() + 0.2
    c.a.send(c.to_a, pt.tone(TONE_A, pt.LEVEL, n * 160), set(), c.t0)
    c.b.send(c.to_b, pt.tone(TONE_B, pt.LEVEL, n * 160), set(), c.t0, pt_b)
    return c


def heard(peer, hz, since, until):
    """Share of the 20 ms frames received in [since, until) that carry hz."""
    frames = pt.frames_of(peer.audio(since, until), [hz])
    return (sum(1 for f in frames if f == hz) / len(frames)) if frames else 0.0, len(frames)


def end_call(ctx, c, log0):
    c.a.wait_sent(SECONDS + 5)
    c.b.wait_sent(SECONDS + 5)
    time.sleep(0.3)
    rec = c.hangup()
    ctx.log("call.end: %s", {k: v for k, v in rec.items()
                             if k.startswith("rtp_") or k in ("sip_code", "codec_a",
                                                               "codec_b", "reason")})
    grew = os.path.getsize(c.t.proc.stderr_path) - log0
    ctx.log("log +%d bytes", grew)
    if grew > 64 << 10:
        raise AssertionError("the log grew by %d bytes during the attack" % grew)
    c.t.check_alive()
    return rec


def check_heard(ctx, c, since, until, what):
    for peer, hz, who in ((c.b, TONE_A, "callee"), (c.a, TONE_B, "caller")):
        share, frames = heard(peer, hz, since, until)
        ctx.log("%s: the %s heard %d Hz in %.1f %% of %d frames", what, who, hz,
                100 * share, frames)
        if frames < 0.8 * (until - since) * 50 or share < 0.9:
            raise AssertionError("%s: the %s heard its party's tone in %.1f %% of %d "
                                 "frames" % (what, who, 100 * share, frames))


# ---- a stranger's junk ------------------------------------------------------------------

def junk(rng):
    """One malformed datagram."""
    kind = rng.randrange(10)
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 64)))
    if kind == 1:
        return b""
    if kind == 2:       # a header cut short
        return struct.pack("!BBHII", 0x80, 0, 1, 2, 3)[:rng.randrange(1, 12)]
    if kind == 3:       # 15 CSRCs announced, none there
        return struct.pack("!BBHII", 0x8F, 0, rng.getrandbits(16), 0, 7) + b"\x00" * 8
    if kind == 4:       # an extension of 65,535 words announced
        return struct.pack("!BBHIIHH", 0x90, 0, rng.getrandbits(16), 0, 7, 0xBEDE, 0xFFFF)
    if kind == 5:       # padding longer than the packet
        return struct.pack("!BBHII", 0xA0, 8, rng.getrandbits(16), 0, 7) + b"\xd5" * 20 + \
            b"\xff"
    if kind == 6:       # an RTCP SR claiming 31 reports and a length past the end
        return struct.pack("!BBHI", 0x9F, 200, 0xFFFF, 7) + b"\x00" * 20
    if kind == 7:       # an RTCP BYE whose reason runs past the end
        return struct.pack("!BBHIB", 0x81, 203, 2, 7, 255) + b"x" * 3
    if kind == 8:       # a big datagram
        return struct.pack("!BBHII", 0x80, 0, rng.getrandbits(16), 0, 7) + b"\xff" * 1400
    return struct.pack("!BBHII", 0x80, rng.choice((0, 8, 13, 101, 127)),
                       rng.getrandbits(16), rng.getrandbits(32), rng.getrandbits(32)) + \
        bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))


def case_junk_flood(ctx):
    c = start_call(ctx)
    log0 = os.path.getsize(c.t.proc.stderr_path)
    lo, hi = c.t.conf.media_range
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((STRANGER, 0))
    sock.setblocking(False)
    rng = random.Random(20261206)
    sent = got = 0
    start, stop = c.t0 + 1.0, c.t0 + 4.0
    while time.monotonic() < start:
        time.sleep(0.01)
    while time.monotonic() < stop:
        for port in range(lo, hi + 1):
            try:
                sock.sendto(junk(rng), ("127.0.0.1", port))
                sent += 1
            except OSError:
                pass
        try:
            while True:
                sock.recv(2048)
                got += 1
        except (BlockingIOError, InterruptedError):
            pass
        time.sleep(0.05)
    sock.close()
    ctx.log("junk: %d datagrams to ports %d-%d in 3 s, %d came back", sent, lo, hi, got)
    rec = end_call(ctx, c, log0)
    check_heard(ctx, c, start + 0.2, stop, "during the flood")
    if got:
        raise AssertionError("the stranger received %d datagrams" % got)
    if not (rec.get("rtp_foreign_a") or 0) + (rec.get("rtp_foreign_b") or 0):
        raise AssertionError("no foreign packet counted: %s" % rec)


# ---- a forged source: the parties' own addresses --------------------------------------

def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def forged(src, dst, payload):
    """An IPv4 datagram from src to dst ((ip, port) each) carrying payload."""
    udp_len = 8 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, random.getrandbits(16), 0, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(src[0]), socket.inet_aton(dst[0]))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    pseudo = struct.pack("!4s4sBBH", socket.inet_aton(src[0]), socket.inet_aton(dst[0]), 0,
                         socket.IPPROTO_UDP, udp_len)
    udp = struct.pack("!HHHH", src[1], dst[1], udp_len, 0) + payload
    csum = checksum(pseudo + udp) or 0xFFFF
    return ip + udp[:6] + struct.pack("!H", csum) + udp[8:]


def mutated(rng, stream, k):
    """A mutated copy of packet k of a G.711 stream (seq, ts, ssrc of its first)."""
    seq0, ts0, ssrc = stream
    seq, ts, pt_, marker = (seq0 + k) & 0xFFFF, (ts0 + 160 * k) & 0xFFFFFFFF, 0, 0
    cc, ext, pad = 0, b"", b""
    payload = b"\xff" * 160
    for _ in range(rng.randrange(1, 4)):
        m = rng.randrange(9)
        if m == 0:
            ssrc = rng.choice((ssrc ^ 1, 0, 0xFFFFFFFF, rng.getrandbits(32)))
        elif m == 1:
            seq = (seq + rng.choice((1, 2, 100, 3000, 32767, 32768, 65535))) & 0xFFFF
        elif m == 2:
            ts = (ts + rng.choice((160, 8000 * 60, 1 << 31, -160))) & 0xFFFFFFFF
        elif m == 3:
            pt_ = rng.choice((8, 13, 101, 127, 72, 96))
            if pt_ == 101:
                payload = rng.choice((b"", b"\x05", b"\xff\xbf\xff\xff",
                                      struct.pack("!BBH", 5, 0x8A, 0), b"\x01\x0a\x00\xa0" * 40))
        elif m == 4:
            payload = b"\xd5" * rng.choice((0, 1, 159, 161, 480, 1400))
        elif m == 5:
            cc = rng.randrange(1, 16)
        elif m == 6:
            ext = struct.pack("!HH", 0xBEDE, rng.choice((0, 1, 40))) + b"\x10\x22\x00\x00"
        elif m == 7:
            pad = b"\x00" * 3 + bytes((rng.choice((4, 200, 255)),))
        else:
            marker = 1
    first = 0x80 | (0x20 if pad else 0) | (0x10 if ext else 0) | cc
    csrcs = b"".join(struct.pack("!I", rng.getrandbits(32)) for _ in range(cc))
    return struct.pack("!BBHII", first, (marker << 7) | pt_, seq, ts, ssrc) + csrcs + ext + \
        payload + pad


def mutated_rtcp(rng, ssrc):
    kind = rng.randrange(5)
    if kind == 0:     # SR with a report count past the end
        return struct.pack("!BBHIIIIII", 0x9F, 200, 12, ssrc, 1, 2, 3, 4, 5)
    if kind == 1:     # RR whose length field is 0
        return struct.pack("!BBHI", 0x81, 201, 0, ssrc) + b"\x00" * 24
    if kind == 2:     # SDES with an item longer than the packet
        return struct.pack("!BBHIBB", 0x81, 202, 3, ssrc, 1, 250) + b"abcd"
    if kind == 3:     # BYE of our SSRC, a reason that runs past the end
        return struct.pack("!BBHIB", 0x81, 203, 2, ssrc, 200) + b"bye"
    return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 100)))


def spoofed_peer(ctx, pt_b, port_offset=0):
    if os.geteuid() != 0:
        raise AssertionError("this case forges source addresses: it needs root (CI is)")
    c = start_call(ctx, pt_b)
    log0 = os.path.getsize(c.t.proc.stderr_path)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    ctx.at_end(raw.close)
    rng = random.Random(4475)
    a_src = ("127.0.0.1", c.caller.media.getsockname()[1] + port_offset)
    b_src = ("127.0.0.1", c.callee.media.getsockname()[1] + port_offset)
    to_a, to_b = ("127.0.0.1", c.to_a[1]), ("127.0.0.1", c.to_b[1])
    start, stop = c.t0 + 1.0, c.t0 + 3.0
    while time.monotonic() < start:
        time.sleep(0.01)
    sent, k = 0, 50
    while time.monotonic() < stop:
        for src, dst, peer in ((a_src, to_a, c.a), (b_src, to_b, c.b)):
            for _ in range(3):
                raw.sendto(forged(src, dst, mutated(rng, peer.stream, k)), (dst[0], 0))
                sent += 1
            raw.sendto(forged((src[0], src[1] + 1), (dst[0], dst[1] + 1),
                              mutated_rtcp(rng, peer.stream[2])), (dst[0], 0))
            sent += 1
        k += 1
        time.sleep(0.006)
    ctx.log("forged %d datagrams in 2 s from the parties' own addresses", sent)
    rec = end_call(ctx, c, log0)
    check_heard(ctx, c, stop + 1.0, c.t0 + SECONDS - 0.2, "after the forgery")
    if port_offset:
        # The parties' own address, another port: nothing taken, nothing re-latched.
        check_heard(ctx, c, start + 0.2, stop, "during the forgery")
        n = int(SECONDS * 50)
        if rec.get("rtp_a_in") != n or rec.get("rtp_b_in") != n:
            raise AssertionError("forged packets were taken: rtp_a_in %s rtp_b_in %s, "
                                 "each party sent %d" % (rec.get("rtp_a_in"),
                                                         rec.get("rtp_b_in"), n))


def case_spoofed_peer(ctx):
    spoofed_peer(ctx, 8)


def case_spoofed_peer_relay(ctx):
    spoofed_peer(ctx, 0)


def case_spoofed_port(ctx):
    spoofed_peer(ctx, 8, port_offset=10)


# ---- a previous call's stream at reused ports -------------------------------------------

def case_reused_port(ctx):
    """The media range holds one call (two port pairs), so the next call gets the ports
    of the last. The first call's caller keeps sending after its hang-up (a phone whose
    media outlived its BYE); a second caller on the same host calls the same callee
    half a second later and starts sending 0.5 s after the answer, the stale stream
    arriving at its trunxd port all along. From then on the second caller must hear
    the callee, the callee the second caller (not the first), and the first caller
    nothing of the new call."""
    def conf(c):
        lo = c.media_range[0] + (c.media_range[0] & 1)
        c.media["port_min"] = lo
        c.media["port_max"] = lo + 3

    c = pt.Call(ctx, configure=conf)   # it took the first call's INVITE
    stale_hz, new_hz = 1000, 1500
    c.a.send(c.to_a, pt.tone(stale_hz, pt.LEVEL, 10 * 8000), set(), time.monotonic())
    time.sleep(1.0)
    c.hangup()
    log0 = os.path.getsize(c.t.proc.stderr_path)
    time.sleep(0.5)
    caller2 = pt.ua.UA(name="caller2")
    ctx.at_end(caller2.close)
    body = pt._ua_sdp("127.0.0.1", caller2.media_port, pts=pt.PCMU_ONLY)
    d2, final = caller2.call((c.t.addr, c.t.port), user=pt.DID, body=body)
    if not d2:
        raise AssertionError("second call not answered: %s" % (final and final.status))
    inv2 = c.callee.wait(lambda m: m.method == "INVITE", 5)
    if inv2 is None:
        raise AssertionError("the callee got no second INVITE")
    to_a2, to_b2 = pt.media_of(final.body), pt.media_of(inv2.body)
    ctx.log("second call: trunxd media a=%s b=%s (first a=%s b=%s)", to_a2, to_b2,
            c.to_a, c.to_b)
    if to_a2 != c.to_a:
        raise AssertionError("the second call did not get the first call's port: %s, %s"
                             % (to_a2, c.to_a))
    a2 = pt.RtpPeer(caller2.media)
    ctx.at_end(a2.stop)
    t2 = time.monotonic()
    n = 4 * 50
    c.b.send(to_b2, pt.tone(TONE_B, pt.LEVEL, n * 160), set(), t2)
    a2.send(to_a2, pt.tone(new_hz, pt.LEVEL, n * 160), set(), t2 + 0.5)
    c.b.wait_sent(10)
    a2.wait_sent(10)
    time.sleep(0.3)
    since, until = t2 + 1.0, t2 + 3.8
    share, frames = heard(a2, TONE_B, since, until)
    ctx.log("second caller heard %d Hz in %.1f %% of %d frames", TONE_B, 100 * share, frames)
    got = pt.frames_of(c.b.audio(since, until), [new_hz, stale_hz])
    new_share = sum(1 for f in got if f == new_hz) / len(got) if got else 0.0
    stale = sum(1 for f in got if f == stale_hz)
    ctx.log("callee: %d frames, %.1f %% of %d Hz, %d of the first caller's %d Hz",
            len(got), 100 * new_share, new_hz, stale, stale_hz)
    leaked = sum(1 for p in c.a.got if since <= p[0] < until)
    ctx.log("the first caller received %d packets of the second call", leaked)
    d2.bye()
    recs = c.t.wait_events("call.end", 2, 10)
    if len(recs) != 2:
        raise AssertionError("no call.end for the second call")
    ctx.log("call.end: %s", {k: v for k, v in recs[1].items() if k.startswith("rtp_")})
    c.t.check_alive()
    if frames < 0.8 * (until - since) * 50 or share < 0.9:
        raise AssertionError("the second caller heard its callee in %.1f %% of %d frames "
                             "(the callee's audio went elsewhere)" % (100 * share, frames))
    if len(got) < 0.8 * (until - since) * 50 or new_share < 0.9 or stale:
        raise AssertionError("the callee heard the second caller in %.1f %% of %d frames "
                             "and the first caller's stale stream in %d"
                             % (100 * new_share, len(got), stale))
    if leaked:
        raise AssertionError("the first caller received %d packets of the second call"
                             % leaked)
    if os.path.getsize(c.t.proc.stderr_path) - log0 > 64 << 10:
        raise AssertionError("the log grew by more than 64 KB")


if __name__ == "__main__":
    sys.exit(case.main(globals()))
