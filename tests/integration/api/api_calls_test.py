#!/usr/bin/env python3
"""Calls placed by the API (POST /v1/calls), end to end: trunxd in database mode with
real Postgres and Redis, SIPp as the carrier that answers (or not).

  placed       acme places a call from its DID to a number: 202 + Location; the
               carrier's SIPp gets the INVITE in the trunk's dial format and answers;
               trunx plays the prompt to it and records the call (a WAV with the
               callee's audio); the call is listed, hung up by API (SIPp gets the
               BYE); call.created/ringing/answered/hungup and call.play/record are
               event rows; the CDR row says answered, with the tenant and the DID
  no_answer    the callee rings and never answers: after `timeout` s trunx cancels,
               the CDR says no_answer
  bridge       on answer, bridge_to (a URI of acme's PBX peer, a second SIPp) is called
               and the two legs bridged: RTP from each SIPp reaches the other through
               trunx (the CDR's counters both ways); hangup ends both. Then bridge_to a
               number: acme's outbound rules give two carriers, the first (priority 10)
               answers 503, the bridged leg fails over to the second (priority 20), which
               answers; the bridged leg holds its own lease in the API pool while it
               lives (2 leases for the call), both go back at hangup. Then the API pool
               at 1 channel: the first leg takes it, the bridged leg is refused — the
               call ends, its CDR cause and budget.exhausted event say why, no INVITE
               goes to the bridge carriers
  refusals     a DID the tenant does not own (422 from the database, 403 when it is
               another tenant's), a URI that is not one of its peers (403, also as
               bridge_to), an unknown field (422 naming it), the API pool at 0 channels:
               429 with Retry-After and a JSON body — no INVITE for any of them
  idempotency  the same Idempotency-Key and body: the same call id, one INVITE;
               two at once with one key: one call, the other 409 or the same answer;
               the key with another body: 422 idempotency_key_reused; keys are per
               tenant (bravo's same key is its own). Across two trunxd nodes sharing
               the Postgres and Redis: a key sent to node A then node B gets A's call
               back from B (replayed), its reuse with another body 422 on B; one key
               sent to both at once places one call, the other answer is the same
               call or 409 — one INVITE per key in all.
  max_calls_front  [sip] max_calls 1: an INVITE the SIP front admitted whose call has
               not started holds the place, POST /v1/calls meanwhile gets 503
               overload; the API's call up, the carrier's INVITE gets 503"""
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import case, dbmode, procs  # noqa: E402

import apimode  # noqa: E402
from api_media_test import write_tone  # noqa: E402
from api_test import world  # noqa: E402
from apiclient import expect  # noqa: E402

NUMBER = "+15551230000"


def setup(ctx, scenario="uas_basic.xml", media=None, uas_calls=1, duration_ms=0,
          configure=None):
    from harness import calls
    u = calls.uas(ctx, scenario, calls=uas_calls, timeout=90, trace_msg=True,
                  duration_ms=duration_ms)
    extra = {"media_dir": media} if media else {}
    extra["pool_retry_after"] = 7
    a = apimode.start(ctx, extra=extra, configure=configure)
    w = world(ctx, a, u.port)
    # The carrier answers at the SIPp callee: its endpoint, numbers sent as +E.164.
    expect(a.op.patch("/v1/trunks/" + w["trunk"], {
        "endpoint_host": "127.0.0.1", "endpoint_port": u.port,
        "outbound_dial_format": "plus_e164"}), 200)
    dbmode.wait_routing(a.t, lambda m: "1 carriers" in m and "2 DIDs" in m, timeout=10)
    procs.wait_until(lambda: False, 0.5, 0.1)   # the patched trunk's snapshot
    return u, a, w


def invites(u):
    """The distinct INVITEs (by Call-ID) the SIPp callee received."""
    return {m.header("Call-ID") for m in u.messages() if m.method == "INVITE"}


def cdr(a, cid):
    rows = a.pg.sql("SELECT result, cause, tenant_id, did, from_number, trunk_out, "
                    "coalesce(duration_ms, 0) FROM calls WHERE call_id = '%s'" % cid)
    return rows[0] if rows else None


