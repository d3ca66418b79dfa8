#!/usr/bin/env python3
"""The SIP front attacked as a stranger would, end to end against a real trunxd.

Named cases for each defect found by black-box fuzzing (a duplicated single-valued
header from a trunk's address; an in-dialog "Contact: *"; UPDATE against re-INVITE;
CANCEL of a re-INVITE; a foreign source inside a dialog; bursts of offers), and
bounded mutation streams: out-of-dialog over UDP and TCP from a trunk's address and
from an unknown one, and in-dialog from both legs of live calls. After each, trunxd
must still run, answer OPTIONS, hold no stuck call, complete a normal SIPp call, and
exit cleanly (sanitizer-clean under the ASan build).

Calls go A (a harness UA on 127.0.0.1) -> trunxd -> B (a harness UA, the "pbx" trunk);
127.0.0.5 is a source no trunk matches.
"""
import os
import random
import re
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import calls, case, mutate, procs, sipmsg, sipp, trunxd, ua  # noqa: E402

FOREIGN = "127.0.0.5"
SIPP_DID = "5550002000"
SEEDS = tuple(int(x) for x in
              os.environ.get("TRUNX_MUTATION_SEEDS", "11,23,37,41,53").split(","))


# ---- set-up -------------------------------------------------------------------------

def start(ctx, b_auto=True, with_sipp=False, configure=None, slow_dns=False):
    """B (auto-answering unless told), optionally a SIPp callee on DID 5550002000, and a
    trunxd routing +15550001000 to B. slow_dns: a resolver that never answers, so any
    name lookup on the signalling thread shows as a stall."""
    b = ua.UA("127.0.0.1", name="b", auto=b_auto)
    ctx.at_end(b.close)
    u = None
    if with_sipp:
        # A longer run (TRUNX_MUTATION_SEEDS) outlasts SIPp's default 120 s; the
        # harness still ends it with the case.
        u = calls.uas(ctx, "uas_basic.xml", name="uas_sipp", duration_ms=0,
                      timeout=7200 if "TRUNX_MUTATION_SEEDS" in os.environ else 120)

    def conf(c):
        if u:
            c.section("trunk sipp", match="127.0.0.1/32", port=u.port,
                      uri="sip:127.0.0.1:%d" % u.port)
            c.section("route sipp", match="+1" + SIPP_DID, to_trunk="sipp")
        if configure:
            configure(c)

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port, configure=conf,
                      slow_dns=slow_dns).start()
    return b, u, t


def new_a(ctx, auto=True, ip="127.0.0.1", name="a"):
    a = ua.UA(ip, name=name, auto=auto)
    ctx.at_end(a.close)
    return a


def establish(ctx, t, a, b, call_id=None):
    """A calls B through trunxd; returns (dialog at A, dialog at B)."""
    before = set(b.dialogs)
    da, final = a.call((t.addr, t.port), call_id=call_id)
    if da is None:
        raise AssertionError("call not answered: %s" % (final.start if final else None))

    def new_at_b():
        return [d for k, d in list(b.dialogs.items()) if k not in before and not d.ended]
    # B's dialog of this call: a new one (B keeps those of earlier calls, ended or not).
    if not procs.wait_until(lambda: new_at_b(), 5.0):
        raise AssertionError("B has no dialog")
    return da, new_at_b()[-1]


def expect_final(d, cseq, method, want, what, timeout=5.0):
    r = d.wait_final(cseq, method, timeout)
    got = r.status if r else None
    if got not in (want if isinstance(want, (tuple, set)) else (want,)):
        raise AssertionError("%s: got %s%s, expected %s" % (
            what, got, (" (%s)" % r.header("Warning")) if r and r.header("Warning") else "",
            want))
    return r


def wait_no_calls(t, timeout=60.0):
    if not procs.wait_until(lambda: t.active_calls() == 0, timeout, 0.5):
        raise AssertionError("calls still up after %.0f s: %s" % (timeout, t.status()))


def healthy(ctx, t, u=None):
    """Still running, answers OPTIONS at once, no stuck call, a SIPp call completes."""
    t.check_alive()
    with sipmsg.Endpoint("127.0.0.1") as ep:
        r, dt = ep.options((t.addr, t.port), timeout=2.0)
    if r is None or r.status != 200:
        raise AssertionError("OPTIONS unanswered (signalling thread stalled?)")
    if dt > 1.0:
        raise AssertionError("OPTIONS took %.2f s" % dt)
    wait_no_calls(t)
    if u:
        c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, name="uac_sipp",
                      service=SIPP_DID, duration_ms=200)
        calls.finish(c, u)
        sipp.expect_ok(c, 1)
        sipp.expect_ok(u, 1)
    ctx.log("trunxd healthy: alive, OPTIONS answered, no call left%s",
            ", SIPp call completed" if u else "")


def no_log(t, needle):
    bad = [r for r in t.log_records() if needle in (r.get("msg") or "")]
    if bad:
        raise AssertionError("log has %d records with %r, first: %s" % (len(bad), needle,
                                                                        bad[0]))


# ---- a single datagram -------------------------------------------------------------

def case_duplicate_single_headers(ctx):
    """An ordinary INVITE from a trunk's address with Max-Forwards twice gets 400 with
    the reason, and so does every other duplicated or malformed header trunx relies on;
    from an unknown address the same datagram gets 403. Each is answered once, without
    a transaction (one that kept one would resend its answer half a second later until
    ACKed, to whatever address the datagram claimed): the trunk's 400s are counted in
    malformed_stateless. trunxd keeps serving."""
    b, _, t = start(ctx)
    body = sipmsg.sdp_offer("127.0.0.1", 40000)
    cases = (("Max-Forwards twice", ("Max-Forwards: 70",), "duplicate Max-Forwards"),
             ("Date twice", ("Date: Sat, 13 Nov 2010 23:29:00 GMT",) * 2, "duplicate Date"),
             ("Date malformed", ("Date: yesterday",), "malformed Date"),
             ("Min-SE twice", ("Min-SE: 90", "Min-SE: 120"), None),
             ("Session-Expires twice", ("Session-Expires: 1800",) * 2, None),
             ("Contact *", (), "unusable Contact"),
             ("Contact tel:", (), "unusable Contact"),
             ("Record-Route tel:", ("Record-Route: <tel:+15551234567>",),
              "unusable Record-Route"))
    failures = []
    for src_ip, want in (("127.0.0.1", 400), (FOREIGN, 403)):
        with sipmsg.Endpoint(src_ip) as ep:
            cids = set()
            for name, extra, reason in cases:
                data, cid, _ = ep.request("INVITE", (t.addr, t.port), to_user="5550001000",
                                          body=body, headers=extra)
                cids.add(cid)
                if name.startswith("Contact"):
                    odd = b"*" if name == "Contact *" else b"<tel:+15551234567>"
                    data = data.replace(b"Contact: <sip:tester@%s:%d;transport=udp>"
                                        % (src_ip.encode(), ep.port), b"Contact: " + odd)
                ep.send(data, (t.addr, t.port))
                r, _ = ep.wait_final(3.0, call_id=cid)
                got = r.status if r else None
                warn = (r.header("Warning") or "") if r else ""
                ctx.log("%-10s %-22s -> %s %s", src_ip, name, got, warn)
                if got != want:
                    failures.append("%s from %s: got %s, expected %d" % (name, src_ip, got,
                                                                        want))
                elif want == 400 and reason and reason not in warn:
                    failures.append("%s: reason %r not in Warning %r" % (name, reason, warn))
                t.check_alive()
            resent = []
            deadline = time.monotonic() + 1.2
            while time.monotonic() < deadline:
                m = ep.recv(max(0.0, deadline - time.monotonic()))
                if m is not None and m.status and m.header("Call-ID") in cids:
                    resent.append(m.status)
            if resent:
                failures.append("from %s: %d answers resent (%s): kept as transactions"
                                % (src_ip, len(resent), sorted(set(resent))))
    # Over TCP from the trunk's address, whole in one write: the same 400 from the front.
    with sipmsg.Endpoint("127.0.0.1", transport="tcp") as ep:
        ep.connect((t.addr, t.port))
        data, cid, _ = ep.request("INVITE", (t.addr, t.port), to_user="5550001000",
                                  body=body, headers=("Max-Forwards: 70",))
        ep.send(data, (t.addr, t.port))
        r, _ = ep.wait_final(3.0, call_id=cid)
        warn = (r.header("Warning") or "") if r else ""
        ctx.log("tcp        %-22s -> %s %s", "Max-Forwards twice", r.status if r else None,
                warn)
        if not r or r.status != 400 or "duplicate Max-Forwards" not in warn:
            failures.append("over TCP: got %s %r" % (r.status if r else None, warn))
    if failures:
        raise AssertionError("; ".join(failures))
    malformed = t.counter("malformed_stateless")
    ctx.log("malformed_stateless = %d", malformed)
    if malformed != len(cases) + 1:
        raise AssertionError("malformed_stateless = %d, expected one per 400 (%d)"
                             % (malformed, len(cases) + 1))
    if b.requests_seen:
        raise AssertionError("B was called by a refused INVITE: %s" % b.requests_seen)
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    r = da.bye()
    if not r or r.status != 200:
        raise AssertionError("BYE after the refusals: %s" % (r.status if r else None))
    healthy(ctx, t)


