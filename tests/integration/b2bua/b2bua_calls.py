#!/usr/bin/env python3
"""trunxd's call layer end to end: SIPp caller -> trunxd -> SIPp callee on loopback.

Each case checks what crosses the wire (SIPp scenario success, RTP captured on the
callee's and caller's media ports) and what trunxd records (one `call.end` per call,
its fields), and trunxd must stop cleanly (exit 0, no sanitizer report)."""
import os
import re
import socket
import struct
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import calls, capture, case, sipmsg, sipp, trunxd, ua  # noqa: E402


def _start(ctx, uas_scen, uas_ms=0, configure=None, calls_=1):
    u = calls.uas(ctx, uas_scen, calls=calls_, duration_ms=uas_ms, timeout=90)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, configure=configure)
    ctx.at_end(t._end_check)
    t.start()
    return u, t


def _one_cdr(ctx, t):
    recs = t.wait_events("call.end", 1, timeout=15)
    if len(recs) != 1:
        raise AssertionError("expected one call.end, got %d: %s" % (len(recs), recs))
    ctx.log("call.end: %s", recs[0])
    return recs[0]


def _expect(rec, **kv):
    for k, v in kv.items():
        if rec.get(k) != v:
            raise AssertionError("call.end %s = %r, expected %r" % (k, rec.get(k), v))


def case_basic_rtp_cdr(ctx):
    """A basic call with G.711 audio both ways through trunxd's media relay: each side
    receives every packet with the payload sent (PT 8), from trunxd's media ports; the
    call.end record carries the numbers, trunks, codec, result and RTP counts."""
    ref = capture.reference_payloads()
    u, t = _start(ctx, "uas_basic.xml", uas_ms=100)
    lo, hi = t.conf.media["port_min"], t.conf.media["port_max"]
    cap = capture.Capture(ctx.reg, "rtp", [u.media_port]).start()
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, duration_ms=8000)
    calls.finish(c, u)
    pk = cap.stop()
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    # From trunxd's address only: another test running beside this one may send to a
    # port the callee holds now (see capture.check_stream).
    to_uas = [r for r in capture.rtp_to(pk, u.media_port) if r.src == t.addr]
    ctx.log(capture.check_stream(to_uas, ref, "a->b", pt=8))
    srcs = {(r.src, r.sport) for r in to_uas} if hasattr(to_uas[0], "sport") else set()
    for p in pk:
        if p.dport == u.media_port and p.src == t.addr and not (lo <= p.sport <= hi + 1):
            raise AssertionError("RTP to the callee from %s:%d, not trunxd's range"
                                 % (p.src, p.sport))
    cap2 = [capture.Rtp.parse(p) for p in pk if p.sport == u.media_port]
    if not cap2:
        raise AssertionError("no RTP from the callee captured")
    rec = _one_cdr(ctx, t)
    _expect(rec, result="answered", sip_code=200, did="+15550001000", trunk_in="carrier",
            trunk_out="pbx", codec_a="PCMA/8000", cause="bye_a")
    for k in ("call_id", "a_call_id", "b_call_id", "start", "answer", "end"):
        if not rec.get(k):
            raise AssertionError("call.end lacks %s" % k)
    if rec["a_call_id"] == rec["b_call_id"]:
        raise AssertionError("B leg reuses A's Call-ID")
    if rec.get("rtp_a_in", 0) < 200 or rec.get("rtp_b_out", 0) < 200:
        raise AssertionError("RTP counts too low: %s" % rec)
    if rec.get("duration_ms", 0) < 5000:
        raise AssertionError("duration_ms %s for an 8 s call" % rec.get("duration_ms"))
    del srcs


def case_busy_486(ctx):
    """B busy: A gets 486; the record says failed with 486."""
    u, t = _start(ctx, "uas_486.xml")
    c = calls.uac(ctx, "uac_486.xml", t.sip_addr)
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    _expect(_one_cdr(ctx, t), result="failed", sip_code=486)


def case_cancel(ctx):
    """A cancels while B rings: B gets CANCEL, both scenarios complete."""
    u, t = _start(ctx, "uas_ring_cancel.xml")
    c = calls.uac(ctx, "uac_cancel.xml", t.sip_addr, duration_ms=1000)
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    _expect(_one_cdr(ctx, t), result="cancelled")


def case_bye_from_b(ctx):
    """B hangs up: A gets BYE."""
    u, t = _start(ctx, "uas_bye.xml", uas_ms=1000)
    c = calls.uac(ctx, "uac_wait_bye.xml", t.sip_addr)
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    _expect(_one_cdr(ctx, t), result="answered", cause="bye_b")


