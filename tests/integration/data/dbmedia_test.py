#!/usr/bin/env python3
"""Media options as data (migration 005): trunxd in database mode with a real Postgres,
carriers and peers whose rows carry SRTP, DTMF and Opus options, DIDs and outbound
rules that record and run AMD, changed live by SQL and through the HTTP API.

  srtp_required_live  a peer row with srtp = required: trunx offers it RTP/SAVP with
                      SDES keys and refuses its RTP/AVP-only answer (488 to the
                      caller); an UPDATE to srtp = off applies live (< 1 s), the next
                      offer is plain RTP/AVP
  dtmf_info           a peer row with dtmf = info: RFC 4733 digits from the carrier's
                      caller (baresip) reach the PBX as SIP INFO, in order
  record_amd          a DID row with record_dir and amd: the answered call is recorded
                      (both legs, the expected length) and call.amd is emitted on leg b;
                      the same through an outbound rule for a call from the PBX
  latch_rows          a carrier row with latch = any (migration 006): a stranger spraying
                      the media ports takes the carrier's leg A and hears the PBX, while
                      the peer's leg B (the node's latch = known) refuses it; an UPDATE
                      to 'node' applies to the next call, which refuses it on both legs
  api_fields          the new fields through the API: defaults on create, 422 naming
                      the field for bad values, a PATCH applied to routing live, the
                      fields in the OpenAPI document
"""
import os
import struct
import sys
import time
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "prompt"))
sys.path.insert(0, os.path.join(HERE, "..", "dtmf_iw"))
sys.path.insert(0, os.path.join(HERE, "..", "scan"))

from harness import baresip, case, dbmode, procs, ua  # noqa: E402

DID = "+15550001000"
PCMU_ONLY = ((0, "PCMU/8000"), (101, "telephone-event/8000"))


def world(ctx, pg, t, callee_port, **peer_cols):
    """A carrier on 127.0.0.2 (country code 1), tenant acme with its PBX peer at
    127.0.0.1:callee_port, the DID to that peer; waits until it routes."""
    dbmode.tenant(pg, "acme", default_did=DID)
    dbmode.carrier(pg, "carrier1", ips=["127.0.0.2/32"], host="127.0.0.1",
                   configuration={"country_code": "1"})
    dbmode.peer(pg, "acme", "acme-pbx", host="127.0.0.1", port=callee_port, **peer_cols)
    dbmode.did(pg, DID, trunk="carrier1", tenant="acme", peer="acme-pbx")
    dbmode.wait_routing(t, lambda m: "1 carriers" in m and "1 DIDs" in m and "1 peers" in m,
                        timeout=10)


def call_from_carrier(t, body_port=None):
    caller = ua.UA(ip="127.0.0.2", name="caller")
    body = ua.sdp("127.0.0.2", body_port or caller.media_port, pts=PCMU_ONLY)
    d, final = caller.call((t.addr, t.port), user=DID[2:], body=body)
    return caller, d, final


def case_srtp_required_live(ctx):
    pg, t = dbmode.start(ctx)
    callee = ua.UA(name="callee", auto=True)
    ctx.at_end(callee.close)
    world(ctx, pg, t, callee.port, srtp="required", srtp_without_tls=True,
          codecs=["PCMU", "telephone-event"])
    caller, d, final = call_from_carrier(t)
    ctx.at_end(caller.close)
    inv = callee.wait(lambda m: m.method == "INVITE", 5)
    assert inv is not None, "the PBX got no INVITE"
    body = inv.body.decode()
    ctx.log("offer to the srtp=required peer:\n%s", body)
    assert "m=audio" in body and "RTP/SAVP" in body, body
    assert "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in body, body
    # The PBX answered RTP/AVP only (harness UA): refused per the policy.
    assert d is None and final is not None and final.status == 488, final
    end = t.wait_events("call.end", 1, 10)
    ctx.log("call.end: %s", end[0])
    assert end[0].get("sip_code") == 488 and end[0].get("trunk_out") == "acme-pbx", end[0]
    # Live: srtp off by an UPDATE; the next offer is plain RTP/AVP.
    n = len(dbmode.loads(t))
    t0 = time.monotonic()
    pg.sql("UPDATE customer_peers SET srtp = 'off' WHERE name = 'acme-pbx'")
    dbmode.wait_load(t, n, timeout=5)
    took = time.monotonic() - t0
    ctx.log("UPDATE applied %.0f ms later", took * 1000)
    assert took < dbmode.live_bound(ctx), "the UPDATE took %.2f s to apply" % took
    callee.drain()
    caller2, d2, final2 = call_from_carrier(t)
    ctx.at_end(caller2.close)
    inv = callee.wait(lambda m: m.method == "INVITE", 5)
    assert inv is not None
    body = inv.body.decode()
    assert "RTP/AVP" in body and "RTP/SAVP" not in body and "a=crypto" not in body, body
    assert d2 is not None and final2.status == 200, final2
    d2.bye()
    t.wait_events("call.end", 2, 10)


