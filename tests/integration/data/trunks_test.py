#!/usr/bin/env python3
"""Trunks and routing in database mode, end to end: carriers identified by digest where
they share a source (401 with a fresh nonce; wrong password 403; a replayed nonce
challenged again), calls out from a tenant's PBX over carriers that challenge them,
failover to the next carrier on 503, registration, qualify marking a silent carrier
down (and routing around it), and a caller ID the tenant does not own refused."""
import hashlib
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import calls, case, datastore, dbmode, ports, procs, sipmsg, sipp, trunxd  # noqa: E402
from harness.calls import finish  # noqa: E402

DID = "+15557770001"
OWN = "+15557770009"      # acme's default caller ID
CARRIER_IP = "127.0.0.3"  # where the digest carriers send from
PBX_IP = "127.0.0.4"      # acme's PBX


def base(ctx, uas_calls=2, configure=None):
    """Postgres + trunxd; tenant acme (its DIDs DID and OWN) with its PBX: a SIPp callee on
    127.0.0.1 that also calls out from 127.0.0.4. Returns (pg, trunxd, callee)."""
    pg, t = dbmode.start(ctx, configure=configure)
    u = calls.uas(ctx, "uas_cps.xml", calls=uas_calls, timeout=120)
    dbmode.tenant(pg, "acme", default_did=OWN)
    dbmode.peer(pg, "acme", "acme-pbx", host="127.0.0.1", port=u.port, ips=[PBX_IP + "/32"])
    return pg, t, u


def raw_invite(t, user, src_ip, headers=(), call_id=None, timeout=5.0):
    """A raw INVITE; returns the final response (ACKed when it is a failure)."""
    with sipmsg.Endpoint(src_ip) as ep:
        dest = (t.addr, t.port)
        data, cid, branch = ep.request("INVITE", dest, ruri="sip:%s@%s:%d" % (user, *dest),
                                       body=sipmsg.sdp_offer(src_ip, 40000),
                                       from_user="15551230000", headers=list(headers),
                                       call_id=call_id)
        ep.send(data, dest)
        final, _ = ep.wait_final(timeout, call_id=cid)
        if final is not None and final.status >= 300:
            ep.send("\r\n".join([
                "ACK sip:%s@%s:%d SIP/2.0" % (user, *dest),
                "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (src_ip, ep.port, branch),
                "From: %s" % final.header("From"), "To: %s" % final.header("To"),
                "Call-ID: %s" % cid, "CSeq: 1 ACK", "Max-Forwards: 70", "Content-Length: 0",
                "", ""]), dest)
        return final


def digest(user, password, realm, nonce, method, uri, cnonce="0a4f113b", nc="00000001"):
    h = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    ha1, ha2 = h("%s:%s:%s" % (user, realm, password)), h("%s:%s" % (method, uri))
    resp = h("%s:%s:%s:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
    return ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
            'response="%s", algorithm=MD5, cnonce="%s", qop=auth, nc=%s'
            % (user, realm, nonce, uri, resp, cnonce, nc))


def challenge_of(resp):
    w = resp.header("WWW-Authenticate") or ""
    realm = re.search(r'realm="([^"]*)"', w)
    nonce = re.search(r'nonce="([^"]*)"', w)
    return (realm.group(1) if realm else None, nonce.group(1) if nonce else None,
            "stale=true" in w)


def events(pg, type_):
    return pg.sql("SELECT type, coalesce(trunk, ''), coalesce(tenant_id, ''), data::text "
                  "FROM events WHERE type = '%s' ORDER BY id" % type_)


def wait_events_row(pg, type_, n=1, timeout=10.0):
    ok = procs.wait_until(lambda: len(events(pg, type_)) >= n, timeout, 0.1)
    if not ok:
        raise AssertionError("no %s event in Postgres: %s" % (type_, pg.sql(
            "SELECT type FROM events")))
    return events(pg, type_)