def case_hold(ctx):
    """re-INVITE hold and unhold from A reach B with trunxd's SDP, answered back."""
    u, t = _start(ctx, "uas_hold.xml")
    c = calls.uac(ctx, "uac_hold.xml", t.sip_addr, duration_ms=1000)
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    _expect(_one_cdr(ctx, t), result="answered")


def _ask(ep, dest, ruri, body, max_forwards=70):
    data, cid, _ = ep.request("INVITE", dest, ruri=ruri, body=body, max_forwards=max_forwards)
    ep.send(data, dest)
    final, _ = ep.wait_final(10, call_id=cid)
    return final


def case_reject_local(ctx):
    """trunxd's own refusals: unknown DID 404, Max-Forwards 0 -> 483, garbage SDP 488
    with a Warning, unknown source 403 -- and OPTIONS still answered afterwards."""
    u, t = _start(ctx, "uas_answer.xml")
    dest = ("127.0.0.1", t.port)
    good = "sip:%s@127.0.0.1:%d" % (calls.DID, t.port)
    with sipmsg.Endpoint("127.0.0.1") as ep:
        r = _ask(ep, dest, "sip:5559999999@127.0.0.1:%d" % t.port,
                 sipmsg.sdp_offer("127.0.0.1", 40000))
        if r is None or r.status != 404:
            raise AssertionError("unknown DID: %r" % r)
        r = _ask(ep, dest, good, sipmsg.sdp_offer("127.0.0.1", 40000), max_forwards=0)
        if r is None or r.status != 483:
            raise AssertionError("Max-Forwards 0: %r" % r)
        r = _ask(ep, dest, good, b"v=0\r\nthis is not sdp\r\n")
        if r is None or r.status != 488 or not r.header("Warning"):
            raise AssertionError("garbage SDP: %r" % r)
        ctx.log("488 Warning: %s", r.header("Warning"))
        r = _ask(ep, dest, good, sipmsg.sdp_offer("127.0.0.1", 40000, pts=((18, "G729/8000"),)))
        if r is None or r.status != 488:
            raise AssertionError("no common codec: %r" % r)
    with sipmsg.Endpoint("127.0.0.2") as ep:
        r = _ask(ep, dest, good, sipmsg.sdp_offer("127.0.0.2", 40000))
        if r is None or r.status != 403:
            raise AssertionError("unknown source: %r" % r)
    if not t.options_ok():
        raise AssertionError("OPTIONS not answered after the rejections")
    recs = t.wait_events("call.end", 4, timeout=15)
    codes = sorted(r.get("sip_code") for r in recs)
    if codes != [404, 483, 488, 488]:
        raise AssertionError("call.end codes %s" % codes)
    u.stop()


def case_topology(ctx):
    """The B leg shows none of A's identity: own Call-ID, our Contact and Via, no
    copied headers (the caller's X-Trunx-Test and Subject stay behind)."""
    u = calls.uas(ctx, "uas_answer.xml", timeout=60, trace_msg=True)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port)
    ctx.at_end(t._end_check)
    t.start()
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, duration_ms=500,
                  extra=["-key", "pcap", "/dev/null"])
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    invite = next((m for m in u.messages() if m.method == "INVITE"), None)
    if invite is None:
        raise AssertionError("callee saw no INVITE")
    text = invite.raw.decode("utf-8", "replace")
    for bad in ("X-Trunx-Test", "Subject:", "SIPpTag", "%s:%d" % (c.local_ip, c.port)):
        if bad in text:
            raise AssertionError("B leg INVITE leaks %r:\n%s" % (bad, text))
    if "@" in (invite.header("Call-ID") or "@") or \
            "127.0.0.1:%d" % t.port not in (invite.header("Via") or ""):
        raise AssertionError("B leg Call-ID/Via not trunxd's own:\n%s" % text)
    if invite.header("Contact") != "<sip:127.0.0.1:%d>" % t.port:
        raise AssertionError("B leg Contact %r" % invite.header("Contact"))
    if invite.header("Max-Forwards") != "69":
        raise AssertionError("B leg Max-Forwards %r" % invite.header("Max-Forwards"))
    ctx.log("B leg INVITE:\n%s", text)


