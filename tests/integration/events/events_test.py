#!/usr/bin/env python3
"""Events end to end: calls through trunxd (SIPp caller -> trunxd -> SIPp callee) become
rows of the events table, streamed over SSE in order, replayed exactly once after a
reconnect (also to a second node on the same Postgres and Redis), kept through a
Postgres outage; webhooks signed per Standard Webhooks, retried, dead-lettered,
re-driven, and delivered across a kill -9."""
import http.client
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import calls, case, datastore, dbmode, ports, procs, sipp, tlscerts  # noqa: E402
from harness import trunxd  # noqa: E402,F401
import sse  # noqa: E402

DID = "+15557770001"
CALL_TYPES = ["call.created", "call.ringing", "call.answered", "call.hungup"]


def events_conf(port, retry="0s,1m,5m,30m,2h", timeout_ms=10000, poll_ms=500,
                sse_buffer=1048576, allow_http=True, allow_private=True, ca_file=None,
                api_port=None):
    """[events] of a node; the receivers of these tests are plain http on loopback, which
    a production node refuses (webhook_allow_http and webhook_allow_private are off by
    default). api_port: an [api] listener too (/metrics)."""
    def hook(c):
        kv = {"http_listen": "127.0.0.1:%d" % port, "webhook_retry": retry,
              "webhook_timeout": timeout_ms, "poll_interval": poll_ms,
              "sse_keepalive": 1000, "sse_buffer": sse_buffer,
              "webhook_allow_http": "yes" if allow_http else "no",
              "webhook_allow_private": "yes" if allow_private else "no"}
        if ca_file:
            kv["webhook_ca_file"] = ca_file
        c.section("events", **kv)
        if api_port:
            c.section("api", listen="127.0.0.1:%d" % api_port)
    return hook


def node(ctx, pg, rd, name, **kw):
    """A trunxd in database mode with the events listener; returns (trunxd, http port)."""
    port = ports.free_port(udp=False)
    _, _, t = dbmode.start(ctx, pg=pg, redis=rd, name=name,
                           configure=events_conf(port, **kw))
    return t, port


def setup(ctx, names=("trunxd",), uas_calls=10, **kw):
    """Postgres, Redis, trunxd nodes, tenant acme with its PBX (a SIPp callee), tenant
    other, carrier1 on 127.0.0.2 and the DID; returns (pg, rd, [(trunxd, port)], uas)."""
    pg = datastore.Postgres(ctx).start()
    rd = datastore.Redis(ctx).start()
    u = calls.uas(ctx, "uas_cps.xml", calls=uas_calls, timeout=300)
    nodes = [node(ctx, pg, rd, n, **kw) for n in names]
    dbmode.tenant(pg, "acme")
    dbmode.tenant(pg, "other")
    dbmode.peer(pg, "acme", "acme-pbx", host="127.0.0.1", port=u.port)
    dbmode.carrier(pg, "carrier1", ips=["127.0.0.2/32"])
    dbmode.did(pg, DID, trunk="carrier1", tenant="acme", peer="acme-pbx")
    for t, _ in nodes:
        dbmode.wait_routing(t, lambda m: "1 DIDs" in m)
        procs.wait_until(lambda: t.status()["data"]["events"]["ready"], 10, 0.05)
    return pg, rd, nodes, u


def place_calls(ctx, t, n=1, duration_ms=300, name="uac", rate=10):
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, name=name, calls=n, rate=rate,
                  service=DID[1:], local_ip="127.0.0.2", duration_ms=duration_ms)
    return c


def table_events(pg, tenant=None):
    """(id, type, call_id) of the table, in id order."""
    where = "" if tenant is None else "WHERE tenant_id = '%s'" % tenant
    return [(int(r[0]), r[1], r[2]) for r in
            pg.sql("SELECT id, type, coalesce(call_id, '') FROM events %s ORDER BY id" % where)]


def per_call(evs):
    out = {}
    for e in evs:
        if e["type"].startswith("call."):
            out.setdefault(e["data"]["call_id"], []).append(e["type"])
    return out


def expect_exactly_table(got, pg, tenant):
    """The stream's events are the tenant's rows, each once, in id order."""
    ids = [e["id"] for e in got]
    want = [r[0] for r in table_events(pg, tenant)]
    assert ids == sorted(ids), "out of order: %s" % ids
    assert len(ids) == len(set(ids)), "duplicates: %s" % ids
    assert ids == want, "stream %s != table %s" % (ids, want)


# ---- cases ----------------------------------------------------------------------------

