#!/usr/bin/env python3
"""Transfer of a live call, end to end: trunxd in database mode (real Postgres and
Redis), a SIPp caller on the carrier trunk and a SIPp callee as tenant acme's PBX.

  refer_ok        while the call rings, transfer is 409 not_answered; answered, bad
                  bodies are 422 naming the field (leg, mode, to: spaces, <>, ?headers,
                  not a number), an E.164 toward the carrier leg (no trunk uri) 422,
                  mode bridge 501, another tenant 404; then acme transfers leg b to a
                  SIP URI: 202, a second one meanwhile 409 transfer_in_progress; the
                  callee takes the REFER (202), NOTIFYs sipfrag 100 then 200: the
                  call.transfer events go requested, accepted, progress 100, completed
                  200, and trunxd hangs up both legs, the call's record says cause
                  transferred. The callee saw our Refer-To.
  refer_declined  the callee answers the REFER 603: call.transfer failed 603, the call
                  is still answered and its media flows; hung up by API later.
  refer_failed    by trunxctl transfer (bad legs, options, URIs and calls refused first):
                  the REFER is accepted but the sipfrag ends 486: failed, call goes on.
  bridge_api      mode bridge on a call placed by POST /v1/calls (no bridge_to): while
                  nothing plays, leg b gets comfort noise (50 pps, its codec); leg a
                  refused (409, it has none); leg b kept and bridged to a new party
                  answering PCMU while leg b speaks PCMA: transcoded both ways, one
                  stream toward the kept leg from the answer on, a lease per leg; then
                  to a third party answering PCMA: relayed, the second gets BYE.
  bridge_file     file mode (no database), by trunxctl: a URI and an unrouted number
                  refused; an SRTP caller's call to a plain PBX re-bridged to a number
                  the [route] table sends to a trunk requiring SRTP: the new leg's own
                  keys, the kept leg's unchanged, SRTP authenticated both ways on both
                  legs, the old callee gets BYE.
  refer_in        (file mode, a hand-made UA on each side) REFERs sent to trunxd inside
                  a live call, from either end — to an arbitrary URI, without Refer-To,
                  with a malformed one, with a 6 kB one — are all refused (405, or 400 when malformed),
                  nobody is called, the call is unharmed and ends normally; then a SIPp
                  caller (uac_refer_in.xml) gets 405 to its REFER and hangs up."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, HERE)

from harness import calls, capture, case, dbmode, ports, procs, trunxd, ua  # noqa: E402

import apimode  # noqa: E402
import rtppeer  # noqa: E402
from api_test import world  # noqa: E402
from apiclient import expect  # noqa: E402

TARGET = "sip:+15550009999@127.0.0.1:5999"


def setup(ctx, scenario, ring_ms=0, peers=(), caller="uac_wait_bye.xml", u=None):
    """peers: (name, port) of more PBX peers of tenant acme (re-bridge destinations);
    u: the callee already started (scenario unused)."""
    u = u or calls.uas(ctx, scenario, calls=1, timeout=60, duration_ms=ring_ms,
                       trace_logs=True)
    a = apimode.start(ctx)
    w = world(ctx, a, u.port)
    for name, port in peers:
        expect(w["acme"]["api"].post("/v1/peers", {"name": name, "host": "127.0.0.1",
                                                   "port": port}), 201)
    n_peers = "%d peers" % (2 + len(peers))
    dbmode.wait_routing(a.t, lambda m: "1 carriers" in m and "2 DIDs" in m and n_peers in m,
                        timeout=10)
    c = calls.uac(ctx, caller, a.t.sip_addr, service="+15557770001",
                  local_ip="127.0.0.2", timeout=60)
    return u, a, w, c


def call_in(acme, state, timeout=10):
    got = procs.wait_until(lambda: [x for x in acme.get("/v1/calls").json["data"]
                                    if x["state"] == state], timeout, 0.05)
    assert got, acme.get("/v1/calls")
    return got[0]["id"]


def xfer_events(t, n, timeout=10):
    recs = t.wait_events("call.transfer", n, timeout)
    return [(r["data"]["state"], r["data"].get("status")) for r in recs]


def case_refer_ok(ctx):
    u, a, w, c = setup(ctx, "uas_refer_ok.xml", ring_ms=2500)
    acme, bravo = w["acme"]["api"], w["bravo"]["api"]
    cid = call_in(acme, "early")
    url = "/v1/calls/%s/transfer" % cid
    expect(acme.post(url, {"to": TARGET}), 409, "not_answered")
    cid = call_in(acme, "answered")
    # Bad bodies: 422 naming the field; nothing is sent.
    for body, field in (({}, "to"), ({"to": TARGET, "leg": "c"}, "leg"),
                        ({"to": TARGET, "mode": "blind"}, "mode"),
                        ({"to": "12345"}, "to"), ({"to": "sip:a b@host"}, "to"),
                        ({"to": "sip:x@h>;evil"}, "to"), ({"to": "sip:x@h?Replaces=abc"}, "to"),
                        ({"to": "sip:x@h,<sip:y@z>"}, "to"), ({"to": "sip:" + "x" * 300}, "to"),
                        ({"to": TARGET, "bogus": 1}, "bogus"), ({"to": 5}, "to"),
                        # the carrier leg's trunk has no uri to put a number at
                        ({"to": "+15550009999", "leg": "a"}, "to")):
        r = acme.post(url, body)
        assert r.status == 422 and r.json.get("field") == field, (body, r)
    # mode bridge routes as API calls do: a URI that is none of acme's peers is 403
    expect(acme.post(url, {"to": TARGET, "mode": "bridge"}), 403, "not_a_peer")
    expect(bravo.post(url, {"to": TARGET}), 404, "not_found")
    assert not a.t.events("call.transfer"), a.t.events("call.transfer")

    r = expect(acme.post(url, {"to": TARGET, "leg": "b"}), 202).json
    assert r["result"] == "referring" and r["refer_to"] == TARGET and r["leg"] == "b", r
    # The callee waits 2 s before its first NOTIFY: a second transfer meanwhile is 409.
    expect(acme.post(url, {"to": TARGET}), 409, "transfer_in_progress")
    ev = xfer_events(a.t, 4, 15)
    assert ev[:4] == [("requested", None), ("accepted", 202), ("progress", 100),
                      ("completed", 200)], ev
    done = a.t.events("call.transfer")[3]["data"]
    assert done["result"] == "transferred" and done["leg"] == "b", done
    rcs = calls.finish(c, u)
    assert rcs == [0, 0], (rcs, c.describe_failure(), u.describe_failure())
    ends = a.t.wait_events("call.end", 1, 10)
    assert ends and ends[0].get("cause") == "transferred", ends
    assert procs.wait_until(lambda: acme.get("/v1/calls").json["data"] == [], 5, 0.1)
    expect(acme.post(url, {"to": TARGET}), 404, "not_found")
    # Through the events path into Postgres: the tenant's call.transfer rows in order,
    # and the call's record says transferred.
    rows = procs.wait_until(lambda: len(a.pg.sql(
        "SELECT data->>'state' FROM events WHERE type = 'call.transfer' AND tenant_id = "
        "'acme' ORDER BY id")) >= 4 and a.pg.sql(
        "SELECT data->>'state' FROM events WHERE type = 'call.transfer' AND tenant_id = "
        "'acme' ORDER BY id"), 15, 0.2)
    assert rows and [r[0] for r in rows] == ["requested", "accepted", "progress",
                                             "completed"], rows
    cdr = procs.wait_until(lambda: a.pg.sql("SELECT cause FROM calls"), 15, 0.2)
    assert cdr == [("transferred",)], cdr
    log = u.logs()
    ctx.log("callee's log: %s", log.strip()[-300:])
    assert "REFER Refer-To: <%s>" % TARGET in log, log
    assert "REFER Referred-By: <sip:trunx@" in log, log


def refused_case(ctx, scenario, status, n_events, by_ctl=False):
    u, a, w, c = setup(ctx, scenario)
    acme = w["acme"]["api"]
    cid = call_in(acme, "answered")
    url = "/v1/calls/%s/" % cid
    if by_ctl:
        # The operator's door: trunxctl transfer, its argument checks first.
        for bad in (("transfer", cid, "c", TARGET), ("transfer", cid, "b", TARGET, "--x"),
                    ("transfer", cid, "b", TARGET, "--bridge"),
                    ("transfer", cid, "b", "sip:x@h?Replaces=1"),
                    ("transfer", "nosuchcall", "b", TARGET)):
            try:
                a.t.ctl(*bad)
            except trunxd.TrunxdError as e:
                ctx.log("trunxctl %s: refused (%s)", " ".join(bad[2:]), str(e)[-80:].strip())
            else:
                raise AssertionError("trunxctl %s was accepted" % (bad,))
        r = a.t.ctl("transfer", cid, "b", TARGET, "--refer")
        assert r["result"] == "referring" and r["refer_to"] == TARGET, r
    else:
        expect(acme.post(url + "transfer", {"to": TARGET}), 202)
    ev = xfer_events(a.t, n_events, 15)
    assert ev[-1] == ("failed", status), ev
    fail = a.t.events("call.transfer")[-1]["data"]
    assert fail["result"] == "failed", fail
    # The call goes on: still answered a second later, its media still flowing.
    procs.wait_until(lambda: False, 1.0, 0.1)
    got = expect(acme.get("/v1/calls/" + cid), 200).json
    assert got["state"] == "answered", got
    assert not a.t.events("call.end"), a.t.events("call.end")
    # Another transfer may be tried again now (the first is over).
    expect(acme.post(url + "hangup"), 200)
    rcs = calls.finish(c, u)
    assert rcs == [0, 0], (rcs, c.describe_failure(), u.describe_failure())
    ends = a.t.wait_events("call.end", 1, 10)
    assert ends and ends[0].get("cause") == "admin_hangup", ends


def case_refer_declined(ctx):
    refused_case(ctx, "uas_refer_603.xml", 603, 2)


def case_refer_failed(ctx):
    refused_case(ctx, "uas_refer_fail.xml", 486, 4, by_ctl=True)


def rtp(t, cid):
    """The call's live RTP counters per leg ({"a": {...}, "b": {...}}), or None."""
    got = [x for x in t.ctl("calls") if x["id"] == cid]
    return got[0].get("quality") if got else None


