#!/usr/bin/env python3
"""SDP offer/answer through trunxd as real equipment writes it (RFC 3264, RFC 4566).

A raw-SIP caller (harness ua) sends offers shaped like room systems, WebRTC-style
clients and PBXs; an auto-answering callee stands behind trunxd. Each case checks the
answer the caller gets (m= lines in number and order, ports, directions), what the
callee is offered, and that trunxd stops cleanly."""
import os
import re
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import case, trunxd, ua  # noqa: E402


def _setup(ctx):
    b = ua.UA("127.0.0.1", name="b", auto=True)
    ctx.at_end(b.close)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port)
    ctx.at_end(t._end_check)
    t.start()
    a = ua.UA("127.0.0.1", name="a", auto=True)
    ctx.at_end(a.close)
    return a, b, t


def _mlines(body):
    """[(media, port, proto)] of an SDP body, in order."""
    text = (body or b"").decode(errors="replace")
    return [(m.group(1), int(m.group(2)), m.group(3))
            for m in re.finditer(r"^m=(\S+) (\d+) (\S+)", text, re.M)]


def _call(ctx, a, t, body):
    d, final = a.call((t.addr, t.port), body=body)
    if final is None:
        raise AssertionError("no final response to the INVITE")
    ctx.log("final %d %s", final.status, final.header("Warning") or "")
    if final.body:
        ctx.log("answer:\n%s", final.body.decode(errors="replace"))
    return d, final


def _answered(ctx, t, d, final):
    if d is None or final.status != 200:
        raise AssertionError("call refused: %d %s" % (final.status, final.header("Warning")))
    d.bye()
    recs = t.wait_events("call.end", 1, timeout=10)
    if len(recs) != 1 or recs[0].get("result") != "answered":
        raise AssertionError("call.end: %s" % recs)


def _sdp(ip, lines):
    return ("\r\n".join(["v=0", "o=- 2890844526 1 IN IP4 %s" % ip, "s=-",
                         "c=IN IP4 %s" % ip, "t=0 0"] + lines) + "\r\n").encode()


def case_video_long_fmtp(ctx):
    """A room system (Cisco/Polycom style) offers audio and H.264 video whose fmtp is
    longer than 127 bytes: the call is answered on audio and the video line comes back
    with port 0, the same two m= lines in the same order (RFC 3264 6). Before, the
    whole INVITE got 488 "fmtp longer than 127"."""
    a, b, t = _setup(ctx)
    body = _sdp(a.ip, [
        "b=AS:6000",
        "m=audio %d RTP/AVP 0 101" % a.media_port, "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15",
        "m=video %d RTP/AVP 97" % (a.media_port + 2), "b=TIAS:6000000",
        "a=rtpmap:97 H264/90000",
        "a=fmtp:97 profile-level-id=428016;packetization-mode=1;max-mbps=490000;"
        "max-fs=8160;max-cpb=200;max-br=5000;max-rcmd-nalu-size=3456000;"
        "max-smbps=490000;max-fps=6000",
        "a=rtcp-fb:* nack pli", "a=content:main", "a=sendrecv"])
    d, final = _call(ctx, a, t, body)
    ml = _mlines(final.body)
    if final.status != 200 or len(ml) != 2 or ml[0][0] != "audio" or ml[0][1] == 0 or \
            ml[1] != ("video", 0, "RTP/AVP"):
        raise AssertionError("expected 200 with audio and a rejected video line: %d %s"
                             % (final.status, ml))
    _answered(ctx, t, d, final)