def event_types(a, cid):
    return [r[0] for r in a.pg.sql("SELECT type FROM events WHERE call_id = '%s' ORDER BY id"
                                   % cid)]


def case_placed(ctx):
    media = tempfile.mkdtemp(prefix="trunx-apicalls-")
    ctx.at_end(lambda: shutil.rmtree(media, ignore_errors=True))
    os.mkdir(os.path.join(media, "acme"))
    write_tone(os.path.join(media, "acme", "hello.wav"), seconds=1.0)
    u, a, w = setup(ctx, media=media)
    acme, bravo = w["acme"]["api"], w["bravo"]["api"]
    r = expect(acme.post("/v1/calls", {"from": w["acme"]["did"], "to": NUMBER,
                                        "play": "hello.wav", "record": True, "amd": True,
                                        "timeout": 20}), 202)
    cid = r.json["id"]
    placed_rid = r.headers["x-request-id"]
    assert r.headers.get("location") == "/v1/calls/" + cid, r.headers
    assert r.json["state"] == "calling" and r.json["location"] == "/v1/calls/" + cid, r.json
    ok = procs.wait_until(lambda: acme.get("/v1/calls/" + cid).json.get("state") == "answered",
                          10, 0.1)
    assert ok, acme.get("/v1/calls/" + cid)
    call = acme.get("/v1/calls/" + cid).json
    assert call["tenant"] == "acme" and call["from"] == w["acme"]["did"], call
    expect(bravo.get("/v1/calls/" + cid), 404, "not_found")
    assert [c["id"] for c in acme.get("/v1/calls").json["data"]] == [cid]
    if ctx.trunxctl_path:   # the operator's socket lists it like any call
        live = a.t.ctl("calls")
        live = live.get("calls", live) if isinstance(live, dict) else live
        assert [c["id"] for c in live] == [cid], live
    inv = [m for m in u.messages() if m.method == "INVITE"]
    assert inv and NUMBER in inv[0].start, inv[0].start if inv else u.messages()
    assert w["acme"]["did"] in inv[0].header("From"), inv[0].header("From")
    # trunx's prompt reaches the callee (call.play start and end), the call is recorded.
    plays = a.t.wait_events("call.play", 2, 10)
    assert [p.get("phase") for p in plays][:2] == ["start", "end"], plays
    procs.wait_until(lambda: False, 1.0, 0.1)
    hung_rid = expect(acme.post("/v1/calls/%s/hangup" % cid), 200).headers["x-request-id"]
    assert procs.wait_until(lambda: u.successful() == 1, 10, 0.1), u.summary()
    # The signalling thread's lines about the call, while it ran the API's commands,
    # carry the request id (the control thread's own api.* lines always did).
    sig = [x for x in a.t.log_records() if x.get("request_id") in (placed_rid, hung_rid)
           and not x.get("event", "").startswith("api.")]
    ctx.log("signalling-thread lines with a request id: %s", sig)
    assert any(x.get("call_id") == cid and x["request_id"] == hung_rid for x in sig), sig
    assert procs.wait_until(lambda: cdr(a, cid), 10, 0.2), a.pg.sql("SELECT * FROM calls")
    row = cdr(a, cid)
    ctx.log("CDR %s", row)
    assert row[0] == "answered" and row[2] == "acme" and row[3] == NUMBER, row
    assert row[4] == w["acme"]["did"] and row[5] == "carrier1" and int(row[6]) >= 1000, row
    # A call placed by the API keeps that request's id: in its record and on every line
    # about it (the thread's own request id first, while it serves another request).
    assert a.pg.value("SELECT record->>'request_id' FROM calls WHERE call_id = '%s'"
                      % cid) == placed_rid
    lines = [x for x in a.t.log_records() if x.get("call_id") == cid
             and not x.get("event", "").startswith("api.")]
    assert lines and all(x.get("request_id") in (placed_rid, hung_rid) for x in lines), \
        [x for x in lines if x.get("request_id") not in (placed_rid, hung_rid)]
    assert any(x.get("event") == "call.end" for x in lines), lines
    # The prompt went to the callee as RTP (1 s: about 50 packets of 20 ms).
    sent = int(a.pg.value("SELECT rtp_b_out FROM calls WHERE call_id = '%s'" % cid))
    assert sent >= 40, sent
    rec = os.path.join(media, "acme", cid + ".wav")
    assert procs.wait_until(lambda: os.path.exists(rec) and os.path.getsize(rec) > 8000, 10,
                            0.2), os.listdir(os.path.join(media, "acme"))
    want = ["call.created", "call.ringing", "call.answered", "call.hungup"]
    ok = procs.wait_until(lambda: all(t in event_types(a, cid) for t in want + ["call.record"]),
                          10, 0.2)
    types = event_types(a, cid)
    assert ok, types
    assert [t for t in types if t in want] == want, types
    assert "call.play" in types, types
    assert acme.get("/v1/calls").json["data"] == []


