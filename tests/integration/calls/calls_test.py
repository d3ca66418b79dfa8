#!/usr/bin/env python3
"""Calls through trunxd: the "must show" cases of the B2BUA, one ctest test each.

Every case starts SIPp callee(s), a trunxd on free loopback ports whose config routes
+15550001000 (dialled as 5550001000 by the "carrier" trunk) to the callee's "pbx"
trunk, and SIPp caller(s); then checks what each side saw, trunxd's call.end records
and counters. trunxd is stopped with SIGTERM at the end of every case and must exit 0
with no sanitizer report (harness.trunxd).
"""
import datetime
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import calls, capture, case, procs, sipmsg, sipp, trunxd  # noqa: E402
from harness.calls import finish  # noqa: E402

A_DID = "+15550001000"
CALLER = calls.CALLER


def start(ctx, uas_scen=None, uas_ms=0, uas_calls=1, configure=None, uas_trace=False,
          slow_dns=False, uas_timeout=120):
    """A callee (optional) and a trunxd routing the test DID to it."""
    u = None
    if uas_scen:
        u = calls.uas(ctx, uas_scen, calls=uas_calls, duration_ms=uas_ms,
                      trace_msg=uas_trace, timeout=uas_timeout)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port if u else None,
                      configure=configure, slow_dns=slow_dns).start()
    return u, t


def caller(ctx, t, scen, **kw):
    return calls.uac(ctx, scen, t.sip_addr, **kw)


def expect_ok(*ss):
    for s in ss:
        sipp.expect_ok(s)


def one_call_end(ctx, t, timeout=15.0):
    recs = t.wait_events("call.end", 1, timeout)
    if len(recs) != 1:
        raise AssertionError("expected exactly one call.end record, got %d: %s"
                             % (len(recs), recs))
    ctx.log("call.end: %s", recs[0])
    return recs[0]


def expect_fields(rec, **want):
    bad = ["%s=%r (expected %r)" % (k, rec.get(k), v) for k, v in want.items()
           if rec.get(k) != v]
    if bad:
        raise AssertionError("call.end: " + ", ".join(bad) + "\nrecord: %s" % rec)


def counters_back_to_zero(ctx, t, timeout=20.0):
    """`trunxctl status` reports 0 active calls (within timeout)."""
    n = procs.wait_until(lambda: t.active_calls() == 0, timeout, 0.3)
    if not n:
        raise AssertionError("trunxctl status: %d calls still active" % t.active_calls())
    ctx.log("trunxctl status: 0 active calls")


def wait_answered(ctx, t, n, timeout=10.0):
    """Waits until trunxctl lists n answered calls (a settling second where trunxctl is
    not built); returns whether it did."""
    if not ctx.trunxctl_path:
        time.sleep(1.5)
        return True
    return bool(procs.wait_until(
        lambda: sum(c.get("state") == "answered" for c in t.ctl("calls")) >= n,
        timeout, 0.1))


def sdp_media(msg):
    """(c= address, m=audio port, payload types, direction) of a message's SDP."""
    body = msg.body.decode(errors="replace")
    addr = port = None
    pts, direction = [], "sendrecv"
    for line in body.replace("\r\n", "\n").split("\n"):
        if line.startswith("c=IN IP4 "):
            addr = line.split()[2]
        elif line.startswith("m=audio "):
            f = line.split()
            port, pts = int(f[1]), [int(x) for x in f[3:]]
        elif line in ("a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv"):
            direction = line[2:]
    return addr, port, pts, direction


def first(msgs, pred, what):
    for m in msgs:
        if pred(m):
            return m
    raise AssertionError("no %s among %d messages received" % (what, len(msgs)))


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


# ---- cases ----------------------------------------------------------------------------

def case_basic_call_rtp(ctx):
    """A calls B through trunxd; both play g711a.pcap (236 PCMA packets). Each side
    receives every packet, payloads in order, from trunxd's media port of its leg;
    B sees its own Call-ID, Max-Forwards decremented, no copied headers, trunxd's SDP;
    the call.end record is checked field by field."""
    ref = capture.reference_payloads()
    u, t = start(ctx, "uas_basic.xml", uas_ms=500, uas_trace=True)
    lo, hi = t.conf.media_range
    # The caller's media port is picked here so the capture can be armed first.
    cmp_ = calls.pick_media_port()
    cap = capture.Capture(ctx.reg, "rtp", [u.media_port, cmp_]).start()
    c = caller(ctx, t, "uac_basic.xml", duration_ms=8500, trace_msg=True, media_port=cmp_)
    finish(c, u)
    pk = cap.stop()
    expect_ok(c, u)

    # What B received: an INVITE of its own dialog, rewritten by trunxd.
    inv = first(u.messages(), lambda m: m.method == "INVITE", "INVITE at B")
    ok_a = first(c.messages(), lambda m: m.status == 200 and "INVITE" in m.header("CSeq", ""),
                 "200 OK at A")
    b_addr, b_port, b_pts, _ = sdp_media(inv)
    a_addr, a_port, a_pts, _ = sdp_media(ok_a)
    ctx.log("trunxd media: A side %s:%s pts %s, B side %s:%s pts %s",
            a_addr, a_port, a_pts, b_addr, b_port, b_pts)
    if b_addr != "127.0.0.1" or not (lo <= (b_port or 0) <= hi):
        raise AssertionError("B's offer is not on trunxd's media address/range: %s:%s"
                             % (b_addr, b_port))
    if a_addr != "127.0.0.1" or not (lo <= (a_port or 0) <= hi) or a_port == b_port:
        raise AssertionError("A's answer is not on trunxd's own A-side port: %s:%s"
                             % (a_addr, a_port))
    if 8 not in b_pts or 18 in b_pts:
        raise AssertionError("B's offer codecs %s: PCMA expected, nothing unsupported"
                             % b_pts)
    if inv.header("Max-Forwards") != "69":
        raise AssertionError("Max-Forwards at B is %r, expected 69 (70 decremented)"
                             % inv.header("Max-Forwards"))
    for h in ("X-Trunx-Test", "Subject"):
        if inv.header(h) is not None:
            raise AssertionError("header %s was copied to the B leg" % h)
    if len(inv.header_all("Via")) != 1 or "127.0.0.1:%d" % t.port not in inv.header("Via"):
        raise AssertionError("B leg Via is not trunxd's alone: %s" % inv.header_all("Via"))
    if inv.header("Call-ID") == ok_a.header("Call-ID"):
        raise AssertionError("B leg reuses A's Call-ID %s" % inv.header("Call-ID"))
    if CALLER not in (inv.header("From") or ""):
        raise AssertionError("caller number missing from B's From: %s" % inv.header("From"))

    # Media, both ways, as seen on the wire.
    ctx.log(capture.check_stream(capture.rtp_to(pk, u.media_port), ref, "trunxd->B", pt=8,
                                 src=("127.0.0.1", b_port)))
    ctx.log(capture.check_stream(capture.rtp_to(pk, c.media_port), ref, "trunxd->A", pt=8,
                                 src=("127.0.0.1", a_port)))
    to_a_side = len(capture.rtp_to(pk, a_port))
    to_b_side = len(capture.rtp_to(pk, b_port))

    rec = one_call_end(ctx, t)
    expect_fields(rec, a_call_id=ok_a.header("Call-ID"), b_call_id=inv.header("Call-ID"),
                  did=A_DID, trunk_in="carrier", trunk_out="pbx", result="answered",
                  sip_code=200, cause="bye_a", codec_a="PCMA/8000", codec_b="PCMA/8000",
                  rtp_a_in=to_a_side, rtp_b_in=to_b_side, rtp_a_out=len(ref),
                  rtp_b_out=len(ref), rtp_a_lost=0, rtp_b_lost=0, rtp_dropped=0)
    if not rec.get("call_id"):
        raise AssertionError("call.end has no call_id")
    if CALLER not in str(rec.get("from")):
        raise AssertionError("call.end from=%r lacks the caller %s" % (rec.get("from"), CALLER))
    if "5550001000" not in str(rec.get("to")):
        raise AssertionError("call.end to=%r lacks the dialled number" % rec.get("to"))
    t_start, t_ans, t_end = (parse_ts(rec[k]) for k in ("start", "answer", "end"))
    if not (t_start <= t_ans <= t_end):
        raise AssertionError("call.end times out of order: %s %s %s" % (t_start, t_ans, t_end))
    if not 400 <= rec["answer_ms"] <= 10000:
        raise AssertionError("answer_ms %s: B answered ~500 ms after ringing" % rec["answer_ms"])
    if not 0 <= rec["setup_ms"] <= rec["answer_ms"]:
        raise AssertionError("setup_ms %s not within [0, answer_ms]" % rec["setup_ms"])
    if not 7500 <= rec["duration_ms"] <= 30000:
        raise AssertionError("duration_ms %s: A hung up ~8.5 s after answer" % rec["duration_ms"])


