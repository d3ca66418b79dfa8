#!/usr/bin/env python3
"""Carriers, DIDs, tenants and routes as data: trunxd in database mode against a real
Postgres, changed live with SQL while calls run (SIPp callers and callees, raw INVITEs
from hand-picked loopback addresses)."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import calls, case, dbmode, procs, sipmsg, sipp, trunxd  # noqa: E402
from harness.calls import finish  # noqa: E402

DID1 = "+15557770001"
DID2 = "+15557770002"


def invite(t, user, src_ip="127.0.0.2", timeout=5.0, from_user="15551230000"):
    """A raw INVITE to trunxd from src_ip; returns the final response (ACKed)."""
    with sipmsg.Endpoint(src_ip) as ep:
        dest = (t.addr, t.port)
        body = sipmsg.sdp_offer(src_ip, 40000)
        data, cid, branch = ep.request("INVITE", dest, ruri="sip:%s@%s:%d" % (user, *dest),
                                       body=body, from_user=from_user)
        ep.send(data, dest)
        final, _ = ep.wait_final(timeout, call_id=cid)
        if final is not None and final.status >= 300:
            ack = "\r\n".join([
                "ACK sip:%s@%s:%d SIP/2.0" % (user, *dest),
                "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (src_ip, ep.port, branch),
                "From: %s" % final.header("From"), "To: %s" % final.header("To"),
                "Call-ID: %s" % cid, "CSeq: 1 ACK", "Max-Forwards: 70",
                "Content-Length: 0", "", ""])
            ep.send(ack, dest)
        return final


def options_status(t, src_ip):
    with sipmsg.Endpoint(src_ip) as ep:
        r, _ = ep.options((t.addr, t.port), timeout=1.0)
        return r.status if r is not None else None


def pbx_setup(ctx, pg, uas_calls=1, uas_scen="uas_basic.xml", uas_ms=0):
    """A tenant "acme" with its PBX (a SIPp callee on 127.0.0.1)."""
    u = calls.uas(ctx, uas_scen, calls=uas_calls, duration_ms=uas_ms, timeout=120)
    dbmode.tenant(pg, "acme")
    dbmode.peer(pg, "acme", "acme-pbx", host="127.0.0.1", port=u.port)
    return u


def warning_of(resp):
    return resp.header("Warning") or ""


# ---- SIP over TCP, raw (the guard in front of the stack) ---------------------------

def tcp_from(t, src_ip):
    s = socket.socket()
    s.bind((src_ip, 0))
    s.connect((t.addr, t.port))
    return s


def tcp_options(sock, t, n):
    """One OPTIONS on an open connection; the response codes read within 3 s."""
    ip, port = sock.getsockname()
    sock.sendall(("OPTIONS sip:%s:%d SIP/2.0\r\n"
                  "Via: SIP/2.0/TCP %s:%d;branch=z9hG4bK-g%d-%d;rport\r\n"
                  "Max-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=g%d\r\nTo: <sip:%s>\r\n"
                  "Call-ID: guard-%d-%d@%s\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n"
                  % (t.addr, t.port, ip, port, port, n, ip, n, t.addr, port, n, ip, n)).encode())
    buf, codes = b"", []
    sock.settimeout(0.2)
    deadline = time.monotonic() + 3
    while not codes and time.monotonic() < deadline:
        try:
            d = sock.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
        msgs, buf = sipmsg.split_stream(buf)
        codes += [sipmsg.Message(m).status for m in msgs]
    return codes


def peer_closed(sock, timeout):
    """True when trunxd closed the connection within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


# ---- cases ----------------------------------------------------------------------------