def case_sse_call_order(ctx):
    """A call's events reach the tenant's stream in order (created, ringing, answered,
    hungup), ids ascending, each once; the operator's stream has them too; another
    tenant's stream has none; a type filter keeps only its types; bad Last-Event-ID
    and filters get 400; a call refused by a full pool is a budget.exhausted event."""
    pg, rd, [(t, port)], u = setup(ctx)
    acme = sse.Stream(port, "acme")
    op = sse.Stream(port)
    other = sse.Stream(port, "other")
    answered = sse.Stream(port, "acme", types="call.answered")
    c = place_calls(ctx, t, 1, duration_ms=300)
    c.wait()
    sipp.expect_ok(c)
    assert acme.wait(lambda ev: len(ev) >= 4), acme.snapshot()
    got = acme.snapshot()
    assert [e["type"] for e in got] == CALL_TYPES, got
    assert len({e["data"]["call_id"] for e in got}) == 1, got
    assert all(e["data"]["tenant"] == "acme" for e in got), got
    assert got[-1]["data"]["data"]["cause"], got[-1]
    expect_exactly_table(got, pg, "acme")
    assert op.wait(lambda ev: len(ev) >= 4), op.snapshot()
    assert [e["id"] for e in op.snapshot()] == [e["id"] for e in got]
    assert answered.wait(lambda ev: len(ev) >= 1)
    time.sleep(1.5)   # nothing more may come; keep-alives do
    assert [e["type"] for e in answered.snapshot()] == ["call.answered"], answered.snapshot()
    assert other.snapshot() == [] and other.comments >= 1, (other.snapshot(), other.comments)
    for bad in ("abc", "-1", "99999999999999999999"):
        s = sse.Stream(port, "acme", last_id=bad)
        assert s.status == 400, (bad, s.status)
    s = sse.Stream(port, "acme", types="CALL")
    assert s.status == 400, s.status
    st = t.status()["data"]["events"]
    assert st["published"] >= 1 and st["redis_subscribed"], st
    # A full channel pool refuses the next call: budget.exhausted on the tenant's stream.
    n = len(dbmode.loads(t))
    pg.sql("UPDATE channel_pools SET channels = 0 WHERE pool = 'ivr'")
    dbmode.wait_load(t, n)
    c = calls.uac(ctx, "uac_503.xml", t.sip_addr, name="uac_503", service=DID[1:],
                  local_ip="127.0.0.2")
    c.wait()
    sipp.expect_ok(c)
    assert acme.wait(lambda ev: ev[-1]["type"] == "budget.exhausted"), acme.snapshot()[-2:]
    assert acme.snapshot()[-1]["data"]["data"]["budget"] == "pool", acme.snapshot()[-1]
    for s in (acme, op, other, answered):
        s.close()
    u.stop()


def case_clean_stop(ctx):
    """An orderly stop (SIGTERM) with Postgres and Redis still up says nothing is wrong:
    trunxd closing its own Redis connections and its subscription is not "connection
    lost" (kv.down, events.unsubscribed), and no warning or error follows trunxd.stop."""
    pg, rd, [(t, port)], u = setup(ctx)
    t.wait_events("events.subscribed")
    c = place_calls(ctx, t, 1, duration_ms=300)
    c.wait()
    sipp.expect_ok(c)
    assert t.stop() == 0
    recs = t.log_records()
    names = [r.get("event") for r in recs]
    assert "trunxd.stop" in names, names[-10:]
    after = recs[names.index("trunxd.stop"):]
    loud = [r for r in after if r.get("level") in ("warn", "error")]
    assert not loud, loud
    assert not [r for r in recs if r.get("event") in ("kv.down", "events.unsubscribed")], \
        [r for r in recs if r.get("event") in ("kv.down", "events.unsubscribed")]
    u.stop()