UNSERVED = {"REGISTER": 405, "MESSAGE": 405, "SUBSCRIBE": 405, "NOTIFY": 405,
            "PUBLISH": 405, "REFER": 405, "INFO": 405, "UPDATE": 481, "FOO": 501}


def case_unserved_methods_stateless(ctx):
    """Out of a dialog, a trunk's requests of methods trunx does not serve there get
    405 (REGISTER, MESSAGE, SUBSCRIBE, NOTIFY, PUBLISH, REFER, INFO), 481 (UPDATE: no
    dialog) or 501 (an extension method), each naming the methods trunx serves,
    without transaction state (methods_stateless): through the stack each kept ~10 KB
    for 32 s over UDP, so a REGISTER flood from a trunk's (forgeable) address held
    memory, and the stack's own answers named methods trunx does not serve
    (REGISTER, SUBSCRIBE ...). A retransmission gets the same answer (the same To
    tag); one with Max-Forwards twice gets 400 with the reason; an unknown source gets
    403 naming nothing. trunxd keeps serving."""
    b, _, t = start(ctx)
    failures = []
    with sipmsg.Endpoint("127.0.0.1") as ep:
        for method, want in sorted(UNSERVED.items()):
            data, cid, _ = ep.request(method, (t.addr, t.port), to_user="5550001000",
                                      headers=("Event: presence",) if method in (
                                          "SUBSCRIBE", "NOTIFY", "PUBLISH") else
                                      ("Refer-To: <sip:x@127.0.0.1>",) if method == "REFER"
                                      else ())
            tags = []
            for _ in range(2):
                ep.send(data, (t.addr, t.port))
                r, _ = ep.wait_final(3.0, call_id=cid)
                tags.append(r.header("To") if r else None)
                got = r.status if r else None
                allow = (r.header("Allow") or "") if r else ""
                if got != want or "INVITE" not in allow or "REGISTER" in allow:
                    failures.append("%s: got %s, Allow %r" % (method, got, allow))
                    break
            ctx.log("%-10s -> %s, To %s", method, got, tags[-1])
            if len(tags) < 2:
                continue
            if tags[0] != tags[1] or not tags[0] or "tag=" not in tags[0]:
                failures.append("%s: retransmission answered with To %r, first %r"
                                % (method, tags[1], tags[0]))
        data, cid, _ = ep.request("REGISTER", (t.addr, t.port),
                                  headers=("Max-Forwards: 70",))
        ep.send(data, (t.addr, t.port))
        r, _ = ep.wait_final(3.0, call_id=cid)
        warn = (r.header("Warning") or "") if r else ""
        if not r or r.status != 400 or "duplicate Max-Forwards" not in warn:
            failures.append("REGISTER with Max-Forwards twice: %s %r"
                            % (r.status if r else None, warn))
    with sipmsg.Endpoint(FOREIGN) as ep:
        data, cid, _ = ep.request("REGISTER", (t.addr, t.port))
        ep.send(data, (t.addr, t.port))
        r, _ = ep.wait_final(3.0, call_id=cid)
        if not r or r.status != 403 or r.header("Allow"):
            failures.append("a stranger's REGISTER: %s, Allow %r"
                            % (r.status if r else None, r.header("Allow") if r else None))
    if failures:
        raise AssertionError("; ".join(failures))
    n = t.counter("methods_stateless")
    ctx.log("methods_stateless = %d", n)
    if n != 2 * len(UNSERVED) + 1:
        raise AssertionError("methods_stateless = %d, expected %d"
                             % (n, 2 * len(UNSERVED) + 1))
    if b.requests_seen:
        raise AssertionError("B saw requests: %s" % b.requests_seen)
    # An INFO without a To tag naming a live call's Call-ID is the stack's (it matches
    # such a request to a dialog loosely, by Call-ID and From tag): not answered in
    # front, whatever the stack then answers.
    a = new_a(ctx)
    da, _ = establish(ctx, t, a, b)
    with sipmsg.Endpoint("127.0.0.1") as ep:
        data, cid, _ = ep.request("INFO", (t.addr, t.port), to_user="5550001000",
                                  call_id=da.call_id)
        ep.send(data, (t.addr, t.port))
        r, _ = ep.wait_final(3.0, call_id=cid)
    ctx.log("INFO without To tag, a live call's Call-ID -> %s", r.status if r else None)
    if r is None or t.counter("methods_stateless") != n:
        raise AssertionError("an INFO naming a live call: %s, methods_stateless %d -> %d"
                             % (r.status if r else None, n,
                                t.counter("methods_stateless")))
    r = da.bye()
    if not r or r.status != 200:
        raise AssertionError("BYE: %s" % (r.status if r else None))
    healthy(ctx, t)


# ---- in-dialog Contact and sources -------------------------------------------------

def case_update_contact_star(ctx):
    """On an answered call A sends in-dialog UPDATEs with Contact: * and a tel: Contact:
    each gets 400 and never becomes A's target. B's hold re-INVITE then reaches A at
    its real address and is negotiated; B's BYE reaches A too."""
    b, _, t = start(ctx)
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    for odd in ("*", "<tel:+15551234567>", "<sip:x@host.invalid>"):
        cseq, _, _ = da.send("UPDATE", contact=odd)
        expect_final(da, cseq, "UPDATE", 400, "UPDATE with Contact %s" % odd)
    a.drain()
    cseq, _, _ = db.offer("sendonly")
    r = expect_final(db, cseq, "INVITE", 200, "B's hold re-INVITE")
    db.ack(cseq)
    if ua.sdp_direction(r.body) != "recvonly":
        raise AssertionError("B's hold answered %s" % ua.sdp_direction(r.body))
    if not a.wait_request("INVITE", da.call_id, 5.0):
        raise AssertionError("the hold re-INVITE never reached A")
    cseq, _, _ = db.offer("sendrecv")
    expect_final(db, cseq, "INVITE", 200, "B's unhold re-INVITE")
    db.ack(cseq)
    r = db.bye()
    if not r or r.status != 200:
        raise AssertionError("B's BYE: %s" % (r.status if r else None))
    if not a.wait_request("BYE", da.call_id, 5.0):
        raise AssertionError("A was never sent a BYE")
    t.wait_events("call.end", 1, 10)
    healthy(ctx, t)


