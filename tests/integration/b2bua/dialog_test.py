#!/usr/bin/env python3
"""Dialog and transaction behaviour of trunxd as a B2BUA against peers that fork,
race and time out (RFC 3261, 3262, 4028, 5407, 6026).

Both sides are the harness's scriptable UA (harness/ua.py): the callee side answers by
hand, so a case can send what a forking proxy or a carrier sends (two To-tags, two 2xx,
a 200 crossing a CANCEL, 422, 3xx...). Every case ends with no call left in
`trunxctl calls`, exactly one `call.end` record with the cause expected, and trunxd
stopping cleanly (exit 0, no sanitizer report)."""
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import case, procs, sipmsg, trunxd, ua  # noqa: E402


def _tag(v):
    m = re.search(r";\s*tag=([^;>\s]+)", v or "")
    return m.group(1) if m else None


def _setup(ctx, configure=None):
    """A manual callee UA (B), trunxd routing to it, and a caller UA (A)."""
    b = ua.UA("127.0.0.1", name="b")
    ctx.at_end(b.close)

    def conf(cf):
        cf.media["rtp_timeout"] = 0   # the UAs send no RTP: only signalling ends calls
        if configure:
            configure(cf)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port, configure=conf)
    ctx.at_end(t._end_check)
    t.start()
    a = ua.UA("127.0.0.1", name="a")
    ctx.at_end(a.close)
    return a, b, t


class _Call(threading.Thread):
    """A's INVITE in the background (ua.UA.call blocks until the final response)."""

    def __init__(self, a, t, **kw):
        super().__init__(daemon=True)
        self.a, self.t, self.kw = a, t, kw
        self.dialog = self.final = None

    def run(self):
        self.dialog, self.final = self.a.call((self.t.addr, self.t.port), **self.kw)


def _respond_tagged(b, inv, status, tag, body=b"", headers=()):
    b.respond(inv, status, body=body, headers=headers, to_tag=tag)


def _b_dialog(b, inv, tag):
    frm = inv.header("From") or ""
    d = ua.Dialog(b, inv.header("Call-ID"), tag, _tag(frm), ua._uri_of(inv.header("To")),
                  ua._uri_of(frm), ua._uri_of(inv.header("Contact")) or ua._uri_of(frm),
                  inv.src, cseq=100, uac=False)
    b.dialogs[(d.call_id, tag)] = d
    return d


def _no_calls_left(ctx, t, timeout=20.0):
    t.wait_no_calls(timeout)


def _one_end(ctx, t, timeout=15.0, **want):
    # a second record would come right after the first
    return t.one_end(ctx, timeout, 1.0, **want)


def _requests(b, method, tag=None, timeout=5.0, n=1):
    """Waits for n requests of method at b (in-dialog with To-tag `tag` if given)."""
    got = []
    end = time.monotonic() + timeout
    while len(got) < n:
        m = b.wait(lambda m: m.method == method and
                   (tag is None or _tag(m.header("To")) == tag),
                   max(0.0, end - time.monotonic()))
        if m is None:
            break
        got.append(m)
    return got


# ---- forking behind B ---------------------------------------------------------------

def case_fork_second_2xx(ctx):
    """A forking proxy behind B: early dialog 1 rings and sends early media, then the
    200s of two branches arrive, branch 2's first. trunxd answers A once, keeps the
    dialog of the first 200, and ACKs then BYEs the second (RFC 3261 13.2.2.4); A's BYE
    ends the kept one. No call is left and one record says answered, bye_a."""
    a, b, t = _setup(ctx)
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    b.respond(inv, 100)
    _respond_tagged(b, inv, 180, "br1")
    _respond_tagged(b, inv, 183, "br1", body=ua.sdp(b.ip, b.media_port))
    time.sleep(0.3)
    _respond_tagged(b, inv, 200, "br2", body=ua.sdp(b.ip, b.media_port, sess=2))
    time.sleep(0.05)
    _respond_tagged(b, inv, 200, "br1", body=ua.sdp(b.ip, b.media_port, sess=1))
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    acks = {_tag(m.header("To")) for m in _requests(b, "ACK", timeout=5, n=2)}
    ctx.log("ACKs at B for To-tags %s", acks)
    if acks != {"br1", "br2"}:
        raise AssertionError("B's 200s ACKed for To-tags %s, expected br1 and br2" % acks)
    bye = _requests(b, "BYE", tag="br1", timeout=5)
    if not bye:
        raise AssertionError("the second 2xx (To-tag br1) got no BYE")
    b.respond(bye[0], 200)
    stray = _requests(b, "BYE", tag="br2", timeout=1)
    if stray:
        raise AssertionError("the kept dialog (br2) got a BYE before A hung up")
    d = call.dialog
    bye_a = threading.Thread(target=d.bye, daemon=True)
    bye_a.start()
    bye2 = _requests(b, "BYE", tag="br2", timeout=5)
    if not bye2:
        raise AssertionError("A's BYE did not reach the kept dialog (br2)")
    b.respond(bye2[0], 200)
    bye_a.join(6)
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="bye_a")