def case_no_answer(ctx):
    u, a, w = setup(ctx, scenario="uas_ring_cancel.xml")
    acme = w["acme"]["api"]
    cid = expect(acme.post("/v1/calls", {"from": w["acme"]["did"], "to": NUMBER,
                                         "timeout": 2}), 202).json["id"]
    assert procs.wait_until(lambda: acme.get("/v1/calls/" + cid).json.get("state") == "early",
                            5, 0.1), acme.get("/v1/calls/" + cid)
    # Cancelled after the ring time: the callee's scenario ends (CANCEL, 487, ACK).
    assert procs.wait_until(lambda: u.successful() == 1, 10, 0.1), u.summary()
    assert procs.wait_until(lambda: cdr(a, cid), 10, 0.2)
    row = cdr(a, cid)
    assert row[1] == "no_answer" and row[0] != "answered", row
    assert "call.hungup" in event_types(a, cid)


def case_bridge(ctx):
    from harness import calls
    u, a, w = setup(ctx, uas_calls=3)
    acme = w["acme"]["api"]
    desk = calls.uas(ctx, "uas_basic.xml", name="desk", calls=1, timeout=90, trace_msg=True)
    expect(a.op.patch("/v1/peers/" + w["acme"]["peer"], {"port": desk.port}), 200)
    procs.wait_until(lambda: False, 1.0, 0.1)   # the patched peer's snapshot
    r = expect(acme.post("/v1/calls", {"from": w["acme"]["did"], "to": NUMBER,
                                        "bridge_to": "sip:desk@127.0.0.1:%d" % desk.port}),
               202)
    cid = r.json["id"]
    assert procs.wait_until(lambda: len(invites(desk)) == 1, 10, 0.1), desk.summary()
    inv = [m for m in desk.messages() if m.method == "INVITE"][0]
    assert w["acme"]["did"] in inv.header("From") and "m=audio" in inv.body.decode(), inv.raw
    assert procs.wait_until(lambda: len(acme.get("/v1/calls/" + cid).json.get("legs", [])) == 2,
                            10, 0.1), acme.get("/v1/calls/" + cid)
    procs.wait_until(lambda: False, 2.0, 0.1)   # audio both ways for a while
    q = acme.get("/v1/calls/" + cid).json
    ctx.log("bridged call: %s", q)
    expect(acme.post("/v1/calls/%s/hangup" % cid), 200)
    assert procs.wait_until(lambda: u.successful() == 1 and desk.successful() == 1, 10, 0.1), \
        (u.summary(), desk.summary())
    assert procs.wait_until(lambda: cdr(a, cid), 10, 0.2)
    row = a.pg.sql("SELECT result, rtp_a_in, rtp_a_out, rtp_b_in, rtp_b_out FROM calls "
                   "WHERE call_id = '%s'" % cid)[0]
    ctx.log("CDR result, rtp a in/out, b in/out: %s", row)
    ain, aout, bin_, bout = (int(x) for x in row[1:])
    assert row[0] == "answered", row
    # Each SIPp plays about 8 s of audio from its ACK on: each side's packets reach the
    # other through trunx's relay.
    assert ain >= 40 and bin_ >= 40 and aout >= 40 and bout >= 40, row
    bridge_failover_and_budget(ctx, u, a, w)