def case_in_dialog_foreign_source(ctx):
    """In-dialog requests with the right Call-ID, tags and CSeq from an address that is
    neither the dialog's peer nor a trunk: UPDATE (with an offer and a Contact of its
    own), re-INVITE, INFO and BYE are cut loose from the dialog before the stack acts
    on them, so each is refused as from an unknown source (403, or 481 for a method
    that needs a dialog), and they are counted (in front of the stack, answered 403
    without state, or at the dialog's gate); a CANCEL gets 403 or 481. The call goes
    on and B's next re-INVITE still goes to A."""
    b, _, t = start(ctx)
    a = new_a(ctx)
    x = new_a(ctx, ip=FOREIGN, name="x")
    da, db = establish(ctx, t, a, b)
    before = t.counter("in_dialog_refused") + t.counter("rejected_unknown_source")
    for meth in ("UPDATE", "INVITE", "INFO", "BYE"):
        body = ua.sdp(FOREIGN, x.media_port, 9, "sendonly") if meth in ("UPDATE",
                                                                        "INVITE") else b""
        cseq, _, _ = da.send(meth, body, contact=x.contact, src=x)
        r = x.wait(lambda m, c=cseq, mm=meth: m.status is not None and m.status >= 200 and
                   (m.header("CSeq") or "").split() == [str(c), mm], 5.0)
        if not r or r.status not in (403, 481):
            raise AssertionError("%s from %s: got %s, expected 403 or 481"
                                 % (meth, FOREIGN, r.status if r else None))
        ctx.log("%s from %s -> %d", meth, FOREIGN, r.status)
    data, _, _ = da.build("CANCEL", cseq=da.cseq)
    x.send(data, da.dest)
    r = x.wait(lambda m: m.status is not None and (m.header("CSeq") or "").endswith("CANCEL"),
               5.0)
    if not r or r.status not in (403, 481):
        raise AssertionError("foreign CANCEL: got %s, expected 403 or 481"
                             % (r.status if r else None))
    refused = t.counter("in_dialog_refused") + t.counter("rejected_unknown_source") - before
    if refused != 5:
        raise AssertionError("refusals grew by %d, expected 5" % refused)
    if t.active_calls() != 1:
        raise AssertionError("the call did not survive the foreign BYE")
    cseq, _, _ = db.offer("sendonly")
    expect_final(db, cseq, "INVITE", 200, "B's re-INVITE after the attempts")
    db.ack(cseq)
    if not a.wait_request("INVITE", da.call_id, 5.0):
        raise AssertionError("B's re-INVITE did not reach A")
    if x.wait_request("INVITE", None, 0.5):
        raise AssertionError("the foreign address became A's target")
    r = da.bye()
    if not r or r.status != 200:
        raise AssertionError("A's BYE: %s" % (r.status if r else None))
    healthy(ctx, t)


# What a refusal to a stranger may carry besides the transaction's own headers: the
# configured User-Agent ("trunx") and the length, nothing naming what trunx serves.
STRANGER_SAYS_NOTHING = ("allow", "supported", "accept", "server", "allow-events",
                         "accept-encoding", "accept-language", "require", "contact")


def says_nothing(r, what):
    told = [h for h in STRANGER_SAYS_NOTHING if r.header(h) is not None]
    if told or r.header("User-Agent") not in (None, "trunx"):
        raise AssertionError("%s: the %d names %s (User-Agent %r):\n%s"
                             % (what, r.status, told, r.header("User-Agent"),
                                r.raw.decode("utf-8", "replace")))


def _strangers_in_dialog(ctx, t, b, src_ip):
    """From src_ip (neither a trunk nor a peer of the dialogs it names), over UDP and
    TCP, UPDATE, INFO, re-INVITE and BYE into a live call's dialog, with an ordinary
    Call-ID and with one of 200 characters (longer than a leg keeps): each answered
    403 or 481 naming nothing, counted, and the call goes on."""
    for label, call_id in (("short", None), ("long", "x" * 190 + "@uatest.invalid")):
        a = new_a(ctx)
        da, db = establish(ctx, t, a, b, call_id=call_id)
        before = t.counter("in_dialog_refused") + t.counter("rejected_unknown_source")
        sent = 0
        for proto in ("udp", "tcp"):
            for meth in ("UPDATE", "INFO", "INVITE", "BYE"):
                x = ua.UA(src_ip, name="x", transport=proto)
                ctx.at_end(x.close)
                if proto == "tcp":
                    x.connect((t.addr, t.port))
                body = ua.sdp(src_ip, x.media_port, 9, "sendonly") \
                    if meth in ("UPDATE", "INVITE") else b""
                data, cseq, _ = da.build(meth, body, contact=x.contact)
                data = data.replace(b"SIP/2.0/UDP 127.0.0.1:%d" % a.port,
                                    b"SIP/2.0/%s %s:%d" % (proto.upper().encode(),
                                                           src_ip.encode(), x.port))
                x.send(data, da.dest)
                sent += 1
                r = x.wait(lambda m, c=cseq, mm=meth: m.status is not None and
                           m.status >= 200 and (m.header("CSeq") or "").split() == [str(c), mm],
                           5.0)
                what = "%s Call-ID, %s %s from %s" % (label, proto, meth, src_ip)
                if not r or r.status not in (403, 481):
                    raise AssertionError("%s: got %s, expected 403 or 481"
                                         % (what, r.status if r else None))
                says_nothing(r, what)
                ctx.log("%s -> %d", what, r.status)
                x.close()
        refused = t.counter("in_dialog_refused") + t.counter("rejected_unknown_source") - before
        if refused < sent:
            raise AssertionError("%s Call-ID: refusals grew by %d, expected %d"
                                 % (label, refused, sent))
        if a.wait_request("BYE", da.call_id, 0.2) or b.wait_request("BYE", db.call_id, 0.2):
            raise AssertionError("%s Call-ID: the stranger's BYE ended the call" % label)
        if t.active_calls() != 1:
            raise AssertionError("%s Call-ID: the call did not survive the stranger"
                                 % label)
        cseq, _, _ = db.offer("sendonly")
        expect_final(db, cseq, "INVITE", 200, "%s Call-ID: B's re-INVITE" % label)
        db.ack(cseq)
        if not a.wait_request("INVITE", da.call_id, 5.0):
            raise AssertionError("%s Call-ID: B's re-INVITE did not reach A" % label)
        r = da.bye()
        if not r or r.status != 200:
            raise AssertionError("%s Call-ID: A's BYE: %s" % (label, r.status if r else None))
        wait_no_calls(t)


def case_in_dialog_foreign_says_nothing(ctx):
    """A stranger's in-dialog requests (the dialog's Call-ID and tags, from an address
    that is neither its peer nor a trunk) over UDP and over TCP are refused with an
    answer that names nothing of what trunx serves: no Allow, Supported, Accept or
    Server, the configured User-Agent only, as any out-of-dialog refusal (over TCP
    the stack used to answer a BYE or UPDATE cut loose from the dialog with its own
    481 and every method it knows). The call goes on and B's next re-INVITE reaches
    A."""
    b, _, t = start(ctx)
    _strangers_in_dialog(ctx, t, b, FOREIGN)
    healthy(ctx, t)


def case_in_dialog_other_peer_says_nothing(ctx):
    """The same from the peer of another live dialog (the callee's host, not a trunk's
    address): requests into a dialog it is not the peer of are cut loose at the
    dialog's gate, also with a Call-ID longer than a leg keeps (which the gate used to
    miss: the stack then acted on the foreign BYE and ended the call), and answered
    as a stranger's, naming nothing."""
    peer = "127.0.0.6"
    b = ua.UA(peer, name="b", auto=True)
    ctx.at_end(b.close)

    def conf(c):
        c.pbx.update(match="127.0.0.7/32", uri="sip:%s:%d" % (peer, b.port))

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port, configure=conf).start()
    _strangers_in_dialog(ctx, t, b, peer)
    healthy(ctx, t)


# ---- a stranger's requests split across TCP reads ----------------------------------

PAUSE_S = 0.2


def _stranger_request(method, dst, src, n, in_dialog=False, body=b""):
    """A request from src (ip, port) over TCP; in_dialog: a made-up dialog (Call-ID and
    both tags no trunxd ever made)."""
    to_tag = ";tag=made-up-%d" % n if in_dialog else ""
    head = ("%s sip:+15550001000@%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/TCP %s:%d;branch=z9hG4bK-split%d;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:stranger@%s>;tag=sf%d\r\n"
            "To: <sip:+15550001000@%s>%s\r\nCall-ID: split-%d-%s@%s\r\n"
            "CSeq: %d %s\r\nContact: <sip:stranger@%s:%d;transport=tcp>\r\n"
            % (method, dst[0], dst[1], src[0], src[1], n, src[0], n, dst[0], to_tag, n,
               sipmsg.rand_token(), src[0], 2 if in_dialog else 1, method, src[0], src[1]))
    if body:
        head += "Content-Type: application/sdp\r\n"
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode() + body


def _cut(data, *fractions_or_marks):
    """data cut at each mark: a bytes marker (cut just after it), a fraction (float) or
    an offset (int)."""
    cuts = []
    for m in fractions_or_marks:
        if isinstance(m, bytes):
            cuts.append(data.index(m) + len(m))
        else:
            cuts.append(int(len(data) * m) if isinstance(m, float) else m)
    cuts = sorted(set(c for c in cuts if 0 < c < len(data)))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def _closed_soon(s, timeout):
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(65536):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


def _send_parts(ip, dst, make, cut):
    """Connects from ip, sends make(src) cut by cut(data) with a pause between the
    writes; returns the socket."""
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((ip, 0))
    s.connect(dst)
    data = make(s.getsockname())
    parts = cut(data)
    for i, p in enumerate(parts):
        if i:
            time.sleep(PAUSE_S)
        s.sendall(p)
    return s, len(parts)