def case_fork_200_other_branch(ctx):
    """B's early media comes on dialog br1 (183 with SDP), the 200 from another branch
    (br2) with other media: trunxd answers A, ACKs br2 and sends its media where br2's
    answer says; br1 never gets a BYE (it was never confirmed)."""
    a, b, t = _setup(ctx)
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _respond_tagged(b, inv, 183, "br1", body=ua.sdp(b.ip, b.media_port))
    time.sleep(0.3)
    import socket
    m2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    m2.bind(("127.0.0.1", 0))
    ctx.at_end(m2.close)
    _respond_tagged(b, inv, 200, "br2", body=ua.sdp(b.ip, m2.getsockname()[1], sess=2))
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    acks = [_tag(m.header("To")) for m in _requests(b, "ACK", timeout=5)]
    if acks != ["br2"]:
        raise AssertionError("ACK at B for %s, expected br2" % acks)
    # A's media reaches br2's address, not br1's.
    port_b = int(re.search(rb"m=audio (\d+)", call.final.body).group(1))
    import struct
    for i in range(20):
        a.media.sendto(struct.pack("!BBHII", 0x80, 8, i, 160 * i, 0x5151) + b"\xd5" * 160,
                       (t.addr, port_b))
        time.sleep(0.02)
    m2.settimeout(2)
    try:
        got = m2.recvfrom(2048)
    except OSError:
        got = None
    if not got:
        raise AssertionError("A's RTP did not reach the answering branch's media port")
    bye_a = threading.Thread(target=call.dialog.bye, daemon=True)
    bye_a.start()
    bye = _requests(b, "BYE", timeout=5)
    if not bye or _tag(bye[0].header("To")) != "br2":
        raise AssertionError("BYE at B: %s" % bye)
    b.respond(bye[0], 200)
    bye_a.join(6)
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="bye_a")


def case_same_dialog_200_other_sdp(ctx):
    """180, then 183 with SDP, then a 200 with a different SDP, all on one dialog: the
    183's SDP answered the offer (RFC 3264), so A's 200 carries the SDP of its 183
    unchanged and no fork is taken; the call goes on normally (toward B the 200's SDP
    moves the media: itest.b2bua.sdp.early_answer_moves)."""
    a, b, t = _setup(ctx)
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _respond_tagged(b, inv, 180, "sd")
    _respond_tagged(b, inv, 183, "sd", body=ua.sdp(b.ip, b.media_port))
    p183 = a.wait(lambda m: m.status == 183, 5)
    if p183 is None or not p183.body:
        raise AssertionError("A got no 183 with SDP: %s" % p183)
    import socket
    m2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    m2.bind(("127.0.0.1", 0))
    ctx.at_end(m2.close)
    _answer_b(b, inv, "sd", body=ua.sdp(b.ip, m2.getsockname()[1], version=2))
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    if call.final.body != p183.body:
        raise AssertionError("A's 200 SDP differs from its 183's:\n%s\n--\n%s"
                             % (p183.body.decode(), call.final.body.decode()))
    if t.events("call.fork"):
        raise AssertionError("one dialog taken for a fork: %s" % t.events("call.fork"))
    if call.dialog.bye() is None:
        raise AssertionError("A's BYE not answered")
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="bye_a")


# ---- races --------------------------------------------------------------------------

def case_cancel_crosses_200(ctx):
    """A cancels while B's 200 is on its way: B answers the CANCEL 200 and the INVITE
    200 (no 487). A got 487 already, so trunxd must ACK B's 200 and BYE it; the record
    says cancelled and nothing stays."""
    a, b, t = _setup(ctx)
    ua_inv = {}
    orig_send = a.send

    def spy(data, dest):
        if data.startswith(b"INVITE "):
            ua_inv["bytes"] = data
        orig_send(data, dest)
    a.send = spy
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _respond_tagged(b, inv, 180, "bb")
    if a.wait(lambda m: m.status == 180, 5) is None:
        raise AssertionError("A got no 180")
    d_fake = ua.Dialog(a, "", "", "", "", "", "", (t.addr, t.port))
    d_fake.cancel(ua_inv["bytes"])
    cancel = b.wait_request("CANCEL", timeout=5)
    if cancel is None:
        raise AssertionError("B got no CANCEL")
    # B had answered already: its 200 to the INVITE crosses the CANCEL.
    _respond_tagged(b, inv, 200, "bb", body=ua.sdp(b.ip, b.media_port))
    b.respond(cancel, 200)
    call.join(10)
    ctx.log("A's final: %s", call.final)
    if call.final is None or call.final.status != 487:
        raise AssertionError("A's final after its CANCEL: %s" % call.final)
    acks = _requests(b, "ACK", tag="bb", timeout=5)
    bye = _requests(b, "BYE", tag="bb", timeout=5)
    if not acks or not bye:
        raise AssertionError("B's crossing 200: ACK %s, BYE %s" % (acks, bye))
    b.respond(bye[0], 200)
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="cancelled")