def case_cancel_before_answer(ctx):
    """A cancels while B rings: B gets CANCEL (200 + 487), A gets 200 + 487."""
    u, t = start(ctx, "uas_ring_cancel.xml")
    c = caller(ctx, t, "uac_cancel.xml", duration_ms=1000)
    finish(c, u)
    expect_ok(c, u)
    rec = one_call_end(ctx, t)
    expect_fields(rec, result="cancelled", cause="cancelled", sip_code=487, answer=None)


def case_busy_486(ctx):
    """B answers 486: A gets 486 (relayed as is)."""
    u, t = start(ctx, "uas_486.xml")
    c = caller(ctx, t, "uac_486.xml")
    finish(c, u)
    expect_ok(c, u)
    expect_fields(one_call_end(ctx, t), result="failed", sip_code=486, answer=None)


def case_b_503_becomes_500(ctx):
    """B answers 503 (with Retry-After): A gets 500, B's 503 is not relayed."""
    u, t = start(ctx, "uas_overloaded.xml")
    c = caller(ctx, t, "uac_500.xml")
    finish(c, u)
    expect_ok(c, u)
    expect_fields(one_call_end(ctx, t), result="failed", sip_code=500)


def case_bye_from_a(ctx):
    """Answered call, A hangs up after 2 s: B gets the BYE."""
    u, t = start(ctx, "uas_answer.xml")
    c = caller(ctx, t, "uac_cps.xml", duration_ms=2000)
    finish(c, u)
    expect_ok(c, u)
    rec = one_call_end(ctx, t)
    expect_fields(rec, result="answered", sip_code=200, cause="bye_a")
    if not 1500 <= rec["duration_ms"] <= 20000:
        raise AssertionError("duration_ms %s for a ~2 s call" % rec["duration_ms"])


def case_bye_from_b(ctx):
    """Answered call, B hangs up after 2 s: A gets the BYE."""
    u, t = start(ctx, "uas_bye.xml", uas_ms=2000)
    c = caller(ctx, t, "uac_wait_bye.xml")
    finish(c, u)
    expect_ok(c, u)
    expect_fields(one_call_end(ctx, t), result="answered", sip_code=200, cause="bye_b")


def case_hold_unhold(ctx):
    """A holds (re-INVITE sendonly) for 3x the RTP timeout with no RTP at all, then
    resumes: B sees the hold and the resume, no BYE comes from trunxd meanwhile."""
    def conf(cf):
        cf.media["rtp_timeout"] = 3
    u, t = start(ctx, "uas_hold.xml", configure=conf)
    c = caller(ctx, t, "uac_hold.xml", duration_ms=9000)
    finish(c, u)
    expect_ok(c, u)
    rec = one_call_end(ctx, t)
    expect_fields(rec, result="answered", cause="bye_a")


def case_rtp_timeout(ctx):
    """Answered call with no RTP at all: after rtp_timeout (3 s) trunxd hangs both legs
    up with BYE; the record says why."""
    def conf(cf):
        cf.media["rtp_timeout"] = 3
    u, t = start(ctx, "uas_answer.xml", configure=conf)
    t0 = time.monotonic()
    c = caller(ctx, t, "uac_wait_bye.xml")
    finish(c, u)
    took = time.monotonic() - t0
    expect_ok(c, u)
    if took < 2.5:
        raise AssertionError("BYE after %.1f s, before the 3 s RTP timeout" % took)
    rec = one_call_end(ctx, t)
    expect_fields(rec, result="answered", cause="rtp_timeout")
    if t.ctx.trunxctl_path:
        n = t.counter("rtp_timeouts")
        if n != 1:
            raise AssertionError("rtp_timeouts counter is %s, expected 1" % n)


def case_no_answer_480(ctx):
    """B rings and never answers: after ring_timeout (3 s) trunxd cancels B and
    answers A 480."""
    def conf(cf):
        cf.sip["ring_timeout"] = 3
    u, t = start(ctx, "uas_ring_cancel.xml", configure=conf)
    t0 = time.monotonic()
    c = caller(ctx, t, "uac_480.xml")
    finish(c, u)
    took = time.monotonic() - t0
    expect_ok(c, u)
    if took < 2.5:
        raise AssertionError("480 after %.1f s, before the 3 s ring timeout" % took)
    expect_fields(one_call_end(ctx, t), result="failed", sip_code=480, answer=None)


