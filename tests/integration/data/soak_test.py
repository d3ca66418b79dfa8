#!/usr/bin/env python3
"""Chaos soak: the whole platform at once while its parts fail, then every invariant
checked. The other cases take one fault at a time; here they overlap with everything
trunxd does in database mode.

Load, from the carrier's address (127.0.0.2) to three DIDs of one tenant, each DID on
its own SIPp callee: short calls at a steady rate over UDP and over a TCP connection,
calls with G.711 audio from the caller transcoded to an Opus-only callee, recorded and
analysed by AMD, calls put on hold and back by re-INVITE; calls to a number no DID
has. Alongside, the HTTP API lists and reads the calls in progress and places a call a
second through a second carrier (each with its own Idempotency-Key, sent again on 503,
409 or no answer, every other one sent twice), trunxctl reads status, calls and
budgets, and an SSE client follows the event stream, reconnecting with Last-Event-ID
whenever it is cut.

Faults, one every few seconds in an order drawn from the seed (each kind at least
once): Postgres stopped and started again, Postgres frozen (SIGSTOP), Redis frozen,
Redis stopped and started empty, trunxd stopped for a second, the caller stopped for a
second (its BYEs then come in a burst). Not the callees: a SIPp callee stopped while
trunxd retransmits an INVITE to it reads the queued copy after its own 200 and aborts
the call as an unexpected message (seen in its trace: same branch, a correct timer A
retransmission), so the fault would test SIPp.

Afterwards: trunxd runs and answers OPTIONS; no call is left, no callee holds a call
(every B leg got its BYE); every call record logged is in Postgres exactly once and
none is pending; each callee answered exactly as many calls as there are answered
records; each Idempotency-Key placed one call and the carrier got one INVITE per call;
each media call was transcoded, recorded and decided by AMD once; the event stream,
read across its reconnects, is the events table in id order with nothing missed or
repeated, and every B leg called has its hangup event; no channel lease is left in this
node or in Redis; after a long run the heap objects alive are back near the count
before the load; and a plain call still completes.

TRUNX_SOAK_SECONDS (default 40) sets how long the load runs; TRUNX_SOAK_SEED the fault
order. Everything on loopback, ports picked at run time, processes ended by PID."""
import os
import random
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "events"))

from harness import calls, case, dbmode, ports, procs, trunxd  # noqa: E402
from harness.calls import finish  # noqa: E402

import apimode  # noqa: E402
import cdr_test  # noqa: E402
import sse  # noqa: E402

DIDS = {"short": "+15557770001", "media": "+15557770002", "hold": "+15557770003"}
UNKNOWN = "15559990000"
LEASE_TTL = 6   # s: a lease left behind by a call shows within this
KEPT_S = 36     # s after the last call: the SIP stack's kept transactions (32 s) are gone
HEAP_SLACK_KB = 4096   # heap objects alive after a long soak against before it


def seconds():
    return max(10, int(os.environ.get("TRUNX_SOAK_SECONDS", "40")))


def configure(events_port):
    def hook(c):
        cdr_test.no_shedding(c)
        c.section("events", http_listen="127.0.0.1:%d" % events_port, poll_interval=500,
                  sse_keepalive=1000)
        dict(c.sections)["data"]["lease_ttl"] = LEASE_TTL
    return hook


class Follower:
    """The operator's event stream, read for the whole soak: when trunxd cuts it (or
    it cannot connect), it reconnects with the last id seen."""

    def __init__(self, ctx, port):
        self.ctx, self.port = ctx, port
        self.ids, self.types, self.reconnects, self.refused = [], [], 0, 0
        self.stop = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        seen = 0
        while not self.stop.is_set():
            try:
                s = sse.Stream(self.port, last_id=self.ids[-1] if self.ids else None)
            except OSError:
                self.refused += 1
                time.sleep(0.3)
                continue
            if s.status != 200:
                self.refused += 1
                time.sleep(0.3)
                continue
            while not self.stop.is_set() and not s.closed:
                evs = s.snapshot()
                for e in evs[seen:]:
                    self.ids.append(e["id"])
                    self.types.append(e["type"])
                seen = len(evs)
                time.sleep(0.05)
            for e in s.snapshot()[seen:]:
                self.ids.append(e["id"])
                self.types.append(e["type"])
            s.close()
            seen = 0
            if not self.stop.is_set():
                self.reconnects += 1
                time.sleep(0.2)

    def finish(self):
        self.stop.set()
        self.th.join(10)