def case_ack_never_comes(ctx):
    """A never ACKs trunxd's 200 (its ACKs are lost): at timer H the stack gives up on
    A's dialog and sends A a BYE (RFC 3261 13.3.1.4), trunxd hangs up B, and the record
    says a_lost, not normal."""
    a, b, t = _setup(ctx)
    a.auto = True
    orig_send = a.send

    def no_ack(data, dest):
        if not data.startswith(b"ACK "):
            orig_send(data, dest)
    a.send = no_ack
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _answer_b(b, inv, "an")
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    if not procs.wait_until(lambda: ("BYE", inv.header("Call-ID")) in b.requests_seen,
                            45, 0.5):
        raise AssertionError("B got no BYE though A never ACKed")
    ctx.log("BYE at A: %s", ("BYE", call.dialog.call_id) in a.requests_seen)
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="a_lost")


# ---- session timers (RFC 4028) ------------------------------------------------------

def _answer_b(b, inv, tag, headers=(), body=None):
    """B answers inv 200 (with headers) and then answers what comes by itself."""
    d = _b_dialog(b, inv, tag)
    _respond_tagged(b, inv, 200, tag, headers=headers,
                    body=ua.sdp(b.ip, b.media_port) if body is None else body)
    b.auto = True
    return d


def _se_trunk(expires, min_se=90):
    def conf(cf):
        cf.pbx["session_expires"] = expires
        cf.pbx["min_se"] = min_se
    return conf


def case_session_422_retry(ctx):
    """The carrier behind B wants a longer session interval: 422 with Min-SE 600.
    trunxd's stack retries the INVITE with Session-Expires of at least 600 (RFC 4028
    6); A never sees the 422 and the call is answered."""
    a, b, t = _setup(ctx, _se_trunk(300))
    a.auto = True
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    ctx.log("first INVITE Session-Expires %s Min-SE %s", inv.header("Session-Expires"),
            inv.header("Min-SE"))
    _respond_tagged(b, inv, 422, "s1", headers=("Min-SE: 600",))
    inv2 = b.wait_request("INVITE", timeout=10)
    if inv2 is None:
        raise AssertionError("no INVITE after the 422 (A got %s)" % call.final)
    se = int(re.match(r"\s*(\d+)", inv2.header("Session-Expires") or "0").group(1))
    ctx.log("retried INVITE Session-Expires %s Min-SE %s", inv2.header("Session-Expires"),
            inv2.header("Min-SE"))
    if se < 600:
        raise AssertionError("retried INVITE Session-Expires %d < the 422's Min-SE 600" % se)
    _answer_b(b, inv2, "s2", headers=("Session-Expires: %d;refresher=uac" % se,
                                      "Require: timer"))
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    if call.dialog.bye() is None:
        raise AssertionError("A's BYE not answered")
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="bye_a")


def case_session_b_stops_refreshing(ctx):
    """B takes the refresher role (refresher=uas, 90 s) and never refreshes: trunxd
    ends the call before the interval runs out (RFC 4028 10: BYE to B, BYE to A)
    and the record says why: cause session_timeout."""
    a, b, t = _setup(ctx, _se_trunk(90))
    a.auto = True
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _answer_b(b, inv, "st", headers=("Session-Expires: 90;refresher=uas", "Require: timer",
                                     "Supported: timer"))
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    t0 = time.monotonic()
    bye = a.wait(lambda m: m.method == "BYE", 100)
    took = time.monotonic() - t0
    ctx.log("BYE at A after %.1f s", took)
    if bye is None:
        raise AssertionError("no BYE at A within 100 s of a 90 s session B never refreshed")
    if took > 92:
        raise AssertionError("BYE only after %.1f s: the session had expired" % took)
    if ("BYE", inv.header("Call-ID")) not in b.requests_seen:
        raise AssertionError("B got no BYE")
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="session_timeout")


def case_session_a_stops_refreshing(ctx):
    """The same on A's side: the carrier's INVITE asks for a 90 s session that it
    refreshes (refresher=uac) and it never does."""
    def conf(cf):
        cf.carrier["min_se"] = 90
        cf.carrier["session_expires"] = 90
    a, b, t = _setup(ctx, conf)
    a.auto = True
    call = _Call(a, t, headers=("Session-Expires: 90;refresher=uac", "Supported: timer"))
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _answer_b(b, inv, "sa")
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    ctx.log("A's 200: Session-Expires %s Require %s", call.final.header("Session-Expires"),
            call.final.header("Require"))
    t0 = time.monotonic()
    ok = procs.wait_until(lambda: ("BYE", inv.header("Call-ID")) in b.requests_seen,
                          100, 0.5)
    took = time.monotonic() - t0
    ctx.log("BYE at B after %.1f s", took)
    if not ok:
        raise AssertionError("no BYE at B within 100 s of a 90 s session A never refreshed")
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="session_timeout")