def case_carrier_insert_live(ctx):
    """One INSERT adds a carrier trunk and its DID: a call from the carrier's new address
    (127.0.0.2) routes within 1 s, with no restart. A DID added to that trunk routes at
    once; the trunk set inactive gets 403 on its next INVITE; the call in progress
    across all of it survives and ends normally."""
    pg, t = dbmode.start(ctx)
    u = pbx_setup(ctx, pg, uas_calls=3)
    assert options_status(t, "127.0.0.2") == 403, "127.0.0.2 known before the INSERT"
    sql = ("WITH c AS (INSERT INTO carrier_trunks (name, provider, identify_match_ips) "
           "VALUES ('carrier1', 'test', '{127.0.0.2/32}') RETURNING id) "
           "INSERT INTO did_numbers (number, trunk_id, tenant_id, peer_id) "
           "SELECT '%s', c.id, 'acme', (SELECT id FROM customer_peers WHERE name = 'acme-pbx') "
           "FROM c" % DID1)
    t0 = time.monotonic()
    pg.sql(sql)
    dbmode.wait_routing(t, lambda m: "1 carriers" in m and "1 DIDs" in m, timeout=5)
    took = time.monotonic() - t0
    ctx.log("carrier and DID routable %.0f ms after the INSERT", took * 1000)
    assert took < dbmode.live_bound(ctx), "routing took %.2f s after the INSERT" % took
    assert options_status(t, "127.0.0.2") == 200
    # The long call: 6 s of audio both ways, from the new carrier address.
    long_call = calls.uac(ctx, "uac_basic.xml", t.sip_addr, name="uac_long",
                          duration_ms=6000, service=DID1[1:], local_ip="127.0.0.2")
    procs.wait_until(lambda: t.active_calls() == 1, 5, 0.05)
    # trunxctl trunks: the carrier and the peer, the call in progress on both.
    tr = {x["name"]: x for x in t.ctl("trunks")}
    assert tr["carrier1"]["kind"] == "carrier" and tr["carrier1"]["status"] == "active", tr
    assert tr["carrier1"]["sources"] == ["127.0.0.2/32"], tr
    assert tr["carrier1"]["calls_in"] == 1 and tr["acme-pbx"]["calls_out"] == 1, tr
    assert tr["acme-pbx"]["kind"] == "peer" and tr["acme-pbx"]["tenant"] == "acme", tr
    text = t.ctl("trunks", json_out=False)
    ctx.log("trunxctl trunks:\n%s", text)
    assert "carrier1" in text and "2 trunks" in text, text
    # A DID added to the existing trunk routes at once.
    dbmode.did(pg, DID2, trunk="carrier1", tenant="acme", peer="acme-pbx")
    dbmode.wait_routing(t, lambda m: "2 DIDs" in m, timeout=2)
    c2 = calls.uac(ctx, "uac_basic.xml", t.sip_addr, name="uac_did2", duration_ms=500,
                   service=DID2[1:], local_ip="127.0.0.2")
    c2.wait()
    sipp.expect_ok(c2)
    # Inactive: the trunk is no longer identified.
    n = len(dbmode.loads(t))
    pg.sql("UPDATE carrier_trunks SET status = 'inactive' WHERE name = 'carrier1'")
    dbmode.wait_load(t, n, timeout=2)
    r = procs.wait_until(lambda: (lambda f: f if f and f.status == 403 else None)(
        invite(t, DID1[1:])), 2, 0.05)
    assert r is not None and r.status == 403, "inactive trunk's INVITE: %s" % r
    rc = long_call.wait()
    ctx.log("long call: %s", long_call.summary())
    sipp.expect_ok(long_call)
    u.stop()
    ends = t.wait_events("call.end", 2, 10)
    longs = [e for e in ends if e.get("did") == DID1 and e.get("result") == "answered"]
    assert longs and longs[0]["duration_ms"] >= 5500, "long call record: %s" % ends
    assert longs[0]["trunk_in"] == "carrier1" and longs[0]["trunk_out"] == "acme-pbx", longs[0]
    assert rc == 0