def legs(t, cid):
    got = [x for x in t.ctl("calls") if x["id"] == cid]
    return {leg["leg"]: leg["call_id"] for leg in got[0]["legs"]} if got else {}


def case_bridge(ctx):
    """Mode bridge, all on one call (a carrier caller, acme's PBX playing audio):
      bad input: unknown leg 422, another tenant 404, a number with no route 422, a URI
      that is none of acme's peers 403; nothing happens.
      busy: acme keeps leg a (the default) toward a peer answering 486: call.transfer
      requested then failed 486, the call unchanged (same legs, answered, one lease).
      unreachable: by trunxctl transfer --bridge, toward a peer nobody listens on (TCP):
      failed, the call unchanged.
      success: acme keeps leg b (its PBX) and re-bridges it to its second PBX: 202,
      call.transfer requested, then completed 200; the caller gets BYE; the call keeps
      its id, leg b, and one lease (the new leg's; the old one given back); RTP flows
      from the new party to the kept leg and from the kept leg to the new party; hung
      up while a second re-bridge rings (its leg holding a second lease): that leg is
      cancelled, the transfer fails, every lease goes back; the call's one record shows
      the new A leg, its trunk and the cause admin_hangup.
      The kept leg's capture: the caller's audio then the new party's as one stream
      (one SSRC, sequence and timestamps unbroken)."""
    busy = calls.uas(ctx, "uas_486.xml", name="uas_busy", calls=1, timeout=60)
    u2 = calls.uas(ctx, "uas_basic.xml", name="uas_new", calls=1, timeout=60)
    ring = calls.uas(ctx, "uas_ring_cancel.xml", name="uas_ring", calls=1, timeout=60)
    u = calls.uas(ctx, "uas_basic.xml", calls=1, timeout=60, trace_logs=True)
    dead = ports.free_port("127.0.0.1")
    # What the kept leg (acme's PBX) and the new party receive, from the start.
    cap = capture.Capture(ctx.reg, "rtp", [u.media_port, u2.media_port]).start()
    u, a, w, c = setup(ctx, None, u=u, caller=os.path.join(HERE, "scenarios",
                                                           "uac_play_wait_bye.xml"),
                       peers=(("acme-new", u2.port), ("acme-busy", busy.port),
                              ("acme-dead", dead), ("acme-ring", ring.port)))
    acme, bravo = w["acme"]["api"], w["bravo"]["api"]
    cid = call_in(acme, "answered")
    url = "/v1/calls/%s/transfer" % cid
    new = "sip:200@127.0.0.1:%d" % u2.port
    # Bad input: nothing is placed.
    r = acme.post(url, {"to": new, "mode": "bridge", "leg": "c"})
    assert r.status == 422 and r.json.get("field") == "leg", r
    expect(bravo.post(url, {"to": new, "mode": "bridge"}), 404, "not_found")
    r = acme.post(url, {"to": "+4420", "mode": "bridge"})   # acme routes only +1...
    assert r.status == 422 and r.json.get("field") == "to", r
    expect(acme.post(url, {"to": "sip:200@127.0.0.1:9", "mode": "bridge"}), 403,
           "not_a_peer")
    assert not a.t.events("call.transfer"), a.t.events("call.transfer")
    old = legs(a.t, cid)
    assert a.t.ctl("budgets")["leases"] == 1, a.t.ctl("budgets")

    # Busy: failed, the call as it was.
    r = expect(acme.post(url, {"to": "sip:200@127.0.0.1:%d" % busy.port, "mode": "bridge"}),
               202).json
    assert r["leg"] == "a" and r["mode"] == "bridge" and r["result"] == "bridging", r
    ev = xfer_events(a.t, 2, 15)
    assert ev[0] == ("requested", None) and ev[-1] == ("failed", 486), ev
    assert legs(a.t, cid) == old
    # Unreachable, by trunxctl: failed (the connection is refused), the call as it was.
    r = a.t.ctl("transfer", cid, "a", "sip:200@127.0.0.1:%d;transport=tcp" % dead,
                "--bridge")
    assert r["result"] == "bridging" and r["mode"] == "bridge", r
    fails = procs.wait_until(lambda: [e for e in a.t.events("call.transfer")
                                      if e["data"]["state"] == "failed"][1:], 40, 0.1)
    assert fails, a.t.events("call.transfer")
    ctx.log("unreachable: %s", fails[0]["data"])
    assert legs(a.t, cid) == old
    assert expect(acme.get("/v1/calls/" + cid), 200).json["state"] == "answered"
    assert procs.wait_until(lambda: a.t.ctl("budgets")["leases"] == 1, 5, 0.1), \
        a.t.ctl("budgets")

    # Success: leg b kept, re-bridged to the second PBX.
    n0 = len(a.t.events("call.transfer"))
    procs.wait_until(lambda: False, 0.3, 0.1)   # some of the caller's audio first
    t_swap = time.time()
    r = expect(acme.post(url, {"to": new, "mode": "bridge", "leg": "b"}), 202).json
    assert r["leg"] == "b" and r["target"] == new, r
    procs.wait_until(lambda: len(a.t.events("call.transfer")) >= n0 + 2 and
                     a.t.events("call.transfer")[-1]["data"]["state"] in ("completed",
                                                                         "failed"), 15, 0.05)
    ev = [(e["data"]["state"], e["data"].get("status"))
          for e in a.t.events("call.transfer")[n0:]]
    assert ev[0] == ("requested", None) and ev[-1] == ("completed", 200), ev
    done = a.t.events("call.transfer")[-1]["data"]
    assert done["mode"] == "bridge" and done["result"] == "transferred", done
    # The replaced caller got BYE and is done; the call goes on with the new party.
    rcs = calls.finish(c)
    assert rcs == [0], (rcs, c.describe_failure())
    now = legs(a.t, cid)
    assert now["b"] == old["b"] and now["a"] != old["a"], (old, now)
    assert expect(acme.get("/v1/calls/" + cid), 200).json["state"] == "answered"
    b = a.t.ctl("budgets")
    ctx.log("budgets after the swap: %s", b)
    assert procs.wait_until(lambda: a.t.ctl("budgets")["leases"] == 1, 5, 0.1), b
    # Media. The caller is gone (it got its BYE): side a's only sender now is the new
    # party, what side a sends goes to it, and side b's out is its audio reaching the
    # kept leg.
    mid = procs.wait_until(lambda: (rtp(a.t, cid) or {}).get("a", {}).get("rtp_in", 0) > 5
                           and rtp(a.t, cid), 6, 0.1)
    assert mid, rtp(a.t, cid)

    def flowing():
        q = rtp(a.t, cid)
        return q and all(q[s][k] > mid[s][k] + 10 for s, k in
                         (("a", "rtp_in"), ("a", "rtp_out"), ("b", "rtp_out"))) and q
    q = procs.wait_until(flowing, 6, 0.2)
    assert q, (mid, rtp(a.t, cid))
    ctx.log("rtp after the swap %s, later %s", mid, q)
    assert not a.t.events("call.end"), a.t.events("call.end")
    # A second re-bridge toward a peer that only rings: its leg holds a lease of its
    # own meanwhile; the call hung up then, the ringing leg is cancelled, the transfer
    # fails, every lease goes back.
    n1 = len(a.t.events("call.transfer"))
    expect(acme.post(url, {"to": "sip:300@127.0.0.1:%d" % ring.port, "mode": "bridge",
                           "leg": "b"}), 202)
    assert procs.wait_until(lambda: ("progress", 180) in
                            [(e["data"]["state"], e["data"].get("status"))
                             for e in a.t.events("call.transfer")[n1:]], 10, 0.05)
    assert a.t.ctl("budgets")["leases"] == 2, a.t.ctl("budgets")
    expect(acme.post("/v1/calls/%s/hangup" % cid), 200)
    rcs = calls.finish(u, u2, busy, ring)
    assert rcs == [0, 0, 0, 0], (rcs, u.describe_failure(), u2.describe_failure(),
                                 ring.describe_failure())
    ends = a.t.wait_events("call.end", 1, 10)
    assert len(ends) == 1 and ends[0].get("cause") == "admin_hangup", ends
    last = a.t.events("call.transfer")[-1]["data"]
    assert last["state"] == "failed" and last["reason"] == "call ended", last
    cdr = procs.wait_until(lambda: a.pg.sql("SELECT a_call_id, b_call_id, trunk_in, cause "
                                            "FROM calls"), 15, 0.2)
    assert cdr == [(now["a"], old["b"], "acme-new", "admin_hangup")], (cdr, now)
    assert procs.wait_until(lambda: a.t.ctl("budgets")["leases"] == 0, 5, 0.1), \
        a.t.ctl("budgets")
    # Toward the kept leg: the caller's audio, then the new party's, as one stream (one
    # SSRC, sequence +1 each, timestamps going on); the new party got the kept leg's.
    pk = cap.stop()
    kept = capture.rtp_to(pk, u.media_port)
    before = [r for r in kept if r.ts < t_swap]
    # (g711a.pcap runs at ~33 packets/s and the call is hung up soon after the swap:
    # 15 packets after it, each with sequence +1, show the stream going on.)
    assert len(before) >= 5 and len(kept) - len(before) >= 15, (len(before), len(kept))
    assert len({r.ssrc for r in kept}) == 1, sorted({hex(r.ssrc) for r in kept})
    for x, y in zip(kept, kept[1:]):
        assert (y.seq - x.seq) & 0xFFFF == 1, ("sequence jumps", x.seq, y.seq)
        assert 0 < (y.timestamp - x.timestamp) & 0xFFFFFFFF < 0x7FFFFFFF, \
            ("timestamp", x.timestamp, y.timestamp)
    to_new = capture.rtp_to(pk, u2.media_port)
    assert len(to_new) > 20 and {r.pt for r in to_new} == {8}, len(to_new)
    ctx.log("to the kept leg: %d packets (%d before the transfer), ssrc %08x, seq %d..%d; "
            "to the new party: %d", len(kept), len(before), kept[0].ssrc, kept[0].seq,
            kept[-1].seq, len(to_new))