API_POOL_KEY = "trunx:{b}:pool:default:api"
BRIDGE_NUMBER = "+442071234567"


def bridge_failover_and_budget(ctx, u, a, w):
    """bridge_to a number through acme's outbound rules: 503 from the first carrier, the
    second takes the bridged leg under its own lease; a full pool refuses the leg."""
    from harness import calls
    acme = w["acme"]["api"]
    c503 = calls.uas(ctx, "uas_503.xml", name="bridge_503", timeout=90, trace_msg=True)
    desk2 = calls.uas(ctx, "uas_basic.xml", name="desk2", calls=1, timeout=90,
                      trace_msg=True)
    n = len(dbmode.loads(a.t))
    # One transaction: both carriers and acme's two rules for +44 (one snapshot).
    rule = ("INSERT INTO outbound_routes (tenant_id, prefix, priority, weight, trunk_id) "
            "SELECT 'acme', '44', %d, 1, id FROM carrier_trunks WHERE name = '%s'")
    a.pg.sql("BEGIN; %s; %s; %s; %s; COMMIT" % (
        dbmode.carrier_sql("bfirst", host="127.0.0.1", port=c503.port),
        dbmode.carrier_sql("bsecond", host="127.0.0.1", port=desk2.port,
                           outbound_dial_format="plus_e164"),
        rule % (10, "bfirst"), rule % (20, "bsecond")))
    dbmode.wait_load(a.t, n)
    dbmode.wait_routing(a.t, lambda m: "3 carriers" in m and "3 outbound rules" in m)
    cid = expect(acme.post("/v1/calls", {"from": w["acme"]["did"], "to": NUMBER,
                                         "bridge_to": BRIDGE_NUMBER}), 202).json["id"]
    assert procs.wait_until(lambda: len(invites(desk2)) == 1, 10, 0.1), \
        (c503.summary(), desk2.summary())
    assert procs.wait_until(lambda: len(invites(c503)) == 1, 5, 0.1), c503.summary()
    inv = [m for m in desk2.messages() if m.method == "INVITE"][0]
    assert BRIDGE_NUMBER in inv.start and w["acme"]["did"] in inv.header("From"), inv.raw
    assert procs.wait_until(lambda: len(acme.get("/v1/calls/" + cid).json.get("legs", [])) == 2,
                            10, 0.1), acme.get("/v1/calls/" + cid)
    fo = [e for e in a.t.events("call.failover") if e.get("call_id") == cid]
    assert fo and fo[0].get("leg") == "a" and "bfirst answered 503" in fo[0]["msg"] and \
        "bsecond" in fo[0]["msg"], fo
    # Two leases in the API pool: the first leg's and the bridged leg's own.
    leases = a.redis.cli("ZRANGE", API_POOL_KEY, 0, -1).split()
    ctx.log("API pool leases while bridged: %s", leases)
    assert len(leases) == 2 and sum(m.endswith("-b") for m in leases) == 1, leases
    expect(acme.post("/v1/calls/%s/hangup" % cid), 200)
    assert procs.wait_until(lambda: u.successful() == 2 and desk2.successful() == 1, 10, 0.1), \
        (u.summary(), desk2.summary())
    assert procs.wait_until(lambda: cdr(a, cid), 10, 0.2)
    row = a.pg.sql("SELECT result, trunk_in, trunk_out FROM calls WHERE call_id = '%s'"
                   % cid)[0]
    assert row == ("answered", "bsecond", "carrier1"), row
    assert procs.wait_until(lambda: a.redis.cli("ZCARD", API_POOL_KEY).strip() == "0", 10,
                            0.1), a.redis.cli("ZRANGE", API_POOL_KEY, 0, -1)
    # One channel in the API pool: the first leg takes it, the bridged leg is refused.
    n = len(dbmode.loads(a.t))
    a.pg.sql("UPDATE channel_pools SET channels = 1 WHERE pool = 'api'")
    dbmode.wait_load(a.t, n)
    procs.wait_until(lambda: False, 0.3, 0.1)   # the snapshot reaches the calls
    cid = expect(acme.post("/v1/calls", {"from": w["acme"]["did"], "to": NUMBER,
                                         "bridge_to": BRIDGE_NUMBER}), 202).json["id"]
    assert procs.wait_until(lambda: u.successful() == 3, 10, 0.1), u.summary()
    assert procs.wait_until(lambda: cdr(a, cid), 10, 0.2)
    row = a.pg.sql("SELECT result, cause, reason FROM calls WHERE call_id = '%s'" % cid)[0]
    ctx.log("CDR of the refused bridge: %s", row)
    assert row[1] == "bridge_pool_full" and "bridge_to" in row[2] and \
        "default/api full" in row[2], row
    ev = a.pg.sql("SELECT data::text FROM events WHERE call_id = '%s' AND "
                  "type = 'budget.exhausted'" % cid)
    assert ev and "bridge_to" in ev[0][0] and '"pool"' in ev[0][0], ev
    assert len(invites(c503)) == 1 and len(invites(desk2)) == 1, \
        (c503.summary(), desk2.summary())
    assert procs.wait_until(lambda: a.redis.cli("ZCARD", API_POOL_KEY).strip() == "0", 10,
                            0.1), a.redis.cli("ZRANGE", API_POOL_KEY, 0, -1)