def _stack_saw_stranger(t, since):
    """Records of the stack's own source check (debug level): one per request from a
    refused source that reached the stack."""
    return [r for r in t.log_records()[since:] if r.get("event") == "sip.unknown_source"]


def case_refused_split_tcp(ctx):
    """A source no trunk matches sends its requests over TCP split across writes, with
    pauses between them: out of dialog (OPTIONS; an INVITE whose SDP comes in a later
    write), and in a made-up dialog (BYE; UPDATE with its offer in a later write). Each
    gets what the whole message gets: the front's 403 naming nothing (no 481 naming
    every method), then the connection is closed; the stack never sees any of them (its
    source check, which logs every request it refuses at debug level, never runs). A
    split message beyond what the front holds for a stranger, or one never finished,
    is not answered and its connection is closed. A trunk's split request is still
    served by the stack."""
    def conf(c):
        c.general["log_level"] = "debug"
        c.sip["tcp_unknown_timeout"] = 3
    b, _, t = start(ctx, configure=conf)
    dst = (t.addr, t.port)
    sdp = sipmsg.sdp_offer(FOREIGN, 40000)
    shapes = (
        ("OPTIONS whole", lambda s, n: _stranger_request("OPTIONS", dst, s, n),
         lambda d: [d]),
        ("BYE whole (made-up dialog)",
         lambda s, n: _stranger_request("BYE", dst, s, n, in_dialog=True), lambda d: [d]),
        ("OPTIONS in 3 writes", lambda s, n: _stranger_request("OPTIONS", dst, s, n),
         lambda d: _cut(d, 0.04, b"Max-For")),
        ("INVITE, SDP in a later write",
         lambda s, n: _stranger_request("INVITE", dst, s, n, body=sdp),
         lambda d: _cut(d, b"\r\n\r\n")),
        ("INVITE in 3 writes, SDP split",
         lambda s, n: _stranger_request("INVITE", dst, s, n, body=sdp),
         lambda d: _cut(d, b"Call-ID:", b"\r\n\r\nv=0")),
        ("BYE (made-up dialog) in 2 writes",
         lambda s, n: _stranger_request("BYE", dst, s, n, in_dialog=True),
         lambda d: _cut(d, 0.5)),
        ("BYE (made-up dialog), empty line in a later write",
         lambda s, n: _stranger_request("BYE", dst, s, n, in_dialog=True),
         lambda d: _cut(d, len(d) - 2)),
        ("OPTIONS, its first 2 bytes alone", lambda s, n: _stranger_request("OPTIONS", dst, s, n),
         lambda d: _cut(d, 2)),
        ("SUBSCRIBE, its first byte alone (a response?)",
         lambda s, n: _stranger_request("SUBSCRIBE", dst, s, n).replace(
             b"Content-Length", b"Event: presence\r\nContent-Length"),
         lambda d: _cut(d, 1)),
        ("UPDATE (made-up dialog) in 3 writes, offer later",
         lambda s, n: _stranger_request("UPDATE", dst, s, n, in_dialog=True, body=sdp),
         lambda d: _cut(d, b"To:", b"\r\n\r\n")),
    )
    lines0 = len(t.log_records())
    rej0 = t.counter("rejected_unknown_source")
    failures = []
    for n, (name, make, cut) in enumerate(shapes):
        s, parts = _send_parts(FOREIGN, dst, lambda src, n=n, make=make: make(src, n), cut)
        got, closed = sipmsg.read_messages(s, 3.0)
        statuses = [m.status for m in got]
        ctx.log("%-48s (%d writes) -> %s", name, parts, statuses)
        if statuses != [403]:
            failures.append("%s: got %s, expected [403]" % (name, statuses))
        else:
            try:
                says_nothing(got[0], name)
            except AssertionError as e:
                failures.append(str(e))
            if not closed and not _closed_soon(s, 2.0):
                failures.append("%s: the connection stayed open after the 403" % name)
        s.close()
    seen = _stack_saw_stranger(t, lines0)
    rejected = t.counter("rejected_unknown_source") - rej0
    ctx.log("the stack's source check ran %d times; rejected_unknown_source +%d",
            len(seen), rejected)
    if seen:
        failures.append("the stack saw %d of the stranger's requests, first %s"
                        % (len(seen), seen[0]))
    if rejected != len(shapes):
        failures.append("rejected_unknown_source grew by %d, expected %d"
                        % (rejected, len(shapes)))

    # Too big to hold for a stranger: no answer, closed at once.
    lines1 = len(t.log_records())
    big = ("X-Pad: " + "p" * 900 + "\r\n") * 24
    s, _ = _send_parts(FOREIGN, dst,
                       lambda src: _stranger_request("OPTIONS", dst, src, 99).replace(
                           b"Max-Forwards:", big.encode() + b"Max-Forwards:"),
                       lambda d: _cut(d, 0.3))
    got, closed = sipmsg.read_messages(s, 3.0)
    ctx.log("a 22 KB OPTIONS in 2 writes -> %s, closed %s", [m.status for m in got], closed)
    if got or not closed:
        failures.append("oversized split request: answers %s, closed %s"
                        % ([m.status for m in got], closed))
    s.close()
    # Never finished: no answer, closed by tcp_unknown_timeout.
    s, _ = _send_parts(FOREIGN, dst,
                       lambda src: _stranger_request("OPTIONS", dst, src, 98)[:120],
                       lambda d: [d])
    t0 = time.monotonic()
    got, closed = sipmsg.read_messages(s, 5.0)
    ctx.log("half an OPTIONS -> %s, closed after %.1f s", [m.status for m in got],
            time.monotonic() - t0)
    if got or not closed:
        failures.append("unfinished request: answers %s, closed %s"
                        % ([m.status for m in got], closed))
    s.close()
    seen = _stack_saw_stranger(t, lines1)
    if seen:
        failures.append("the stack saw the stranger's oversized or unfinished request: %s"
                        % seen[0])

    # A trunk's request split the same way is the stack's, as before.
    s, _ = _send_parts("127.0.0.1", dst,
                       lambda src: _stranger_request("OPTIONS", dst, src, 97),
                       lambda d: _cut(d, 0.04, b"Max-For"))
    got, _ = sipmsg.read_messages(s, 3.0)
    s.close()
    ctx.log("a trunk's OPTIONS in 3 writes -> %s", [m.status for m in got])
    if [m.status for m in got] != [200]:
        failures.append("a trunk's split OPTIONS: got %s" % [m.status for m in got])
    if failures:
        raise AssertionError("; ".join(failures))
    healthy(ctx, t)


PEER = "127.0.0.6"   # the callee's host: no trunk matches it (its trunk matches 127.0.0.7)


def _peer_conf(c, b):
    c.general["log_level"] = "debug"
    c.pbx.update(match="127.0.0.7/32", uri="sip:%s:%d" % (PEER, b.port))


def _peer_call(ctx):
    """trunxd (debug log) with a call from A (the carrier trunk) to B on PEER, a live
    dialog's peer that is not a trunk's address: (trunxd, its SIP address, A, B, A's
    dialog, B's dialog)."""
    b = ua.UA(PEER, name="b", auto=True)
    ctx.at_end(b.close)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port,
                      configure=lambda c: _peer_conf(c, b)).start()
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    return t, (t.addr, t.port), a, b, da, db