def case_configured_answers(ctx):
    """Never a silent 404: an unknown number, a DID of no tenant, a tenant without runtime
    configuration, an inactive tenant and an announcement DID each get their configured
    code with the reason in a Warning header and in the call record; changing a code in
    settings applies live."""
    pg, t = dbmode.start(ctx)
    dbmode.tenant(pg, "acme")
    dbmode.tenant(pg, "ghost", configured=False)
    dbmode.tenant(pg, "gone", status="inactive")
    dbmode.peer(pg, "acme", "acme-pbx", host="127.0.0.1", port=9)
    dbmode.carrier(pg, "carrier1", ips=["127.0.0.2/32"])
    dbmode.did(pg, "+15550000001", trunk="carrier1")                      # no tenant
    dbmode.did(pg, "+15550000002", trunk="carrier1", tenant="ghost", peer="acme-pbx")
    dbmode.did(pg, "+15550000003", trunk="carrier1", tenant="gone", peer="acme-pbx")
    dbmode.did(pg, "+15550000004", trunk="carrier1", tenant="acme", dest="announcement",
               announcement="closed")
    dbmode.wait_routing(t, lambda m: "4 DIDs" in m and "3 tenants" in m)
    want = [("15559999999", 404, "not assigned"), ("15550000001", 404, "not assigned"),
            ("15550000002", 480, "not configured"), ("15550000003", 480, "inactive"),
            ("15550000004", 480, "announcement closed")]
    for user, code, words in want:
        r = invite(t, user)
        ctx.log("%s -> %s %s", user, r and r.status, r and warning_of(r))
        assert r is not None and r.status == code, "%s: %s" % (user, r)
        assert words in warning_of(r), "%s: Warning %r lacks %r" % (user, warning_of(r), words)
    ends = t.wait_events("call.end", len(want), 10)
    causes = sorted(e["cause"] for e in ends)
    assert causes == sorted(["did_unassigned", "did_unassigned", "tenant_unconfigured",
                             "tenant_unconfigured", "announcement"]), causes
    assert all(e.get("reason") for e in ends), ends
    n = len(dbmode.loads(t))
    dbmode.setting(pg, "answer_unassigned", 410)
    dbmode.wait_load(t, n)
    r = invite(t, "15559999999")
    assert r is not None and r.status == 410, r


def case_maintenance_503(ctx):
    """A trunk in maintenance is still identified; its INVITEs get 503."""
    pg, t = dbmode.start(ctx)
    dbmode.carrier(pg, "carrier1", ips=["127.0.0.2/32"], status="maintenance")
    dbmode.wait_routing(t, lambda m: "1 carriers" in m)
    r = invite(t, "15557770001")
    assert r is not None and r.status == 503, r
    assert "maintenance" in warning_of(r), warning_of(r)


def case_bad_rows_skipped(ctx):
    """A row trunxd cannot use (a configuration with a non-numeric country code) is
    logged and skipped; the other rows route."""
    pg, t = dbmode.start(ctx)
    u = pbx_setup(ctx, pg)
    dbmode.carrier(pg, "good", ips=["127.0.0.2/32"])
    dbmode.carrier(pg, "bad", ips=["127.0.0.3/32"], configuration={"country_code": "x1"})
    dbmode.did(pg, DID1, trunk="good", tenant="acme", peer="acme-pbx")
    dbmode.wait_routing(t, lambda m: "1 carriers" in m and "1 DIDs" in m and "skipped" in m)
    rows = t.events("routing.row")
    assert any("bad" in r.get("msg", "") and "country_code" in r.get("msg", "") for r in rows), rows
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, duration_ms=300, service=DID1[1:],
                  local_ip="127.0.0.2")
    finish(c, u)
    sipp.expect_ok(c)
    assert options_status(t, "127.0.0.3") == 403


def case_trunk_family_skipped(ctx):
    """A carrier row whose endpoint is an IPv6 literal while [sip] listen is IPv4 could
    never be reached (the stack sends from one family): it is skipped with a
    routing.row record naming both addresses, as the file's [trunk] is refused at start
    and reload; the other rows route. Before, the row loaded and its calls failed."""
    pg, t = dbmode.start(ctx)
    u = pbx_setup(ctx, pg)
    dbmode.carrier(pg, "good", ips=["127.0.0.2/32"])
    dbmode.carrier(pg, "v6only", ips=["127.0.0.3/32"], host="2001:db8::5")
    dbmode.did(pg, DID1, trunk="good", tenant="acme", peer="acme-pbx")
    dbmode.wait_routing(t, lambda m: "DIDs" in m and "1 DIDs" in m)
    rows = t.events("routing.row")
    ctx.log("routing.row: %s", rows)
    assert any("v6only" in r.get("msg", "") and "2001:db8::5" in r.get("msg", "") and
               "IPv4" in r.get("msg", "") for r in rows), rows
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, duration_ms=300, service=DID1[1:],
                  local_ip="127.0.0.2")
    finish(c, u)
    sipp.expect_ok(c)