class Responder:
    """A carrier endpoint that answers OPTIONS with 200 and INVITE with 503 (counted)
    until stopped; then it is silent."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.invites = 0
        self.options = 0
        self.stop_ev = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()
        ctx.at_end(self.stop)

    def run(self):
        self.sock.settimeout(0.1)
        while not self.stop_ev.is_set():
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = sipmsg.Message(data)
            if m.method not in ("OPTIONS", "INVITE"):
                continue
            code = "200 OK" if m.method == "OPTIONS" else "503 Service Unavailable"
            if m.method == "OPTIONS":
                self.options += 1
            else:
                self.invites += 1
            lines = ["SIP/2.0 %s" % code] + ["Via: %s" % v for v in m.header_all("Via")]
            lines += ["From: %s" % m.header("From"), "To: %s;tag=resp" % m.header("To"),
                      "Call-ID: %s" % m.header("Call-ID"), "CSeq: %s" % m.header("CSeq"),
                      "Content-Length: 0", "", ""]
            self.sock.sendto("\r\n".join(lines).encode(), src)

    def stop(self):
        self.stop_ev.set()
        self.th.join(2)
        self.sock.close()


# ---- cases ----------------------------------------------------------------------------

def case_digest_identification(ctx):
    """Two carriers share 127.0.0.3 and are told apart by digest: no credentials -> 401
    (fresh nonce); the right ones -> the call routes as that carrier; a wrong password
    -> 403 and an auth.failed event; a nonce used once and replayed -> 401 stale."""
    pg, t, u = base(ctx, uas_calls=1)
    dbmode.carrier(pg, "digest-a", ips=[CARRIER_IP + "/32"], auth_type="userpass",
                   auth_username="alpha", auth_secret="alpha-secret", inbound_auth=True)
    dbmode.carrier(pg, "digest-b", ips=[CARRIER_IP + "/32"], auth_type="userpass",
                   auth_username="bravo", auth_secret="bravo-secret", inbound_auth=True)
    dbmode.did(pg, DID, trunk="digest-b", tenant="acme", peer="acme-pbx")
    dbmode.wait_routing(t, lambda m: "2 carriers" in m and "1 DIDs" in m)
    r = raw_invite(t, DID[1:], CARRIER_IP)
    assert r is not None and r.status == 401, r
    realm, nonce, stale = challenge_of(r)
    assert realm == "trunx" and nonce and len(nonce) == 48 and not stale, \
        r.header("WWW-Authenticate")
    # The right credentials: SIPp answers the challenge and the call is bravo's.
    c = calls.uac(ctx, "uac_auth.xml", t.sip_addr, name="uac_ok", service=DID[1:],
                  local_ip=CARRIER_IP, duration_ms=300,
                  extra=["-au", "bravo", "-ap", "bravo-secret"])
    finish(c, u)
    sipp.expect_ok(c)
    end = [e for e in t.wait_events("call.end", 1, 10) if e["result"] == "answered"]
    assert end and end[0]["trunk_in"] == "digest-b", end
    # A wrong password: 403 and an event.
    bad = calls.uac(ctx, "uac_auth_403.xml", t.sip_addr, name="uac_bad", service=DID[1:],
                    local_ip=CARRIER_IP, extra=["-au", "bravo", "-ap", "wrong"])
    bad.wait()
    sipp.expect_ok(bad)
    rows = wait_events_row(pg, "auth.failed")
    assert rows[0][1] == "digest-b" and "wrong credentials" in rows[0][3], rows
    # Replay: credentials computed for a nonce; the first use passes (the number is
    # not assigned: 404 from routing, after authentication), the same again gets 401.
    r = raw_invite(t, "15550009999", CARRIER_IP)
    realm, nonce, _ = challenge_of(r)
    uri = "sip:15550009999@%s:%d" % (t.addr, t.port)
    auth = digest("alpha", "alpha-secret", realm, nonce, "INVITE", uri)
    r1 = raw_invite(t, "15550009999", CARRIER_IP, headers=[auth])
    assert r1 is not None and r1.status == 404, r1
    r2 = raw_invite(t, "15550009999", CARRIER_IP, headers=[auth])
    assert r2 is not None and r2.status == 401, r2
    assert challenge_of(r2)[2], "a replayed nonce must be answered stale=true"
    ends = t.events("call.end")
    assert sum(1 for e in ends if e.get("trunk_in") == "digest-a") == 1, \
        "the replay became a call"
    assert t.counter("auth_challenged") >= 3


def case_outbound_failover_and_digest(ctx):
    """A call from the tenant's PBX: the first carrier (priority 10) answers 503 before
    any 18x, the call goes on to the second (priority 20), which challenges trunxd and
    takes the call once trunxd answers with its credentials; the caller ID is the
    tenant's default DID, in the carrier's dial format."""
    pg, t, u = base(ctx)
    c503 = calls.uas(ctx, "uas_503.xml", name="carrier_503", timeout=120)
    cauth = calls.uas(ctx, "uas_challenge.xml", name="carrier_auth", timeout=120,
                      keys={"user": "trunx-out", "password": "out-secret"})
    dbmode.did(pg, OWN, tenant="acme", peer="acme-pbx")
    dbmode.carrier(pg, "first", host="127.0.0.1", port=c503.port)
    dbmode.carrier(pg, "second", host="127.0.0.1", port=cauth.port, auth_type="userpass",
                   auth_username="trunx-out", auth_secret="out-secret",
                   outbound_dial_format="plus_e164")
    dbmode.outbound_route(pg, "first", prefix="44", tenant="acme", priority=10)
    dbmode.outbound_route(pg, "second", prefix="44", tenant="acme", priority=20)
    dbmode.wait_routing(t, lambda m: "2 carriers" in m and "2 outbound rules" in m)
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, service="+442071234567",
                  local_ip=PBX_IP, duration_ms=300, keys={"caller": "201"})
    finish(c, c503, cauth)
    sipp.expect_ok(c)
    end = [e for e in t.wait_events("call.end", 1, 10) if e["result"] == "answered"]
    assert end and end[0]["trunk_out"] == "second" and end[0]["tenant"] == "acme", end
    fo = t.events("call.failover")
    assert fo and "first" in fo[0]["msg"] and "503" in fo[0]["msg"], fo
    u.stop()


def case_registration(ctx):
    """A registration-based carrier: trunxd registers with the carrier's registrar,
    answering its challenge; trunxctl trunks shows it registered."""
    pg, t, u = base(ctx)
    reg = calls.uas(ctx, "uas_register.xml", name="registrar", calls=None, timeout=120,
                    keys={"user": "acct42", "password": "reg-secret"})
    dbmode.carrier(pg, "regcarrier", host="127.0.0.1", port=reg.port, auth_type="userpass",
                   auth_username="acct42", auth_secret="reg-secret", registration=True,
                   register_expires=60)
    ok = procs.wait_until(lambda: any(x["name"] == "regcarrier" and
                                      (x.get("registration") or "").startswith("registered")
                                      for x in t.ctl("trunks")), 15, 0.2)
    tr = [x for x in t.ctl("trunks") if x["name"] == "regcarrier"]
    ctx.log("trunks: %s", tr)
    assert ok, tr
    rows = wait_events_row(pg, "trunk.registered")
    assert rows[0][1] == "regcarrier", rows
    u.stop()


def case_qualify_down(ctx):
    """Qualify: the first carrier answers OPTIONS every second until it goes silent;
    it is then marked down (a trunk.down event) and calls go straight to the second;
    when it answers again it is up (trunk.up)."""
    pg, t, u = base(ctx)
    resp = Responder(ctx)
    good = calls.uas(ctx, "uas_cps.xml", name="carrier_ok", calls=1, timeout=120)
    dbmode.did(pg, OWN, tenant="acme", peer="acme-pbx")
    dbmode.carrier(pg, "flaky", host="127.0.0.1", port=resp.port, qualify_frequency=1)
    dbmode.carrier(pg, "steady", host="127.0.0.1", port=good.port)
    dbmode.outbound_route(pg, "flaky", prefix="", tenant="acme", priority=10)
    dbmode.outbound_route(pg, "steady", prefix="", tenant="acme", priority=20)
    dbmode.wait_routing(t, lambda m: "2 carriers" in m)
    ok = procs.wait_until(lambda: [x for x in t.ctl("trunks") if x["name"] == "flaky"][0]
                          ["qualify"] == "up", 10, 0.2)
    assert ok and resp.options >= 1, resp.options
    resp.stop()
    ok = procs.wait_until(lambda: [x for x in t.ctl("trunks") if x["name"] == "flaky"][0]
                          ["qualify"] == "down", 10, 0.2)
    assert ok, t.ctl("trunks")
    rows = wait_events_row(pg, "trunk.down")
    assert rows[0][1] == "flaky", rows
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, service="+15550001234", local_ip=PBX_IP,
                  duration_ms=200, keys={"caller": "201"})
    finish(c, good)
    sipp.expect_ok(c)
    assert resp.invites == 0, "an INVITE went to the carrier that is down"
    end = [e for e in t.wait_events("call.end", 1, 10) if e["result"] == "answered"]
    assert end and end[0]["trunk_out"] == "steady", end
    assert not t.events("call.failover"), "no failover needed: the down trunk is skipped"
    u.stop()


def case_callerid_spoof(ctx):
    """The tenant's PBX presents a number the tenant does not own: 403, an event
    (callerid.rejected) in the log and in Postgres; never a replaced caller ID."""
    pg, t, u = base(ctx)
    dbmode.did(pg, OWN, tenant="acme", peer="acme-pbx")
    dbmode.tenant(pg, "other")
    dbmode.did(pg, "+15557770777", tenant="other")
    carrier = calls.uas(ctx, "uas_cps.xml", name="carrier", calls=1, timeout=60)
    dbmode.carrier(pg, "out", host="127.0.0.1", port=carrier.port)
    dbmode.outbound_route(pg, "out")
    dbmode.wait_routing(t, lambda m: "2 DIDs" in m and "1 outbound rules" in m)
    c = calls.uac(ctx, "uac_403.xml", t.sip_addr, service="+15550001234", local_ip=PBX_IP,
                  keys={"caller": "+15557770777"})
    c.wait()
    sipp.expect_ok(c)
    assert carrier.count("IncomingCall(C)") == 0, "the call went out anyway"
    rows = wait_events_row(pg, "callerid.rejected")
    assert rows[0][2] == "acme" and "+15557770777" in rows[0][3], rows
    assert t.events("callerid.rejected"), "no log line"
    assert t.counter("rejected_callerid") == 1
    # Its own number is fine.
    ok = calls.uac(ctx, "uac_cps.xml", t.sip_addr, name="uac_own", service="+15550001234",
                   local_ip=PBX_IP, duration_ms=200, keys={"caller": OWN})
    finish(ok, carrier)
    sipp.expect_ok(ok)
    u.stop()


if __name__ == "__main__":
    sys.exit(case.main(globals()))