def case_refusals(ctx):
    u, a, w = setup(ctx)
    acme = w["acme"]["api"]
    did = w["acme"]["did"]
    # The document describes the operation as served.
    doc = expect(a.anon.get("/v1/openapi.json"), 200).json
    create = doc["paths"]["/v1/calls"]["post"]
    assert {"202", "400", "401", "403", "404", "409", "413", "422", "429", "503"} <= \
        set(create["responses"]), create["responses"]
    assert "CallCreated" in str(create["responses"]["202"]), create["responses"]["202"]
    assert [p for p in create["parameters"] if p["name"] == "Idempotency-Key" and
            p["in"] == "header"], create["parameters"]
    assert "bridge_to" in doc["components"]["schemas"]["CallCreate"]["properties"]
    expect(acme.post("/v1/calls", {"from": "+15550009999", "to": NUMBER}), 422,
           "callerid_not_owned")
    # bravo's DID: not acme's (the database's check answers first).
    expect(acme.post("/v1/calls", {"from": w["bravo"]["did"], "to": NUMBER}), 422,
           "callerid_not_owned")
    r = expect(acme.post("/v1/calls", {"from": did, "to": NUMBER, "colour": "red"}), 422,
               "unknown_field")
    assert r.json["field"] == "colour", r.json
    expect(acme.post("/v1/calls", {"from": did, "to": "sip:someone@192.0.2.7:5060"}), 403,
           "not_a_peer")
    expect(acme.post("/v1/calls", {"from": did, "to": NUMBER,
                                   "bridge_to": "sip:desk@192.0.2.7"}), 403, "not_a_peer")
    expect(acme.post("/v1/calls", {"from": did, "to": NUMBER, "play": "x.wav"}), 403,
           "media_files_disabled")
    expect(acme.post("/v1/calls", {"from": did, "to": NUMBER},
                     headers={"Idempotency-Key": "bad key"}), 400, "invalid_idempotency_key")
    # The API pool at 0 channels: 429, Retry-After, a JSON body; a budget event.
    n = len(dbmode.loads(a.t))
    a.pg.sql("UPDATE channel_pools SET channels = 0 WHERE pool = 'api'")
    dbmode.wait_load(a.t, n)   # the new snapshot...
    procs.wait_until(lambda: False, 0.3, 0.1)   # ...reaches the calls
    r = expect(acme.post("/v1/calls", {"from": did, "to": NUMBER}), 429, "pool_full")
    assert r.headers.get("retry-after") == "7", r.headers
    assert "api" in r.json["message"] and r.json.get("request_id"), r.json
    assert not invites(u), [m.start for m in u.messages()]
    assert procs.wait_until(lambda: a.pg.value(
        "SELECT count(*) FROM events WHERE type = 'budget.exhausted'") == "1", 10, 0.2)
    # Room again: the same request places the call.
    n = len(dbmode.loads(a.t))
    a.pg.sql("UPDATE channel_pools SET channels = 8 WHERE pool = 'api'")
    dbmode.wait_load(a.t, n)
    procs.wait_until(lambda: False, 0.3, 0.1)
    cid = expect(acme.post("/v1/calls", {"from": did, "to": NUMBER}), 202).json["id"]
    assert procs.wait_until(lambda: len(invites(u)) == 1, 10, 0.1)
    assert procs.wait_until(lambda: acme.get("/v1/calls/" + cid).json.get("state") ==
                            "answered", 10, 0.1), acme.get("/v1/calls/" + cid)
    expect(acme.post("/v1/calls/%s/hangup" % cid), 200)
    assert procs.wait_until(lambda: u.successful() == 1, 10, 0.1), u.summary()