def case_dtmf_info(ctx):
    import dtmf_iw_test as iw   # the interworking test's tools (INFO bodies, records)
    if not baresip.available():
        raise AssertionError("baresip is not installed (tools/deps.sh installs baresip-core)")
    pg, t = dbmode.start(ctx)
    b = ua.UA(name="callee", auto=True)
    ctx.at_end(b.close)
    dbmode.tenant(pg, "acme", default_did=DID)
    # baresip calls from 127.0.0.1: the carrier is identified by that address and
    # baresip's own port (the PBX peer, also on 127.0.0.1, sends no new requests).
    wav_a = ctx.path("a.wav")
    baresip.write_tone(wav_a, 1000.0, -20.0, 30, 8000)
    a = baresip.Baresip(ctx, "caller", ["PCMU/8000"], wav_a).start()
    ctx.at_end(a.stop)
    dbmode.carrier(pg, "carrier1", ips=["127.0.0.1/32"], identify_port=a.sip_port,
                   configuration={"country_code": "1"})
    dbmode.peer(pg, "acme", "acme-pbx", host="127.0.0.1", port=b.port, dtmf="info",
                codecs=["PCMU", "telephone-event"])
    dbmode.did(pg, DID, trunk="carrier1", tenant="acme", peer="acme-pbx")
    dbmode.wait_routing(t, lambda m: "1 carriers" in m and "1 DIDs" in m, timeout=10)
    a.command("dial", "sip:%s@%s" % (DID[2:], t.sip_addr))
    if not a.wait_event("CALL_ESTABLISHED", 15):
        raise AssertionError("call not established: %s" % t.events("call.end"))
    a.pump(1.5)
    a.command("sndcode", "123#")
    procs.wait_until(lambda: len(iw.info_bodies(b)) >= 4, 8.0, 0.1)
    a.pump(0.5)
    got = iw.info_bodies(b)
    a.command("hangup")
    a.wait_event("CALL_CLOSED", 10)
    t.wait_events("call.end", 1, 10)
    recs = t.events("call.dtmf")
    ctx.log("PBX got %r by INFO; call.dtmf: %s", got, recs)
    assert got == "123#", "PBX got %r by INFO, not '123#'" % got
    iw.check_records(recs, "123#", "rfc4733")