def case_no_response_408(ctx):
    """B never answers anything: after invite_timeout (3 s) A gets 408."""
    def conf(cf):
        cf.sip["invite_timeout"] = 3
    u, t = start(ctx, "uas_silent.xml", uas_ms=12000, configure=conf)
    t0 = time.monotonic()
    c = caller(ctx, t, "uac_408.xml")
    c.wait()
    took = time.monotonic() - t0
    u.stop()
    expect_ok(c)
    if took < 2.5 or took > 20:
        raise AssertionError("408 after %.1f s for a 3 s invite_timeout" % took)
    expect_fields(one_call_end(ctx, t), result="failed", sip_code=408, answer=None)


# ---- IPv6 ---------------------------------------------------------------------------

V6 = "::1"


def sdp_lines(msg):
    return msg.body.decode(errors="replace").replace("\r\n", "\n").split("\n")


def expect_ip6_sdp(msg, who):
    """msg's SDP is trunxd's on ::1: c= and o= IN IP6 ::1, no IPv4 line."""
    lines = sdp_lines(msg)
    c = [l for l in lines if l.startswith("c=")]
    o = [l for l in lines if l.startswith("o=")]
    if c != ["c=IN IP6 ::1"] or len(o) != 1 or not o[0].endswith(" IN IP6 ::1"):
        raise AssertionError("%s: SDP is not trunxd's IPv6 one (c=%s o=%s):\n%s"
                             % (who, c, o, "\n".join(lines)))


def expect_no_ip4(msg, who):
    text = msg.raw.decode(errors="replace")
    if "127.0.0.1" in text or "IP4" in text or "0.0.0.0" in text:
        raise AssertionError("%s: an IPv4 leftover in:\n%s" % (who, text))


def ipv6_call(ctx, transport):
    """A calls B through trunxd, everything on ::1 (SIP over the given SIPp transport,
    u1 or t1); both play g711a.pcap. Each side receives every packet from trunxd's media
    port of its leg on ::1; Via, Contact and SDP name [::1] / IN IP6 ::1 and nothing of
    IPv4; trunxctl and call.end show the IPv6 peers."""
    ref = capture.reference_payloads()
    u = calls.uas(ctx, "uas_basic.xml", duration_ms=500, trace_msg=True, local_ip=V6,
                  transport=transport)

    def conf(cf):
        if transport.startswith("t"):
            cf.pbx["uri"] = "sip:[::1]:%d;transport=tcp" % u.port
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, configure=conf,
                      ip=V6).start()
    ready = t.events("trunxd.ready")
    if not ready or "listening on [::1]:%d " % t.port not in ready[0].get("msg", ""):
        raise AssertionError("trunxd.ready does not name [::1]:%d: %s" % (t.port, ready))
    lo, hi = t.conf.media_range
    cmp_ = calls.pick_media_port(V6)
    cap = capture.Capture(ctx.reg, "rtp", [u.media_port, cmp_]).start()
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, duration_ms=8500, trace_msg=True,
                  media_port=cmp_, local_ip=V6, transport=transport)
    if ctx.trunxctl_path:
        if not wait_answered(ctx, t, 1, timeout=15):
            raise AssertionError("the call was never answered: %s" % t.ctl("calls"))
        view = t.ctl("calls")
        ctx.log("trunxctl calls: %s", view)
        if "127.0.0.1" in str(view):
            raise AssertionError("trunxctl calls shows an IPv4 address: %s" % view)
        trunks = t.ctl("trunks", json_out=False)
        ctx.log("trunxctl trunks:\n%s", trunks)
        tj = {x["name"]: x for x in t.ctl("trunks")}
        ctx.log("trunxctl trunks --json: %s", tj)
        if (tj["carrier"]["sources"] != ["::1/128"] or tj["pbx"]["sources"] != ["::1/128"]
                or tj["pbx"]["uri"] != t.conf.pbx["uri"]
                or "sip:[::1]:%d" % u.port not in trunks):
            raise AssertionError("trunxctl trunks does not show the IPv6 trunks: %s" % tj)
    finish(c, u)
    pk = cap.stop()
    expect_ok(c, u)

    inv = first(u.messages(), lambda m: m.method == "INVITE", "INVITE at B")
    ok_a = first(c.messages(), lambda m: m.status == 200 and "INVITE" in m.header("CSeq", ""),
                 "200 OK at A")
    ctx.log("INVITE at B:\n%s", inv.raw.decode(errors="replace"))
    ctx.log("200 at A:\n%s", ok_a.raw.decode(errors="replace"))
    want_via = "[::1]:%d" % t.port
    if len(inv.header_all("Via")) != 1 or want_via not in inv.header("Via"):
        raise AssertionError("B leg Via is not trunxd's [::1]: %s" % inv.header_all("Via"))
    for m, who in ((inv, "INVITE at B"), (ok_a, "200 at A")):
        if "[::1]" not in (m.header("Contact") or ""):
            raise AssertionError("%s: Contact %r does not name [::1]"
                                 % (who, m.header("Contact")))
        expect_ip6_sdp(m, who)
        expect_no_ip4(m, who)
    b_port = sdp_port(inv)
    a_port = sdp_port(ok_a)
    if not (lo <= b_port <= hi and lo <= a_port <= hi) or a_port == b_port:
        raise AssertionError("trunxd's media ports %s/%s not its own in %d-%d"
                             % (a_port, b_port, lo, hi))
    ctx.log(capture.check_stream(capture.rtp_to(pk, u.media_port, dst=V6), ref, "trunxd->B",
                                 pt=8, src=(V6, b_port)))
    ctx.log(capture.check_stream(capture.rtp_to(pk, c.media_port, dst=V6), ref, "trunxd->A",
                                 pt=8, src=(V6, a_port)))
    rec = one_call_end(ctx, t)
    expect_fields(rec, did=A_DID, trunk_in="carrier", trunk_out="pbx", result="answered",
                  sip_code=200, codec_a="PCMA/8000", codec_b="PCMA/8000",
                  rtp_a_out=len(ref), rtp_b_out=len(ref), rtp_a_lost=0, rtp_b_lost=0)
    if "127.0.0.1" in str(rec):
        raise AssertionError("call.end holds an IPv4 address: %s" % rec)
    counters_back_to_zero(ctx, t)
    t.check_alive()