def case_refused_split_tcp_peer(ctx):
    """A refused source that is a live dialog's peer (the callee's host, not a trunk's
    address) is the exception: its BYE into its own dialog, split across TCP writes,
    still reaches the stack, is answered 200 and ends the call. In drop mode a host
    trunx calls may connect; with no live dialog its split requests, held by the front
    like a stranger's, get no answer and never reach the stack."""
    peer = PEER
    t, dst, a, b, da, db = _peer_call(ctx)

    def bye(src):
        data, _, _ = db.build("BYE", contact="")
        return data.replace(b"SIP/2.0/UDP %s:%d" % (peer.encode(), b.port),
                            b"SIP/2.0/TCP %s:%d" % (src[0].encode(), src[1]))

    s, parts = _send_parts(peer, dst, bye, lambda d: _cut(d, 0.5))
    got, _ = sipmsg.read_messages(s, 5.0)
    s.close()
    ctx.log("the callee's own BYE over TCP in %d writes -> %s", parts,
            [m.status for m in got])
    if [m.status for m in got] != [200]:
        raise AssertionError("the dialog peer's split BYE: got %s, expected [200]"
                             % [m.status for m in got])
    if not a.wait_request("BYE", da.call_id, 5.0):
        raise AssertionError("the callee's BYE did not end A's leg")
    wait_no_calls(t, 10.0)
    t.stop()

    def drop(c):
        _peer_conf(c, b)
        c.sip["unknown_source"] = "drop"

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port, configure=drop,
                      name="trunxd-drop").start()
    dst = (t.addr, t.port)
    lines0 = len(t.log_records())
    drop0 = t.counter("dropped_unknown_source")
    shapes = (("OPTIONS in 3 writes", lambda src: _stranger_request("OPTIONS", dst, src, 1),
               lambda d: _cut(d, 0.04, b"Max-For")),
              ("BYE (made-up dialog) in 2 writes",
               lambda src: _stranger_request("BYE", dst, src, 2, in_dialog=True),
               lambda d: _cut(d, 0.5)))
    for name, make, cut in shapes:
        s, parts = _send_parts(peer, dst, make, cut)
        got, closed = sipmsg.read_messages(s, 1.5)
        closed = closed or _closed_soon(s, 2.0)
        s.close()
        ctx.log("drop mode, from a host trunx calls: %s -> %s, closed %s", name,
                [m.status for m in got], closed)
        if got or not closed:
            raise AssertionError("drop mode: %s got %s, closed %s"
                                 % (name, [m.status for m in got], closed))
    seen = _stack_saw_stranger(t, lines0)
    dropped = t.counter("dropped_unknown_source") - drop0
    if seen or dropped != len(shapes):
        raise AssertionError("drop mode: the stack saw %d, dropped_unknown_source +%d"
                             % (len(seen), dropped))
    healthy(ctx, t)


def case_tcp_peer_keeps_connection(ctx):
    """A live dialog's peer that matches no trunk (a proxy before an outbound-only
    trunk) keeps its TCP connection for the dialog's requests: two INFOs and the BYE
    go over one connection with pauses longer than the front's grace after an answer,
    each answered, the connection open between them (it was shut 200 ms after each
    request, and a request sent as it closed was lost: over TCP nothing resends it, so
    the proxy answered 408). Once the dialog is over, the connection is a stranger's
    again and closed within tcp_unknown_timeout."""
    peer = PEER
    b = ua.UA(peer, name="b", auto=True)
    ctx.at_end(b.close)

    def conf(c):
        _peer_conf(c, b)
        c.sip["tcp_unknown_timeout"] = 1

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port, configure=conf).start()
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((peer, 0))
    s.connect((t.addr, t.port))
    ctx.at_end(s.close)
    src = s.getsockname()

    def over_tcp(data):
        return data.replace(b"SIP/2.0/UDP %s:%d" % (peer.encode(), b.port),
                            b"SIP/2.0/TCP %s:%d" % (src[0].encode(), src[1]))

    for n, (meth, want) in enumerate((("INFO", 415), ("INFO", 415), ("BYE", 200))):
        if n:
            time.sleep(1.5)   # past the grace (200 ms) and tcp_unknown_timeout (1 s)
        body = b"x" * 16 if meth == "INFO" else b""
        data, _, _ = db.build(meth, body, contact="", content_type="text/plain")
        try:
            s.sendall(over_tcp(data))
        except OSError as e:
            raise AssertionError("the peer's %s #%d: connection gone (%s)" % (meth, n + 1, e))
        got, closed = sipmsg.read_messages(s, 5.0)
        ctx.log("the peer's %s #%d on the same connection -> %s, closed %s", meth, n + 1,
                [m.status for m in got], closed)
        if [m.status for m in got] != [want] or closed:
            raise AssertionError("the peer's %s #%d: got %s, closed %s, expected [%d] on "
                                 "an open connection" % (meth, n + 1,
                                                         [m.status for m in got], closed,
                                                         want))
    if not a.wait_request("BYE", da.call_id, 5.0):
        raise AssertionError("the peer's BYE did not end A's leg")
    wait_no_calls(t, 10.0)
    if not _closed_soon(s, 4.0):
        raise AssertionError("the peer's connection was still open 4 s after its dialog "
                             "ended (tcp_unknown_timeout 1 s)")
    healthy(ctx, t)


def case_split_tcp_peer_other_dialog(ctx):
    """A live dialog's peer (the callee's host, a source no trunk matches) sends over
    TCP, split across writes, a BYE and an UPDATE naming the other leg's dialog: each is
    held by the front like a stranger's and answered as one, 403 naming nothing, and
    never reaches the stack (which used to cut it loose from the dialog and answer 481
    with Allow, every method trunx knows); the call goes on. Its own split requests
    are handed to the stack whole: a 20 KB INFO (answered 415), then its BYE, which
    ends the call."""
    peer = PEER
    t, dst, a, b, da, db = _peer_call(ctx)
    refused0 = t.counter("in_dialog_refused")
    for meth, cut in (("BYE", lambda d: _cut(d, 0.5)),
                      ("UPDATE", lambda d: _cut(d, b"Call-ID", 0.9))):
        def make(src, m=meth):
            data, _, _ = da.build(m, contact="")
            return data.replace(b"SIP/2.0/UDP 127.0.0.1:%d" % a.port,
                                b"SIP/2.0/TCP %s:%d" % (src[0].encode(), src[1]))
        s, parts = _send_parts(peer, dst, make, cut)
        got, _ = sipmsg.read_messages(s, 5.0)
        s.close()
        what = "the peer's %s naming the other leg's dialog in %d writes" % (meth, parts)
        ctx.log("%s -> %s", what, [(m.status, m.header("Allow")) for m in got])
        if [m.status for m in got] != [403]:
            raise AssertionError("%s: got %s, expected [403]" % (what,
                                                                [m.status for m in got]))
        says_nothing(got[0], what)
    if t.counter("in_dialog_refused") - refused0 < 2:
        raise AssertionError("in_dialog_refused grew by %d, expected 2"
                             % (t.counter("in_dialog_refused") - refused0))
    if a.wait_request("BYE", da.call_id, 0.2) or t.active_calls() != 1:
        raise AssertionError("the peer's BYE naming the other dialog ended the call")

    def info(src):
        data, _, _ = db.build("INFO", b"x" * 20000, contact="", content_type="text/plain")
        return data.replace(b"SIP/2.0/UDP %s:%d" % (peer.encode(), b.port),
                            b"SIP/2.0/TCP %s:%d" % (src[0].encode(), src[1]))
    s, parts = _send_parts(peer, dst, info, lambda d: _cut(d, 0.5))
    got, _ = sipmsg.read_messages(s, 5.0)
    s.close()
    ctx.log("the peer's own 20 KB INFO in %d writes -> %s", parts, [m.status for m in got])
    if [m.status for m in got] != [415]:
        raise AssertionError("the peer's own split 20 KB INFO: got %s, expected [415] from "
                             "the stack" % [m.status for m in got])

    def bye(src):
        data, _, _ = db.build("BYE", contact="")
        return data.replace(b"SIP/2.0/UDP %s:%d" % (peer.encode(), b.port),
                            b"SIP/2.0/TCP %s:%d" % (src[0].encode(), src[1]))
    s, parts = _send_parts(peer, dst, bye, lambda d: _cut(d, 0.3, 0.7))
    got, _ = sipmsg.read_messages(s, 5.0)
    s.close()
    ctx.log("the peer's own BYE in %d writes -> %s", parts, [m.status for m in got])
    if [m.status for m in got] != [200]:
        raise AssertionError("the peer's own split BYE: got %s, expected [200]"
                             % [m.status for m in got])
    if not a.wait_request("BYE", da.call_id, 5.0):
        raise AssertionError("the peer's BYE did not end A's leg")
    wait_no_calls(t, 10.0)
    healthy(ctx, t)


# ---- offers crossing ---------------------------------------------------------------

def _ack_failure(d, cseq, branch):
    d.ack(cseq, branch=branch)