def wav_seconds(path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with wave.open(path, "rb") as w:
                return w.getnchannels(), w.getframerate(), w.getnframes() / w.getframerate()
        except (OSError, EOFError, wave.Error, struct.error):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def media_call(ctx, t, caller, callee, user):
    """caller calls user through trunxd, callee answers; both send 3 s of tone."""
    import prompt_test as pt   # RTP senders and tones of the prompt tests
    pt.callee_codec(PCMU_ONLY)
    body = ua.sdp(caller.ip, caller.media_port, pts=PCMU_ONLY)
    d, final = caller.call((t.addr, t.port), user=user, body=body)
    assert d is not None, "call not answered: %s" % (final and final.status)
    inv = callee.wait(lambda m: m.method == "INVITE", 5)
    assert inv is not None
    to_a, to_b = pt.media_of(final.body), pt.media_of(inv.body)
    ra, rb = pt.RtpPeer(caller.media), pt.RtpPeer(callee.media)
    ctx.at_end(ra.stop)
    ctx.at_end(rb.stop)
    n = 150   # 3 s
    t0 = time.monotonic() + 0.1
    ra.send(to_a, pt.tone(1000, pt.LEVEL, n * 160), set(), t0)
    rb.send(to_b, pt.tone(600, pt.LEVEL, n * 160), set(), t0, 0)
    ra.wait_sent(10)
    rb.wait_sent(10)
    time.sleep(0.2)
    return d


def check_recording(ctx, t, rec_dir, k):
    rec = t.wait_events("call.record", k, 10)
    ctx.log("call.record: %s", rec)
    assert len(rec) >= k, rec
    path = rec[k - 1].get("path", "")
    assert os.path.dirname(path) == rec_dir and path.endswith(".wav"), path
    ch, rate, secs = wav_seconds(path)
    ctx.log("%s: %d channels, %d Hz, %.2f s", path, ch, rate, secs)
    assert (ch, rate) == (2, 8000) and 2.8 <= secs <= 3.6, (ch, rate, secs)


def case_record_amd(ctx):
    rec_dir = ctx.path("rec")
    os.makedirs(rec_dir, exist_ok=True)
    pg, t = dbmode.start(ctx)
    callee = ua.UA(name="callee", auto=True)
    ctx.at_end(callee.close)
    world(ctx, pg, t, callee.port, codecs=["PCMU", "telephone-event"])
    n = len(dbmode.loads(t))
    pg.sql("UPDATE did_numbers SET record_dir = '%s', amd = true WHERE number = '%s'"
           % (rec_dir, DID))
    dbmode.wait_load(t, n, timeout=5)
    # Inbound: a carrier's call to the DID.
    caller = ua.UA(ip="127.0.0.2", name="caller")
    ctx.at_end(caller.close)
    d = media_call(ctx, t, caller, callee, DID[2:])
    d.bye()   # 3 s of steady tone decides nothing: AMD reports at the hang-up at the latest
    t.wait_events("call.end", 1, 10)
    amd = t.wait_events("call.amd", 1, 10)
    ctx.log("call.amd: %s", amd)
    assert len(amd) == 1 and amd[0].get("leg") == "b" and \
        amd[0].get("result") in ("HUMAN", "MACHINE", "NOTSURE"), amd
    check_recording(ctx, t, rec_dir, 1)
    # Outbound: the PBX calls out through a rule that records (no AMD).
    out_dir = ctx.path("rec-out")
    os.makedirs(out_dir, exist_ok=True)
    far = ua.UA(ip="127.0.0.3", name="far", auto=True)
    ctx.at_end(far.close)
    # One transaction (psql -c): the PBX identified by 127.0.0.4, the caller ID it sends
    # (15551230000) one of acme's numbers, a carrier and a recording rule for +44.
    pg.sql("UPDATE customer_peers SET identify_match_ips = '{127.0.0.4/32}' "
           "WHERE name = 'acme-pbx'; " +
           dbmode.did_sql("+15551230000", tenant="acme", peer="acme-pbx") + "; " +
           dbmode.carrier_sql("carrier2", host="127.0.0.3", port=far.port).replace(
               " RETURNING id", "") + "; "
           "INSERT INTO outbound_routes (prefix, trunk_id, record_dir) VALUES ('44', "
           "(SELECT id FROM carrier_trunks WHERE name = 'carrier2'), '%s')" % out_dir)
    dbmode.wait_routing(t, lambda m: "2 carriers" in m and "2 DIDs" in m, timeout=10)
    pbx = ua.UA(ip="127.0.0.4", name="pbx")
    ctx.at_end(pbx.close)
    d = media_call(ctx, t, pbx, far, "442071234567")
    d.bye()
    t.wait_events("call.end", 2, 10)
    check_recording(ctx, t, out_dir, 2)
    assert len(t.events("call.amd")) == 1, "AMD ran on the outbound call too"


def sprayed_media_call(ctx, t, caller, callee, k):
    """Call k from the carrier with both parties sending 3 s of tone while a stranger
    (scan_test's sprayer, sending PCMU) sprays the media range from before the call
    until after it; returns (sprayer, call.end of the call)."""
    import scan_test

    class PcmuSprayer(scan_test.Sprayer):
        def _packet(self, seq):
            return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, 0x5eed) + \
                b"\xff" * 160
    lo, hi = t.conf.media_range
    spray = PcmuSprayer(lo, hi, seconds=15).start()
    try:
        time.sleep(0.3)
        d = media_call(ctx, t, caller, callee, DID[2:])
        d.bye()
        recs = t.wait_events("call.end", k, 10)
    finally:
        spray.stop()
    assert len(recs) == k, recs
    rec = recs[k - 1]
    ctx.log("call %d: stranger sent %d, got %d; rtp_a_in %s rtp_b_in %s rtp_foreign_a %s "
            "rtp_foreign_b %s", k, spray.sent, spray.got, rec.get("rtp_a_in"),
            rec.get("rtp_b_in"), rec.get("rtp_foreign_a"), rec.get("rtp_foreign_b"))
    return spray, rec