def kept_stream(pk, port, after):
    """The RTP trunx sent to the kept leg from time `after` on: one SSRC, sequence +1
    each, timestamps going on; returns the packets."""
    kept = [r for r in capture.rtp_to(pk, port) if r.ts >= after]
    assert len({r.ssrc for r in kept}) == 1, sorted({hex(r.ssrc) for r in kept})
    for x, y in zip(kept, kept[1:]):
        assert (y.seq - x.seq) & 0xFFFF == 1, ("sequence jumps", x.seq, y.seq)
        assert 0 < (y.timestamp - x.timestamp) & 0xFFFFFFFF < 0x7FFFFFFF, \
            ("timestamp", x.timestamp, y.timestamp)
    return kept


def completed(t, n0, timeout=15):
    """The call.transfer events after the first n0 once the last is final."""
    procs.wait_until(lambda: len(t.events("call.transfer")) >= n0 + 2 and
                     t.events("call.transfer")[-1]["data"]["state"] in ("completed",
                                                                       "failed"),
                     timeout, 0.05)
    return [(e["data"]["state"], e["data"].get("status"))
            for e in t.events("call.transfer")[n0:]]


def case_bridge_api(ctx):
    u = calls.uas(ctx, "uas_basic.xml", calls=1, timeout=60)   # leg b: PCMA, plays audio
    new = ua.UA("127.0.0.1", name="new", auto=True)
    ctx.at_end(new.close)
    new.answer_body = lambda inv: rtppeer.answer_sdp("127.0.0.1", new.media_port,
                                                     ((0, "PCMU/8000"),))
    third = ua.UA("127.0.0.1", name="third", auto=True)
    ctx.at_end(third.close)
    third.answer_body = lambda inv: rtppeer.answer_sdp("127.0.0.1", third.media_port,
                                                       ((8, "PCMA/8000"),))
    cap = capture.Capture(ctx.reg, "rtp", [u.media_port]).start()
    a = apimode.start(ctx)
    w = world(ctx, a, u.port)
    acme = w["acme"]["api"]
    for name, port in (("acme-new", new.port), ("acme-third", third.port)):
        expect(acme.post("/v1/peers", {"name": name, "host": "127.0.0.1", "port": port}),
               201)
    # The DIDs too (the caller ID is checked against them), not only the peers.
    dbmode.wait_routing(a.t, lambda m: "2 DIDs" in m and "4 peers" in m, timeout=10)
    cid = expect(acme.post("/v1/calls", {"from": w["acme"]["did"],
                                         "to": "sip:100@127.0.0.1:%d" % u.port}), 202).json["id"]
    assert call_in(acme, "answered") == cid
    # Nothing plays: trunx sends leg b comfort noise meanwhile.
    assert procs.wait_until(lambda: (rtp(a.t, cid) or {}).get("b", {}).get("rtp_out", 0)
                            >= 40, 5, 0.1), rtp(a.t, cid)
    url = "/v1/calls/%s/transfer" % cid
    dest = "sip:200@127.0.0.1:%d" % new.port
    r = expect(acme.post(url, {"to": dest, "mode": "bridge"}), 409, "not_answered")
    assert "leg b" in r.json["message"], r.json
    assert a.t.ctl("budgets")["leases"] == 1, a.t.ctl("budgets")
    r = expect(acme.post(url, {"to": dest, "mode": "bridge", "leg": "b"}), 202).json
    assert r["leg"] == "b" and r["result"] == "bridging", r
    inv = new.wait_request("INVITE", timeout=10)
    assert inv is not None
    addr, port, pts, _ = rtppeer.offered(inv.body)
    assert pts[0] == 8 and 0 in pts, pts   # the kept leg's PCMA first, PCMU offered too
    peer = rtppeer.RtpPeer(new.media, (addr, port), 0, fill=0xFF)
    ctx.at_end(peer.stop)
    ev = completed(a.t, 0)
    t_swap = time.time()
    assert ev[0] == ("requested", None) and ev[-1] == ("completed", 200), ev
    q = expect(acme.get("/v1/calls/" + cid), 200).json
    assert q["state"] == "answered" and len(q["legs"]) == 2, q
    assert procs.wait_until(lambda: a.t.ctl("budgets")["leases"] == 2, 5, 0.1), \
        a.t.ctl("budgets")
    xfer = [e for e in a.t.events("call.transferred")] or \
        [e for e in a.t.log_records() if e.get("event") == "call.transferred"]
    ctx.log("transferred: %s", xfer[-1] if xfer else None)
    # Both ways: the new party gets PCMU only (transcoded from leg b's PCMA), trunx
    # counts the new party's packets on side a and sends leg b its audio.
    mid = rtp(a.t, cid)
    assert procs.wait_until(lambda: peer.count(0) >= 25, 8, 0.1), (peer.got, rtp(a.t, cid))
    assert set(peer.got) == {0}, peer.got

    def flowing():
        q = rtp(a.t, cid)
        return q and q["a"]["rtp_in"] >= mid["a"]["rtp_in"] + 25 and \
            q["b"]["rtp_out"] >= mid["b"]["rtp_out"] + 25 and q
    got = procs.wait_until(flowing, 8, 0.2)
    assert got, (mid, rtp(a.t, cid))
    ctx.log("after the re-bridge: %s; the new party got %s", got, peer.got)
    # Again, to a third party answering PCMA: relayed now, the first new party gets
    # BYE, its lease goes back for the new leg's (still one per leg).
    n0 = len(a.t.events("call.transfer"))
    expect(acme.post(url, {"to": "sip:300@127.0.0.1:%d" % third.port, "mode": "bridge",
                           "leg": "b"}), 202)
    inv = third.wait_request("INVITE", timeout=10)
    assert inv is not None
    addr, port, _, _ = rtppeer.offered(inv.body)
    peer3 = rtppeer.RtpPeer(third.media, (addr, port), 8)
    ctx.at_end(peer3.stop)
    ev = completed(a.t, n0)
    assert ev[-1] == ("completed", 200), ev
    assert procs.wait_until(lambda: all(x.ended for x in new.dialogs.values()), 5, 0.1), \
        new.dialogs
    assert procs.wait_until(lambda: peer3.count(8) >= 25, 8, 0.1), peer3.got
    assert set(peer3.got) == {8}, peer3.got
    assert a.t.ctl("budgets")["leases"] == 2, a.t.ctl("budgets")
    log = [r for r in a.t.log_records() if r.get("event") == "call.transferred"]
    assert "relay" in log[-1]["msg"], log[-1]
    expect(acme.post("/v1/calls/%s/hangup" % cid), 200)
    rcs = calls.finish(u)
    assert rcs == [0], (rcs, u.describe_failure())
    assert procs.wait_until(lambda: a.t.ctl("budgets")["leases"] == 0, 5, 0.1), \
        a.t.ctl("budgets")
    pk = cap.stop()
    kept = kept_stream(pk, u.media_port, 0)   # comfort noise, then the new party
    assert {r.pt for r in kept} == {8}, {r.pt for r in kept}
    noise = [r for r in kept if r.ts < t_swap - 0.2]
    after = [r for r in kept if r.ts >= t_swap]
    assert len(noise) >= 40 and len(after) >= 15, (len(noise), len(after))
    gap = (noise[-1].ts - noise[0].ts) / (len(noise) - 1)
    assert 0.015 <= gap <= 0.03, gap                # 50 a second
    # 20 ms of PCMA each (a worker late by several frames skips them: whole frames)
    assert all((r.timestamp - p.timestamp) % 160 == 0 for p, r in zip(noise, noise[1:])), \
        "comfort noise timestamps"
    ctx.log("to the kept leg: %d comfort-noise packets (every %.1f ms), then %d PCMA "
            "packets of the new parties (transcoded, then relayed), ssrc %08x", len(noise), gap * 1000, len(after),
            kept[0].ssrc)