def sdp_port(msg):
    for l in sdp_lines(msg):
        if l.startswith("m=audio "):
            return int(l.split()[1])
    raise AssertionError("no m=audio in %s" % msg.start)


def case_ipv6_call_udp(ctx):
    ipv6_call(ctx, "u1")


def case_ipv6_call_tcp(ctx):
    ipv6_call(ctx, "t1")


def case_ipv6_hold_unhold(ctx):
    """hold_unhold on ::1: A's re-INVITEs (sendonly, then sendrecv) reach B as trunxd's
    own, with IN IP6 SDP and nothing of IPv4; no RTP timeout while held."""
    u = calls.uas(ctx, "uas_hold.xml", trace_msg=True, local_ip=V6)

    def conf(cf):
        cf.media["rtp_timeout"] = 3
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, configure=conf,
                      ip=V6).start()
    c = calls.uac(ctx, "uac_hold.xml", t.sip_addr, duration_ms=9000, local_ip=V6)
    finish(c, u)
    expect_ok(c, u)
    invs = [m for m in u.messages() if m.method == "INVITE"]
    if len(invs) != 3:
        raise AssertionError("B saw %d INVITEs, expected 3 (call, hold, resume)"
                             % len(invs))
    for i, m in enumerate(invs):
        expect_ip6_sdp(m, "INVITE %d at B" % i)
        expect_no_ip4(m, "INVITE %d at B" % i)
    if "a=sendonly" not in invs[1].body.decode(errors="replace"):
        raise AssertionError("the hold did not reach B as sendonly")
    expect_fields(one_call_end(ctx, t), result="answered", cause="bye_a")


def case_ipv6_media_ip4_sdp(ctx):
    """Everything on ::1, but the callee's SDP names an IPv4 address (a dual-stack PBX
    signalling over IPv6): media bound to ::1 cannot reach it, so trunxd sends B's
    media to B's IPv6 signalling address with the SDP's port, from its own B-side port,
    and says so once (call.media warning); it never sends toward the IPv4 address."""
    ref = capture.reference_payloads()
    u = calls.uas(ctx, "uas_basic.xml", duration_ms=500, trace_msg=True, local_ip=V6,
                  extra=["-mi", "127.0.0.1"])
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, ip=V6).start()
    cmp_ = calls.pick_media_port(V6)
    cap = capture.Capture(ctx.reg, "rtp", [u.media_port, cmp_]).start()
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, duration_ms=8500, trace_msg=True,
                  media_port=cmp_, local_ip=V6)
    finish(c, u)
    pk = cap.stop()
    expect_ok(c, u)
    inv = first(u.messages(), lambda m: m.method == "INVITE", "INVITE at B")
    expect_ip6_sdp(inv, "INVITE at B")
    b_port = sdp_port(inv)
    to_v4 = [p for p in pk if p.dst == "127.0.0.1" and p.dport == u.media_port]
    if to_v4:
        raise AssertionError("%d packets sent to B's IPv4 SDP address" % len(to_v4))
    ctx.log(capture.check_stream(capture.rtp_to(pk, u.media_port, dst=V6), ref,
                                 "trunxd->B at its signalling address", pt=8,
                                 src=(V6, b_port), min_fraction=0.9))
    warn = [r for r in t.events("call.media") if r.get("leg") == "b"]
    ctx.log("call.media: %s", warn)
    if len(warn) != 1 or warn[0].get("level") != "warn" or "::1" not in warn[0].get("msg", ""):
        raise AssertionError("expected one call.media warning for leg b naming ::1: %s"
                             % warn)
    one_call_end(ctx, t)


def case_ipv6_mixed_family_refused(ctx):
    """trunxd sends SIP from its listen address's family only: a trunk whose uri is an
    IPv6 literal while it listens on IPv4 (A over IPv4, B over IPv6) is refused at
    start-up, naming the trunk and both families, instead of every call to it failing
    with 408 after the stack's local 503; and the same at a reload, which keeps the
    running configuration."""
    u = calls.uas(ctx, "uas_basic.xml", duration_ms=500, local_ip=V6)

    def conf(cf):
        cf.pbx.update(match="::1/128", uri="sip:[::1]:%d" % u.port)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, configure=conf)
    try:
        t.start(ready_timeout=10)
    except trunxd.TrunxdError as e:
        err = str(e)
        t._expect_exit = True   # it exited by itself, with the reason
    else:
        c = caller(ctx, t, "uac_basic.xml", duration_ms=1000)
        finish(c, u, timeout=40)
        raise AssertionError("trunxd started with trunk pbx on [::1] while listening on "
                             "127.0.0.1; a call to it: %s; %s"
                             % (c.summary(), t.events("call.failed")))
    want = ("trunk pbx: uri sip:[::1]:%d is IPv6 but [sip] listen 127.0.0.1 is IPv4"
            % u.port)
    if want not in err or t.proc.popen.returncode in (None, 0):
        raise AssertionError("start-up refusal (rc %s) does not say %r:\n%s"
                             % (t.proc.popen.returncode, want, err))
    ctx.log("refused at start-up: %s", want)

    # A reload bringing such a uri is refused; the running trunk stays.
    t2 = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, name="trunxd-reload").start()
    with open(t2.conf_path) as f:
        text = f.read()
    with open(t2.conf_path, "w") as f:
        f.write(text.replace("uri = sip:127.0.0.1:%d" % u.port, "uri = sip:[::1]:%d" % u.port))
    try:
        out = t2.ctl("reload")
        raise AssertionError("reload with an IPv6 trunk uri accepted: %s" % out)
    except trunxd.TrunxdError as e:
        if "is IPv6 but [sip] listen 127.0.0.1 is IPv4" not in str(e):
            raise AssertionError("reload refusal does not give the reason: %s" % e)
        ctx.log("reload refused: %s", str(e).strip()[:300])
    tj = {x["name"]: x for x in t2.ctl("trunks")}
    if tj["pbx"]["uri"] != "sip:127.0.0.1:%d" % u.port:
        raise AssertionError("the refused reload changed the trunk: %s" % tj["pbx"])
    u.stop()


