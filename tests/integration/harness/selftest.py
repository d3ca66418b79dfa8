#!/usr/bin/env python3
"""Harness self-tests: every SIPp scenario pair of conf/sipp/ run directly (SIPp UAC ->
SIPp UAS, no trunxd), the RTP checker on real captured traffic (and shown to reject
wrong streams), the sanitizer-report scanner, and process clean-up."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import calls, capture, case, procs, sipp, trunxd  # noqa: E402


def _direct(ctx, uac_scen, uas_scen, uac_ms=0, uas_ms=0, calls_=1):
    u = calls.uas(ctx, uas_scen, calls=calls_, duration_ms=uas_ms, timeout=60)
    c = calls.uac(ctx, uac_scen, "127.0.0.1:%d" % u.port, calls=calls_, duration_ms=uac_ms,
                  timeout=60)
    calls.finish(c, u)
    return c, u


def _rejecting_uas(ctx, code, reason):
    """A copy of uas_486.xml answering `code` instead (only to exercise the callers)."""
    with open(ctx.scenario("uas_486.xml")) as f:
        text = f.read()
    path = ctx.path("uas_%d.xml" % code)
    with open(path, "w") as f:
        f.write(text.replace("SIP/2.0 486 Busy Here", "SIP/2.0 %d %s" % (code, reason)))
    return path


def case_direct_basic_rtp(ctx):
    """Basic call SIPp UAC -> UAS with g711a.pcap played both ways; the capture shows
    all 236 packets each way with the payloads sent, in order."""
    ref = capture.reference_payloads()
    if len(ref) != 236:
        raise AssertionError("g711a.pcap: %d RTP packets, expected 236" % len(ref))
    u = calls.uas(ctx, "uas_basic.xml", duration_ms=100)
    # Both directions touch the callee's media port, so filtering on it is enough
    # (the caller's port is only known once its SIPp runs).
    cap = capture.Capture(ctx.reg, "rtp", [u.media_port]).start()
    c = calls.uac(ctx, "uac_basic.xml", "127.0.0.1:%d" % u.port, duration_ms=8000)
    calls.finish(c, u)
    pk = cap.stop()
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    to_uas = capture.rtp_to(pk, u.media_port)
    ctx.log(capture.check_stream(to_uas, ref, "uac->uas", pt=8,
                                 src=("127.0.0.1", c.media_port)))
    to_uac = [capture.Rtp.parse(p) for p in pk
              if p.sport == u.media_port and p.dport == c.media_port]
    to_uac = [r for r in to_uac if r]
    ctx.log(capture.check_stream(to_uac, ref, "uas->uac", pt=8,
                                 src=("127.0.0.1", u.media_port)))


def case_rtp_checker_rejects(ctx):
    """The stream checker must reject a stream with a lost packet, a changed payload, a
    second SSRC, a wrong PT and a wrong source: a checker that accepts anything proves
    nothing."""
    ref = capture.reference_payloads()
    pk = capture.read_pcap(capture.G711A_PCAP)
    good = [capture.Rtp.parse(p) for p in pk]
    ctx.log(capture.check_stream(good, ref, "reference", pt=8))
    import copy
    bad_cases = {}
    lost = good[:100] + good[101:]
    bad_cases["lost packet"] = lost
    bad_cases["first packet lost"] = good[1:]
    bad_cases["last packet lost"] = good[:-1]
    changed = [copy.copy(r) for r in good]
    changed[50].payload = bytes(len(changed[50].payload))
    bad_cases["changed payload"] = changed
    ssrc = [copy.copy(r) for r in good]
    for r in ssrc[120:]:
        r.ssrc ^= 1
    bad_cases["second ssrc"] = ssrc
    bad_cases["empty"] = []
    for label, stream in bad_cases.items():
        try:
            capture.check_stream(stream, ref, label, pt=8)
        except AssertionError as e:
            ctx.log("rejected as expected: %s", e)
            continue
        raise AssertionError("checker accepted a bad stream: %s" % label)
    for kw in ({"pt": 0}, {"src": ("127.0.0.1", 1)}):
        try:
            capture.check_stream(good, ref, "kw %s" % kw, **kw)
        except AssertionError as e:
            ctx.log("rejected as expected: %s", e)
            continue
        raise AssertionError("checker accepted %s" % kw)
    # A packet from another address (another test's traffic to a port this one's peer
    # holds now) is left out with src given; one from src's address but another port,
    # or any stray without src, is not.
    src = (good[0].src, good[0].sport)
    stray = copy.copy(good[10])
    stray.src, stray.payload = "127.0.0.99", bytes(len(stray.payload))
    ctx.log(capture.check_stream([stray] + good, ref, "a stray", pt=8, src=src))
    other_port = copy.copy(stray)
    other_port.src, other_port.sport = src[0], src[1] + 1
    for label, stream, kw in (("a stray, no src", [stray] + good, {}),
                              ("src's address, another port", [other_port] + good,
                               {"src": src})):
        try:
            capture.check_stream(stream, ref, label, pt=8, **kw)
        except AssertionError as e:
            ctx.log("rejected as expected: %s", e)
            continue
        raise AssertionError("checker accepted %s" % label)


def case_direct_cancel(ctx):
    c, u = _direct(ctx, "uac_cancel.xml", "uas_ring_cancel.xml", uac_ms=500)
    sipp.expect_ok(c)
    sipp.expect_ok(u)


def case_direct_bye_from_b(ctx):
    c, u = _direct(ctx, "uac_wait_bye.xml", "uas_bye.xml", uas_ms=1000)
    sipp.expect_ok(c)
    sipp.expect_ok(u)


def case_direct_bye_from_a(ctx):
    c, u = _direct(ctx, "uac_basic.xml", "uas_answer.xml", uac_ms=500, calls_=3)
    sipp.expect_ok(c)
    sipp.expect_ok(u)


def case_direct_hold(ctx):
    c, u = _direct(ctx, "uac_hold.xml", "uas_hold.xml", uac_ms=1000)
    sipp.expect_ok(c)
    sipp.expect_ok(u)


def case_direct_failures(ctx):
    """Every failure-expecting caller scenario against a callee giving that code."""
    reasons = {403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
               480: "Temporarily Unavailable", 483: "Too Many Hops",
               486: "Busy Here", 488: "Not Acceptable Here", 500: "Server Internal Error"}
    for code, reason in reasons.items():
        c, u = _direct(ctx, "uac_%d.xml" % code, _rejecting_uas(ctx, code, reason))
        sipp.expect_ok(c)
        sipp.expect_ok(u)
        ctx.log("uac_%d.xml ok", code)
    # A mismatching code must fail the caller.
    c, u = _direct(ctx, "uac_486.xml", _rejecting_uas(ctx, 480, "Temporarily Unavailable"))
    if c.rc == 0 or c.failed() == 0:
        raise AssertionError("uac_486.xml accepted a 480: %s" % c.summary())
    ctx.log("uac_486.xml rejects a 480 as expected")


def case_direct_503_retry_after(ctx):
    """uac_503.xml passes with Retry-After and fails without it."""
    c, u = _direct(ctx, "uac_503.xml", "uas_overloaded.xml")
    sipp.expect_ok(c)
    c, u = _direct(ctx, "uac_503.xml", _rejecting_uas(ctx, 503, "Service Unavailable"))
    if c.rc == 0 or c.failed() == 0:
        raise AssertionError("uac_503.xml accepted a 503 without Retry-After")


def case_direct_load(ctx):
    """The load scenarios direct: 200 calls at 100 cps, 50 at once."""
    u = calls.uas(ctx, "uas_answer.xml", calls=200)
    c = calls.uac(ctx, "uac_wait_bye.xml", "127.0.0.1:%d" % u.port, calls=1)
    c.stop()   # not a load scenario; only to prove stop() kills a running SIPp
    if c.proc.alive():
        raise AssertionError("stop() left SIPp running")
    u.stop()
    u = calls.uas(ctx, "uas_answer.xml", name="uas2", calls=200)
    c = calls.uac(ctx, "uac_basic.xml", "127.0.0.1:%d" % u.port, name="uac2", calls=200,
                  rate=100, limit=50, duration_ms=200, extra=["-key", "pcap", "/dev/null"])
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)


def case_sanitizer_scanner(ctx):
    """The report scanner finds ASan, LSan and UBSan reports and ignores JSON logs."""
    samples = [
        "==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x6",
        "==1==ERROR: LeakSanitizer: detected memory leaks",
        "src/x.c:10:5: runtime error: signed integer overflow",
        "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior src/x.c:10:5",
    ]
    for s in samples:
        if not trunxd.sanitizer_report('{"event":"x"}\n' + s + "\n"):
            raise AssertionError("scanner missed: %s" % s)
    if trunxd.sanitizer_report('{"event":"call.end","msg":"runtime ok"}\n'):
        raise AssertionError("scanner flagged a clean log")


def case_cleanup_kills(ctx):
    """Processes left running are killed by PID at the end; PDEATHSIG is set."""
    p = ctx.reg.start("sleeper", ["sleep", "300"])
    time.sleep(0.2)
    ctx.reg.cleanup()
    if p.alive():
        raise AssertionError("cleanup left pid %d running" % p.pid)
    if procs.wait_until(lambda: not os.path.exists("/proc/%d" % p.pid), 5) is False:
        raise AssertionError("pid %d still exists" % p.pid)


if __name__ == "__main__":
    sys.exit(case.main(globals()))