def case_session_refresh_update(ctx):
    """B makes trunxd the refresher (refresher=uac, 90 s): trunxd refreshes the session
    with an UPDATE without SDP about half-way (RFC 4028 7.4, 10: no new offer needed)
    and the call goes on past the interval; A's BYE ends it."""
    a, b, t = _setup(ctx, _se_trunk(90))
    a.auto = True
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _answer_b(b, inv, "su", headers=("Session-Expires: 90;refresher=uac", "Require: timer",
                                     "Supported: timer"))
    b.auto = False
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    t0 = time.monotonic()
    upd = b.wait_request("UPDATE", timeout=70)
    if upd is None:
        raise AssertionError("no refresh at B within 70 s of a 90 s session")
    took = time.monotonic() - t0
    ctx.log("UPDATE at B after %.1f s: Session-Expires %s, body %d bytes", took,
            upd.header("Session-Expires"), len(upd.body))
    if upd.body.strip():
        raise AssertionError("the refresh UPDATE carries a body: %r" % upd.body[:200])
    if not (upd.header("Session-Expires") or "").strip().startswith("90"):
        raise AssertionError("refresh Session-Expires %r" % upd.header("Session-Expires"))
    b.respond(upd, 200, headers=("Session-Expires: 90;refresher=uac", "Require: timer"))
    b.auto = True
    time.sleep(max(0.0, 95 - (time.monotonic() - t0)))
    if len(t.ctl("calls")) != 1 or ("BYE", inv.header("Call-ID")) in b.requests_seen:
        raise AssertionError("the refreshed call ended: %s" % t.ctl("calls"))
    if call.dialog.bye() is None:
        raise AssertionError("A's BYE not answered")
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="bye_a")


# ---- in-dialog failures --------------------------------------------------------------

def case_reinvite_no_answer(ctx):
    """A's re-INVITE reaches B, which never answers it: at timer B (32 s) the request
    has timed out, which ends the dialog (RFC 3261 12.2.1.2): A gets a failure for
    its re-INVITE, both legs a BYE, and the record says dialog_lost."""
    a, b, t = _setup(ctx)
    a.auto = True
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    d_b = _answer_b(b, inv, "rn")
    b.auto = False
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    if not _requests(b, "ACK", timeout=5):
        raise AssertionError("B's 200 not ACKed")
    cseq, _, _ = call.dialog.offer("sendonly")
    reinv = b.wait_request("INVITE", timeout=5)
    if reinv is None:
        raise AssertionError("A's re-INVITE did not reach B")
    final = call.dialog.wait_final(cseq, "INVITE", timeout=45)
    ctx.log("A's re-INVITE final: %s", final)
    if final is None:
        raise AssertionError("A's re-INVITE never got a final response")
    got_a = procs.wait_until(lambda: ("BYE", call.dialog.call_id) in a.requests_seen, 10,
                             0.3)
    bye_b = _requests(b, "BYE", timeout=5)
    ctx.log("after the timeout: BYE at A %s, at B %s", bool(got_a), bool(bye_b))
    if not got_a:
        raise AssertionError("A got no BYE after the re-INVITE timed out")
    # B, silent for 32 s, is taken as gone: the stack ends its dialog without a BYE
    # (which would only time out in turn); one that comes anyway is answered.
    if bye_b:
        b.respond(bye_b[0], 200)
    del d_b
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="dialog_lost")


def _answered_call(ctx, configure=None, tag="bt"):
    """A call A -> trunxd -> B, answered and ACKed; returns (a, b, t, A's dialog,
    B's INVITE). Both UAs answer in-dialog requests by themselves afterwards."""
    a, b, t = _setup(ctx, configure)
    a.auto = True
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _answer_b(b, inv, tag)
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    return a, b, t, call.dialog, inv


def _reinvite_at_b(ctx):
    """An answered call, then A's hold re-INVITE relayed to B, which answers nothing by
    itself any more: returns (a, b, t, A's dialog, B's INVITE, the re-INVITE's CSeq at
    A, the re-INVITE at B)."""
    a, b, t, d, inv = _answered_call(ctx)
    b.auto = False
    _requests(b, "ACK", timeout=5)
    cseq, _, _ = d.offer("sendonly")
    reinv = b.wait_request("INVITE", timeout=5)
    if reinv is None:
        raise AssertionError("A's re-INVITE did not reach B")
    return a, b, t, d, inv, cseq, reinv


def case_reinvite_481(ctx):
    """B answers A's re-INVITE 481 (it lost the dialog): the dialog is over (RFC 3261
    12.2.1.2): A gets a failure for its re-INVITE and a BYE, the record says
    dialog_lost."""
    a, b, t, d, inv, cseq, reinv = _reinvite_at_b(ctx)
    b.respond(reinv, 481)
    final = d.wait_final(cseq, "INVITE", timeout=10)
    ctx.log("A's re-INVITE final: %s", final)
    if final is None or final.status < 300:
        raise AssertionError("A's re-INVITE final: %s" % final)
    # The 481 relayed ends A's dialog as it ended B's (RFC 5057 5.1); any other
    # failure must be followed by a BYE.
    if final.status != 481 and \
            not procs.wait_until(lambda: ("BYE", d.call_id) in a.requests_seen, 10, 0.3):
        raise AssertionError("A got %d and no BYE after B's 481" % final.status)
    b.auto = True
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="dialog_lost")