def case_many_dids_bulk(ctx):
    """5,000 DIDs inserted by one statement (more than a notification lists): trunxd reads
    them all again and routes the last one."""
    pg, t = dbmode.start(ctx)
    u = pbx_setup(ctx, pg)
    dbmode.carrier(pg, "carrier1", ips=["127.0.0.2/32"])
    pg.sql("INSERT INTO did_numbers (number, trunk_id, tenant_id, peer_id) "
           "SELECT '+1666' || lpad(g::text, 7, '0'), "
           "(SELECT id FROM carrier_trunks WHERE name = 'carrier1'), 'acme', "
           "(SELECT id FROM customer_peers WHERE name = 'acme-pbx') "
           "FROM generate_series(1, 5000) g")
    dbmode.wait_routing(t, lambda m: "5000 DIDs (5000 read)" in m)
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, duration_ms=300, service="16660005000",
                  local_ip="127.0.0.2")
    finish(c, u)
    sipp.expect_ok(c)
    # Deleting a few names them: only those are read again.
    n = len(dbmode.loads(t))
    pg.sql("DELETE FROM did_numbers WHERE number IN ('+16660005000', '+16660004999')")
    rec = dbmode.wait_load(t, n)
    assert "4998 DIDs (0 read)" in rec["msg"], rec
    r = invite(t, "16660005000")
    assert r is not None and r.status == 404, r


def case_reload_and_reconnect(ctx):
    """`trunxctl reload` in database mode re-reads the tables (and says so); Postgres
    restarted under trunxd: the connection comes back by itself and a change made while
    it was away applies."""
    pg, t = dbmode.start(ctx)
    u = pbx_setup(ctx, pg)
    dbmode.carrier(pg, "carrier1", ips=["127.0.0.2/32"])
    dbmode.wait_routing(t, lambda m: "1 carriers" in m)
    res = t.ctl("reload")
    assert res.get("mode") == "database", res
    n = len(dbmode.loads(t))
    pg.stop()
    t.wait_events("db.down", 1, 10)
    pg.start()
    # Changed right after the restart: whatever trunxd missed, it reads on reconnection.
    dbmode.did(pg, DID1, trunk="carrier1", tenant="acme", peer="acme-pbx")
    dbmode.wait_routing(t, lambda m: "1 DIDs" in m, timeout=15)
    assert len(dbmode.loads(t)) > n
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, duration_ms=300, service=DID1[1:],
                  local_ip="127.0.0.2")
    finish(c, u)
    sipp.expect_ok(c)