class Pollers:
    """The API and trunxctl read trunxd while it works: errors are counted (Postgres
    may be away: the API answers 503 then), a hang or a crash is not tolerated."""

    def __init__(self, ctx, a):
        self.ctx, self.a = ctx, a
        self.n = {"api": 0, "api_err": 0, "ctl": 0, "ctl_err": 0}
        self.statuses = {}
        self.stop = threading.Event()
        self.ths = [threading.Thread(target=f, daemon=True) for f in (self._api, self._ctl)]
        for th in self.ths:
            th.start()

    def _api(self):
        while not self.stop.is_set():
            try:
                r = self.a.op.get("/v1/calls")
                self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                if r.status == 200:
                    for c in (r.json.get("data") or [])[:3]:
                        self.a.op.get("/v1/calls/%s" % c["id"])
                self.a.op.get("/metrics")
                self.n["api"] += 1
            except (OSError, AssertionError) as e:
                self.n["api_err"] += 1
                self.last_api_err = repr(e)[:300]
            time.sleep(0.1)

    def _ctl(self):
        while not self.stop.is_set():
            for what in ("status", "calls", "budgets"):
                try:
                    self.a.t.ctl(what, timeout=10)
                    self.n["ctl"] += 1
                except Exception as e:   # noqa: BLE001  (counted, judged at the end)
                    self.n["ctl_err"] += 1
                    self.last_ctl_err = repr(e)[:300]
            time.sleep(0.3)

    def finish(self):
        self.stop.set()
        for th in self.ths:
            th.join(20)


class Placer:
    """Calls placed by the API, one a second, each with its own Idempotency-Key, sent
    again until it gets a final answer (202 or a refusal) when trunxd answers 503 or
    409 or does not answer in time, as a client whose retries must never place a call
    twice; every other 202 is sent once more at once, to be replayed."""

    def __init__(self, ctx, api, did, number):
        self.ctx, self.api, self.did, self.number = ctx, api, did, number
        self.ids = {}         # key -> set of call ids answered
        self.statuses = {}
        self.refused = {}     # key -> final refusal
        self.stop = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _post(self, key):
        try:
            r = self.api.post("/v1/calls", {"from": self.did, "to": self.number,
                                            "timeout": 20},
                              headers={"Idempotency-Key": key})
        except (OSError, AssertionError):
            self.statuses["no answer"] = self.statuses.get("no answer", 0) + 1
            return None
        self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
        return r

    def _run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            key = "soak-%d" % n
            t_end = time.monotonic() + 20
            while time.monotonic() < t_end:
                r = self._post(key)
                if r is not None and r.status == 202:
                    self.ids.setdefault(key, set()).add(r.json["id"])
                    if n % 2 == 0:
                        again = self._post(key)
                        if again is not None and again.status == 202:
                            self.ids[key].add(again.json["id"])
                    break
                if r is not None and r.status not in (409, 503):
                    self.refused[key] = (r.status, r.json.get("error") if r.json else None)
                    break
                time.sleep(0.5)
            self.stop.wait(1.0)

    def finish(self):
        self.stop.set()
        self.th.join(60)