def case_redirect_302(ctx):
    """B redirects (302 with a Contact elsewhere): trunxd follows no redirect and
    relays none (docs/OPERATIONS.md: A gets 480, B's Contact stays behind); the record
    says remote_302."""
    a, b, t = _setup(ctx)
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _respond_tagged(b, inv, 302, "rd", headers=("Contact: <sip:elsewhere@192.0.2.1>",))
    call.join(10)
    if call.final is None or call.final.status != 480:
        raise AssertionError("A's final after B's 302: %s" % call.final)
    if "192.0.2.1" in call.final.raw.decode(errors="replace"):
        raise AssertionError("B's redirect Contact reached A")
    if not _requests(b, "ACK", timeout=5):
        raise AssertionError("B's 302 not ACKed")
    if b.wait_request("INVITE", timeout=2):
        raise AssertionError("trunxd followed the redirect")
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="failed", cause="remote_302", sip_code=480)


def case_challenge_without_credentials(ctx):
    """B's trunk challenges (401) and trunxd has no credentials for it (file mode, no
    auth configured): the challenge is B's business with trunxd, never A's, so A gets
    403 (docs/OPERATIONS.md), B's 401 is ACKed, no second INVITE goes out, the record
    says remote_401 and nothing stays."""
    a, b, t = _setup(ctx)
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _respond_tagged(b, inv, 401, "ch", headers=(
        'WWW-Authenticate: Digest realm="carrier", nonce="abc123", algorithm=MD5',))
    call.join(10)
    if call.final is None or call.final.status != 403:
        raise AssertionError("A's final after B's 401: %s" % call.final)
    if call.final.header("WWW-Authenticate"):
        raise AssertionError("B's challenge reached A")
    if not _requests(b, "ACK", timeout=5):
        raise AssertionError("B's 401 not ACKed")
    if b.wait_request("INVITE", timeout=2):
        raise AssertionError("trunxd sent a second INVITE without credentials")
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="failed", cause="remote_401", sip_code=403)


def case_bye_crosses_bye(ctx):
    """A and B hang up at the same moment: each BYE meets trunxd's own BYE toward its
    sender. Every BYE gets a final answer, no call is left, one record."""
    a, b, t, d, inv = _answered_call(ctx)
    _requests(b, "ACK", timeout=5)
    d_b = b.dialogs[(inv.header("Call-ID"), "bt")]
    cs_a, _, _ = d.send("BYE")
    cs_b, _, _ = d_b.send("BYE")
    ra = d.wait_final(cs_a, "BYE", 10)
    rb = d_b.wait_final(cs_b, "BYE", 10)
    ctx.log("A's BYE: %s, B's BYE: %s", ra, rb)
    if ra is None or rb is None:
        raise AssertionError("a crossing BYE got no answer: A %s, B %s" % (ra, rb))
    _no_calls_left(ctx, t)
    rec = _one_end(ctx, t, result="answered")
    if rec.get("cause") not in ("bye_a", "bye_b"):
        raise AssertionError("cause %r for crossing BYEs" % rec.get("cause"))


def case_prack_not_supported_by_a(ctx):
    """B requires 100rel (183 with SDP, Require: 100rel, RSeq) though A's INVITE did not
    say Supported: 100rel: trunxd PRACKs B itself, A gets the early media unreliably
    (no Require it cannot meet), then the 200; the call completes."""
    a, b, t = _setup(ctx)
    a.auto = True
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _respond_tagged(b, inv, 183, "pr", body=ua.sdp(b.ip, b.media_port),
                    headers=("Require: 100rel", "RSeq: 7"))
    prack = b.wait_request("PRACK", timeout=5)
    if prack is None:
        raise AssertionError("B's reliable 183 was not PRACKed")
    if not re.match(r"\s*7\s+\d+\s+INVITE", prack.header("RAck") or ""):
        raise AssertionError("PRACK RAck %r" % prack.header("RAck"))
    b.respond(prack, 200)
    p183 = a.wait(lambda m: m.status == 183, 5)
    if p183 is None:
        raise AssertionError("A got no 183")
    if "100rel" in (p183.header("Require") or ""):
        raise AssertionError("A, which does not support 100rel, got Require: 100rel")
    _answer_b(b, inv, "pr")
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    if call.dialog.bye() is None:
        raise AssertionError("A's BYE not answered")
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="bye_a")


def case_reinvite_488_keeps_call(ctx):
    """B refuses A's re-INVITE with 488: only that offer fails (RFC 3261 14.1: the
    session goes on unchanged), A gets the failure, no BYE, and a later BYE from A ends
    the call normally."""
    a, b, t, d, inv, cseq, reinv = _reinvite_at_b(ctx)
    b.respond(reinv, 488)
    final = d.wait_final(cseq, "INVITE", timeout=10)
    if final is None or final.status != 488:
        raise AssertionError("A's re-INVITE final: %s" % final)
    b.auto = True
    time.sleep(2)
    if ("BYE", d.call_id) in a.requests_seen or \
            ("BYE", inv.header("Call-ID")) in b.requests_seen:
        raise AssertionError("a refused re-INVITE ended the call")
    if len(t.ctl("calls")) != 1:
        raise AssertionError("trunxctl calls: %s" % t.ctl("calls"))
    if d.bye() is None:
        raise AssertionError("A's BYE not answered")
    _no_calls_left(ctx, t)
    _one_end(ctx, t, result="answered", cause="bye_a")