def case_unknown_source_403(ctx):
    """An INVITE (and an OPTIONS) from 127.0.0.2, which matches no trunk, get 403 and
    are counted; the call never reaches routing."""
    u, t = start(ctx, "uas_answer.xml")
    c = caller(ctx, t, "uac_403.xml", local_ip="127.0.0.2")
    c.wait()
    expect_ok(c)
    with sipmsg.Endpoint("127.0.0.2") as ep:
        r, _ = ep.options((t.addr, t.port), timeout=3)
    if r is None or r.status != 403:
        raise AssertionError("OPTIONS from an unknown source: %s, expected 403" % r)
    if u.count("IncomingCall(C)") or u.count("CurrentCall"):
        raise AssertionError("the callee saw a call from an unknown source")
    if ctx.trunxctl_path:
        n = t.counter("rejected_unknown_source")
        if n < 2:
            raise AssertionError("rejected_unknown_source = %s, expected >= 2" % n)
    u.stop()


def case_unknown_source_drop(ctx):
    """unknown_source = drop: requests from 127.0.0.2 get no answer at all, while
    known sources are still answered; the drops are counted."""
    def conf(cf):
        cf.sip["unknown_source"] = "drop"
    _, t = start(ctx, configure=conf)
    with sipmsg.Endpoint("127.0.0.2") as ep:
        for method in ("INVITE", "OPTIONS", "REGISTER"):
            body = sipmsg.sdp_offer("127.0.0.2", 40000) if method == "INVITE" else b""
            data, cid, _ = ep.request(method, (t.addr, t.port), to_user="5550001000",
                                      body=body)
            ep.send(data, (t.addr, t.port))
            r = ep.recv(3.0)
            if r is not None:
                raise AssertionError("%s from an unknown source answered in drop mode: %s"
                                     % (method, r.start))
    if not t.options_ok():
        raise AssertionError("known source no longer answered")
    if ctx.trunxctl_path:
        n = t.counter("dropped_unknown_source")
        if n < 3:
            raise AssertionError("dropped_unknown_source = %s, expected >= 3" % n)


def case_unknown_did_404(ctx):
    """A number with no route: 404."""
    u, t = start(ctx, "uas_answer.xml")
    c = caller(ctx, t, "uac_404.xml", service="5559999999")
    c.wait()
    expect_ok(c)
    u.stop()
    expect_fields(one_call_end(ctx, t), result="rejected", sip_code=404)


def case_no_common_codec_488(ctx):
    """An offer of G.729 and GSM only: 488, B is never called."""
    u, t = start(ctx, "uas_answer.xml")
    c = caller(ctx, t, "uac_488.xml")
    c.wait()
    expect_ok(c)
    if u.count("IncomingCall(C)"):
        raise AssertionError("B was called although no codec was common")
    u.stop()
    expect_fields(one_call_end(ctx, t), sip_code=488)


def case_max_forwards_483(ctx):
    """An INVITE with Max-Forwards: 0 gets 483, B is never called."""
    u, t = start(ctx, "uas_answer.xml")
    c = caller(ctx, t, "uac_483.xml")
    c.wait()
    expect_ok(c)
    if u.count("IncomingCall(C)"):
        raise AssertionError("B was called with Max-Forwards 0")
    u.stop()


def case_overload_503(ctx):
    """max_calls = 2: with two calls up, a third INVITE gets 503 with Retry-After
    (the configured 7 s); the two calls complete normally; the rejection is counted."""
    def conf(cf):
        cf.sip["max_calls"] = 2
        cf.sip["retry_after"] = 7
    u, t = start(ctx, "uas_answer.xml", uas_calls=2, configure=conf)
    hold = caller(ctx, t, "uac_cps.xml", name="uac_hold", calls=2, rate=10, limit=2,
                  duration_ms=8000)
    up = procs.wait_until(lambda: hold.count("CurrentCall") >= 2, 10, 0.2)
    if not up:
        raise AssertionError("the two held calls did not start")
    # SIPp counts a call once its INVITE is out: wait until trunxd holds both (what
    # max_calls counts) before the third INVITE goes.
    if not wait_answered(ctx, t, 2):
        raise AssertionError("trunxd did not answer the two held calls: %s"
                             % t.ctl("calls"))
    c = caller(ctx, t, "uac_503.xml", name="uac_503", trace_logs=True)
    c.wait()
    expect_ok(c)
    # uac_503.xml fails without Retry-After and logs the value it matched.
    if "retry_after=7" not in c.logs():
        raise AssertionError("Retry-After is not the configured 7: %r" % c.logs())
    finish(hold, u)
    expect_ok(hold, u)
    if ctx.trunxctl_path:
        n = t.counter("rejected_overload")
        if n != 1:
            raise AssertionError("rejected_overload = %s, expected 1" % n)
    recs = t.events("call.end")
    codes = sorted(r_.get("sip_code") for r_ in recs)
    if codes != [200, 200, 503]:
        raise AssertionError("call.end codes %s, expected [200, 200, 503]" % codes)


def case_overload_cps_503(ctx):
    """max_cps = 5: 30 INVITEs within ~0.6 s: most get 503 with Retry-After, at
    least 5 go through, nothing else fails."""
    def conf(cf):
        cf.sip["max_cps"] = 5
    _, t = start(ctx, configure=conf)
    got = {}
    with sipmsg.Endpoint("127.0.0.1") as ep:
        cids = []
        for i in range(30):
            data, cid, _ = ep.request("INVITE", (t.addr, t.port), to_user="5559999999",
                                      body=sipmsg.sdp_offer("127.0.0.1", 40000 + 2 * i))
            ep.send(data, (t.addr, t.port))
            cids.append(cid)
            time.sleep(0.02)
        deadline = time.monotonic() + 10
        while len(got) < len(cids) and time.monotonic() < deadline:
            m = ep.recv(0.5)
            if m is None or m.status is None or m.status < 200:
                continue
            got[m.header("Call-ID")] = m
            ack = ("ACK sip:5559999999@%s:%d SIP/2.0\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\n"
                   "Call-ID: %s\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                   % (t.addr, t.port, m.header("Via"), m.header("From"), m.header("To"),
                      m.header("Call-ID")))
            ep.send(ack, (t.addr, t.port))
    codes = [got[c].status if c in got else None for c in cids]
    ctx.log("responses: %s", codes)
    n503 = sum(1 for c in codes if c == 503)
    n404 = sum(1 for c in codes if c == 404)   # admitted, then no route for this number
    if None in codes or n503 + n404 != 30:
        raise AssertionError("unexpected responses: %s" % codes)
    if n404 < 5 or n503 < 15:
        raise AssertionError("max_cps 5: %d admitted, %d refused of 30 in ~0.6 s"
                             % (n404, n503))
    for c in cids:
        if c in got and got[c].status == 503 and not got[c].header("Retry-After"):
            raise AssertionError("503 without Retry-After")