def _glare_from(ctx, t, offerer, other, d_off, d_other, other_ua, label):
    """d_off sends an UPDATE offer; while it is relayed (other side holds it), d_off
    sends an offerless re-INVITE: 491. Then the held re-INVITE is answered and the
    UPDATE gets its 200 with SDP."""
    other_ua.auto = False
    other_ua.drain()
    d_off.sdp_version += 1
    upd_cseq, _, _ = d_off.send("UPDATE", ua.sdp(offerer.ip, offerer.media_port,
                                                 d_off.sdp_version, "sendonly"))
    held = other_ua.wait_in_dialog("INVITE", d_other.call_id, 5.0)
    if not held:
        raise AssertionError("%s: the UPDATE was not relayed" % label)
    inv_cseq, inv_branch, _ = d_off.send("INVITE")
    r = expect_final(d_off, inv_cseq, "INVITE", 491, "%s: offerless re-INVITE against "
                     "the pending UPDATE" % label)
    _ack_failure(d_off, inv_cseq, inv_branch)
    d_other.sdp_version += 1
    other_ua.respond(held, 200, body=ua.sdp(other_ua.ip, other_ua.media_port,
                                            d_other.sdp_version, "recvonly"))
    r = expect_final(d_off, upd_cseq, "UPDATE", 200, "%s: the UPDATE" % label)
    if not r.body:
        raise AssertionError("%s: the UPDATE's 200 has no SDP" % label)
    other_ua.auto = True
    # Later offers are negotiated normally.
    cseq, _, _ = d_off.offer("sendrecv")
    expect_final(d_off, cseq, "INVITE", 200, "%s: a later re-INVITE" % label)
    d_off.ack(cseq)


def case_update_against_reinvite(ctx):
    """UPDATE with an offer, then an offerless re-INVITE while the UPDATE is relayed:
    the re-INVITE gets 491, the UPDATE is answered once the other leg answers, and later
    re-INVITEs are negotiated — from A's side, then from B's."""
    b, _, t = start(ctx)
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    _glare_from(ctx, t, a, b, da, db, b, "from A")
    _glare_from(ctx, t, b, a, db, da, a, "from B")
    if t.counter("offer_glare") < 2:
        raise AssertionError("offer_glare counter not raised: %s" % t.counter("offer_glare"))
    no_log(t, "Overlapping")
    r = da.bye()
    if not r or r.status != 200:
        raise AssertionError("A's BYE: %s" % (r.status if r else None))
    healthy(ctx, t)


def case_both_sides_offer_at_once(ctx):
    """A and B send re-INVITE offers at the same moment: each leg's collision is
    answered (491 or 200), every transaction ends, and the call goes on."""
    b, _, t = start(ctx)
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    for i in range(5):
        ca, _, _ = da.offer("sendonly" if i % 2 == 0 else "sendrecv")
        cb, _, _ = db.offer("sendonly" if i % 2 == 0 else "sendrecv")
        ra = da.wait_final(ca, "INVITE", 10.0)
        rb = db.wait_final(cb, "INVITE", 10.0)
        if not ra or not rb:
            raise AssertionError("round %d: unanswered (A %s, B %s)" % (
                i, ra.status if ra else None, rb.status if rb else None))
        for d, r, c in ((da, ra, ca), (db, rb, cb)):
            if r.status == 200:
                d.ack(c)
            else:
                d.ack(c, branch=None)
        ctx.log("round %d: A got %d, B got %d", i, ra.status, rb.status)
        time.sleep(0.3)
    cseq, _, _ = da.offer("sendrecv")
    expect_final(da, cseq, "INVITE", 200, "re-INVITE after the collisions", 10.0)
    da.ack(cseq)
    da.bye()
    healthy(ctx, t)


def case_cancel_reinvite(ctx):
    """A's hold re-INVITE is cancelled while B still holds it: A gets 487, B gets the
    CANCEL and answers 487, the call goes on unchanged, later offers work, and the
    record's cause is A's BYE, not a cancel."""
    b, _, t = start(ctx)
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    b.auto = False
    b.drain()
    cseq, branch, sent = da.offer("sendonly")
    held = b.wait_in_dialog("INVITE", db.call_id, 5.0)
    if not held:
        raise AssertionError("the hold was not relayed")
    b.respond(held, 100)   # a CANCEL waits for a provisional response (RFC 3261 9.1)
    da.cancel(sent)
    expect_final(da, cseq, "INVITE", 487, "A's cancelled re-INVITE")
    _ack_failure(da, cseq, branch)
    cancel = b.wait_request("CANCEL", db.call_id, 5.0)
    if not cancel:
        raise AssertionError("the CANCEL was not relayed to B")
    b.respond(cancel, 200)
    b.respond(held, 487)
    b.auto = True
    time.sleep(0.5)
    cseq, _, _ = da.offer("sendrecv")
    expect_final(da, cseq, "INVITE", 200, "a re-INVITE after the cancel")
    da.ack(cseq)
    da.bye()
    rec = t.wait_events("call.end", 1, 10)
    if not rec or rec[0].get("cause") != "bye_a":
        raise AssertionError("call.end cause: %s" % (rec[0].get("cause") if rec else None))
    healthy(ctx, t)


def case_cancel_reinvite_race(ctx):
    """A cancels its hold, but B accepts the hold anyway (its 200 crosses the CANCEL):
    trunxd offers B back its previous session (sendrecv, a newer o= version), so both
    legs agree again with what trunxd relays."""
    b, _, t = start(ctx)
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    b.auto = False
    b.drain()
    cseq, branch, sent = da.offer("sendonly")
    held = b.wait_in_dialog("INVITE", db.call_id, 5.0)
    if not held:
        raise AssertionError("the hold was not relayed")
    version_hold = int(held.body.split(b"o=")[1].split()[2])
    b.respond(held, 100)
    da.cancel(sent)
    expect_final(da, cseq, "INVITE", 487, "A's cancelled re-INVITE")
    _ack_failure(da, cseq, branch)
    cancel = b.wait_request("CANCEL", db.call_id, 5.0)
    if not cancel:
        raise AssertionError("the CANCEL was not relayed to B")
    b.respond(cancel, 200)
    db.sdp_version += 1
    b.respond(held, 200, body=ua.sdp(b.ip, b.media_port, db.sdp_version, "recvonly"))
    back = b.wait_in_dialog("INVITE", db.call_id, 5.0)
    if not back:
        raise AssertionError("B was not offered its previous session back")
    if ua.sdp_direction(back.body) != "sendrecv":
        raise AssertionError("the rollback offer is %s" % ua.sdp_direction(back.body))
    version_back = int(back.body.split(b"o=")[1].split()[2])
    if version_back <= version_hold:
        raise AssertionError("rollback o= version %d not above %d" % (version_back,
                                                                     version_hold))
    db.sdp_version += 1
    b.respond(back, 200, body=ua.sdp(b.ip, b.media_port, db.sdp_version))
    b.auto = True
    time.sleep(0.5)
    cseq, _, _ = da.offer("sendrecv")
    expect_final(da, cseq, "INVITE", 200, "a re-INVITE after the rollback")
    da.ack(cseq)
    da.bye()
    healthy(ctx, t)


def case_two_byes_during_reinvite(ctx):
    """B hangs up twice (two BYE transactions, new CSeq each) while A's re-INVITE waits
    for B's answer: trunxd holds B's first BYE until the re-INVITE is done (the stack's
    own leak otherwise) and answers it 200 then, and the stack answers the second 487
    at that moment (the second used to overwrite the first, which was then answered
    487 at once and its saved event leaked: LeakSanitizer in the sanitizer build). A
    gets its re-INVITE answered and a BYE, and the call ends once."""
    b, _, t = start(ctx)
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    b.auto = False
    b.drain()
    a.drain()
    cseq, branch, sent = da.offer("sendonly")
    held = b.wait_in_dialog("INVITE", db.call_id, 5.0)
    if not held:
        raise AssertionError("the hold was not relayed")
    b.respond(held, 100)
    c1, _, _ = db.send("BYE")
    time.sleep(0.2)
    c2, _, _ = db.send("BYE")
    early = db.wait_final(c1, "BYE", 1.0) or db.wait_final(c2, "BYE", 0.1)
    if early is not None:
        raise AssertionError("a BYE was answered while the re-INVITE is open: %s %s"
                             % (early.status, early.header("CSeq")))
    b.respond(held, 487)
    finals = {}
    for c in (c1, c2):
        f = db.wait_final(c, "BYE", 8.0)
        finals[c] = f.status if f else None
    ctx.log("B's BYEs answered: %s", finals)
    if finals != {c1: 200, c2: 487}:
        raise AssertionError("B's BYEs: %s (the held one 200, the other 487 expected)"
                             % finals)
    f = da.wait_final(cseq, "INVITE", 8.0)
    if f is None:
        raise AssertionError("A's re-INVITE got no final answer")
    if f.status >= 300:
        _ack_failure(da, cseq, branch)
    else:
        da.ack(cseq)
    bye = a.wait_request("BYE", da.call_id, 8.0)
    if not bye:
        raise AssertionError("A was not sent a BYE")
    a.respond(bye, 200)
    recs = t.wait_events("call.end", 1, 10)
    if len(recs) != 1 or recs[0].get("cause") != "bye_b":
        raise AssertionError("call.end: %s" % recs)
    b.auto = True
    healthy(ctx, t)