def case_reconnect_replay(ctx):
    """A client reads the first events of a call and disconnects; more calls happen;
    it reconnects with Last-Event-ID — to the same node, then to a second node on the
    same Postgres and Redis — and gets every missed event exactly once, in order, then
    live ones with no gap."""
    pg, rd, nodes, u = setup(ctx, names=("node_a", "node_b"), uas_calls=20)
    (ta, pa), (tb, pb) = nodes
    s = sse.Stream(pa, "acme")
    c = place_calls(ctx, ta, 1, duration_ms=3000, name="uac1")
    assert s.wait(lambda ev: any(e["type"] == "call.answered" for e in ev)), s.snapshot()
    seen = s.snapshot()
    s.close()
    last = seen[-1]["id"]
    ctx.log("disconnected after id %d (%d events)", last, len(seen))
    c2 = place_calls(ctx, tb, 3, duration_ms=200, name="uac2")
    c2.wait()
    c.wait()
    sipp.expect_ok(c)
    sipp.expect_ok(c2)
    procs.wait_until(lambda: len(table_events(pg, "acme")) >= 16, 20, 0.1)
    # Reconnect to the same node.
    s2 = sse.Stream(pa, "acme", last_id=last)
    assert s2.wait(lambda ev: len(seen) + len(ev) >= 16), s2.snapshot()
    expect_exactly_table(seen + s2.snapshot(), pg, "acme")
    s2.close()
    # Reconnect to the other node from the same point; then live events from calls
    # made on the first node come through the second one's reader.
    s3 = sse.Stream(pb, "acme", last_id=last)
    assert s3.wait(lambda ev: len(seen) + len(ev) >= 16), s3.snapshot()
    c3 = place_calls(ctx, ta, 2, duration_ms=200, name="uac3")
    c3.wait()
    sipp.expect_ok(c3)
    assert s3.wait(lambda ev: len(seen) + len(ev) >= 24), s3.snapshot()
    time.sleep(1)
    expect_exactly_table(seen + s3.snapshot(), pg, "acme")
    for calls_ in per_call(seen + s3.snapshot()).values():
        assert calls_ == CALL_TYPES, calls_
    s3.close()
    u.stop()


def case_postgres_outage(ctx):
    """Postgres stopped while calls run: their events wait in the journal; when it is
    back every event is in the table once and reaches the open stream in order."""
    pg, rd, [(t, port)], u = setup(ctx, uas_calls=10)
    s = sse.Stream(port, "acme")
    c = place_calls(ctx, t, 2, duration_ms=200, name="uac1")
    c.wait()
    assert s.wait(lambda ev: len(ev) >= 8), s.snapshot()
    pg.stop()
    c2 = place_calls(ctx, t, 3, duration_ms=200, name="uac2")
    c2.wait()
    sipp.expect_ok(c2)
    ends = t.wait_events("call.end", 5, 10)
    assert len(ends) == 5
    time.sleep(1)
    assert len(s.snapshot()) == 8, s.snapshot()   # nothing committed meanwhile
    pg.start()
    assert s.wait(lambda ev: len(ev) >= 20, 30), len(s.snapshot())
    time.sleep(1)
    expect_exactly_table(s.snapshot(), pg, "acme")
    dup = pg.value("SELECT count(*) - count(DISTINCT event_id) FROM events")
    assert dup == "0", dup
    # Every call that ended, also those of the outage, has its four events, in order.
    by_call = per_call(s.snapshot())
    for e in ends:
        assert by_call.get(e["call_id"]) == CALL_TYPES, (e["call_id"], by_call)
    s.close()
    u.stop()


def case_slow_client_cut(ctx):
    """A client that stops reading is cut once its unsent output passes sse_buffer; a
    client that reads gets every event; a call placed meanwhile completes; the cut
    client's reconnect with Last-Event-ID gets the rest exactly once."""
    pg, rd, [(t, port)], u = setup(ctx, sse_buffer=65536)
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    slow.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\nX-Trunx-Tenant: acme\r\n\r\n")
    fast = sse.Stream(port, "acme")
    time.sleep(0.5)
    # 40 events of 64 KB each: far more than the slow client's socket and buffer hold.
    pg.sql("INSERT INTO events (event_id, type, at, node_id, tenant_id, data) "
           "SELECT gen_random_uuid(), 'test.big', now(), 'test', 'acme', "
           "jsonb_build_object('n', n, 'pad', repeat('x', 65536)) "
           "FROM generate_series(1, 40) AS n")
    c = place_calls(ctx, t, 1, duration_ms=200)
    assert procs.wait_until(lambda: t.status()["data"]["events"]["sse_cut"] >= 1, 25, 0.1), \
        t.status()["data"]["events"]
    c.wait()
    sipp.expect_ok(c)
    assert fast.wait(lambda ev: len(ev) >= 44, 20), len(fast.snapshot())
    expect_exactly_table(fast.snapshot(), pg, "acme")
    # The cut connection ends (EOF after what was sent).
    slow.settimeout(10)
    got = b""
    while True:
        b = slow.recv(65536)
        if not b:
            break
        got += b
    slow.close()
    ids = [int(x) for x in re.findall(rb"\nid: (\d+)\n", b"\n" + got)]
    last = ids[-1] if ids else 0
    ctx.log("slow client got %d events before the cut", len(ids))
    again = sse.Stream(port, "acme", last_id=last)
    assert again.wait(lambda ev: len(ids) + len(ev) >= 44, 20), len(again.snapshot())
    got_ids = ids + [e["id"] for e in again.snapshot()]
    assert got_ids == [e["id"] for e in fast.snapshot()], (got_ids, fast.snapshot())
    fast.close()
    again.close()
    u.stop()