def case_overload_shed(ctx):
    """Load shedding: trunxd is made slower than the offered load while INVITEs
    arrive at 1,000 a second for 1.2 s, so a queue builds on its SIP socket and
    stands: it runs only part of every 50 ms (SIGSTOP/SIGCONT), a part sized from a
    first measure of its CPU cost per INVITE so that it can take about a quarter of
    the load whatever the build (release or sanitizers). Once the queue has stayed older than
    overload_delay (100 ms) for 100 ms, new INVITEs get 503 with Retry-After at once
    (no 100 Trying, no call record, counted as shed_overload); the INVITEs read before
    that are admitted as usual (here 404: the number has no route). A burst that
    drains is not shed: the first ones are admitted. Every INVITE gets exactly one
    final answer, and trunxd admits calls again once the load is gone."""
    def conf(cf):
        cf.sip["overload_delay"] = 100
        cf.sip["rate_limit"] = 0   # 1,000 INVITEs/s from one address: shed, not limited
        cf.sip["max_cps"] = 100000
        cf.sip["retry_after"] = 9
        # Calls answered 404 count as active until their ACK is read: on a slow machine
        # more than the default 1,000 can wait at once, and max_calls' own 503 (with a
        # call record) is not what this test is about.
        cf.sip["max_calls"] = 2000
    _, t = start(ctx, configure=conf)
    finals, trying, cids = {}, set(), []
    stop_cycling = threading.Event()

    def duty_cycle(run_s):
        while not stop_cycling.is_set():
            os.kill(t.proc.pid, signal.SIGSTOP)
            time.sleep(0.05 - run_s)
            os.kill(t.proc.pid, signal.SIGCONT)
            time.sleep(run_s)

    def collect(ep, timeout):
        m = ep.recv(timeout)
        if m is None or m.status is None:
            return
        cid = m.header("Call-ID")
        if m.status < 200:
            trying.add(cid)
            return
        ack = ("ACK sip:5559999999@%s:%d SIP/2.0\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\n"
               "Call-ID: %s\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
               % (t.addr, t.port, m.header("Via"), m.header("From"), m.header("To"), cid))
        ep.send(ack, (t.addr, t.port))
        finals.setdefault(cid, m)   # a retransmitted final: the ACK was not seen yet

    with sipmsg.Endpoint("127.0.0.1") as ep:
        ep.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        # Cost per INVITE: trunxd's CPU time (all threads) for 50 sent back to back.
        def cpu_s():
            total = 0
            for task in os.listdir("/proc/%d/task" % t.proc.pid):
                try:
                    with open("/proc/%d/task/%s/schedstat" % (t.proc.pid, task)) as f:
                        total += int(f.read().split()[0])
                except OSError:
                    pass   # a thread that just ended
            return total / 1e9
        time.sleep(0.2)
        cpu0 = cpu_s()
        t0 = time.monotonic()
        probe = []
        for _ in range(50):
            data, cid, _ = ep.request("INVITE", (t.addr, t.port), to_user="5559999999",
                                      body=sipmsg.sdp_offer("127.0.0.1", 40000))
            ep.send(data, (t.addr, t.port))
            probe.append(cid)
        while not all(c in finals for c in probe) and time.monotonic() < t0 + 10:
            collect(ep, 0.5)
        time.sleep(0.2)   # the ACKs
        per_invite = (cpu_s() - cpu0) / 50
        run_s = min(0.025, max(0.0005, 0.25 * 50 * per_invite))
        ctx.log("%.3f ms per INVITE: trunxd runs %.1f ms of every 50", per_invite * 1000,
                run_s * 1000)
        cycler = threading.Thread(target=duty_cycle, args=(run_s,), daemon=True)
        cycler.start()
        try:
            t0 = time.monotonic()
            for i in range(1200):
                data, cid, _ = ep.request("INVITE", (t.addr, t.port), to_user="5559999999",
                                          body=sipmsg.sdp_offer("127.0.0.1", 40000))
                ep.send(data, (t.addr, t.port))
                cids.append(cid)
                while True:   # pace at 1/ms, reading answers meanwhile
                    left = t0 + (i + 1) * 0.001 - time.monotonic()
                    if left <= 0:
                        break
                    collect(ep, left)
        finally:
            stop_cycling.set()
            cycler.join()
            os.kill(t.proc.pid, signal.SIGCONT)
        n = len(cids)
        deadline = time.monotonic() + 30
        while len(finals) < n and time.monotonic() < deadline:
            collect(ep, 0.5)
        # The load is gone: a new INVITE is admitted again — once the ACKs of the
        # flood's answers, still queued on a slow machine, are read (until then a 503
        # is the right answer: the queue is still standing).
        after_tries = 0
        while after_tries < 10:
            after_tries += 1
            data, after_cid, _ = ep.request("INVITE", (t.addr, t.port),
                                            to_user="5559999999",
                                            body=sipmsg.sdp_offer("127.0.0.1", 40000))
            ep.send(data, (t.addr, t.port))
            deadline = time.monotonic() + 5
            while after_cid not in finals and time.monotonic() < deadline:
                collect(ep, 0.5)
            if after_cid not in finals or finals[after_cid].status != 503:
                break
            time.sleep(0.5)
        ctx.log("INVITE after the flood: %d tries", after_tries)
    shed = [c for c in cids if c in finals and finals[c].status == 503]
    admitted = [c for c in cids if c in finals and finals[c].status == 404]
    other = sorted(set(finals[c].status for c in cids if c in finals) - {503, 404})
    ctx.log("%d shed (503), %d admitted (404), %d unanswered, other codes %s; first shed #%s",
            len(shed), len(admitted), n - len(shed) - len(admitted), other,
            min((cids.index(c) for c in shed), default=None))
    if len(shed) + len(admitted) != n:
        raise AssertionError("%d of %d INVITEs unanswered or answered otherwise (%s)"
                             % (n - len(shed) - len(admitted), n, other))
    if len(shed) < n // 10 or len(admitted) < 20:
        raise AssertionError("%d shed and %d admitted of %d INVITEs"
                             % (len(shed), len(admitted), n))
    # The start of the flood is a burst, not yet a standing queue: admitted.
    if any(finals[c].status != 404 for c in cids[:20]):
        raise AssertionError("INVITEs shed among the first 20: %s"
                             % [i for i, c in enumerate(cids[:20]) if finals[c].status != 404])
    after = finals.get(after_cid)
    if after is None or after.status != 404:
        raise AssertionError("INVITE after the flood: %r" % (after and after.status))
    for c in shed:
        if finals[c].header("Retry-After") != "9":
            raise AssertionError("shed 503 without Retry-After: 9: %r" % finals[c].raw)
        if c in trying:
            raise AssertionError("a shed INVITE got 100 Trying first")
    # The probe's 50 back-to-back INVITEs can queue past the threshold on a slow build.
    probe_shed = [c for c in probe if finals[c].status == 503]
    expect_shed = len(shed) + len(probe_shed) + after_tries - 1
    if ctx.trunxctl_path and t.counter("shed_overload") != expect_shed:
        raise AssertionError("shed_overload = %s, expected %d (%d probes shed)"
                             % (t.counter("shed_overload"), expect_shed, len(probe_shed)))
    want = len(admitted) + 1 + len(probe) - len(probe_shed)
    recs = t.wait_events("call.end", want, 30)
    if len(recs) != want or any(r_.get("sip_code") != 404 for r_ in recs):
        raise AssertionError("%d call.end records (codes %s), expected %d with 404"
                             % (len(recs), sorted(set(r_.get("sip_code") for r_ in recs)),
                                want))
    ov = t.events("sip.overload")
    if not ov or ov[0].get("standing_delay_ms", 0) <= 100:
        raise AssertionError("sip.overload records: %r" % ov[:2])
    with sipmsg.Endpoint("127.0.0.1") as ep:
        r, _ = ep.options((t.addr, t.port), timeout=2.0)
        if r is None or r.status != 200:
            raise AssertionError("OPTIONS after the flood: %r" % r)