def case_dtls_alternative(ctx):
    """A WebRTC-style client offers a DTLS-SRTP line (UDP/TLS/RTP/SAVPF, ICE, BUNDLE)
    and a plain RTP/AVP line as an alternative: trunxd answers on the RTP/AVP line and
    rejects the DTLS one with port 0. Offered alone, DTLS-SRTP gets 488 with a Warning
    naming what trunxd takes. Before, the alternative was refused with 488 too."""
    a, b, t = _setup(ctx)
    dtls = ["a=group:BUNDLE 0",
            "m=audio %d UDP/TLS/RTP/SAVPF 111 0" % (a.media_port + 10), "a=mid:0",
            "a=rtpmap:111 opus/48000/2", "a=rtpmap:0 PCMU/8000", "a=setup:actpass",
            "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:"
            "7C:AB:AA:7E:B8:C0:54:71:4E:8C:AF:9C:E1:42",
            "a=ice-ufrag:8hhY", "a=ice-pwd:asd88fgpdd777uzjYhagZg",
            "a=candidate:1 1 udp 2113937151 %s %d typ host" % (a.ip, a.media_port + 10),
            "a=rtcp-mux", "a=rtcp-fb:111 transport-cc"]
    plain = ["m=audio %d RTP/AVP 0 101" % a.media_port, "a=rtpmap:0 PCMU/8000",
             "a=rtpmap:101 telephone-event/8000", "a=rtcp:%d IN IP4 %s"
             % (a.media_port + 1, a.ip)]
    d, final = _call(ctx, a, t, _sdp(a.ip, dtls + plain))
    ml = _mlines(final.body)
    if final.status != 200 or len(ml) != 2 or ml[0] != ("audio", 0, "UDP/TLS/RTP/SAVPF") \
            or ml[1][1] == 0 or ml[1][2] != "RTP/AVP":
        raise AssertionError("expected the RTP/AVP line taken, the DTLS one rejected: "
                             "%d %s" % (final.status, ml))
    inv = b.wait(lambda m: m.method == "INVITE", 5)
    if inv is None or b"fingerprint" in inv.body or b"ice-ufrag" in inv.body:
        raise AssertionError("callee's offer: %r" % (inv.body if inv else None))
    _answered(ctx, t, d, final)
    d, final = _call(ctx, a, t, _sdp(a.ip, dtls))
    warn = final.header("Warning") or ""
    if final.status != 488 or "RTP/AVP" not in warn:
        raise AssertionError("DTLS-SRTP alone: %d %s" % (final.status, warn))


def case_repeated_rtpmap(ctx):
    """A PBX repeating its telephone-event rtpmap line: one mapping, the call is
    answered with digits. Before: 488 "second rtpmap for payload type 101"."""
    a, b, t = _setup(ctx)
    body = _sdp(a.ip, ["m=audio %d RTP/AVP 8 0 101" % a.media_port, "a=rtpmap:8 PCMA/8000",
                       "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16",
                       "a=rtpmap:101 telephone-event/8000", "a=ptime:20"])
    d, final = _call(ctx, a, t, body)
    if final.status != 200 or b"telephone-event/8000" not in (final.body or b""):
        raise AssertionError("expected 200 with telephone-event: %d" % final.status)
    _answered(ctx, t, d, final)


def _reinvite(ctx, d, body):
    cseq, _, _ = d.send("INVITE", body)
    r = d.wait_final(cseq, "INVITE", 10)
    if r is None:
        raise AssertionError("no final response to the re-INVITE")
    d.ack(cseq)
    ctx.log("re-INVITE answered %d:\n%s", r.status, (r.body or b"").decode(errors="replace"))
    return r


def _b_reinvite(b, timeout=5.0):
    return b.wait(lambda m: m.method == "INVITE" and "tag=" in (m.header("To") or ""),
                  timeout)


def case_reinvite_same_version(ctx):
    """The caller puts the call on hold with a re-INVITE whose SDP says a=sendonly but
    whose o= version did not change (OCS/Lync-era gateways and some PBXs do this):
    trunxd relays the hold to the callee and answers recvonly. The same SDP sent again
    is a refresh, answered without disturbing the callee. Before, the changed SDP was
    taken for a refresh: the callee never heard of the hold."""
    a, b, t = _setup(ctx)
    d, final = _call(ctx, a, t, ua.sdp(a.ip, a.media_port, version=1))
    if d is None:
        raise AssertionError("call not answered: %d" % final.status)
    b.wait(lambda m: m.method == "ACK", 5)
    b.drain()
    r = _reinvite(ctx, d, ua.sdp(a.ip, a.media_port, version=1, direction="sendonly"))
    inv = _b_reinvite(b)
    if inv is None or ua.sdp_direction(inv.body) != "sendonly":
        raise AssertionError("callee got no hold re-INVITE: %r" % (inv.body if inv else None))
    if r.status != 200 or ua.sdp_direction(r.body) != "recvonly":
        raise AssertionError("hold answered %d %s" % (r.status, ua.sdp_direction(r.body)))
    time.sleep(0.3)
    b.drain()
    r2 = _reinvite(ctx, d, ua.sdp(a.ip, a.media_port, version=1, direction="sendonly"))
    if r2.status != 200 or r2.body != r.body:
        raise AssertionError("refresh not answered with the same SDP: %d" % r2.status)
    if _b_reinvite(b, 1.0) is not None:
        raise AssertionError("a refresh reached the callee")
    _answered(ctx, t, d, final)