def case_latch_rows(ctx):
    pg, t = dbmode.start(ctx)   # [media] latch = known, the default
    callee = ua.UA(name="callee", auto=True)
    ctx.at_end(callee.close)
    world(ctx, pg, t, callee.port, codecs=["PCMU", "telephone-event"])
    n = len(dbmode.loads(t))
    pg.sql("UPDATE carrier_trunks SET latch = 'any' WHERE name = 'carrier1'")
    dbmode.wait_load(t, n, timeout=5)
    caller = ua.UA(ip="127.0.0.2", name="caller")
    ctx.at_end(caller.close)
    spray, rec = sprayed_media_call(ctx, t, caller, callee, 1)
    # latch = any: the stranger's packets are never "foreign" on leg A (any source may
    # latch there), yet the caller, sending from its SDP address, takes the latch back
    # at its first packet: none of its 150 packets is lost to the stranger (the
    # stranger may have held leg A for the moment before that packet).
    assert not rec.get("rtp_foreign_a"), "leg A (latch = any) refused sources: %s" % rec
    assert rec.get("rtp_a_in", 0) >= 150, "leg A lost the caller's packets: %s" % rec
    assert rec.get("rtp_foreign_b"), "leg B (the node's known) took the stranger: %s" % rec
    assert rec.get("rtp_b_in") == 150, "leg B lost the PBX's packets: %s" % rec
    n = len(dbmode.loads(t))
    pg.sql("UPDATE carrier_trunks SET latch = 'node' WHERE name = 'carrier1'")
    dbmode.wait_load(t, n, timeout=5)
    spray, rec = sprayed_media_call(ctx, t, caller, callee, 2)
    assert spray.got == 0, "after latch = node the stranger got %d packets" % spray.got
    for leg in ("a", "b"):
        assert rec.get("rtp_foreign_" + leg), "leg %s took the stranger: %s" % (leg, rec)
        assert rec.get("rtp_%s_in" % leg) == 150, "leg %s: %s" % (leg, rec)
    t.check_alive()