def case_via_unresolvable_host(ctx):
    """Requests whose top Via names a host that cannot be resolved (the resolver is
    made to hang: trunxd runs with a resolv.conf pointing at a name server that never
    answers) are answered at the packet's source, and signalling keeps answering
    other requests within 100 ms meanwhile."""
    u, t = start(ctx, "uas_answer.xml", slow_dns=True)
    probes = []
    with sipmsg.Endpoint("127.0.0.1") as bad, sipmsg.Endpoint("127.0.0.1") as good:
        for i, (method, rport) in enumerate((("OPTIONS", False), ("INVITE", False),
                                             ("OPTIONS", True))):
            body = sipmsg.sdp_offer("127.0.0.1", 40000) if method == "INVITE" else b""
            data, cid, _ = bad.request(method, (t.addr, t.port), to_user="5559999999",
                                       via_host="unresolvable-%d.trunx-test.invalid" % i,
                                       via_port=5060, rport=rport, body=body)
            bad.send(data, (t.addr, t.port))
            # Probe right behind it, several times.
            for _ in range(5):
                r, dt = good.options((t.addr, t.port), timeout=3.0)
                probes.append(dt)
                if r is None:
                    raise AssertionError("OPTIONS unanswered after a Via naming an "
                                         "unresolvable host (%s)" % method)
                time.sleep(0.02)
            final, _ = bad.wait_final(5.0, call_id=cid)
            if final is None:
                raise AssertionError("%s with an unresolvable Via host (rport=%s): no "
                                     "response at the packet's source" % (method, rport))
            ctx.log("%s (rport=%s) answered %d at the source", method, rport, final.status)
    probes.sort()
    ctx.log("probe answer times (ms): %s", [round(p * 1000, 1) for p in probes])
    # The requirement is 100 ms. A resolver blocking the signalling thread would hold
    # every probe sent behind the bad request for >= 5 s (the black-hole server
    # never answers); a loaded test machine can delay an odd probe by tens of ms. So:
    # at most 3 of the 15 probes over 100 ms, and none over 1 s.
    slow = [p for p in probes if p > 0.100]
    if len(slow) > 3 or probes[-1] > 1.0:
        raise AssertionError("signalling stalled: probe times %s ms"
                             % [round(p * 1000) for p in probes[-5:]])
    # And a full call still goes through afterwards.
    c = caller(ctx, t, "uac_cps.xml", duration_ms=200)
    finish(c, u)
    expect_ok(c, u)


MALFORMED = [
    # (name, bytes, expected: set of acceptable status codes, None = no response)
    ("truncated headers", b"INVITE sip:5550001000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP "
     b"127.0.0.1:{port};branch=z9hG4bKtrunc1;rport\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:",
     {400, None}),
    # Deviation forced by the stack: sofia-sip takes the end of a UDP datagram as the
    # end of the header section, so a datagram whose headers are complete but lack
    # the blank line is processed like a complete one (trunx never sees the difference).
    ("no blank line after headers", b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP "
     b"127.0.0.1:{port};branch=z9hG4bKtrunc2;rport\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\n"
     b"To: <sip:x@127.0.0.1>\r\nCall-ID: trunc2@itest\r\nCSeq: 1 OPTIONS\r\n"
     b"Max-Forwards: 70\r\nContent-Length: 0\r\n", {200}),
    ("Content-Length larger than body", None, {400, None}),
    ("Content-Length negative", None, {400, None}),
    ("Content-Length not a number", None, {400, None}),
    ("garbage SDP", None, {488, 400}),
    ("SDP without c= line", None, {488, 400}),
    ("binary junk", bytes(range(256)) * 4, {None}),
    ("empty datagram", b"", {None}),
    ("CRLF keep-alive", b"\r\n\r\n", {None}),
    ("request line only", b"INVITE sip:5550001000@127.0.0.1 SIP/2.0\r\n\r\n", {400, None}),
    ("missing Call-ID", None, {400}),
]


def _invite(ep, t, body, extra=(), cl=None, drop=None):
    data, cid, _ = ep.request("INVITE", (t.addr, t.port), to_user="5550001000",
                              body=body, headers=extra)
    if cl is not None:
        data = data.replace(b"Content-Length: %d" % len(body), b"Content-Length: " + cl)
    if drop:
        data = b"\r\n".join(l for l in data.split(b"\r\n") if not l.startswith(drop))
    return data, cid