def case_hold_2543(ctx):
    """RFC 2543 hold: the caller re-INVITEs with c=IN IP4 0.0.0.0 and no direction
    attribute. The callee is offered a=sendonly (it is a hold) and the caller's answer
    says recvonly; taking the call back gives sendrecv on both. Before, the callee was
    offered sendrecv and never heard of the hold."""
    a, b, t = _setup(ctx)
    d, final = _call(ctx, a, t, ua.sdp(a.ip, a.media_port, version=1))
    if d is None:
        raise AssertionError("call not answered: %d" % final.status)
    b.wait(lambda m: m.method == "ACK", 5)
    b.drain()
    hold = ua.sdp("0.0.0.0", a.media_port, version=2).replace(
        b"IN IP4 0.0.0.0\r\ns=", ("IN IP4 %s\r\ns=" % a.ip).encode())
    r = _reinvite(ctx, d, hold)
    inv = _b_reinvite(b)
    if inv is None or ua.sdp_direction(inv.body) != "sendonly":
        raise AssertionError("callee offered %r" % (inv.body if inv else None))
    if r.status != 200 or ua.sdp_direction(r.body) != "recvonly":
        raise AssertionError("hold answered %d %s" % (r.status, ua.sdp_direction(r.body)))
    b.drain()
    r = _reinvite(ctx, d, ua.sdp(a.ip, a.media_port, version=3))
    inv = _b_reinvite(b)
    if inv is None or ua.sdp_direction(inv.body) != "sendrecv" or \
            ua.sdp_direction(r.body) != "sendrecv":
        raise AssertionError("retrieve: callee %r, caller %s"
                             % (inv.body if inv else None, ua.sdp_direction(r.body)))
    _answered(ctx, t, d, final)


def case_answer_dir_clamped(ctx):
    """The caller offers a=sendonly (a call that starts held, session-level direction
    and ptime); the callee answers sendrecv, which RFC 3264 6.1 does not allow. trunxd's
    answer to the caller says recvonly, not the callee's sendrecv."""
    a, b, t = _setup(ctx)
    body = _sdp(a.ip, ["a=sendonly", "a=ptime:30", "m=audio %d RTP/AVP 8" % a.media_port,
                       "b=TIAS:64000", "a=rtpmap:8 PCMA/8000"])
    d, final = _call(ctx, a, t, body)
    inv = b.wait(lambda m: m.method == "INVITE", 5)
    if inv is None or ua.sdp_direction(inv.body) != "sendonly":
        raise AssertionError("callee offered %r" % (inv.body if inv else None))
    if final.status != 200 or ua.sdp_direction(final.body) != "recvonly" or \
            len(re.findall(rb"(?m)^a=(sendrecv|sendonly|recvonly|inactive)", final.body)) != 1:
        raise AssertionError("answer to a sendonly offer: %d %s"
                             % (final.status, ua.sdp_direction(final.body)))
    _answered(ctx, t, d, final)


def _o_version(body):
    m = re.search(rb"(?m)^o=\S+ \d+ (\d+) ", body or b"")
    return int(m.group(1)) if m else None