def make_hook(port, rcv, tenant="acme", types=None):
    body = {"url": rcv.url}
    if types:
        body["types"] = types
    st, w = sse.call(port, "POST", "/v1/webhooks", body, tenant=tenant)
    assert st == 201, (st, w)
    rcv.secrets = [w["secret"]]
    return w


def deliveries(port, hook_id, tenant="acme", state=None):
    q = "?state=" + state if state else ""
    st, b = sse.call(port, "GET", "/v1/webhooks/%s/deliveries%s" % (hook_id, q),
                     tenant=tenant)
    assert st == 200, (st, b)
    return b["data"]


def case_webhook_retries(ctx):
    """A receiver that fails twice (500, 503) gets the third attempt (short schedule):
    every attempt carries the same webhook-id and a valid signature; the delivery is
    recorded as delivered after 3 attempts; a second, rotated secret adds a second
    signature that verifies with either secret. A "call.*" webhook gets every event
    of the call."""
    pg, rd, [(t, port)], u = setup(ctx, retry="0s,1s,1s,1s")
    rcv = sse.Receiver(plan=[500, 503])
    w = make_hook(port, rcv, types=["call.answered"])
    every = sse.Receiver()   # "call.*": each of the call's events, nothing else
    make_hook(port, every, types=["call.*"])
    c = place_calls(ctx, t, 1, duration_ms=200)
    c.wait()
    sipp.expect_ok(c)
    assert procs.wait_until(lambda: len(rcv.got) >= 3, 20, 0.1), rcv.got
    want = ["call.created", "call.ringing", "call.answered", "call.hungup"]
    assert procs.wait_until(lambda: len(every.got) >= len(want), 10, 0.1), every.got
    assert sorted(g[2]["type"] for g in every.got) == sorted(want), every.got
    assert not every.bad, every.bad
    every.stop()
    time.sleep(1.5)
    assert len(rcv.got) == 3, rcv.got
    assert not rcv.bad and all(g[4] for g in rcv.got), rcv.bad
    assert len({g[1] for g in rcv.got}) == 1, rcv.got
    assert [g[3] for g in rcv.got] == [500, 503, 200]
    assert rcv.got[2][0] - rcv.got[1][0] >= 0.9, "retry too early"
    body = rcv.got[0][2]
    assert body["type"] == "call.answered" and str(body["id"]) == rcv.got[0][1], body
    assert procs.wait_until(lambda: deliveries(port, w["id"])[0]["state"] == "delivered",
                            5, 0.1)
    d = deliveries(port, w["id"])[0]
    assert d["attempts"] == 3 and d["last_status"] == 200, d
    # Another tenant sees neither the webhook nor its deliveries.
    st, _ = sse.call(port, "GET", "/v1/webhooks/%s/deliveries" % w["id"], tenant="other")
    assert st == 404, st
    st, lst = sse.call(port, "GET", "/v1/webhooks", tenant="other")
    assert st == 200 and lst["data"] == [], lst
    # Rotation: both secrets sign while the old one lasts.
    old = rcv.secrets[0]
    st, r = sse.call(port, "POST", "/v1/webhooks/%s/rotate-secret" % w["id"], tenant="acme")
    assert st == 200, (st, r)
    rcv.secrets = [r["secret"]]
    c = place_calls(ctx, t, 1, duration_ms=200, name="uac2")
    c.wait()
    assert procs.wait_until(lambda: len(rcv.got) >= 4, 20, 0.1), rcv.got
    hdrs, body = rcv.raw[3]
    assert len(hdrs["webhook-signature"].split(" ")) == 2, hdrs
    for secret in (old, r["secret"]):   # either secret verifies alone
        assert sse.verify([secret], hdrs, body) == hdrs["webhook-id"]
    try:
        sse.verify(["whsec_" + "A" * 44], hdrs, body)
        raise AssertionError("a wrong secret verified")
    except ValueError:
        pass
    assert not rcv.bad, rcv.bad
    u.stop()
    rcv.stop()