def carrier_invite(dst, port, branch, cid="mc-1"):
    """A new INVITE from the carrier's address (127.0.0.2) to a number no DID has."""
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
           "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    return ("INVITE sip:+15559990000@%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.2:%d;branch=z9hG4bK-%s;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:+15551230000@127.0.0.2>;tag=mc\r\n"
            "To: <sip:+15559990000@%s>\r\nCall-ID: %s@127.0.0.2\r\nCSeq: 1 INVITE\r\n"
            "Contact: <sip:c@127.0.0.2:%d>\r\nContent-Type: application/sdp\r\n"
            "Content-Length: %d\r\n\r\n%s"
            % (dst[0], dst[1], port, branch, dst[0], cid, port, len(sdp), sdp)).encode()


def final_answer(sock, cid, timeout=5.0):
    from harness import sipmsg
    return sipmsg.recv_final(sock, cid, timeout, prefix=True)


def case_max_calls_front(ctx):
    """[sip] max_calls is one count for calls from trunks and calls by API. With
    max_calls 1: an INVITE from the carrier that the SIP front admitted but whose call
    has not started holds the place. (Made so here with a merged request, RFC 3261
    8.2.2.2: the carrier's INVITE with Max-Forwards 0 is answered 483 by the stack,
    then the same request (Call-ID, From tag, CSeq) to the tenant's DID on a new branch
    is admitted by the front and answered 482 by the stack itself, so the admission
    stays in flight until it lapses, 2-3 s.) Meanwhile POST /v1/calls is refused 503 overload,
    with no INVITE to the carrier. Once the admission lapsed the same POST places the
    call; while it is up, a new INVITE from the carrier is refused 503 in front of the
    stack."""
    def conf(c):
        c.sip.update(max_calls=1, overload_delay=0)
    u, a, w = setup(ctx, configure=conf)
    acme, did, t = w["acme"]["api"], w["acme"]["did"], a.t
    dst = (t.addr, t.port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.2", 0))
    ctx.at_end(s.close)
    port = s.getsockname()[1]
    s.sendto(carrier_invite(dst, port, "mc1").replace(b"Max-Forwards: 70",
                                                     b"Max-Forwards: 0"), dst)
    m = final_answer(s, "mc-1")
    assert m and m.status == 483, m and m.start
    assert procs.wait_until(lambda: t.counter("calls_active") == 0, 10, 0.05)
    over0 = t.counter("rejected_overload")
    # Merged (the stack answers 482); to a number the route step takes, so the
    # front admits it.
    s.sendto(carrier_invite(dst, port, "mc2").replace(b"+15559990000", did.encode()), dst)
    m = final_answer(s, "mc-1")
    assert m and m.status == 482, m and m.start
    r = expect(acme.post("/v1/calls", {"from": did, "to": NUMBER}), 503, "overload")
    ctx.log("POST /v1/calls with one admission in flight: %d %s", r.status, r.json)
    assert t.counter("rejected_overload") == over0 + 1
    assert not invites(u), [x.start for x in u.messages()]
    # The admission lapses (the stack never started its call): the place is free.
    time.sleep(3.2)
    cid = expect(acme.post("/v1/calls", {"from": did, "to": NUMBER}), 202).json["id"]
    assert procs.wait_until(lambda: acme.get("/v1/calls/" + cid).json.get("state") ==
                            "answered", 10, 0.1), acme.get("/v1/calls/" + cid)
    # The reverse: the API's call holds the place, the carrier's INVITE gets 503.
    st0 = t.counter("overload_stateless")
    s.sendto(carrier_invite(dst, port, "mc3", cid="mc-3"), dst)
    m = final_answer(s, "mc-3")
    assert m and m.status == 503, m and m.start
    assert t.counter("overload_stateless") == st0 + 1
    expect(acme.post("/v1/calls/%s/hangup" % cid), 200)
    assert procs.wait_until(lambda: u.successful() == 1, 10, 0.1), u.summary()
    assert len(invites(u)) == 1


def case_redis_down(ctx):
    """Redis stopped: admission cannot answer (503, no INVITE), a request with an
    Idempotency-Key is refused 503 (never placed unguarded); back, calls go again."""
    u, a, w = setup(ctx)
    acme = w["acme"]["api"]
    body = {"from": w["acme"]["did"], "to": NUMBER}
    expect(acme.get("/v1/me"), 200)   # the key is cached before Redis goes
    a.redis.pause()
    try:
        r = acme.post("/v1/calls", body, headers={"Idempotency-Key": "k-down"})
        assert r.status == 503, r
        r = acme.post("/v1/calls", body)
        assert r.status == 503 and r.json["error"] in ("admission_unavailable",
                                                       "admission_timeout"), r
    finally:
        a.redis.resume()
    assert not invites(u), [m.start for m in u.messages()]
    ok = procs.wait_until(lambda: acme.post("/v1/calls", body, headers={
        "Idempotency-Key": "k-up"}).status == 202, 20, 0.5)
    assert ok
    assert procs.wait_until(lambda: len(invites(u)) == 1, 10, 0.1)
    c = acme.get("/v1/calls").json["data"]
    assert procs.wait_until(lambda: acme.get("/v1/calls").json["data"][0]["state"] ==
                            "answered", 10, 0.1), c
    expect(acme.post("/v1/calls/%s/hangup" % acme.get("/v1/calls").json["data"][0]["id"]),
           200)
    assert procs.wait_until(lambda: u.successful() == 1, 10, 0.1), u.summary()


def case_idempotency(ctx):
    u, a, w = setup(ctx, uas_calls=5)
    acme, bravo = w["acme"]["api"], w["bravo"]["api"]
    body = {"from": w["acme"]["did"], "to": NUMBER, "timeout": 30}
    k1 = {"Idempotency-Key": "order-1"}
    r1 = expect(acme.post("/v1/calls", body, headers=k1), 202)
    r2 = expect(acme.post("/v1/calls", body, headers=k1), 202)
    assert r1.json["id"] == r2.json["id"], (r1.json, r2.json)
    assert r2.headers.get("idempotent-replayed") == "true", r2.headers
    assert r2.headers.get("location") == r1.headers.get("location"), r2.headers
    # Keys order is not the body: the same request.
    r3 = expect(acme.post("/v1/calls", dict(reversed(list(body.items()))), headers=k1), 202)
    assert r3.json["id"] == r1.json["id"]
    expect(acme.post("/v1/calls", dict(body, timeout=31), headers=k1), 422,
           "idempotency_key_reused")
    # bravo's key of the same name is bravo's own (its DID is not acme's request).
    rb = expect(bravo.post("/v1/calls", {"from": w["bravo"]["did"], "to": NUMBER},
                           headers=k1), 202)
    assert rb.json["id"] != r1.json["id"]
    assert a.redis.cli("TTL", "trunx:idem:{acme}:" + sha(k1["Idempotency-Key"])).strip() \
        not in ("-1", "-2")
    # Two at once with a new key: one call; the other answer is 409 or the same call.
    k2 = {"Idempotency-Key": "order-2"}
    out = []

    def go():
        out.append(acme.post("/v1/calls", dict(body, timeout=29), headers=k2))
    ts = [threading.Thread(target=go) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    codes = sorted(r.status for r in out)
    ctx.log("concurrent same-key answers: %s", [(r.status, r.json) for r in out])
    assert codes in ([202, 202], [202, 409]), [(r.status, r.json) for r in out]
    ids = {r.json["id"] for r in out if r.status == 202}
    assert len(ids) == 1, out
    for r in out:
        if r.status == 409:
            assert r.json["error"] == "idempotency_in_flight", r.json
    # Exactly three INVITEs: order-1 (acme), order-1 (bravo), order-2.
    assert procs.wait_until(lambda: len(invites(u)) == 3, 10, 0.1), invites(u)
    procs.wait_until(lambda: False, 1.0, 0.1)
    assert len(invites(u)) == 3, invites(u)
    def live():
        return acme.get("/v1/calls").json["data"] + bravo.get("/v1/calls").json["data"]
    assert procs.wait_until(lambda: len(live()) == 3 and
                            all(c["state"] == "answered" for c in live()), 10, 0.1), live()
    for c in live():
        expect(a.op.post("/v1/calls/%s/hangup" % c["id"]), 200)
    assert procs.wait_until(lambda: u.successful() == 3, 15, 0.1), u.summary()
    idempotency_two_nodes(ctx, u, a, w, body)


def idempotency_two_nodes(ctx, u, a, w, body):
    """Node B shares node A's Postgres and Redis: keys hold across the two."""
    b = apimode.start(ctx, pg=a.pg, redis=a.redis, name="node_b", extra={"pool_retry_after": 7})
    dbmode.wait_routing(b.t, lambda m: "1 carriers" in m and "2 DIDs" in m, timeout=10)
    on = {"a": w["acme"]["api"], "b": b.anon.with_token(w["acme"]["key"])}
    expect(on["b"].get("/v1/me"), 200)
    # A then B: B answers with A's call, replayed; no second INVITE.
    k3 = {"Idempotency-Key": "order-3"}
    r1 = expect(on["a"].post("/v1/calls", dict(body, timeout=28), headers=k3), 202)
    r2 = expect(on["b"].post("/v1/calls", dict(body, timeout=28), headers=k3), 202)
    assert r2.json["id"] == r1.json["id"], (r1.json, r2.json)
    assert r2.headers.get("idempotent-replayed") == "true", r2.headers
    expect(on["b"].post("/v1/calls", dict(body, timeout=27), headers=k3), 422,
           "idempotency_key_reused")
    # The same key sent to both nodes at once: one call placed between them.
    k4 = {"Idempotency-Key": "order-4"}
    out = {}
    go = threading.Barrier(2)

    def send(node):
        go.wait(5)
        out[node] = on[node].post("/v1/calls", dict(body, timeout=26), headers=k4)
    ts = [threading.Thread(target=send, args=(n,)) for n in on]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    ctx.log("same key on both nodes at once: %s", {n: (r.status, r.json) for n, r in
                                                   out.items()})
    codes = sorted(r.status for r in out.values())
    assert codes in ([202, 202], [202, 409]), out
    assert len({r.json["id"] for r in out.values() if r.status == 202}) == 1, out
    assert all(r.json["error"] == "idempotency_in_flight" for r in out.values()
               if r.status == 409), out
    # Five INVITEs in all: three on node A before, order-3 and order-4 once each.
    assert procs.wait_until(lambda: len(invites(u)) == 5, 10, 0.1), invites(u)
    procs.wait_until(lambda: False, 1.0, 0.1)
    assert len(invites(u)) == 5, invites(u)
    # Each node hangs up what it placed (calls live on the node that placed them).
    placed = [c for n in on for c in on[n].get("/v1/calls").json["data"]]
    assert len(placed) == 2, placed
    for n in on:
        for c in on[n].get("/v1/calls").json["data"]:
            expect(on[n].post("/v1/calls/%s/hangup" % c["id"]), 200)
    assert procs.wait_until(lambda: u.successful() == 5, 15, 0.1), u.summary()


def sha(s):
    import hashlib
    return hashlib.sha256(s.encode()).hexdigest()


if __name__ == "__main__":
    sys.exit(case.main(globals()))