def case_version_only_on_change(ctx):
    """The caller re-INVITEs with a new o= version and the same description (a session
    refresh as many phones send it): the callee gets trunxd's SDP with the version it
    already had, byte for byte, and the caller its previous answer; a hold after it
    moves each leg's version by one. Before, every relayed offer and answer carried a
    new version although nothing had changed."""
    a, b, t = _setup(ctx)
    d, final = _call(ctx, a, t, ua.sdp(a.ip, a.media_port, version=1))
    if d is None:
        raise AssertionError("call not answered: %d" % final.status)
    first = b.wait(lambda m: m.method == "INVITE", 5)
    b.wait(lambda m: m.method == "ACK", 5)
    b.drain()
    r = _reinvite(ctx, d, ua.sdp(a.ip, a.media_port, version=2))
    inv = _b_reinvite(b)
    if inv is None or inv.body != first.body:
        raise AssertionError("callee's re-offer differs from its first offer: %r"
                             % (inv.body if inv else None))
    if r.status != 200 or r.body != final.body:
        raise AssertionError("caller's answer changed: %d %r" % (r.status, r.body))
    b.drain()
    r = _reinvite(ctx, d, ua.sdp(a.ip, a.media_port, version=3, direction="sendonly"))
    inv = _b_reinvite(b)
    if inv is None or _o_version(inv.body) != _o_version(first.body) + 1 or \
            _o_version(r.body) != _o_version(final.body) + 1:
        raise AssertionError("hold versions: callee %s, caller %s"
                             % (_o_version(inv.body) if inv else None, _o_version(r.body)))
    _answered(ctx, t, d, final)


def _rtp_to(sock, dest, n):
    for i in range(n):
        sock.sendto(struct.pack("!BBHII", 0x80, 0, 100 + i, 160 * i, 0x5151) + b"\xff" * 160,
                    dest)
        time.sleep(0.005)


def _rtp_count(sock, seconds):
    sock.settimeout(0.1)
    got, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data, _ = sock.recvfrom(2048)
        except (socket.timeout, BlockingIOError):
            continue
        if len(data) >= 12 and data[0] >> 6 == 2:
            got += 1
    return got


def case_early_answer_moves(ctx):
    """A carrier plays early media from one port (183 with SDP, no 100rel) and answers
    from another (200 with a new SDP version naming the port the call really uses, as
    gateways that hand the call from an announcement resource to the line do). The
    200's SDP is the answer (RFC 3261 13.2.1; RFC 6337 3.1.1): the caller's audio goes
    to the new port. Before, the 200's SDP was ignored and the audio kept going to the
    early-media port, where nobody listened any more."""
    b = ua.UA("127.0.0.1", name="b")
    ctx.at_end(b.close)
    final_media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    final_media.bind(("127.0.0.1", 0))
    ctx.at_end(final_media.close)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port)
    ctx.at_end(t._end_check)
    t.start()
    a = ua.UA("127.0.0.1", name="a", auto=True)
    ctx.at_end(a.close)
    result = {}

    def callee():
        inv = b.wait(lambda m: m.method == "INVITE", 10)
        if inv is None:
            return
        tag = "early1"
        b.respond(inv, 100)
        b.respond(inv, 183, body=ua.sdp(b.ip, b.media_port, version=1), to_tag=tag)
        time.sleep(0.5)
        b.respond(inv, 200, body=ua.sdp(b.ip, final_media.getsockname()[1], version=2),
                  to_tag=tag)
        result["inv"] = inv

    th = threading.Thread(target=callee, daemon=True)
    th.start()
    d, final = _call(ctx, a, t, ua.sdp(a.ip, a.media_port, version=1))
    th.join(5)
    if d is None:
        raise AssertionError("call not answered: %s" % (final.status if final else None))
    b.wait(lambda m: m.method == "ACK", 5)
    to_trunx = re.search(rb"(?m)^m=audio (\d+)", final.body)
    _rtp_to(a.media, (t.addr, int(to_trunx.group(1))), 25)
    heard_final = _rtp_count(final_media, 1.0)
    heard_early = _rtp_count(b.media, 0.2)
    ctx.log("RTP heard: final port %d, early port %d", heard_final, heard_early)
    cseq, _, _ = d.send("BYE")
    bye = b.wait(lambda m: m.method == "BYE", 5)
    if bye is not None:
        b.respond(bye, 200)
    d.wait_final(cseq, "BYE", 5)
    if heard_final < 20:
        raise AssertionError("the answer's port heard %d of 25 packets (early-media port: "
                             "%d)" % (heard_final, heard_early))
    recs = t.wait_events("call.end", 1, timeout=10)
    if len(recs) != 1 or recs[0].get("result") != "answered":
        raise AssertionError("call.end: %s" % recs)