def case_webhook_dead_and_redrive(ctx):
    """A receiver that never answers: each attempt times out, and after the schedule's
    last one the delivery is dead, listed among dead letters; re-driven once the
    receiver answers, it is delivered. Bad input gets its status and code."""
    pg, rd, [(t, port)], u = setup(ctx, retry="0s,300ms,300ms", timeout_ms=500)
    rcv = sse.Receiver(plan=[None, None, None], hold_s=3)
    w = make_hook(port, rcv, types=["call.hungup"])
    c = place_calls(ctx, t, 1, duration_ms=100)
    c.wait()
    sipp.expect_ok(c)
    assert procs.wait_until(lambda: deliveries(port, w["id"], state="dead"), 20, 0.2)
    d = deliveries(port, w["id"], state="dead")[0]
    assert d["attempts"] == 3 and d["last_error"] == "timeout", d
    assert len(rcv.got) == 3, rcv.got
    st, b = sse.call(port, "POST", "/v1/webhook-deliveries/%d/redrive" % d["id"],
                     tenant="other")
    assert st == 404 and b["error"] == "not_found", (st, b)
    st, b = sse.call(port, "POST", "/v1/webhook-deliveries/%d/redrive" % d["id"],
                     tenant="acme")
    assert st == 202, (st, b)
    assert procs.wait_until(lambda: deliveries(port, w["id"])[0]["state"] == "delivered",
                            10, 0.1), deliveries(port, w["id"])
    st, b = sse.call(port, "POST", "/v1/webhook-deliveries/%d/redrive" % d["id"],
                     tenant="acme")
    assert st == 409 and b["error"] == "not_dead", (st, b)
    assert not rcv.bad, rcv.bad
    # Bad input.
    for body, code, err in (("{", 400, "invalid_json"),
                            ({"url": "ftp://x"}, 422, "invalid_field"),
                            ({"url": rcv.url, "colour": 1}, 422, "unknown_field"),
                            ({"url": rcv.url, "types": ["Call"]}, 422, "invalid_field"),
                            ({"url": rcv.url, "tenant": "other"}, 422, "invalid_field"),
                            ("x" * 20000, 413, "payload_too_large")):
        st, b = sse.call(port, "POST", "/v1/webhooks", body, tenant="acme")
        assert st == code and b["error"] == err, (body, st, b)
        if code == 422:   # the field at fault is named
            want = [k for k in body if k != "url"] or ["url"]
            assert b["field"].split("[")[0] == want[0], (body, b)
    st, b = sse.call(port, "DELETE", "/v1/webhooks/%s" % w["id"], tenant="other")
    assert st == 404, (st, b)
    st, b = sse.call(port, "DELETE", "/v1/webhooks/%s" % w["id"], tenant="acme")
    assert st == 204, (st, b)
    u.stop()
    rcv.stop()


def case_webhook_kill_restart(ctx):
    """The first attempt fails; trunxd is killed (-9) before the next one is due and
    started again: the delivery state in Postgres brings the attempt back and the
    receiver gets it, signed, with the same webhook-id."""
    pg, rd, [(t, port)], u = setup(ctx, retry="0s,3s,1s")
    rcv = sse.Receiver(plan=[500])
    w = make_hook(port, rcv, types=["call.answered"])
    c = place_calls(ctx, t, 1, duration_ms=100)
    c.wait()
    sipp.expect_ok(c)
    assert procs.wait_until(lambda: len(rcv.got) >= 1, 20, 0.1)
    # The failure is recorded (the next attempt is due in 3 s) before the kill.
    assert procs.wait_until(lambda: deliveries(port, w["id"])[0]["last_status"] == 500,
                            10, 0.05), deliveries(port, w["id"])
    t._expect_exit = True   # killed on purpose
    t.proc.send_signal(signal.SIGKILL)
    t.proc.wait(10)
    assert len(rcv.got) == 1
    t2, port2 = node(ctx, pg, rd, "trunxd2", retry="0s,3s,1s")
    assert procs.wait_until(lambda: len(rcv.got) >= 2, 20, 0.1), rcv.got
    assert rcv.got[1][3] == 200 and rcv.got[1][1] == rcv.got[0][1] and rcv.got[1][4]
    assert procs.wait_until(
        lambda: deliveries(port2, w["id"])[0]["state"] == "delivered", 5, 0.1)
    u.stop()
    rcv.stop()