def _reliable_183(ctx, call_timeout=60):
    """A calls, B answers the INVITE with a reliable 183 and trunxd PRACKs it: returns
    (a, b, t, call, inv, prack), the PRACK not yet answered."""
    a, b, t = _setup(ctx)
    call = _Call(a, t, **({"timeout": call_timeout} if call_timeout else {}))
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _respond_tagged(b, inv, 183, "pp", body=ua.sdp(b.ip, b.media_port),
                    headers=("Require: 100rel", "RSeq: 1"))
    prack = b.wait_request("PRACK", timeout=5)
    if prack is None:
        raise AssertionError("B's reliable 183 was not PRACKed")
    return a, b, t, call, inv, prack


def case_prack_unanswered_cancel(ctx):
    """B sends a reliable 183 and then goes silent: trunxd's PRACK and, once A cancels,
    its CANCEL get no answer. A gets 487 at once, the call is gone before the PRACK
    could time out (trunxd ends the B leg at 7/8 of 64*T1), one record says cancelled;
    and once every transaction is over, nothing of the call may stay allocated (the
    sanitizer build reports leaks at the stop)."""
    a, b, t = _setup(ctx)
    sent = {}
    orig_send = a.send

    def spy(data, dest):
        if data.startswith(b"INVITE "):
            sent["invite"] = data
        orig_send(data, dest)
    a.send = spy
    call = _Call(a, t)
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _respond_tagged(b, inv, 183, "pp", body=ua.sdp(b.ip, b.media_port),
                    headers=("Require: 100rel", "RSeq: 1"))
    if b.wait_request("PRACK", timeout=5) is None:
        raise AssertionError("B's reliable 183 was not PRACKed")
    if a.wait(lambda m: m.status == 183, 5) is None:
        raise AssertionError("A got no 183")
    ua.Dialog(a, "", "", "", "", "", "", (t.addr, t.port)).cancel(sent["invite"])
    call.join(10)
    if call.final is None or call.final.status != 487:
        raise AssertionError("A's final after its CANCEL: %s" % call.final)
    _no_calls_left(ctx, t, timeout=60)
    _one_end(ctx, t, result="cancelled", cause="cancelled")
    time.sleep(35)   # past every timer F and B of the call's transactions


def case_prack_unanswered(ctx):
    """B sends a reliable 183 and never answers the PRACK (nor the INVITE, nor the
    CANCEL trunxd sends half-way to the PRACK's timeout): trunxd ends the call before
    the PRACK times out (7/8 of 64*T1 after it) as that timeout would have (A gets
    480, cause local_408), one record is written, and once every transaction is over
    nothing of the call may stay allocated (the sanitizer build reports leaks at the
    stop)."""
    # A's final comes 16 s or more after its INVITE
    a, b, t, call, inv, _ = _reliable_183(ctx)
    if b.wait_request("CANCEL", timeout=25) is None:
        raise AssertionError("no CANCEL of the INVITE while its PRACK went unanswered")
    t0 = time.monotonic()
    call.join(25)
    if call.final is None or call.final.status != 480:
        raise AssertionError("A's final: %s" % call.final)
    waited = time.monotonic() - t0
    if waited > 20:
        raise AssertionError("A's final %.1f s after the CANCEL, expected about 12"
                             % waited)
    _no_calls_left(ctx, t, timeout=10)
    _one_end(ctx, t, result="failed", cause="local_408")
    time.sleep(35)   # past timer D of the INVITE


def case_prack_unanswered_b_cancelled(ctx):
    """B sends a reliable 183 and never answers the PRACK, but does answer a CANCEL:
    trunxd CANCELs the INVITE itself half-way to the PRACK's timeout (64*T1 / 2), B's
    487 ends the call as the PRACK's timeout would have (A gets 480, cause local_408),
    and nothing of the call stays allocated (the sanitizer build reports leaks at the
    stop)."""
    # A's final comes 16 s or more after its INVITE
    a, b, t, call, inv, _ = _reliable_183(ctx)
    t0 = time.monotonic()
    cancel = b.wait_request("CANCEL", timeout=25)
    if cancel is None:
        raise AssertionError("no CANCEL of the INVITE while its PRACK went unanswered")
    waited = time.monotonic() - t0
    if not 12 <= waited <= 20:
        raise AssertionError("CANCEL %.1f s after the PRACK, expected about 16" % waited)
    b.respond(cancel, 200)
    _respond_tagged(b, inv, 487, "pp")
    call.join(10)
    if call.final is None or call.final.status != 480:
        raise AssertionError("A's final: %s" % call.final)
    if b.wait_request("ACK", timeout=5) is None:
        raise AssertionError("B's 487 was not ACKed")
    _no_calls_left(ctx, t, timeout=10)
    _one_end(ctx, t, result="failed", cause="local_408")
    time.sleep(35)   # past every timer F and D of the call's transactions