def case_guard_follows_snapshot(ctx):
    """The SIP front's guard (TCP accept, unknown-source timeout, stateless answers)
    knows the trunks of the database snapshot in use: a carrier INSERTed while trunxd
    runs is a known source over TCP at once (OPTIONS answered 200, its connection kept
    past tcp_unknown_timeout), while an address of no trunk is cut after it, and in
    drop mode refused at accept. Deleted again, the carrier's address is unknown."""
    unknown_s = 2

    def conf(cf):
        cf.sip["tcp_unknown_timeout"] = unknown_s
        cf.sip["tcp_idle_timeout"] = 60

    def drop(cf):
        conf(cf)
        cf.sip["unknown_source"] = "drop"
    pg, t = dbmode.start(ctx, configure=conf)
    # The harness knows trunxd is up when 127.0.0.1 gets an answer: in drop mode only a
    # trunk's source does.
    dbmode.carrier(pg, "local", ips=["127.0.0.1/32"])
    dbmode.wait_routing(t, lambda m: "1 carriers" in m)
    _, td = dbmode.start(ctx, pg=pg, configure=drop, name="trunxd-drop")
    # Before the INSERT 127.0.0.3 is nobody: 403 and closed; dropped at accept.
    s = tcp_from(t, "127.0.0.3")
    assert tcp_options(s, t, 1) == [403], "127.0.0.3 known before the INSERT"
    assert peer_closed(s, 2), "an unknown source's connection stayed after its 403"
    s.close()
    for ip in ("127.0.0.3", "127.0.0.5"):
        s = tcp_from(td, ip)
        assert peer_closed(s, 2), "drop mode: %s accepted before the INSERT" % ip
        s.close()
    refused0 = td.counter("tcp_refused_unknown")
    assert refused0 >= 2, refused0

    # A carrier identified by 127.0.0.3; a PBX peer we would call at 127.0.0.5 (not a
    # source of calls, but drop mode lets the hosts we call connect).
    dbmode.carrier(pg, "carrier3", ips=["127.0.0.3/32"])
    dbmode.tenant(pg, "acme")
    dbmode.peer(pg, "acme", "acme-pbx", host="127.0.0.5", port=5060)
    dbmode.wait_routing(t, lambda m: "2 carriers" in m and "1 peers" in m)
    dbmode.wait_routing(td, lambda m: "2 carriers" in m and "1 peers" in m)
    for x in (t, td):   # the snapshot reaches the signalling thread right after its log
        assert procs.wait_until(lambda: options_status(x, "127.0.0.3") == 200, 2, 0.05), \
            "%s: UDP OPTIONS from the new carrier not answered 200" % x.name
    for x in (t, td):
        k = tcp_from(x, "127.0.0.3")
        stranger = tcp_from(x, "127.0.0.4")   # silent, of no trunk
        t0 = time.monotonic()
        codes = tcp_options(k, x, 1)
        assert codes == [200], "%s: OPTIONS over TCP from the new carrier: %s" % (x.name, codes)
        assert not peer_closed(k, unknown_s + 1.5), \
            "%s: the new carrier's connection was cut as an unknown source's" % x.name
        assert peer_closed(stranger, 5), "%s: a stranger's connection was kept" % x.name
        codes = tcp_options(k, x, 2)
        assert codes == [200], "%s: second OPTIONS on the kept connection: %s" % (x.name, codes)
        ctx.log("%s: carrier3 over TCP kept %.1f s past tcp_unknown_timeout; the stranger cut",
                x.name, time.monotonic() - t0 - unknown_s)
        k.close()
        stranger.close()
    assert t.counter("tcp_closed_unknown") >= 2, t.counter("tcp_closed_unknown")
    assert td.counter("tcp_refused_unknown") >= refused0 + 1

    def peer_host_kept(why):
        """Drop mode: the peer's host is let in, then cut as a source of no trunk."""
        p = tcp_from(td, "127.0.0.5")
        assert not peer_closed(p, 1), "drop mode, %s: the peer's host refused at accept" % why
        assert peer_closed(p, unknown_s + 3), "drop mode, %s: the peer's host kept" % why
        p.close()
    peer_host_kept("after the INSERT")
    # A reload in database mode keeps the snapshot's networks (not the file's trunks).
    res = td.ctl("reload")
    assert res.get("mode") == "database", res
    time.sleep(0.3)
    assert options_status(td, "127.0.0.3") == 200, "drop mode: carrier3 lost at reload"
    k = tcp_from(td, "127.0.0.3")
    assert tcp_options(k, td, 3) == [200], "drop mode: carrier3 over TCP after reload"
    k.close()
    peer_host_kept("after a reload")

    # Deleted: the guard forgets it with the next snapshot.
    n, nd = len(dbmode.loads(t)), len(dbmode.loads(td))
    pg.sql("DELETE FROM carrier_trunks WHERE name = 'carrier3'")
    dbmode.wait_load(t, n)
    dbmode.wait_load(td, nd)
    assert procs.wait_until(lambda: options_status(t, "127.0.0.3") == 403, 2, 0.05)
    assert procs.wait_until(lambda: options_status(td, "127.0.0.3") is None, 4, 0.05)
    s = tcp_from(t, "127.0.0.3")
    assert peer_closed(s, unknown_s + 3), "127.0.0.3 still known after the DELETE"
    s.close()
    s = tcp_from(td, "127.0.0.3")
    assert peer_closed(s, 2), "drop mode: 127.0.0.3 still accepted after the DELETE"
    s.close()


if __name__ == "__main__":
    sys.exit(case.main(globals()))