def metrics(port, key):
    """GET /metrics: ({name{labels}: value}, text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics", headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    assert r.status == 200, (r.status, text)
    vals = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            vals[k] = float(v)
    return vals, text


def case_metrics_counters(ctx):
    """/metrics after real deliveries: one receiver fails once then takes it, another
    always fails (dead after the schedule's 2 attempts): 4 attempts, 1 delivered, 3
    failed, 1 dead, 4 latencies observed, no retry left pending; two SSE clients open,
    one of which replayed the call's events; a failed authentication is counted. Every
    series has its HELP and TYPE lines. Trunk states: a carrier that answers OPTIONS is
    up, then down once it goes silent; one in maintenance says so. While the call is up
    its channels show in use (inbound pool, tenant, global) and are back after it; the
    call (RTP from the caller) moves the started/answered counters, the setup rate and
    the per-leg RTP received/lost counters by what its call.end record says; the API's
    copy of the calls' view holds the call while it is up and lets it go after."""
    api_port = ports.free_port("127.0.0.1")
    pg, rd, [(t, port)], u = setup(ctx, retry="0s,1s", api_port=api_port)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
    import apimode
    from trunks_test import Responder
    key = apimode.create_key(ctx, t, "ops")
    resp = Responder(ctx)
    dbmode.carrier(pg, "probed", host="127.0.0.1", port=resp.port, qualify_frequency=1)
    dbmode.carrier(pg, "resting", host="127.0.0.1", port=resp.port, status="maintenance")
    dbmode.wait_routing(t, lambda m: "3 carriers" in m)

    def state(trunk):
        m = metrics(api_port, key)[0]
        on = [k for k, v in m.items() if k.startswith('trunx_trunk_state{trunk="%s",' % trunk)
              and v == 1]
        assert len(on) == 1, (trunk, on)
        return on[0].split('state="')[1].split('"')[0]
    assert procs.wait_until(lambda: state("probed") == "up", 10, 0.1), state("probed")
    assert state("resting") == "maintenance" and state("carrier1") == "up"
    assert state("acme-pbx") == "up"
    ok_rcv = sse.Receiver(plan=[500])
    bad_rcv = sse.Receiver(plan=[500, 503])
    make_hook(port, ok_rcv, types=["call.answered"])
    make_hook(port, bad_rcv, types=["call.answered"])
    live = sse.Stream(port, "acme")
    m0 = metrics(api_port, key)[0]
    assert m0["trunx_calls_active"] == 0, m0
    # RTP from the caller (SIPp plays G.711) for about 1.5 s.
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, calls=1, service=DID[1:],
                  local_ip="127.0.0.2", duration_ms=1500)
    assert procs.wait_until(lambda: metrics(api_port, key)[0]["trunx_calls_active"] == 1,
                            10, 0.05)
    mc = metrics(api_port, key)[0]
    ctx.log("in use: %s", {k: v for k, v in mc.items() if k.startswith("trunx_channels")})
    assert mc['trunx_channels_in_use{scope="pool",group="default",pool="ivr"}'] == 1, mc
    assert mc['trunx_channels_limit{scope="pool",group="default",pool="ivr"}'] == 15, mc
    assert mc['trunx_channels_in_use{scope="pool",group="default",pool="api"}'] == 0, mc
    assert mc['trunx_channels_in_use{scope="tenant",tenant="acme"}'] == 1, mc
    assert mc['trunx_channels_in_use{scope="global"}'] == 1, mc
    assert 'trunx_channels_limit{scope="global"}' not in mc, mc   # no global cap here
    # The control thread's copy of the calls' view (what GET /v1/calls reads) holds it.
    assert procs.wait_until(
        lambda: metrics(api_port, key)[0]["trunx_api_calls_view_calls"] == 1, 5, 0.05)
    # One call started in the last 10 s (sampled once a second): read while it is
    # recent, not after the waits below, which may take longer than the window.
    assert procs.wait_until(
        lambda: metrics(api_port, key)[0]["trunx_calls_setup_rate"] > 0, 3, 0.05), \
        metrics(api_port, key)[0]["trunx_calls_setup_rate"]
    c.wait()
    sipp.expect_ok(c)
    # The qualified carrier goes silent: down (the signalling thread's change reaches
    # the control thread's view without a scrape asking it).
    resp.stop()
    assert procs.wait_until(lambda: state("probed") == "down", 10, 0.1), state("probed")
    assert procs.wait_until(lambda: metrics(api_port, key)[0]["trunx_calls_active"] == 0,
                            10, 0.05)
    ends = t.wait_events("call.end", 1, 10)
    # ...and lets it go once freed, in step all along (no message lost, none stale),
    # resent whole every second.
    assert procs.wait_until(
        lambda: metrics(api_port, key)[0]["trunx_api_calls_view_calls"] == 0, 10, 0.05)
    m1 = metrics(api_port, key)[0]
    assert m1["trunx_api_calls_view_stale"] == 0, m1
    assert m1["trunx_api_calls_view_gaps_total"] == 0, m1
    assert m1["trunx_api_calls_view_overflows_total"] == 0, m1
    assert m1["trunx_api_calls_view_resyncs_total"] >= 1, m1
    assert m1['trunx_channels_in_use{scope="pool",group="default",pool="ivr"}'] == 0, m1
    assert m1['trunx_channels_in_use{scope="global"}'] == 0, m1
    assert m1["trunx_calls_started_total"] - m0["trunx_calls_started_total"] == 1, m1
    assert (m1['trunx_calls_total{result="answered"}'] -
            m0['trunx_calls_total{result="answered"}']) == 1, m1
    for leg in ("a", "b"):
        got = m1['trunx_rtp_received_total{leg="%s"}' % leg]
        lost = m1['trunx_rtp_lost_total{leg="%s"}' % leg]
        assert got == sum(e["rtp_%s_in" % leg] for e in ends), (leg, got, ends)
        assert lost == sum(e["rtp_%s_lost" % leg] for e in ends), (leg, lost, ends)
    assert m1['trunx_rtp_received_total{leg="a"}'] >= 20, m1   # 1.5 s of 30 ms packets
    legs = sum(1 for e in ends for leg in "ab" if e["rtp_%s_in" % leg] + e["rtp_%s_lost" % leg])
    assert m1["trunx_rtp_leg_loss_ratio_count"] == legs >= 1, (m1, legs)
    assert m1['trunx_rtp_leg_loss_ratio_bucket{le="+Inf"}'] == legs, m1
    assert live.wait(lambda ev: len(ev) >= 4), live.snapshot()
    replay = sse.Stream(port, "acme", last_id=0)
    assert replay.wait(lambda ev: len(ev) >= 4), replay.snapshot()
    assert procs.wait_until(lambda: len(ok_rcv.got) >= 2 and len(bad_rcv.got) >= 2, 20, 0.1)
    assert procs.wait_until(
        lambda: metrics(api_port, key)[0].get("trunx_webhook_dead_total") == 1, 10, 0.1)
    # The pending count is read every 5 s: 0 once both deliveries are settled.
    assert procs.wait_until(
        lambda: metrics(api_port, key)[0].get("trunx_webhook_retries_pending") == 0, 15, 0.2),\
        metrics(api_port, key)[1]
    conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=10)
    conn.request("GET", "/metrics", headers={"Authorization": "Bearer tk_live_" + "C" * 40})
    st = conn.getresponse().status
    conn.close()
    assert st == 401, st
    m, text = metrics(api_port, key)
    ctx.log("metrics: %s", {k: v for k, v in m.items() if "webhook" in k or "sse" in k})
    assert m["trunx_webhook_attempts_total"] == 4, m
    assert m["trunx_webhook_delivered_total"] == 1, m
    assert m["trunx_webhook_failed_total"] == 3, m
    assert m["trunx_webhook_dead_total"] == 1, m
    assert m["trunx_webhook_in_flight"] == 0, m
    assert m["trunx_webhook_attempt_seconds_count"] == 4, m
    assert m['trunx_webhook_attempt_seconds_bucket{le="+Inf"}'] == 4, m
    assert 0 < m["trunx_webhook_attempt_seconds_sum"] < 4 * 10, m
    assert m["trunx_sse_clients"] == 2, m
    assert m["trunx_sse_events_replayed_total"] == 4, m
    assert m["trunx_sse_events_sent_total"] == 8, m
    assert m["trunx_sse_clients_cut_total"] == 0, m
    assert m["trunx_api_auth_failures_total"] >= 1, m
    names = {k.split("{")[0].replace("_bucket", "").replace("_sum", "").replace("_count", "")
             for k in m}
    for n in names:
        assert "# HELP %s " % n in text and "# TYPE %s " % n in text, n
    live.close()
    replay.close()
    assert procs.wait_until(lambda: metrics(api_port, key)[0]["trunx_sse_clients"] == 0,
                            10, 0.1), metrics(api_port, key)[0]["trunx_sse_clients"]
    u.stop()
    ok_rcv.stop()
    bad_rcv.stop()