def faults(ctx, a, callers, pg_pids):
    """The fault kinds: name -> function doing it (each returns when the part is back)."""
    def stall(pid, s):
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(s)
        finally:
            os.kill(pid, signal.SIGCONT)

    def pg_stop():
        a.pg.stop()
        time.sleep(4)
        a.pg.start()

    def pg_freeze():
        frozen = pg_pids(a.pg)
        for p in frozen:
            os.kill(p, signal.SIGSTOP)
        try:
            time.sleep(3)
        finally:
            for p in frozen:
                os.kill(p, signal.SIGCONT)

    def redis_freeze():
        a.redis.pause()
        try:
            time.sleep(3)
        finally:
            a.redis.resume()

    def redis_restart():
        a.redis.stop()
        time.sleep(2)
        a.redis.start()

    def trunxd_stall():
        stall(a.t.proc.pid, 1.0)

    def caller_stall():
        live = [c for c in callers if c.proc.alive()]
        if live:
            stall(live[0].proc.pid, 1.0)

    return {"pg_stop": pg_stop, "pg_freeze": pg_freeze, "redis_freeze": redis_freeze,
            "redis_restart": redis_restart, "trunxd_stall": trunxd_stall,
            "caller_stall": caller_stall}


def heap_kb(t):
    return int(t.counter("heap_in_use_kb"))


def live_leases(rd):
    now = int(time.time() * 1000)
    n = 0
    for key in rd.cli("KEYS", "trunx:{b}:*").split():
        if rd.cli("TYPE", key).strip() == "zset":
            n += int(rd.cli("ZCOUNT", key, "(%d" % now, "+inf") or 0)
    return n