def _b_invite(ctx, configure, uac_keys=None, extra_uac=()):
    """One call through a trunxd configured by `configure`; returns (trunxd, the INVITE
    the callee received, the 200 the caller received)."""
    u = calls.uas(ctx, "uas_answer.xml", timeout=60, trace_msg=True)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, configure=configure)
    ctx.at_end(t._end_check)
    t.start()
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, duration_ms=300, trace_msg=True,
                  extra=["-key", "pcap", "/dev/null"] + list(extra_uac))
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    inv = next((m for m in u.messages() if m.method == "INVITE"), None)
    ok = next((m for m in c.messages() if m.status == 200 and
               "INVITE" in (m.header("CSeq") or "")), None)
    if inv is None or ok is None:
        raise AssertionError("INVITE at B or 200 at A missing")
    return t, inv, ok


def case_trunk_policy(ctx):
    """Per-trunk policy on the B leg: session timer (Session-Expires, Min-SE, timer in
    Supported), 100rel required, and the allow-list: a listed header crosses (the
    configuration refuses identity headers on an untrusted trunk's list)."""
    def cfg(conf):
        conf.pbx["session_expires"] = 300
        conf.pbx["min_se"] = 120
        conf.pbx["100rel"] = "required"
        conf.carrier["pass_headers"] = "X-Trunx-Test"
    t, inv, ok = _b_invite(ctx, cfg)
    text = inv.raw.decode("utf-8", "replace")
    ctx.log("B leg INVITE:\n%s", text)
    se = inv.header("Session-Expires") or ""
    if not se.startswith("300"):
        raise AssertionError("Session-Expires %r, expected 300" % se)
    if "timer" not in (inv.header("Supported") or ""):
        raise AssertionError("Supported %r lacks timer" % inv.header("Supported"))
    if "100rel" not in (inv.header("Require") or ""):
        raise AssertionError("Require %r lacks 100rel" % inv.header("Require"))
    if inv.header("X-Trunx-Test") != "not-to-be-copied":
        raise AssertionError("allow-listed X-Trunx-Test not copied: %r"
                             % inv.header("X-Trunx-Test"))


def case_advertise(ctx):
    """Advertised addresses apart from the bind address: Via and Contact toward B and
    the SDP c= lines on both legs name the configured public addresses."""
    def cfg(conf):
        conf.sip["advertise"] = "192.0.2.10"
        conf.media["advertise"] = "198.51.100.20"
    t, inv, ok = _b_invite(ctx, cfg)
    via, contact = inv.header("Via") or "", inv.header("Contact") or ""
    if "192.0.2.10" not in via or "192.0.2.10" not in contact:
        raise AssertionError("B leg Via %r / Contact %r do not advertise 192.0.2.10"
                             % (via, contact))
    for m, leg in ((inv, "B offer"), (ok, "A answer")):
        body = m.body.decode("utf-8", "replace")
        if "c=IN IP4 198.51.100.20" not in body or "127.0.0.1" in body:
            raise AssertionError("%s SDP does not advertise 198.51.100.20:\n%s" % (leg, body))
    if "192.0.2.10" not in (ok.header("Contact") or ""):
        raise AssertionError("A's 200 Contact %r" % ok.header("Contact"))


def _mine(name):
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", name)


def case_early_media_hold_from_b(ctx):
    """B sends 183 with SDP (relayed to A with trunxd's SDP), answers, then holds and
    resumes the call itself: each re-INVITE reaches A rewritten and the answers go
    back; B hangs up."""
    u, t = _start(ctx, _mine("uas_early_reinvite.xml"))
    c = calls.uac(ctx, _mine("uac_accept_reinvite.xml"), t.sip_addr)
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    rec = _one_cdr(ctx, t)
    _expect(rec, result="answered", cause="bye_b", codec_a="PCMA/8000")
    if rec.get("setup_ms", -1) < 0:
        raise AssertionError("no setup time for an early-media call")


def case_delayed_offer(ctx):
    """A's INVITE has no SDP: B gets trunx's own offer, A gets B's choice as an offer in
    the 200 and answers in its ACK; the call completes and is recorded answered."""
    u, t = _start(ctx, "uas_answer.xml")
    c = calls.uac(ctx, _mine("uac_delayed_offer.xml"), t.sip_addr, duration_ms=500)
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    _expect(_one_cdr(ctx, t), result="answered", codec_a="PCMA/8000", cause="bye_a")


def case_load_small(ctx):
    """300 calls at 100 per second, up to 100 at once, media anchored (no RTP): every
    call succeeds on both sides and every call leaves exactly one answered record."""
    n = 300
    u, t = _start(ctx, "uas_answer.xml", calls_=n)
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, calls=n, rate=100, limit=100,
                  duration_ms=500, extra=["-key", "pcap", "/dev/null"], timeout=120)
    calls.finish(c, u)
    sipp.expect_ok(c, n)
    sipp.expect_ok(u, n)
    recs = t.wait_events("call.end", n, timeout=30)
    answered = [r for r in recs if r.get("result") == "answered"]
    if len(recs) != n or len(answered) != n:
        raise AssertionError("%d call.end records, %d answered, for %d calls"
                             % (len(recs), len(answered), n))
    if len({r["call_id"] for r in recs}) != n:
        raise AssertionError("call ids are not unique")