def case_webhook_https(ctx):
    """https webhooks: a receiver with a certificate of the configured CA for
    127.0.0.1 gets a signed delivery; one with a self-signed certificate, and the good
    one reached by a name its certificate does not carry (localhost), never get a
    request: each attempt fails on the certificate, is retried, and ends dead. On this
    node plain http:// URLs are refused (422)."""
    pki = tlscerts.Pki(ctx.path("pki"))
    good_cert, good_key, _ = pki.issue("hook", ips=("127.0.0.1",))
    bad_cert, bad_key, _ = pki.issue("rogue", ips=("127.0.0.1",), self_signed=True)
    pg, rd, [(t, port)], u = setup(ctx, retry="0s,500ms,500ms", allow_http=False,
                                   ca_file=pki.ca)
    good = sse.Receiver(tls=(good_cert, good_key))
    rogue = sse.Receiver(tls=(bad_cert, bad_key))
    plain = sse.Receiver()
    st, b = sse.call(port, "POST", "/v1/webhooks", {"url": plain.url}, tenant="acme")
    assert st == 422 and b["error"] == "invalid_field" and "http" in b["message"], (st, b)
    wg = make_hook(port, good, types=["call.answered"])
    wr = make_hook(port, rogue, types=["call.answered"])
    # The same receiver reached by a name its certificate does not carry.
    st, wn = sse.call(port, "POST", "/v1/webhooks", {
        "url": "https://localhost:%d/hook" % good.port, "types": ["call.answered"]},
        tenant="acme")
    assert st == 201, (st, wn)
    c = place_calls(ctx, t, 1, duration_ms=200)
    c.wait()
    sipp.expect_ok(c)
    assert procs.wait_until(lambda: len(good.got) >= 1, 20, 0.1), good.got
    assert good.got[0][4] and good.got[0][2]["type"] == "call.answered", good.got
    assert procs.wait_until(lambda: deliveries(port, wg["id"])[0]["state"] == "delivered",
                            10, 0.1)
    for w in (wr, wn):
        assert procs.wait_until(lambda: deliveries(port, w["id"], state="dead"), 20, 0.2), \
            deliveries(port, w["id"])
        d = deliveries(port, w["id"], state="dead")[0]
        ctx.log("webhook %s: %s", w["url"], d)
        assert d["attempts"] == 3 and "certificate" in (d["last_error"] or ""), d
    assert "hostname mismatch" in deliveries(port, wn["id"])[0]["last_error"], \
        deliveries(port, wn["id"])
    assert rogue.got == [] and rogue.handshakes_failed >= 3, (rogue.got,
                                                              rogue.handshakes_failed)
    time.sleep(0.5)
    assert len(good.got) == 1, good.got   # the name-reached attempts never got through
    assert not good.bad, good.bad
    u.stop()
    for r in (good, rogue, plain):
        r.stop()