def case_prack_callee_gone(ctx):
    """B sends a reliable 183, answers neither the PRACK nor the CANCEL trunxd sends
    half-way to the PRACK's timeout, and closes its port then: the retransmissions of
    both meet port unreachable. A gets a final, the call is gone, and once every
    transaction is over nothing of the call may stay allocated (the sanitizer build
    reports leaks at the stop)."""
    a, b, t, call, inv, _ = _reliable_183(ctx)
    if b.wait_request("CANCEL", timeout=25) is None:
        raise AssertionError("no CANCEL of the INVITE while its PRACK went unanswered")
    b.close()
    call.join(60)
    if call.final is None or call.final.status < 300:
        raise AssertionError("A's final: %s" % call.final)
    _no_calls_left(ctx, t, timeout=10)
    _one_end(ctx, t, result="failed")
    time.sleep(35)   # past every timer of the call's transactions


def case_prack_unanswered_stop(ctx):
    """trunxd is stopped while its PRACK of B's reliable 183 is out (the INVITE open):
    it exits cleanly and nothing of the call stays allocated (the stop shortens every
    timeout of the SIP stack, the PRACK's too; the sanitizer build reports leaks)."""
    a, b, t, call, inv, _ = _reliable_183(ctx)
    time.sleep(1)
    rc = t.stop()
    if rc != 0:
        raise AssertionError("trunxd exit code %s" % rc)
    call.join(5)
    if call.final is None or call.final.status < 300:
        raise AssertionError("A's final at the stop: %s" % call.final)


def _prack_refused(ctx, status):
    """B sends a reliable 183 and answers trunxd's PRACK `status`, a response that ends
    the session (481, 404, 408, 480), the INVITE still open: the call ends at once as
    the stack would have ended it (A gets 480, cause local_<status>), B's INVITE is
    CANCELled (B answers 200 and 487, ACKed), one record is written, and once every
    transaction is over nothing of the call may stay allocated (the sanitizer build
    reports leaks at the stop). Before, the stack removed the session with the INVITE
    open and kept the INVITE's request, its signal and the handle (about 4 KB a call)
    for good."""
    a, b, t, call, inv, prack = _reliable_183(ctx, call_timeout=None)
    t0 = time.monotonic()
    b.respond(prack, status)
    call.join(10)
    took = time.monotonic() - t0
    ctx.log("A's final %.1f s after the PRACK's %d: %s", took, status, call.final)
    if call.final is None or call.final.status != 480:
        raise AssertionError("A's final after B's %d to the PRACK: %s" % (status, call.final))
    if took > 3:
        raise AssertionError("A's final %.1f s after B's %d to the PRACK" % (took, status))
    cancel = b.wait_request("CANCEL", timeout=5)
    if cancel is None:
        raise AssertionError("B's INVITE was not CANCELled after its %d to the PRACK" % status)
    b.respond(cancel, 200)
    _respond_tagged(b, inv, 487, "pp")
    if b.wait_request("ACK", timeout=5) is None:
        raise AssertionError("B's 487 was not ACKed")
    _no_calls_left(ctx, t, timeout=20)
    _one_end(ctx, t, result="failed", cause="local_%d" % status)
    time.sleep(35)   # past timer D of the INVITE


def case_prack_refused_481(ctx):
    _prack_refused(ctx, 481)


def case_prack_refused_404(ctx):
    _prack_refused(ctx, 404)


def case_prack_refused_408(ctx):
    _prack_refused(ctx, 408)


def case_prack_refused_480(ctx):
    _prack_refused(ctx, 480)


def case_session_timer_caller_only(ctx):
    """The caller's INVITE asks for a session timer (Session-Expires: 1800, Supported:
    timer) and the trunk sets no session_expires: trunxd, which supports the timer,
    takes the caller's interval (RFC 4028 9): its 200 carries Session-Expires: 1800
    with a refresher and Require: timer. Before, the 200 had neither: the caller's
    session went untimed, a dead call never ended by the timer it asked for."""
    a, b, t = _setup(ctx)
    a.auto = True
    call = _Call(a, t, headers=("Session-Expires: 1800;refresher=uac", "Supported: timer"))
    call.start()
    inv = b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    _answer_b(b, inv, "sc")
    call.join(10)
    if call.dialog is None:
        raise AssertionError("A's call not answered: %s" % call.final)
    se, req, sup = (call.final.header(h) for h in ("Session-Expires", "Require", "Supported"))
    ctx.log("A's 200: Session-Expires %s Require %s Supported %s", se, req, sup)
    m = re.match(r"\s*(\d+)\s*;\s*refresher=(uac|uas)\s*$", se or "")
    if not m or int(m.group(1)) != 1800 or "timer" not in (req or ""):
        raise AssertionError("200 to A: Session-Expires %r Require %r" % (se, req))
    call.dialog.bye()
    _no_calls_left(ctx, t)