def case_offer_burst(ctx):
    """Two hundred hold/unhold offers back to back from both sides: every one is
    answered and none of the media updates is refused."""
    b, _, t = start(ctx)
    a = new_a(ctx)
    da, db = establish(ctx, t, a, b)
    for i in range(200):
        d = da if i % 2 == 0 else db
        cseq, _, _ = d.offer("sendonly" if (i // 2) % 2 == 0 else "sendrecv")
        r = d.wait_final(cseq, "INVITE", 5.0)
        if not r or r.status != 200:
            raise AssertionError("offer %d: %s" % (i, r.status if r else None))
        d.ack(cseq)
    no_log(t, "refused")
    da.bye()
    healthy(ctx, t)


# ---- mutation streams --------------------------------------------------------------

def _seed_messages(ctx, t, ep_ip, ep_port, transport):
    """Seeds: ordinary requests and the RFC 4475 set, Via pointing back at us."""
    tag = "%s:%d" % (ep_ip, ep_port)
    base = sipmsg.Endpoint.__new__(sipmsg.Endpoint)
    base.ip, base.port, base.transport = ep_ip, ep_port, transport
    body = sipmsg.sdp_offer(ep_ip, 40000)
    seeds = []
    for meth in ("INVITE", "OPTIONS", "BYE", "UPDATE", "INFO", "CANCEL", "REGISTER"):
        data, _, _ = base.request(meth, (t.addr, t.port), to_user="5550001000",
                                  body=body if meth in ("INVITE", "UPDATE") else b"",
                                  content_type="application/sdp")
        seeds.append(data)
    tdir = os.environ.get("TRUNX_TORTURE_DIR") or os.path.join(
        ctx.source_dir or ".", "..", "shared", "torture", "rfc4475")
    if os.path.isdir(tdir):
        for f in sorted(os.listdir(tdir)):
            raw = open(os.path.join(tdir, f), "rb").read()
            seeds.append(raw.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))
    ctx.log("%d seed messages (via %s)", len(seeds), tag)
    return seeds


def _blast_udp(ctx, t, src_ip, r, n):
    with sipmsg.Endpoint(src_ip) as ep:
        seeds = _seed_messages(ctx, t, src_ip, ep.port, "udp")
        for i in range(n):
            ep.send(mutate.mutate(r, r.choice(seeds))[:65000], (t.addr, t.port))
            if i % 50 == 0:
                while ep.recv(0.0) is not None:
                    pass
                time.sleep(0.01)


def _blast_tcp(ctx, t, src_ip, r, n, per_conn=25):
    sent = 0
    while sent < n:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((src_ip, 0))
            s.settimeout(2.0)
            s.connect((t.addr, t.port))
            port = s.getsockname()[1]
            seeds = _seed_messages(ctx, t, src_ip, port, "tcp") if sent == 0 else seeds
            for _ in range(per_conn):
                data = mutate.mutate(r, r.choice(seeds))
                cut = r.randrange(len(data)) if r.random() < 0.3 else len(data)
                s.sendall(data[:cut])
                if cut < len(data):
                    time.sleep(0.005)
                    s.sendall(data[cut:])
                sent += 1
            s.settimeout(0.05)
            try:
                while s.recv(65535):
                    pass
            except (socket.timeout, OSError):
                pass
        except OSError:
            sent += 1
        finally:
            s.close()


def case_mutation_out_of_dialog(ctx):
    """Mutated SIP (RFC 4475 messages and ordinary requests: bytes flipped, lines
    duplicated, dropped or swapped, huge headers, bad lengths, duplicated single
    headers, odd Contacts, truncation) over UDP and TCP, from a trunk's address and from
    an unknown one, for fixed seeds. Afterwards trunxd is healthy."""
    b, u, t = start(ctx, with_sipp=True, slow_dns=True)
    n_udp = int(os.environ.get("TRUNX_MUTATION_UDP", "3000"))
    n_tcp = int(os.environ.get("TRUNX_MUTATION_TCP", "600"))
    for seed in SEEDS:
        r = random.Random(seed)
        for src in ("127.0.0.1", FOREIGN):
            _blast_udp(ctx, t, src, r, n_udp // (2 * len(SEEDS)))
            t.check_alive()
            _blast_tcp(ctx, t, src, r, n_tcp // (2 * len(SEEDS)))
            t.check_alive()
        ctx.log("seed %d: %d UDP + %d TCP messages sent; trunxd alive", seed,
                n_udp // len(SEEDS), n_tcp // len(SEEDS))
    healthy(ctx, t, u)


def _log_level(c):
    level = os.environ.get("TRUNX_MUTATION_LOG_LEVEL")
    if level:
        c.general["log_level"] = level


def case_mutation_in_dialog(ctx):
    """Live calls A -> trunxd -> B; both legs send mutated in-dialog requests
    (re-INVITE, UPDATE, INFO, PRACK, CANCEL, BYE, with the right dialog identifiers
    before mutation) while both UAs keep answering what trunxd relays. For each seed;
    afterwards every call is ended, no call is stuck and trunxd is healthy."""
    b, u, t = start(ctx, with_sipp=True, slow_dns=True, configure=_log_level)
    a = new_a(ctx)
    n = int(os.environ.get("TRUNX_MUTATION_IN_DIALOG", "400"))
    for seed in SEEDS:
        r = random.Random(seed)
        pairs = []
        for _ in range(4):
            pairs.append(establish(ctx, t, a, b))
        for i in range(n):
            da, db = r.choice(pairs)
            d = r.choice((da, db))
            meth = r.choice(("INVITE", "UPDATE", "INFO", "PRACK", "CANCEL", "BYE",
                             "INVITE", "UPDATE"))
            d.sdp_version += 1
            body = ua.sdp(d.ua.ip, d.media_port, d.sdp_version,
                          r.choice((None, "sendonly", "recvonly", "inactive"))) \
                if meth in ("INVITE", "UPDATE") and r.random() < 0.8 else b""
            cseq, branch, sent = d.send(meth, body, mutate=lambda m: mutate.mutate(r, m)
                                        if r.random() < 0.85 else m)
            if meth == "INVITE" and r.random() < 0.3:
                d.cancel(sent)
            if i % 10 == 0:
                time.sleep(0.05)
                # ACK whatever final answers came to our INVITEs.
                for dd in (da, db):
                    while True:
                        m = dd.ua.wait(lambda m, c=dd.call_id: m.status is not None and
                                       m.header("Call-ID") == c and m.status >= 200 and
                                       (m.header("CSeq") or "").endswith("INVITE"), 0.0)
                        if not m:
                            break
                        try:
                            num = int((m.header("CSeq") or "0").split()[0])
                        except ValueError:
                            continue
                        dd.ack(num)
        t.check_alive()
        time.sleep(1.0)
        for da, db in pairs:
            if not da.ended:
                da.bye(2.0)
        ctx.log("seed %d: %d mutated in-dialog requests; trunxd alive", seed, n)
        wait_no_calls(t, 60.0)
        a.drain()
        b.drain()
    healthy(ctx, t, u)


def _bye_either(r, pair):
    """BYE from one side; if that side's view of the dialog was spoiled by a mangled
    answer (481 or none), from the other, whose view trunxd shares."""
    sides = [x for x in pair if x is not None]
    r.shuffle(sides)
    for d in sides:
        f = d.bye(2.0)
        if f is not None and f.status < 300:
            return


def case_mutation_responses(ctx):
    """Live calls A -> trunxd -> B where both UAs mangle the responses they send
    (provisional and final answers to the first INVITE, answers to re-INVITE, UPDATE,
    INFO and BYE), while both sides send well-formed in-dialog requests. For each seed;
    afterwards every call is ended, no call is stuck and trunxd is healthy."""
    def conf(c):
        _log_level(c)
        # A spoiled final answer leaves B's leg waiting for one: end such calls soon.
        c.sip["invite_timeout"] = 4
        c.sip["ring_timeout"] = 4
        c.sip["transaction_timeout"] = 4   # and the CANCEL that gets no 487

    b, _, t = start(ctx, slow_dns=True, configure=conf)
    a = new_a(ctx)
    n = int(os.environ.get("TRUNX_MUTATION_RESPONSES", "20"))
    # One seed in the suite (each waits out the calls whose answer was spoiled);
    # TRUNX_MUTATION_SEEDS runs more.
    for seed in SEEDS if "TRUNX_MUTATION_SEEDS" in os.environ else SEEDS[:1]:
        r = random.Random(seed)
        lock = threading.Lock()

        def mangle(data, r=r, lock=lock):
            with lock:
                return mutate.mutate(r, data) if r.random() < 0.5 else data
        a.mutate_responses = mangle
        b.mutate_responses = mangle
        live = []
        for i in range(n):
            before = set(b.dialogs)
            da, final = a.call((t.addr, t.port), timeout=3.0)
            if da is None:
                continue
            procs.wait_until(lambda: set(b.dialogs) - before, 1.0)
            new = [b.dialogs[k] for k in set(b.dialogs) - before]
            live.append((da, new[0] if new else None))
            for _ in range(r.randrange(1, 4)):
                pair = r.choice(live)
                d = r.choice([x for x in pair if x is not None])
                if d.ended:
                    continue
                meth = r.choice(("INVITE", "UPDATE", "INFO", "INVITE"))
                d.sdp_version += 1
                body = ua.sdp(d.ua.ip, d.media_port, d.sdp_version,
                              r.choice((None, "sendonly", "inactive"))) \
                    if meth != "INFO" else b""
                cseq, _, _ = d.send(meth, body)
                if meth == "INVITE":
                    f = d.wait_final(cseq, "INVITE", 1.0)
                    if f is not None and f.status < 300:
                        d.ack(cseq)
            if len(live) > 3:
                _bye_either(r, live.pop(0))
        t.check_alive()
        a.mutate_responses = None
        b.mutate_responses = None
        for pair in live:
            _bye_either(r, pair)
        ctx.log("seed %d: %d calls with mangled responses; trunxd alive", seed, n)
        wait_no_calls(t, 60.0)
        a.drain()
        b.drain()
    healthy(ctx, t)
    da, db = establish(ctx, t, a, b)   # and a clean call still works end to end
    f = da.bye(5.0)
    if f is None or f.status != 200:
        raise AssertionError("BYE of a clean call: %s" % (f.status if f else None))
    wait_no_calls(t, 10.0)


def _audio_target(body):
    """(address, port, first payload type) of an SDP's first audio line, or None."""
    text = (body or b"").decode("latin-1")
    c = re.search(r"(?m)^c=IN IP4 (\d+\.\d+\.\d+\.\d+)\s*$", text)
    m = re.search(r"(?m)^m=audio (\d+) \S+ (\d+)", text)
    if not c or not m or not 0 < int(m.group(1)) < 65536 or int(m.group(2)) > 127:
        return None
    return c.group(1), int(m.group(1)), int(m.group(2))


def _spray_rtp(r, sock, target, n):
    """n RTP packets of random payload (and now and then a runt or a huge one) to
    target, as a peer whose codec state trunx cannot trust would send."""
    if target is None or not target[0].startswith("127."):
        return
    ssrc, seq, ts = r.getrandbits(32), r.getrandbits(16), r.getrandbits(32)
    for _ in range(n):
        size = r.choice((160, 160, 80, r.randrange(1, 300), 0, 1400))
        hdr = struct.pack("!BBHII", 0x80, target[2] | (0x80 if r.random() < 0.1 else 0),
                          seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
        pkt = hdr + bytes(r.getrandbits(8) for _ in range(size))
        if r.random() < 0.05:
            pkt = pkt[:r.randrange(1, 12)]
        try:
            sock.sendto(pkt, target[:2])
        except OSError:
            pass
        seq, ts = seq + 1, ts + r.choice((160, 960, 0, 80000))


def case_mutation_sdp(ctx):
    """Calls whose SDP is mutated in structure inside sound SIP (extreme numbers,
    hostile rtpmap/fmtp/crypto/rtcp/ptime lines, repeated media lines, other profiles
    and addresses): first offers from the carrier, answers from the PBX, re-INVITE and
    UPDATE offers and their answers from both legs, with both trunks taking SRTP and
    Opus, so codec choice, transcoding, SRTP keys and RTCP set-up all meet them; RTP
    of random payload goes to every port trunx gives. Each offer trunx cannot serve gets
    a 4xx/5xx, never a crash or a stuck call; afterwards trunxd is healthy."""
    def conf(c):
        _log_level(c)
        c.sip["invite_timeout"] = 4
        c.carrier.update(srtp="optional", srtp_without_tls=True)
        c.pbx.update(codecs="opus,PCMA,PCMU,telephone-event", srtp="optional",
                     srtp_without_tls=True)

    b, u, t = start(ctx, with_sipp=True, slow_dns=True, configure=conf)
    a = new_a(ctx)
    n = int(os.environ.get("TRUNX_MUTATION_SDP", "120"))
    statuses = {}
    for seed in SEEDS:
        r = random.Random(seed)
        lock = threading.Lock()
        b_offers = []

        def answer(inv, r=r, lock=lock, b_offers=b_offers):
            with lock:
                b_offers.append(inv.body)
                body = mutate.sdp_answer(r, inv.body or b"", b.ip, b.media_port)
                return mutate.mutate_sdp(r, body) if body and r.random() < 0.4 else body

        def mangle(data, r=r, lock=lock):
            head, sep, body = data.partition(b"\r\n\r\n")
            with lock:
                if sep and body.startswith(b"v=0") and r.random() < 0.3:
                    return mutate.with_body(data, mutate.mutate_sdp(r, body))
            return data

        b.answer_body = answer
        a.mutate_responses = b.mutate_responses = mangle
        live = []
        for i in range(n):
            offer = mutate.sdp_offer(r, a.ip, a.media_port)
            if r.random() < 0.8:
                offer = mutate.mutate_sdp(r, offer)
            before = len(b_offers)
            da, final = a.call((t.addr, t.port), body=offer, timeout=6.0)
            key = final.status if final is not None else None
            statuses[key] = statuses.get(key, 0) + 1
            if da is None:
                continue
            _spray_rtp(r, a.media, _audio_target(final.body), 20)
            if len(b_offers) > before:
                _spray_rtp(r, b.media, _audio_target(b_offers[-1]), 20)
            procs.wait_until(lambda: any(not d.ended and d.call_id != da.call_id
                                         for d in b.dialogs.values()), 1.0)
            dbs = [d for d in b.dialogs.values() if not d.ended]
            live.append((da, dbs[-1] if dbs else None))
            for _ in range(r.randrange(0, 3)):
                d = r.choice([x for x in live[-1] if x is not None])
                meth = r.choice(("INVITE", "UPDATE", "INVITE"))
                body = mutate.sdp_offer(r, d.ua.ip, d.media_port)
                if r.random() < 0.8:
                    body = mutate.mutate_sdp(r, body)
                cseq, _, _ = d.send(meth, body)
                f = d.wait_final(cseq, meth, 2.0)
                if meth == "INVITE" and f is not None and f.status < 300:
                    d.ack(cseq)
                if f is not None and f.status < 300:
                    _spray_rtp(r, d.ua.media, _audio_target(f.body), 10)
            if len(live) > 3:
                _bye_either(r, live.pop(0))
        t.check_alive()
        b.answer_body = None
        a.mutate_responses = b.mutate_responses = None
        for pair in live:
            _bye_either(r, pair)
        ctx.log("seed %d: %d calls with mutated SDP; finals so far %s; trunxd alive", seed,
                n, sorted(statuses.items(), key=lambda x: str(x[0])))
        wait_no_calls(t, 60.0)
        a.drain()
        b.drain()
    # Mutation must not have shut every door: some offers were served, some refused.
    if not statuses.get(200) or not any(k and k >= 400 for k in statuses):
        raise AssertionError("finals %s: the mutations reached nothing" % statuses)
    healthy(ctx, t, u)
    da, db = establish(ctx, t, a, b)   # and a clean call still works end to end
    f = da.bye(5.0)
    if f is None or f.status != 200:
        raise AssertionError("BYE of a clean call: %s" % (f.status if f else None))
    wait_no_calls(t, 10.0)


if __name__ == "__main__":
    sys.exit(case.main(globals()))