def case_bridge_file(ctx):
    pbx = ua.UA("127.0.0.1", name="pbx", auto=True)
    ctx.at_end(pbx.close)
    sec = ua.UA("127.0.0.1", name="secure", auto=True)
    ctx.at_end(sec.close)
    sec_key = rtppeer.new_key()

    def srtp_answer(inv):
        _, _, _, cr = rtppeer.offered(inv.body)
        tag = min(t for t, (suite, _) in cr.items() if suite == rtppeer.SUITE)
        return rtppeer.answer_sdp("127.0.0.1", sec.media_port, ((8, "PCMA/8000"),),
                                  key_b64=sec_key, tag=tag)
    sec.answer_body = srtp_answer

    def conf(c):
        c.carrier.update(srtp="optional", srtp_without_tls=True)   # the caller's leg
        c.section("trunk secure", match="127.0.0.2/32", port=sec.port,
                  uri="sip:127.0.0.1:%d" % sec.port, srtp="required", srtp_without_tls=True)
        c.section("route secure", match="+15550002000", to_trunk="secure")
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=pbx.port, configure=conf).start()
    caller = ua.UA("127.0.0.1", name="caller", auto=True)
    ctx.at_end(caller.close)
    my_key = rtppeer.new_key()
    d, final = caller.call((t.addr, t.port), body=rtppeer.answer_sdp(
        "127.0.0.1", caller.media_port, ((8, "PCMA/8000"),), key_b64=my_key))
    assert d is not None, final
    addr, port, _, cr = rtppeer.offered(final.body)
    assert 1 in cr, final.body   # the caller's leg is SRTP (its own keys)
    mine = rtppeer.RtpPeer(caller.media, (addr, port), 8, tx_key=my_key, rx_key=cr[1][1])
    ctx.at_end(mine.stop)
    cid = procs.wait_until(lambda: [x["id"] for x in t.ctl("calls")], 5, 0.1)[0]
    # Refused first, nothing placed: a URI (file mode routes numbers), no route.
    for dest, why in (("sip:x@127.0.0.1:%d" % sec.port, "number"),
                      ("+15559999999", "route")):
        try:
            t.ctl("transfer", cid, "a", dest, "--bridge")
        except trunxd.TrunxdError as e:
            assert why in str(e), str(e)
        else:
            raise AssertionError("transfer to %s accepted" % dest)
    assert not t.events("call.transfer"), t.events("call.transfer")
    r = t.ctl("transfer", cid, "a", "+15550002000", "--bridge")
    assert r["result"] == "bridging" and r["mode"] == "bridge", r
    inv = sec.wait_request("INVITE", timeout=10)
    assert inv is not None
    body = inv.body.decode()
    assert "RTP/SAVP" in body, body
    addr, port, _, cr = rtppeer.offered(inv.body)
    tag = min(k for k, (suite, _) in cr.items() if suite == rtppeer.SUITE)
    peer = rtppeer.RtpPeer(sec.media, (addr, port), 8, tx_key=sec_key, rx_key=cr[tag][1])
    ctx.at_end(peer.stop)
    ev = completed(t, 0)
    assert ev[0] == ("requested", None) and ev[-1] == ("completed", 200), ev
    # The old callee got BYE; the caller's leg is kept.
    assert procs.wait_until(lambda: all(x.ended for x in pbx.dialogs.values()), 5, 0.1), \
        pbx.dialogs
    n0 = mine.count(8)
    assert procs.wait_until(lambda: peer.count(8) >= 25 and mine.count(8) >= n0 + 25, 8,
                            0.1), (peer.got, peer.bad, mine.got, n0)
    q = rtp(t, cid)
    ctx.log("after the re-bridge: the secure party got %s (%d failed its check), the "
            "caller %d more; trunx: %s", peer.got, peer.bad, mine.count(8) - n0, q)
    assert peer.bad == 0 and mine.bad == 0, (peer.bad, mine.bad)
    assert q["a"].get("srtp_auth_fail", 0) == 0 and q["b"].get("srtp_auth_fail", 0) == 0, q
    r = d.bye()
    assert r and r.status == 200, r
    ends = t.wait_events("call.end", 1, 10)
    assert ends and ends[0].get("cause") == "bye_a", ends