def case_webhook_ssrf(ctx):
    """Without webhook_allow_private, a webhook may not aim at the inside: URLs naming
    loopback, private, link-local (metadata) or unique-local addresses are refused at
    creation (422); a name resolving to loopback (localhost, through evdns) is accepted
    but each attempt fails without connecting, and the delivery ends dead."""
    pg, rd, [(t, port)], u = setup(ctx, retry="0s,300ms", allow_private=False)
    rcv = sse.Receiver()
    for url in ("http://127.0.0.1:%d/hook" % rcv.port, "http://10.0.0.1/",
                "http://169.254.169.254/latest/meta-data", "http://[::1]/x",
                "http://[fd00::1]:8080/", "https://192.168.1.10/", "http://0.0.0.0/",
                "http://[::ffff:127.0.0.1]/"):
        st, b = sse.call(port, "POST", "/v1/webhooks", {"url": url}, tenant="acme")
        assert st == 422 and b["error"] == "invalid_field" and "public" in b["message"], \
            (url, st, b)
    st, w = sse.call(port, "POST", "/v1/webhooks", {
        "url": "http://localhost:%d/hook" % rcv.port, "types": ["call.answered"]},
        tenant="acme")
    assert st == 201, (st, w)
    c = place_calls(ctx, t, 1, duration_ms=200)
    c.wait()
    sipp.expect_ok(c)
    assert procs.wait_until(lambda: deliveries(port, w["id"], state="dead"), 20, 0.2), \
        deliveries(port, w["id"])
    d = deliveries(port, w["id"], state="dead")[0]
    ctx.log("localhost webhook: %s", d)
    assert d["attempts"] == 2 and "public address" in d["last_error"], d
    assert rcv.got == [], rcv.got
    u.stop()
    rcv.stop()


if __name__ == "__main__":
    sys.exit(case.main(globals()))