def case_video_many_formats(ctx):
    """A video line listing 38 formats (as browsers and browser-based gateways now
    list VP8, VP9, H.264 profiles, AV1, RTX and FEC) beside the audio line: answered
    on audio, video rejected with port 0 and one format. Before, the INVITE got 488
    "more than 32 formats"."""
    a, b, t = _setup(ctx)
    pts = list(range(96, 128)) + list(range(35, 41))
    lines = ["m=audio %d RTP/AVP 0 101" % a.media_port, "a=rtpmap:101 telephone-event/8000",
             "m=video %d RTP/AVPF %s" % (a.media_port + 2, " ".join(map(str, pts)))]
    lines += ["a=rtpmap:%d %s/90000" % (p, "rtx" if p % 2 else "VP8") for p in pts]
    lines += ["a=rtcp-fb:* nack", "a=rtcp-fb:* nack pli", "a=rtcp-fb:* goog-remb"]
    d, final = _call(ctx, a, t, _sdp(a.ip, lines))
    ml = _mlines(final.body)
    if final.status != 200 or len(ml) != 2 or ml[0][1] == 0 or \
            ml[1] != ("video", 0, "RTP/AVPF"):
        raise AssertionError("expected audio answered and video rejected: %d %s"
                             % (final.status, ml))
    if not re.search(rb"(?m)^m=video 0 RTP/AVPF \d+\r$", final.body):
        raise AssertionError("the rejected video line should carry one format")
    _answered(ctx, t, d, final)


def case_avpf_plain(ctx):
    """A softphone or gateway offering its only audio line as RTP/AVPF (RFC 4585, no
    DTLS, no keys): trunxd answers RTP/AVPF on that leg, asks no feedback of it, and
    offers the callee RTP/AVP as usual. Before, the INVITE got 488 "only RTP/AVP and
    RTP/SAVP audio are supported"."""
    a, b, t = _setup(ctx)
    body = _sdp(a.ip, ["m=audio %d RTP/AVPF 0 101" % a.media_port,
                       "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
                       "a=rtcp-fb:* nack", "a=rtcp-mux"])
    d, final = _call(ctx, a, t, body)
    ml = _mlines(final.body)
    if final.status != 200 or len(ml) != 1 or ml[0][1] == 0 or ml[0][2] != "RTP/AVPF":
        raise AssertionError("expected 200 with RTP/AVPF audio: %d %s %s"
                             % (final.status, ml, final.header("Warning")))
    if b"rtcp-fb" in final.body:
        raise AssertionError("trunxd asked for feedback it does not give")
    inv = b.wait(lambda m: m.method == "INVITE", 5)
    if inv is None or _mlines(inv.body)[0][2] != "RTP/AVP":
        raise AssertionError("callee's offer: %r" % (inv.body if inv else None))
    _answered(ctx, t, d, final)


def case_many_mlines(ctx):
    """A room system's offer with 12 m= lines (main and content video, BFCP, FECC,
    text, T.38, audio in the middle): answered on audio, every other line rejected
    with port 0, the 12 lines kept in number and order (RFC 3264 6). Beyond 32 lines,
    488 with a Warning naming the limit. Before, more than 8 lines got 488."""
    a, b, t = _setup(ctx)
    other = [["m=video %d RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=content:main"],
             ["m=application %d UDP/BFCP *", "a=floorctrl:c-s"],
             ["m=application %d RTP/AVP 100", "a=rtpmap:100 H224/4800"],
             ["m=text %d RTP/AVP 98", "a=rtpmap:98 t140/1000"],
             ["m=image %d udptl t38"]]

    def body(total, audio):
        lines = []
        for i in range(total):
            if i == audio:
                lines += ["m=audio %d RTP/AVP 0 101" % a.media_port,
                          "a=rtpmap:101 telephone-event/8000"]
                continue
            o = other[i % len(other)]
            lines += [o[0] % (a.media_port + 2 + 2 * i)] + o[1:]
        return _sdp(a.ip, lines)

    d, final = _call(ctx, a, t, body(12, 5))
    ml = _mlines(final.body)
    want = [(other[i % 5][0].split()[0][2:], 0) for i in range(12)]
    got = [(m[0], m[1]) for m in ml]
    if final.status != 200 or len(ml) != 12 or ml[5][0] != "audio" or ml[5][1] == 0 or \
            got[:5] + got[6:] != want[:5] + want[6:]:
        raise AssertionError("expected 12 lines, audio 6th: %d %s %s"
                             % (final.status, ml, final.header("Warning")))
    _answered(ctx, t, d, final)
    d, final = _call(ctx, a, t, body(33, 0))
    warn = final.header("Warning") or ""
    if final.status != 488 or "m= lines" not in warn:
        raise AssertionError("33 m= lines: %d %s" % (final.status, warn))