def _media_of(body):
    """(address, port) of an SDP body's first audio stream."""
    text = body.decode(errors="replace")
    m = re.search(r"^m=audio (\d+)", text, re.M)
    c = re.search(r"^c=IN IP[46] (\S+)", text, re.M)
    return (c.group(1) if c else None, int(m.group(1)) if m else 0)


def _rtp_burst(sock, dest, n, ssrc):
    for i in range(n):
        sock.sendto(struct.pack("!BBHII", 0x80, 0, 1000 + i, 160 * i, ssrc) + b"\xff" * 160,
                    dest)


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


def _sdp6(port):
    return ("v=0\r\no=- 77 1 IN IP6 fd00::7\r\ns=-\r\nc=IN IP6 fd00::7\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n" % port).encode()


def _ipv6_sdp(ctx, leg):
    """leg ("a" or "b") signals over IPv4 and names an IPv6 address in its SDP."""
    b = ua.UA("127.0.0.1", name="b", auto=True)
    ctx.at_end(b.close)
    pcmu = ((0, "PCMU/8000"), (101, "telephone-event/8000"))
    b.answer_body = ((lambda inv: _sdp6(b.media_port)) if leg == "b" else
                     (lambda inv: ua.sdp(b.ip, b.media_port, pts=pcmu)))   # a pure relay
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port)
    ctx.at_end(t._end_check)
    t.start()
    a = ua.UA("127.0.0.1", name="a", auto=True)
    ctx.at_end(a.close)
    body = _sdp6(a.media_port) if leg == "a" else ua.sdp(a.ip, a.media_port, pts=pcmu)
    da, final = a.call((t.addr, t.port), body=body)
    if da is None:
        raise AssertionError("call not answered: %s" % (final.start if final else None))
    inv = b.wait(lambda m: m.method == "INVITE", 5)
    to_a = _media_of(final.body)
    to_b = _media_of(inv.body)
    ctx.log("trunxd's media: toward A %s, toward B %s", to_a, to_b)
    # The IPv6 side hears first: it has sent nothing, so only its signalling address
    # can serve.
    first, second = ((b, to_b, a), (a, to_a, b)) if leg == "a" else \
        ((a, to_a, b), (b, to_b, a))
    _rtp_burst(first[0].media, first[1], 25, 0x1111)
    heard_1 = _rtp_count(first[2].media, 1.0)
    _rtp_burst(second[0].media, second[1], 25, 0x2222)
    heard_2 = _rtp_count(second[2].media, 1.0)
    da.bye()
    rec = t.wait_events("call.end", 1, 10)
    warn = [e for e in t.events("call.media") if "IPv6" in e.get("msg", "")]
    ctx.log("leg %s (IPv6 SDP) heard %d, the other %d; call.media: %s; call.end: %s",
            leg, heard_1, heard_2, warn, rec)
    if heard_1 < 20 or heard_2 < 20:
        raise AssertionError("audio did not cross: the IPv6 leg heard %d of 25, the other "
                             "%d of 25" % (heard_1, heard_2))
    if len(warn) != 1 or warn[0].get("leg") != leg or "127.0.0.1" not in warn[0]["msg"]:
        raise AssertionError("expected one call.media warning for leg %s naming the "
                             "signalling address: %s" % (leg, warn))
    if len(rec) != 1 or rec[0].get("rtp_a_out", 0) < 20 or rec[0].get("rtp_b_out", 0) < 20:
        raise AssertionError("call.end RTP counts: %s" % rec)


def case_ipv6_sdp_ipv4_media(ctx):
    """A dual-stack caller that signals over IPv4 but names an IPv6 address in its SDP
    (as linphone does on a host with an IPv6 address), while trunxd's media is IPv4:
    trunxd sends its media to the caller's signalling address with the SDP's port
    (the caller's socket takes both families), says so once in a call.media warning,
    and the audio crosses both ways. Before, the media update was refused and the
    call stayed up with no audio at all."""
    _ipv6_sdp(ctx, "a")


def case_ipv6_sdp_ipv4_media_b(ctx):
    """The same for a callee whose answer names an IPv6 address: its media goes to the
    address its responses came from."""
    _ipv6_sdp(ctx, "b")


if __name__ == "__main__":
    sys.exit(case.main(globals()))
