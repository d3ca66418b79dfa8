#!/usr/bin/env python3
"""The SIP user agent (sip/ua) driving the stack, end to end on loopback: its
transaction timers when the signalling thread falls behind.

timers_after_stall: the stack's timer routine, retransmitting five or more requests in
one tick while datagrams wait in the SIP socket, used to poll the socket in the middle
(su_root_yield) and then ran every server transaction's timer with a "now" of 0
(sipua_yield.c says why). Two calls are set up first: A answered 200 by trunxd with the
caller's ACK held back, B ended by the caller's BYE (answered 200). Then calls to a
callee that answers nothing make trunxd retransmit 25 INVITEs at once, and trunxd is
stopped (SIGSTOP) across that moment while their callers retransmit their INVITEs into
its socket. When it runs again: trunxd must not end call A ("408 ACK Timeout" and a BYE
right after its 200: timer H read as expired), and a retransmission of B's BYE must be
answered 200 again, not 481 (the BYE's transaction freed by timer J).

The stack's clock is milliseconds since 1900 modulo 2^32; a "now" of 0 makes every
timer expire only while that clock has its top bit set (24.8 days out of every 49.7).
In the other half the stale timers are skipped for a tick instead, which this test
cannot see: it says so in its log, and the unit test test_sipua (su_root_yield) covers
the mechanism on any date.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import case, sipmsg, trunxd, ua  # noqa: E402

BURST = 25          # INVITEs retransmitted by trunxd in one timer tick (>= 5 needed)
NTP_EPOCH = 2208988800


def stack_clock_top_bit():
    ms = int((time.time() + NTP_EPOCH) * 1000) % (1 << 32)
    return ms >= (1 << 31)


def invite(caller, dest, call_id, tag, branch):
    body = ua.sdp(caller.ip, caller.media_port)
    ruri = "sip:5550001000@%s:%d" % dest
    lines = ["INVITE %s SIP/2.0" % ruri,
             "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (caller.ip, caller.port, branch),
             "Max-Forwards: 70", "From: <sip:15551230000@%s>;tag=%s" % (caller.ip, tag),
             "To: <%s>" % ruri, "Call-ID: %s" % call_id, "CSeq: 1 INVITE",
             "Contact: %s" % caller.contact, "Content-Type: application/sdp",
             "Content-Length: %d" % len(body)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def ack_2xx(caller, dest, call_id, tag, final):
    ruri = ua._uri_of(final.header("Contact")) or "sip:5550001000@%s:%d" % dest
    lines = ["ACK %s SIP/2.0" % ruri,
             "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport" % (caller.ip, caller.port,
                                                              sipmsg.rand_token(10)),
             "Max-Forwards: 70", "From: <sip:15551230000@%s>;tag=%s" % (caller.ip, tag),
             "To: %s" % final.header("To"), "Call-ID: %s" % call_id, "CSeq: 1 ACK",
             "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ack_failure(invite_bytes, final):
    """ACK of a failure: the INVITE's Via branch and request-URI, the final's To."""
    head = invite_bytes.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")
    keep = [l for l in lines[1:] if l.split(":", 1)[0] in ("Via", "From", "Call-ID",
                                                          "Max-Forwards")]
    out = ["ACK %s SIP/2.0" % lines[0].split(" ")[1]] + keep + [
        "To: %s" % final.header("To"), "CSeq: 1 ACK", "Content-Length: 0"]
    return ("\r\n".join(out) + "\r\n\r\n").encode()


def case_timers_after_stall(ctx):
    top = stack_clock_top_bit()
    ctx.log("stack clock top bit %s: %s", "set" if top else "clear",
            "a stale timer tick would expire every server transaction" if top else
            "this run cannot see the stale tick (see the module doc)")
    with ua.UA(name="callee", auto=True) as callee, \
            ua.UA(name="caller-a") as caller_a, ua.UA(name="caller-b") as caller_b, \
            ua.UA(name="blaster") as blaster:
        t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=callee.port,
                          configure=lambda cf: cf.sip.update(shutdown_grace=1)).start()
        dest = (t.addr, t.port)

        # Call B: up, then ended by its caller; its BYE is kept to be sent again.
        dlg_b, final = caller_b.call(dest)
        assert dlg_b is not None, "call B not answered: %s" % final
        cseq, _, bye_b = dlg_b.send("BYE")
        r = dlg_b.wait_final(cseq, "BYE", 5)
        assert r is not None and r.status == 200, "BYE of call B: %s" % r

        # Call A: answered, its ACK held back.
        cid_a, tag_a = "a-" + sipmsg.rand_token(10) + "@itest", sipmsg.rand_token(8)
        caller_a.send(invite(caller_a, dest, cid_a, tag_a, "z9hG4bK" + sipmsg.rand_token(10)),
                      dest)
        ok_a = caller_a.wait(lambda m: m.status == 200 and m.header("Call-ID") == cid_a, 5)
        assert ok_a is not None, "call A not answered"
        t200 = time.monotonic()

        # The burst: calls nobody answers, so trunxd retransmits their INVITEs together.
        callee.auto = False
        callee.drain()
        invites = []
        for i in range(BURST):
            data = invite(blaster, dest, "x%d-%s@itest" % (i, sipmsg.rand_token(8)),
                          sipmsg.rand_token(8), "z9hG4bK" + sipmsg.rand_token(10))
            invites.append(data)
            blaster.send(data, dest)
        forwarded, first_b = [], None
        deadline = time.monotonic() + 5
        while len(forwarded) < BURST and time.monotonic() < deadline:
            m = callee.wait_request("INVITE", timeout=max(0.0, deadline - time.monotonic()))
            if m is None:
                break
            first_b = first_b or time.monotonic()
            if all(f.header("Call-ID") != m.header("Call-ID") for f in forwarded):
                forwarded.append(m)   # not a retransmission (a slow machine)
        seen = len(forwarded)
        assert seen == BURST, "trunxd forwarded %d of %d INVITEs" % (seen, BURST)
        last_b = time.monotonic()
        ctx.log("%d INVITEs forwarded over %.0f ms; stopping trunxd across their "
                "retransmission", BURST, (last_b - first_b) * 1000)
        # Stopped before the first retransmission is due (500 ms after the first one
        # was sent) when the machine allows, and in any case until the last one is due.
        os.kill(t.proc.pid, signal.SIGSTOP)
        try:
            for data in invites:          # datagrams waiting when it runs again
                blaster.send(data, dest)
            time.sleep(max(0.0, last_b + 0.7 - time.monotonic()))
        finally:
            os.kill(t.proc.pid, signal.SIGCONT)
        time.sleep(1.0)
        errors = []

        # Call A: still up (no BYE), its 200 still offered; the ACK goes now.
        bye_a = caller_a.wait(lambda m: m.method == "BYE" and m.header("Call-ID") == cid_a,
                              0.5)
        if bye_a is not None:
            errors.append("trunxd ended call A %.2f s after its 200 (Reason: %s)"
                          % (time.monotonic() - t200, bye_a.header("Reason")))
        caller_a.send(ack_2xx(caller_a, dest, cid_a, tag_a, ok_a), dest)

        # Call B: the same BYE again is answered as the first one was.
        caller_b.drain()
        caller_b.send(bye_b, dest)
        r = dlg_b.wait_final(cseq, "BYE", 5)
        if r is None or r.status != 200:
            errors.append("retransmitted BYE of call B answered %s"
                          % (r.start if r else "nothing"))
        assert not errors, "; ".join(errors)
        ctx.log("call A kept, B's BYE retransmission answered 200")

        # Everything ends before trunxd stops (a quick, clean exit).
        for inv in forwarded:
            callee.respond(inv, 486, to_tag=sipmsg.rand_token(8))
        for data in invites:
            cid = [l for l in data.decode("utf-8", "replace").split("\r\n")
                   if l.startswith("Call-ID:")][0].split(":", 1)[1].strip()
            fin = blaster.wait(lambda m, c=cid: m.status == 486 and m.header("Call-ID") == c,
                               5)
            assert fin is not None, "no 486 relayed for %s" % cid
            blaster.send(ack_failure(data, fin), dest)
        dlg_a = ua.Dialog(caller_a, cid_a, tag_a, ua._tag(ok_a.header("To")),
                          "sip:15551230000@%s" % caller_a.ip, "sip:5550001000@%s:%d" % dest,
                          ua._uri_of(ok_a.header("Contact")), dest, cseq=1)
        cseq_a, _, _ = dlg_a.send("BYE")
        bye_b_leg = callee.wait_request("BYE", timeout=5)
        assert bye_b_leg is not None, "call A's BYE not relayed"
        callee.respond(bye_b_leg, 200)
        r = dlg_a.wait_final(cseq_a, "BYE", 5)
        assert r is not None and r.status == 200, "BYE of call A: %s" % r
        t.stop()


if __name__ == "__main__":
    sys.exit(case.main(globals()))