def case_ack_answer_holds(ctx):
    """An offerless re-INVITE: trunxd's 200 carries the offer and the caller's ACK the
    answer, which puts the call on hold (a=sendonly). The callee is told: it gets a
    re-INVITE saying sendonly (and answers recvonly). Before, the ACK's answer was kept
    on the caller's leg only and the callee never heard of the hold."""
    a, b, t, d, final, inv = _hold_in_ack(ctx, callee_auto=True)
    time.sleep(0.5)
    if t.ctl("calls") in (None, "", [], {}):
        raise AssertionError("the call ended")
    _answered(ctx, t, d, final)


def case_ack_answer_holds_after_491(ctx):
    """As ack_answer_holds, but the callee answers the relayed hold 491 (its own
    re-INVITE crossed ours): trunxd offers the hold again 2.1-4 s later (RFC 3261 14.1)
    and the callee, answering 200 this time, learns of the hold. Before, the 491 ended
    the attempt: the callee never heard of the hold and went on sending."""
    _ack_hold_491(ctx, False)


def case_ack_hold_491_then_bye(ctx):
    """The caller hangs up while the hold that met 491 waits for its retry: the call
    ends normally and nothing is offered to the callee afterwards (the retry dies with
    the call; under the sanitizers, no use after free)."""
    _ack_hold_491(ctx, True)


def _hold_in_ack(ctx, callee_auto):
    """A call; the caller's offerless re-INVITE, then its ACK answering sendonly. Returns
    (a, b, trunxd, a's dialog, the call's 200, the hold re-INVITE the callee got)."""
    a, b, t = _setup(ctx)
    d, final = _call(ctx, a, t, ua.sdp(a.ip, a.media_port, version=1))
    if d is None:
        raise AssertionError("call not answered: %d" % final.status)
    b.wait(lambda m: m.method == "ACK", 5)
    b.auto = callee_auto
    b.drain()
    cseq, _, _ = d.send("INVITE", b"")
    r = d.wait_final(cseq, "INVITE", 10)
    if r is None or r.status != 200 or not r.body:
        raise AssertionError("offerless re-INVITE: %s" % (r.status if r else None))
    d.ack(cseq, ua.sdp(a.ip, a.media_port, version=2, direction="sendonly"))
    inv = _b_reinvite(b)
    if inv is None or ua.sdp_direction(inv.body) != "sendonly":
        raise AssertionError("callee got no hold re-INVITE: %r" % (inv.body if inv else None))
    return a, b, t, d, final, inv


def _ack_hold_491(ctx, bye_before_retry):
    a, b, t, d, final, first = _hold_in_ack(ctx, callee_auto=False)
    b.respond(first, 491)
    t0 = time.monotonic()
    if bye_before_retry:
        b.auto = True
        _answered(ctx, t, d, final)
        late = _b_reinvite(b, 5)
        if late is not None:
            raise AssertionError("re-INVITE after the call ended: %r" % late.body)
        return
    n1 = first.header("CSeq").split()[0]
    again = b.wait(lambda m: m.method == "INVITE" and "tag=" in (m.header("To") or "")
                   and m.header("CSeq").split()[0] != n1, 8)
    waited = time.monotonic() - t0
    if again is None or ua.sdp_direction(again.body) != "sendonly":
        raise AssertionError("the hold was not offered again after 491: %r"
                             % (again.body if again else None))
    if not 1.9 <= waited <= 4.5:
        raise AssertionError("offered again after %.2f s, not 2.1-4 s" % waited)
    ctx.log("hold offered again %.2f s after the 491", waited)
    body = ua.sdp(b.ip, b.media_port, version=3, direction="recvonly")
    b.respond(again, 200, body=body)
    if b.wait(lambda m: m.method == "ACK", 5) is None:
        raise AssertionError("no ACK for the callee's 200")
    b.auto = True
    time.sleep(0.5)
    if t.ctl("calls") in (None, "", [], {}):
        raise AssertionError("the call ended")
    _answered(ctx, t, d, final)