def case_refer_in(ctx):
    b = ua.UA("127.0.0.1", name="b", auto=True)
    ctx.at_end(b.close)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port).start()
    a = ua.UA("127.0.0.1", name="a", auto=True)
    ctx.at_end(a.close)
    da, final = a.call((t.addr, t.port))
    assert da is not None, final
    assert procs.wait_until(lambda: any(d.call_id != da.call_id
                                        for d in b.dialogs.values()), 5.0)
    db = [d for d in b.dialogs.values() if not d.ended][-1]
    bodies = (("Refer-To: <sip:+15551234567@198.51.100.7>",), (),
              ("Refer-To: <<sip:x@y",), ("Refer-To: sip:" + "9" * 6000 + "@h",),
              ("Refer-To: <sip:a@b>", "Refer-To: <sip:c@d>"),
              ("Refer-To: <sip:x@127.0.0.1?Replaces=abc%3Bto-tag%3D1>",))
    for d, who in ((da, "caller"), (db, "callee")):
        for hdrs in bodies:
            cseq, _, _ = d.send("REFER", headers=hdrs)
            r = d.wait_final(cseq, "REFER", 5.0)
            got = r.status if r else None
            assert got in (400, 403, 405), (who, hdrs[:1], got)
            ctx.log("REFER from the %s with %s: %d %s", who,
                    (hdrs[0][:40] + "...") if hdrs else "no Refer-To", got,
                    r.header("Warning") or "")
    # Nobody was called: B holds one dialog, trunxd one call, and it still works.
    assert len([d for d in b.dialogs.values() if not d.ended]) == 1, b.dialogs
    assert t.active_calls() == 1, t.status()
    cseq, _, _ = da.offer("sendonly")
    r = da.wait_final(cseq, "INVITE", 5.0)
    assert r and r.status == 200, r
    da.ack(cseq)
    r = da.bye()
    assert r and r.status == 200, r
    ends = t.wait_events("call.end", 1, 10)
    assert ends and ends[0].get("cause") == "bye_a", ends
    assert procs.wait_until(lambda: t.active_calls() == 0, 10, 0.2)
    # The same from a SIPp caller: its REFER gets 405, its BYE ends the call.
    n_b = len(b.dialogs)
    c = calls.uac(ctx, "uac_refer_in.xml", t.sip_addr, name="uac_refer", timeout=30)
    rcs = calls.finish(c)
    assert rcs == [0], (rcs, c.describe_failure())
    assert len(b.dialogs) == n_b + 1, b.dialogs   # its own call, nothing more
    ends = t.wait_events("call.end", 2, 10)
    assert len(ends) == 2 and ends[1].get("cause") == "bye_a", ends
    assert procs.wait_until(lambda: t.active_calls() == 0, 10, 0.2)


if __name__ == "__main__":
    sys.exit(case.main(globals()))