def case_api_fields(ctx):
    import apimode
    from apiclient import expect
    a = apimode.start(ctx, redis=False)
    op = a.op
    tr = expect(op.post("/v1/trunks", {"name": "c1", "identify_match_ips": ["127.0.0.2/32"]}),
                201).json
    want = {"srtp": "off", "srtp_without_tls": False, "tls_verify": True, "dtmf": "rfc4733",
            "opus_complexity": 5, "opus_fec": True, "opus_dtx": False, "latch": "node"}
    assert {k: tr.get(k) for k in want} == want, tr
    bad = [("srtp", "sometimes"), ("dtmf", "sip-info"), ("opus_complexity", 11),
           ("opus_complexity", -1), ("opus_fec", "yes"), ("tls_verify", None),
           ("srtp_without_tls", 1), ("latch", "first")]
    for k, v in bad:
        r = op.patch("/v1/trunks/" + tr["id"], {k: v})
        assert r.status == 422 and r.json.get("field") == k, (k, v, r.status, r.json)
    # SDES keys over UDP to a host need srtp_without_tls (the table's rule, named).
    r = op.patch("/v1/trunks/" + tr["id"], {"srtp": "required", "endpoint_host": "127.0.0.9"})
    assert r.status == 422 and "srtp" in r.json.get("message", ""), (r.status, r.json)
    expect(op.post("/v1/tenants", {"id": "acme"}), 201)
    pe = expect(op.post("/v1/peers", {"name": "pbx", "tenant_id": "acme", "host": "127.0.0.1",
                                      "dtmf": "info", "srtp": "optional"}), 201).json
    assert pe["dtmf"] == "info" and pe["srtp"] == "optional", pe
    r = op.patch("/v1/peers/" + pe["id"], {"dtmf": "tones"})
    assert r.status == 422 and r.json.get("field") == "dtmf", r.json
    did = expect(op.post("/v1/dids", {"number": DID, "tenant_id": "acme", "trunk_id": tr["id"],
                                      "peer_id": pe["id"], "record_dir": "/var/rec",
                                      "amd": True}), 201).json
    assert did["record_dir"] == "/var/rec" and did["amd"] is True, did
    for v in ("rec", "/var/../etc", "/var/rec/.", "/a b", 5):
        r = op.patch("/v1/dids/%2B15550001000", {"record_dir": v})
        assert r.status == 422 and r.json.get("field") == "record_dir", (v, r.json)
    r = op.patch("/v1/dids/%2B15550001000", {"amd": "yes"})
    assert r.status == 422 and r.json.get("field") == "amd", r.json
    expect(op.patch("/v1/dids/%2B15550001000", {"record_dir": None}), 200)
    ro = expect(op.post("/v1/outbound-routes", {"trunk_id": tr["id"], "prefix": "44",
                                                "record_dir": "/srv/out", "amd": True}),
                201).json
    assert ro["record_dir"] == "/srv/out" and ro["amd"] is True, ro
    r = op.patch("/v1/outbound-routes/" + ro["id"], {"record_dir": "relative/dir"})
    assert r.status == 422 and r.json.get("field") == "record_dir", r.json
    # A PATCH reaches routing live: the trunk's new DTMF mode shows in trunxctl trunks
    # (or at least a new snapshot is built within 1 s).
    n = len(dbmode.loads(a.t))
    t0 = time.monotonic()
    expect(op.patch("/v1/trunks/" + tr["id"], {"dtmf": "inband", "opus_dtx": True}), 200)
    dbmode.wait_load(a.t, n, timeout=5)
    took = time.monotonic() - t0
    ctx.log("API PATCH applied %.0f ms later", took * 1000)
    assert took < dbmode.live_bound(ctx), took
    row = a.pg.value("SELECT dtmf || ',' || opus_dtx::text FROM carrier_trunks "
                     "WHERE name = 'c1'")
    assert row == "inband,true", row
    # The OpenAPI document describes them.
    doc = expect(a.anon.get("/v1/openapi.json"), 200).json
    sch = doc["components"]["schemas"]
    for s, fields in (("Trunk", want), ("Peer", want), ("Did", ("record_dir", "amd")),
                      ("OutboundRoute", ("record_dir", "amd"))):
        props = sch[s]["properties"]
        missing = [f for f in fields if f not in props]
        assert not missing, (s, missing)
    assert sch["Trunk"]["properties"]["srtp"]["enum"] == ["off", "optional", "required"]
    assert sch["Trunk"]["properties"]["dtmf"]["enum"] == ["rfc4733", "inband", "info"]
    assert sch["Trunk"]["properties"]["latch"]["enum"] == ["node", "known", "any"]


if __name__ == "__main__":
    sys.exit(case.main(globals()))