def _reinvite_reliable_183(ctx):
    """An answered call; A's re-INVITE relayed to B, which answers it with a reliable
    183 and leaves trunxd's PRACK unanswered. Returns (b, t, A's dialog, the
    re-INVITE's CSeq at A, the re-INVITE at B, when the PRACK came)."""
    a, b, t, d, inv, cseq, reinv = _reinvite_at_b(ctx)
    b.respond(reinv, 183, body=ua.sdp(b.ip, b.media_port, 3, "recvonly"),
              headers=("Require: 100rel", "RSeq: 7"))
    if b.wait_request("PRACK", timeout=5) is None:
        raise AssertionError("B's reliable 183 to the re-INVITE was not PRACKed")
    return b, t, d, cseq, reinv, time.monotonic()


def case_reinvite_prack_unanswered(ctx):
    """B answers A's relayed re-INVITE with a reliable 183 and then answers nothing
    (not the PRACK, the re-INVITE or the CANCEL): trunxd CANCELs the re-INVITE half-way
    to the PRACK's timeout and ends the call at 7/8 of it (before, the stack ended it
    at the timeout and kept about 3 KB of the call for good): A's re-INVITE gets a
    failure, one record is written, and once every transaction is over nothing of the
    call stays allocated (the sanitizer build reports leaks at the stop)."""
    b, t, d, cseq, reinv, t0 = _reinvite_reliable_183(ctx)
    if b.wait_request("CANCEL", timeout=25) is None:
        raise AssertionError("no CANCEL of the re-INVITE while its PRACK went unanswered")
    final = d.wait_final(cseq, "INVITE", timeout=25)
    took = time.monotonic() - t0
    ctx.log("A's re-INVITE final after %.1f s: %s", took, final)
    if final is None or final.status < 300:
        raise AssertionError("A's re-INVITE final: %s" % final)
    if took > 31:
        raise AssertionError("the call lasted to the PRACK's timeout (%.1f s)" % took)
    _no_calls_left(ctx, t, timeout=10)
    _one_end(ctx, t, result="answered")
    time.sleep(35)   # past the re-INVITE's and the PRACK's timers


def case_reinvite_prack_unanswered_cancelled(ctx):
    """As above, but B answers the CANCEL (200, then 487 to the re-INVITE), never the
    PRACK: A's re-INVITE gets 487, the call goes on past the PRACK's timeout and ends
    with A's BYE as usual; nothing of the call stays allocated."""
    b, t, d, cseq, reinv, t0 = _reinvite_reliable_183(ctx)
    cancel = b.wait_request("CANCEL", timeout=25)
    if cancel is None:
        raise AssertionError("no CANCEL of the re-INVITE while its PRACK went unanswered")
    b.respond(cancel, 200)
    b.respond(reinv, 487)
    final = d.wait_final(cseq, "INVITE", timeout=10)
    ctx.log("A's re-INVITE final: %s", final)
    if final is None or final.status != 487:
        raise AssertionError("A's re-INVITE final: %s" % final)
    d.ack(cseq)
    b.auto = True
    time.sleep(max(0.0, t0 + 36 - time.monotonic()))   # past the PRACK's timeout
    if t.active_calls() != 1:
        raise AssertionError("the call did not survive the cancelled re-INVITE")
    f = d.bye(5.0)
    if f is None or f.status != 200:
        raise AssertionError("A's BYE: %s" % f)
    _no_calls_left(ctx, t, timeout=10)
    _one_end(ctx, t, result="answered", cause="bye_a")
    time.sleep(5)



def case_reinvite_prack_refused(ctx):
    """B answers A's relayed re-INVITE with a reliable 183 and then answers trunxd's
    PRACK 481, the re-INVITE still open: the session is over as the stack would have
    ended it (A's re-INVITE gets a failure and A a BYE, B's re-INVITE is CANCELled),
    one record is written, and once every transaction is over nothing of the call
    stays allocated (the sanitizer build reports leaks at the stop). Before, the stack
    kept the re-INVITE's request and the handle for good."""
    a, b, t, d, inv, cseq, reinv = _reinvite_at_b(ctx)
    b.respond(reinv, 183, body=ua.sdp(b.ip, b.media_port, 3, "recvonly"),
              headers=("Require: 100rel", "RSeq: 7"))
    prack = b.wait_request("PRACK", timeout=5)
    if prack is None:
        raise AssertionError("B's reliable 183 to the re-INVITE was not PRACKed")
    b.respond(prack, 481)
    final = d.wait_final(cseq, "INVITE", timeout=10)
    ctx.log("A's re-INVITE final: %s", final)
    if final is None or final.status < 300:
        raise AssertionError("A's re-INVITE final: %s" % final)
    d.ack(cseq)
    if not procs.wait_until(lambda: ("BYE", d.call_id) in a.requests_seen, 10, 0.3):
        raise AssertionError("A got %d and no BYE after B's 481 to the PRACK" % final.status)
    cancel = b.wait_request("CANCEL", timeout=5)
    if cancel is None:
        raise AssertionError("B's re-INVITE was not CANCELled after its 481 to the PRACK")
    b.respond(cancel, 200)
    b.respond(reinv, 487)
    b.auto = True
    _no_calls_left(ctx, t, timeout=10)
    _one_end(ctx, t, result="answered")
    time.sleep(35)   # past the re-INVITE's timers

if __name__ == "__main__":
    sys.exit(case.main(globals()))