def case_malformed_messages(ctx):
    """Truncated headers, bad Content-Length, garbage SDP and other broken messages:
    each gets 400/488 (with a reason) or is dropped as RFC 3261 allows for broken
    datagrams; trunxd keeps answering OPTIONS after each and stays sanitizer-clean."""
    u, t = start(ctx, "uas_answer.xml")
    good_sdp = sipmsg.sdp_offer("127.0.0.1", 40000)
    failures = []
    with sipmsg.Endpoint("127.0.0.1") as ep:
        for name, raw, expected in MALFORMED:
            cid = None
            if raw is not None:
                data = raw.replace(b"{port}", str(ep.port).encode())
            elif name == "Content-Length larger than body":
                data, cid = _invite(ep, t, good_sdp, cl=b"%d" % (len(good_sdp) + 200))
            elif name == "Content-Length negative":
                data, cid = _invite(ep, t, good_sdp, cl=b"-5")
            elif name == "Content-Length not a number":
                data, cid = _invite(ep, t, good_sdp, cl=b"abc")
            elif name == "garbage SDP":
                data, cid = _invite(ep, t, b"v=0\r\nthis is not sdp\x01\x02\r\nm=audio x\r\n")
            elif name == "SDP without c= line":
                data, cid = _invite(ep, t, b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
                                           b"t=0 0\r\nm=audio 40000 RTP/AVP 0\r\n")
            elif name == "missing Call-ID":
                data, cid = _invite(ep, t, good_sdp, drop=b"Call-ID:")
                cid = None
            ep.send(data, (t.addr, t.port))
            r = ep.recv(2.0)
            while r is not None and r.status is not None and r.status < 200:
                r = ep.recv(2.0)
            got = r.status if r is not None else None
            if r is not None and r.status and r.status >= 300 and r.status != 503:
                # ACK the final response of an INVITE so the stack stops resending it.
                if (r.header("CSeq") or "").endswith("INVITE"):
                    ack = ("ACK sip:5550001000@%s:%d SIP/2.0\r\nVia: %s\r\nFrom: %s\r\n"
                           "To: %s\r\nCall-ID: %s\r\nCSeq: %s ACK\r\nMax-Forwards: 70\r\n"
                           "Content-Length: 0\r\n\r\n"
                           % (t.addr, t.port, r.header("Via"), r.header("From"),
                              r.header("To"), r.header("Call-ID"),
                              (r.header("CSeq") or "1").split()[0]))
                    ep.send(ack, (t.addr, t.port))
            detail = ""
            if r is not None:
                detail = " %s%s" % (r.start, " Warning: " + r.header("Warning")
                                    if r.header("Warning") else "")
            ctx.log("%-32s -> %s%s", name, got, detail)
            if got not in expected:
                failures.append("%s: got %s, expected one of %s" % (name, got, sorted(
                    expected, key=lambda x: -1 if x is None else x)))
            if got == 488 and not (r.header("Warning") or r.reason):
                failures.append("%s: 488 without a reason" % name)
            t.check_alive()
            if not t.options_ok():
                raise AssertionError("OPTIONS unanswered after %r" % name)
            # Drain late retransmissions of this exchange.
            while ep.recv(0.2) is not None:
                pass
    if u.count("IncomingCall(C)"):
        failures.append("B was called %d times by malformed INVITEs"
                        % u.count("IncomingCall(C)"))
    u.stop()
    if failures:
        raise AssertionError("\n".join(failures))


def case_sequential_1000(ctx):
    """1,000 calls one after the other: zero failures, 1,000 call.end records,
    `trunxctl status` back to 0 calls."""
    n = 1000
    u, t = start(ctx, "uas_answer.xml", uas_calls=n, uas_timeout=400)
    c = caller(ctx, t, "uac_cps.xml", calls=n, rate=1000, limit=1, timeout=400)
    finish(c, u)
    expect_ok(c, u)
    recs = t.wait_events("call.end", n, 30)
    answered = [r for r in recs if r.get("result") == "answered" and r.get("sip_code") == 200]
    if len(recs) != n or len(answered) != n:
        raise AssertionError("%d call.end records, %d answered; expected %d each"
                             % (len(recs), len(answered), n))
    if ctx.trunxctl_path:
        counters_back_to_zero(ctx, t)


def case_concurrent_200(ctx):
    """200 calls up at the same time (each held 6 s): zero failures, trunxctl shows
    them all at the peak and 0 afterwards."""
    n = 200
    u, t = start(ctx, "uas_answer.xml", uas_calls=n, uas_timeout=300)
    c = caller(ctx, t, "uac_cps.xml", calls=n, rate=100, limit=n, duration_ms=6000,
               timeout=300)
    peak = 0
    if ctx.trunxctl_path:
        deadline = time.monotonic() + 30
        while c.proc.alive() and time.monotonic() < deadline:
            peak = max(peak, t.active_calls())
            if peak >= n:
                break
            time.sleep(0.2)
    finish(c, u)
    expect_ok(c, u)
    if ctx.trunxctl_path:
        ctx.log("peak active calls seen by trunxctl: %d", peak)
        if peak < n:
            raise AssertionError("trunxctl status never showed %d calls at once (max %d)"
                                 % (n, peak))
        counters_back_to_zero(ctx, t)
    recs = t.wait_events("call.end", n, 30)
    if len(recs) != n or any(r.get("sip_code") != 200 for r in recs):
        raise AssertionError("%d call.end records (expected %d, all 200)" % (len(recs), n))


def case_sigterm_ends_calls(ctx):
    """SIGTERM with a call up: both legs get BYE, trunxd exits 0 (checked at the end
    like every case) and writes the call's record."""
    u, t = start(ctx, "uas_answer.xml")
    c = caller(ctx, t, "uac_wait_bye.xml")
    ok = procs.wait_until(lambda: c.count("CurrentCall") == 1 and
                          u.count("CurrentCall") == 1, 10, 0.2)
    if not ok or not wait_answered(ctx, t, 1):
        raise AssertionError("call did not come up")
    rc = t.stop()
    finish(c, u)
    expect_ok(c, u)
    if rc != 0:
        raise AssertionError("trunxd exit code %s after SIGTERM" % rc)
    expect_fields(one_call_end(ctx, t, timeout=1), result="answered")


def case_options(ctx):
    """OPTIONS from a known trunk: 200 over UDP and TCP."""
    _, t = start(ctx)
    for tr in ("udp", "tcp"):
        with sipmsg.Endpoint("127.0.0.1", transport=tr) as ep:
            if tr == "tcp":
                ep.connect((t.addr, t.port))
            r, dt = ep.options((t.addr, t.port), timeout=3)
            if r is None or r.status != 200:
                raise AssertionError("OPTIONS over %s: %s" % (tr, r))
            ctx.log("OPTIONS over %s: %s in %.1f ms", tr, r.start, dt * 1000)


if __name__ == "__main__":
    sys.exit(case.main(globals()))