# An ISUP IAM as SIP-I carries it (binary, with a CR LF inside).
_ISUP = bytes([0x01, 0x10, 0x49, 0x20, 0x01, 0x0d, 0x0a, 0x05, 0x07, 0x04, 0x10, 0x11,
               0x33, 0x63, 0x21, 0x43, 0x00])


def _multipart(sdp, isup_handling="optional", boundary="unique-boundary-1"):
    disp = ("Content-Disposition: signal; handling=%s\r\n" % isup_handling
            if isup_handling else "")
    return (("--%s\r\nContent-Type: application/sdp\r\n\r\n" % boundary).encode() + sdp +
            ("\r\n--%s\r\nContent-Type: application/ISUP; version=itu-t92+\r\n%s\r\n"
             % (boundary, disp)).encode() + _ISUP + ("\r\n--%s--\r\n" % boundary).encode())


def case_multipart_isup(ctx):
    """A carrier interworking with ISUP (SIP-I, SIP-T) sends its offer as
    multipart/mixed: the SDP beside an ISUP part marked handling=optional. trunxd takes
    the SDP part: the callee gets a plain application/sdp offer, the caller a plain
    answer, and the call is made; the callee answering the same way works too. The
    ISUP part marked required (or unmarked: required by default, RFC 3261 20.11) in an
    offer gets 415 with an Accept naming what trunxd takes; a malformed multipart body
    gets 400.
    Before, every multipart offer got 415."""
    a, b, t = _setup(ctx)
    sdp = _sdp(a.ip, ["m=audio %d RTP/AVP 8 0" % a.media_port, "a=rtpmap:8 PCMA/8000",
                      "a=rtpmap:0 PCMU/8000"])
    mixed = "multipart/mixed; boundary=unique-boundary-1"
    d, final = a.call((t.addr, t.port), body=_multipart(sdp), content_type=mixed)
    ctx.log("multipart offer: %s", final.status if final else None)
    inv = b.wait(lambda m: m.method == "INVITE", 5)
    if inv is None or inv.header("Content-Type") != "application/sdp" or \
            not inv.body.startswith(b"v=0") or b"ISUP" in inv.body:
        raise AssertionError("callee's offer: %s %r" % (
            inv.header("Content-Type") if inv else None, inv.body if inv else None))
    if final is None or final.status != 200 or _mlines(final.body)[0][1] == 0:
        raise AssertionError("multipart offer: %s" % (final.status if final else None))
    _answered(ctx, t, d, final)
    # The callee answers with multipart too, its ISUP (ANM) marked required: an answer
    # cannot be refused, its SDP is taken.
    b.answer_body = lambda inv: _multipart(ua.sdp(b.ip, b.media_port), "required",
                                           boundary="xyz")
    b.answer_type = 'multipart/mixed;boundary="xyz"'
    b.inbox.clear()
    d, final = a.call((t.addr, t.port), body=sdp)
    if final is None or final.status != 200 or final.header("Content-Type") != \
            "application/sdp" or not _mlines(final.body) or _mlines(final.body)[0][1] == 0:
        raise AssertionError("multipart answer relayed: %s %r" % (
            final.status if final else None, final.body if final else None))
    d.bye()
    b.answer_body = None
    b.answer_type = "application/sdp"
    # Required ISUP: 415 with Accept; malformed: 400.
    for body, want in ((_multipart(sdp, "required"), 415), (_multipart(sdp, None), 415),
                       (_multipart(sdp)[:-9], 400)):
        d, final = a.call((t.addr, t.port), body=body, content_type=mixed)
        got = final.status if final else None
        ctx.log("%d: %s Accept %s Warning %s", want, got,
                final.header("Accept") if final else None,
                final.header("Warning") if final else None)
        if got != want or (want == 415 and "multipart/mixed" not in
                           (final.header("Accept") or "")):
            raise AssertionError("expected %d, got %s" % (want, got))


if __name__ == "__main__":
    sys.exit(case.main(globals()))