def case_chaos(ctx):
    secs = seconds()
    seed = int(os.environ.get("TRUNX_SOAK_SEED", "1"))
    rng = random.Random(seed)
    events_port = ports.free_port(udp=False)
    a = apimode.start(ctx, configure=configure(events_port))
    uas = {"short": calls.uas(ctx, "uas_cps.xml", name="uas_short", calls=None,
                              timeout=secs + 300),
           "media": calls.uas(ctx, "uas_opus.xml", name="uas_media", calls=None,
                              duration_ms=300, timeout=secs + 300),
           "hold": calls.uas(ctx, "uas_hold.xml", name="uas_hold", calls=None,
                             timeout=secs + 300)}
    dbmode.tenant(a.pg, "acme")
    # The inbound pool sized for the load (the schema's 15 channels would refuse calls
    # at this rate; pool_full_503 tests that door).
    a.pg.sql("UPDATE channel_pools SET channels = 500 WHERE pool = 'ivr'")
    dbmode.carrier(a.pg, "carrier1", ips=["127.0.0.2/32"])
    rec_dir = ctx.path("rec")
    os.makedirs(rec_dir)
    for k, u in uas.items():
        cols = {"codecs": ["opus", "telephone-event"]} if k == "media" else {}
        dbmode.peer(a.pg, "acme", "pbx-" + k, host="127.0.0.1", port=u.port, **cols)
        dbmode.did(a.pg, DIDS[k], trunk="carrier1", tenant="acme", peer="pbx-" + k)
    # Calls the API places go out through a second carrier, whose SIPp answers and
    # hangs up after a second.
    out = calls.uas(ctx, "uas_bye.xml", name="uas_out", calls=None, duration_ms=1000,
                    trace_msg=True, timeout=secs + 300)
    dbmode.carrier(a.pg, "carrier-out", host="127.0.0.1", port=out.port,
                   outbound_dial_format="plus_e164")
    dbmode.outbound_route(a.pg, "carrier-out", prefix="1")
    calls_key = apimode.create_key(ctx, a.t, "acme-calls", tenant="acme",
                                   scopes=["calls:read", "calls:write"])
    n = len(dbmode.loads(a.t))
    a.pg.sql("UPDATE did_numbers SET record_dir = '%s', amd = true WHERE number = '%s'"
             % (rec_dir, DIDS["media"]))
    dbmode.wait_load(a.t, n, timeout=10)
    dbmode.wait_routing(a.t, lambda m: "3 DIDs" in m and "2 carriers" in m)
    procs.wait_until(lambda: a.t.status()["data"]["events"]["ready"], 10, 0.05)

    heap0 = heap_kb(a.t)
    follower = Follower(ctx, events_port)
    pollers = Pollers(ctx, a)
    placer = Placer(ctx, a.anon.with_token(calls_key), DIDS["short"], "+15551230000")
    # group: (calls a second, duration ms, scenario, DID group, transport)
    plan = {"short": (6, 1500, "uac_cps.xml", "short", "u1"),
            "tcp": (2, 1500, "uac_cps.xml", "short", "t1"),
            "media": (1, 3000, "uac_basic.xml", "media", "u1"),
            "hold": (1, 1000, "uac_hold.xml", "hold", "u1"),
            "unknown": (1, 0, "uac_404.xml", None, "u1")}
    callers = []
    for k, (rate, ms, scen, did, tr) in plan.items():
        callers.append(calls.uac(ctx, scen, a.t.sip_addr, name="uac_" + k, calls=rate * secs,
                                 rate=rate, service=DIDS[did][1:] if did else UNKNOWN,
                                 local_ip="127.0.0.2", duration_ms=ms, timeout=secs + 240,
                                 transport=tr))
    ctx.log("soak: %d s of load, seed %d; calls planned: %s", secs, seed,
            {k: v[0] * secs for k, v in plan.items()})

    kinds = faults(ctx, a, callers, cdr_test.pg_pids)
    order = list(kinds)
    rng.shuffle(order)
    t_end = time.monotonic() + secs
    done = []
    time.sleep(3)
    while time.monotonic() < t_end - 4:
        k = order[len(done)] if len(done) < len(order) else rng.choice(list(kinds))
        ctx.log("fault %d: %s (calls ended so far: %d)", len(done) + 1, k,
                len(a.t.events("call.end")))
        kinds[k]()
        done.append(k)
        a.t.check_alive()
        time.sleep(rng.uniform(1.0, 3.0))
    ctx.log("faults done: %s", done)

    placer.finish()
    rcs = finish(*callers, timeout=secs + 240)
    ctx.log("callers: %s", {c.name: (c.successful(), c.failed(), rc)
                            for c, rc in zip(callers, rcs)})
    a.t.check_alive()
    assert a.t.options_ok(src="127.0.0.2"), \
        "trunxd does not answer the carrier's OPTIONS after the soak"
    a.t.wait_no_calls(60)
    time.sleep(2)   # the callees' last BYEs and statistics
    for u in list(uas.values()) + [out]:
        u.stop()
    pollers.finish()
    ctx.log("pollers: %s, API statuses %s", pollers.n, pollers.statuses)
    assert pollers.n["api"] > 0 and pollers.n["ctl"] > 0, pollers.n
    assert pollers.n["ctl_err"] == 0, getattr(pollers, "last_ctl_err", "")
    assert pollers.statuses.get(200, 0) >= 0.8 * pollers.n["api"], pollers.statuses

    # No call stuck: every caller ended every call by itself; every callee's calls ended.
    for c, rc in zip(callers, rcs):
        total = c.successful() + c.failed()
        assert total == c.calls, "%s: %d of %d calls ended" % (c.name, total, c.calls)
    callees = dict(uas, out=out)
    created = {k: u.count("TotalCallCreated") for k, u in callees.items()}
    ok = {k: u.successful() for k, u in callees.items()}
    bad = {k: u.failed() for k, u in callees.items()}
    ctx.log("callees: created %s, successful %s, failed %s", created, ok, bad)
    assert not any(bad.values()), "a callee's call failed (a B leg never ended?): %s" % bad

    # The API's calls: one call per key however often it was sent, one INVITE per call.
    placed = set()
    for key, ids in placer.ids.items():
        assert len(ids) == 1, "key %s placed %s" % (key, ids)
        placed |= ids
    invited = {m.header("Call-ID") for m in out.messages() if m.method == "INVITE"}
    ctx.log("API: %d keys placed, %d refused %s; answers %s; %d INVITEs at the carrier",
            len(placer.ids), len(placer.refused), set(placer.refused.values()),
            placer.statuses, len(invited))
    assert placed and len(invited) == len(placed), (len(invited), len(placed))

    # Records: each logged once in Postgres, none pending; answers match the callees.
    ends = a.t.events("call.end")
    cdr_test.wait_rows(a.pg, len(ends), 60)
    procs.wait_until(lambda: cdr_test.status_cdr(a.t)["pending"] == 0, 30, 0.2)
    time.sleep(1)
    cdr_test.expect_exactly(a.pg, [e["cdr_id"] for e in ends])
    st = cdr_test.status_cdr(a.t)
    assert st["pending"] == 0 and st["rejected"] == 0, st
    answered = int(a.pg.value("SELECT count(*) FROM calls WHERE result = 'answered'"))
    causes = a.pg.sql("SELECT result, coalesce(record->>'cause', ''), count(*) FROM calls "
                      "GROUP BY 1, 2 ORDER BY 3 DESC")
    ctx.log("records: %d (%d answered): %s", len(ends), answered, causes)
    assert answered == sum(created.values()), \
        "%d answered records, the callees answered %d" % (answered, sum(created.values()))

    # The media calls: transcoded (PCMA from the caller, Opus to the callee), recorded
    # and analysed, each once.
    media = [e for e in ends if e.get("did") == DIDS["media"] and e["result"] == "answered"]
    assert len(media) == created["media"], (len(media), created["media"])
    codecs = {(e.get("codec_a"), e.get("codec_b")) for e in media}
    assert codecs == {("PCMA/8000", "opus/48000")}, codecs
    recs = a.t.events("call.record")
    amd = a.t.events("call.amd")
    ctx.log("media calls: %d answered, %d recordings, %d AMD verdicts", len(media),
            len(recs), len(amd))
    assert len(recs) == len(media) and len(amd) == len(media), (len(recs), len(amd))
    for r in recs:
        with open(r["path"], "rb") as f:
            head = f.read(44)
        assert head[:4] == b"RIFF" and head[8:12] == b"WAVE" and head[22] == 2, r

    # Events: the stream across its reconnects is the table, in order, each once.
    want = [int(r[0]) for r in a.pg.sql("SELECT id FROM events ORDER BY id")]
    procs.wait_until(lambda: len(follower.ids) >= len(want), 30, 0.1)
    follower.finish()
    got = follower.ids
    ctx.log("events: %d in the table, %d streamed over %d reconnects (%d refused)",
            len(want), len(got), follower.reconnects, follower.refused)
    assert len(got) == len(set(got)), "the stream repeated events"
    assert got == want, "stream != table: %d missing, %d extra" % (
        len(set(want) - set(got)), len(set(got) - set(want)))
    n_type = dict(a.pg.sql("SELECT type, count(*) FROM events GROUP BY 1"))
    assert int(n_type.get("call.answered", 0)) == answered, (n_type, answered)
    assert n_type.get("call.created") == n_type.get("call.hungup"), n_type

    # Leases: none left on this node, none alive in Redis once they could expire.
    assert procs.wait_until(lambda: a.t.ctl("budgets")["leases"] == 0, 10, 0.2), \
        a.t.ctl("budgets")
    assert procs.wait_until(lambda: live_leases(a.redis) == 0, LEASE_TTL + 5, 0.3), \
        "%d leases alive in Redis" % live_leases(a.redis)

    # Memory: with every call gone and the stack's kept transactions expired, the heap
    # objects alive are back near where they were before the load (a long run only:
    # the wait is 36 s; glibc's count, which a sanitizer's allocator does not keep).
    if secs >= 120 and not trunxd.sanitized(a.t.binary):
        time.sleep(KEPT_S)
        heap1 = heap_kb(a.t)
        ctx.log("heap objects alive: %d KB before the load, %d KB after it", heap0, heap1)
        assert heap1 - heap0 < HEAP_SLACK_KB, (heap0, heap1)

    # And a plain call still completes.
    u = calls.uas(ctx, "uas_cps.xml", name="uas_after", port=uas["short"].port)
    c = calls.uac(ctx, "uac_cps.xml", a.t.sip_addr, name="uac_after",
                  service=DIDS["short"][1:], local_ip="127.0.0.2", duration_ms=200)
    finish(c, u)
    assert c.successful() == 1, c.describe_failure()
    a.t.stop()


if __name__ == "__main__":
    sys.exit(case.main(globals()))
