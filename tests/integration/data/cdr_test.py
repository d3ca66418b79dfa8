#!/usr/bin/env python3
"""Call records in Postgres: batched through the fsynced journal, kept while Postgres is
away and replayed in order when it returns — none lost, none written twice — across a
kill -9 and a restart too; a record Postgres refuses is set aside, not a blocker."""
import glob
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import calls, case, datastore, dbmode, procs, sipp, trunxd  # noqa: E402
from harness.calls import finish  # noqa: E402

DID = "+15557770001"


def setup(ctx, t_extra=None, pg=None, name="trunxd", uas_calls=1, uas_scen="uas_cps.xml",
          pool=None, configure=None):
    """Postgres, trunxd (database mode), tenant acme with its PBX (a SIPp callee), a
    carrier on 127.0.0.2 and the DID; pool: the inbound channel pool's size (the
    schema's default is 15); configure: a hook on trunxd's config. Returns (pg,
    trunxd, callee)."""
    pg, t = dbmode.start(ctx, pg=pg, name=name, extra=t_extra, configure=configure)
    u = calls.uas(ctx, uas_scen, calls=uas_calls, timeout=300)
    if int(pg.value("SELECT count(*) FROM tenants")) == 0:
        dbmode.tenant(pg, "acme")
        dbmode.peer(pg, "acme", "acme-pbx", host="127.0.0.1", port=u.port)
        dbmode.carrier(pg, "carrier1", ips=["127.0.0.2/32"])
        if pool is not None:   # before the DID: the load that brings the DID has it
            pg.sql("UPDATE channel_pools SET channels = %d WHERE pool = 'ivr'" % pool)
        dbmode.did(pg, DID, trunk="carrier1", tenant="acme", peer="acme-pbx")
        dbmode.wait_routing(t, lambda m: "1 DIDs" in m)
    return pg, t, u


def call_ends(t):
    return t.events("call.end")


def cdr_ids_logged(t):
    return [r["cdr_id"] for r in call_ends(t)]


def rows(pg):
    return pg.sql("SELECT cdr_id, result, sip_code, did, trunk_in, trunk_out, "
                  "coalesce(tenant_id, ''), node_id FROM calls ORDER BY start_at")


def wait_rows(pg, n, timeout=30.0):
    ok = procs.wait_until(lambda: int(pg.value("SELECT count(*) FROM calls")) >= n,
                          timeout, 0.2)
    got = int(pg.value("SELECT count(*) FROM calls"))
    if not ok:
        raise AssertionError("%d call records in Postgres, %d expected" % (got, n))
    return got


def expect_exactly(pg, ids):
    """The calls table holds exactly these record ids, each once."""
    total = int(pg.value("SELECT count(*) FROM calls"))
    distinct = int(pg.value("SELECT count(DISTINCT cdr_id) FROM calls"))
    have = {r[0] for r in pg.sql("SELECT cdr_id FROM calls")}
    missing = set(ids) - have
    extra = have - set(ids)
    if total != len(ids) or distinct != len(ids) or missing or extra:
        raise AssertionError("calls table: %d rows (%d distinct), %d records logged; "
                             "%d missing, %d unexpected" % (total, distinct, len(ids),
                                                            len(missing), len(extra)))


def status_cdr(t):
    return t.status()["data"]["cdr"]


def stall(ctx, what, pid, seconds):
    """Stops a process (SIGSTOP) for a while, as a loaded machine does to it."""
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
    ctx.log("%s stopped for %.1f s", what, seconds)


def no_shedding(c):
    """For the cases that stop trunxd for a second: the datagrams that wait out the
    stop are drained more slowly than 100 ms on a loaded machine, which is load
    shedding's standing queue (overload_delay), and trunxd rightly answers the INVITEs
    among them 503. Those cases are about records and BYEs, not shedding (the guard
    suite's): every call must reach the B2BUA."""
    c.sip["overload_delay"] = 0


def pg_pids(pg):
    """Postgres' processes: the one the harness started and everything under it (the
    server and its backends)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            kids.setdefault(int(st[st.rindex(")") + 2:].split()[1]), []).append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    out, todo = [], [pg.proc.pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def expect_byes_200(ctx, c, n):
    """Each of the n calls' BYE, first copy or retransmission, got 200 and nothing
    else, and at least one was retransmitted (the stall reached a BYE)."""
    byes = bye_answers(c)
    again = sum(1 for k, _ in byes.values() if k > 1)
    bad = {b: v for b, v in byes.items() if not v[1] or set(v[1]) != {200}}
    ctx.log("%d BYEs, %d of them retransmitted", len(byes), again)
    assert len(byes) == n and not bad, "BYEs not answered 200 alone: %s" % \
        list(bad.items())[:5]
    assert again > 0, "no BYE was retransmitted: the stall did not reach any BYE"


def bye_answers(s):
    """From a SIPp caller's message trace (trace_msg): for each BYE transaction (Via
    branch) it sent, how many times it sent it and the statuses it got back."""
    with open(s.msg_file, errors="replace") as f:
        text = f.read()
    sent, got = {}, {}
    for m in re.finditer(r"UDP message (sent|received)[^\n]*\n\n(.*?)(?=\n-{10,}|\Z)",
                         text, re.S):
        msg = m.group(2)
        cseq = re.search(r"^CSeq:\s*\d+\s+(\S+)", msg, re.M | re.I)
        br = re.search(r"^Via:[^\n]*;branch=([^;\s]+)", msg, re.M | re.I)
        if not cseq or cseq.group(1) != "BYE" or not br:
            continue
        if m.group(1) == "sent" and msg.startswith("BYE "):
            sent[br.group(1)] = sent.get(br.group(1), 0) + 1
        elif m.group(1) == "received" and msg.startswith("SIP/2.0 "):
            got.setdefault(br.group(1), []).append(int(msg.split()[1]))
    return {b: (n, got.get(b, [])) for b, n in sent.items()}


# ---- cases ----------------------------------------------------------------------------

def case_records_in_postgres(ctx):
    """Answered and refused calls each leave one row whose fields are those of the
    call.end record; SIGTERM right after the calls: trunxd waits for Postgres to have
    them before it exits."""
    pg, t, u = setup(ctx, uas_calls=5)
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, calls=5, rate=10, service=DID[1:],
                  local_ip="127.0.0.2", duration_ms=200)
    bad = calls.uac(ctx, "uac_404.xml", t.sip_addr, name="uac_404", service="15559999999",
                    local_ip="127.0.0.2")
    finish(c, u)
    bad.wait()
    sipp.expect_ok(c)
    sipp.expect_ok(bad)
    ends = t.wait_events("call.end", 6, 10)
    t.stop()
    expect_exactly(pg, [e["cdr_id"] for e in ends])
    by_id = {r[0]: r for r in rows(pg)}
    for e in ends:
        r = by_id[e["cdr_id"]]
        want = (e["cdr_id"], e["result"], str(e["sip_code"]), e["did"] or "", e["trunk_in"],
                e["trunk_out"] or "", e.get("tenant", ""), e["node_id"])
        assert r == want, "row %s != record %s" % (r, want)
    assert sum(1 for r in by_id.values() if r[1] == "answered") == 5
    rec = pg.value("SELECT record->>'cause' FROM calls WHERE result = 'rejected'")
    assert rec == "did_unassigned", rec


def case_postgres_outage_500(ctx):
    """500 calls at 20 per second; Postgres is stopped for 15 s in the middle of them
    (300 calls end while it is away). Calls keep routing (the snapshot is in memory);
    afterwards every call's record is in Postgres exactly once.

    While Postgres is away the caller is stopped for 1 s, then trunxd: as on a loaded
    machine, the caller then sends the calls it owes at once while the BYEs of the
    calls in progress come late, and BYEs (and their retransmissions) wait in trunxd's
    socket. Each BYE, first copy or retransmission, is answered 200. The inbound pool
    is sized for that: 20 calls a second of 0.5 s keep about 11 channels busy, and
    the schema's 15 leave no room for a stall of 0.3 s (trunxd rightly answers 503
    then, and SIPp, aborting that call, sends a BYE of its own that gets 481)."""
    pg, t, u = setup(ctx, uas_calls=500, pool=200, configure=no_shedding)
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, calls=500, rate=20, service=DID[1:],
                  local_ip="127.0.0.2", duration_ms=500, timeout=240, trace_msg=True)
    procs.wait_until(lambda: len(call_ends(t)) >= 80, 30, 0.2)
    pg.stop()
    t_down = time.monotonic()
    ctx.log("Postgres stopped after %d calls", len(call_ends(t)))
    time.sleep(3)
    stall(ctx, "the caller", c.proc.pid, 1.0)
    time.sleep(3)
    stall(ctx, "trunxd", t.proc.pid, 1.0)
    time.sleep(max(0.0, 15 - (time.monotonic() - t_down)))
    during = len(call_ends(t))
    st = status_cdr(t)
    ctx.log("after 15 s: %d calls ended; records pending %s, Postgres %s", during,
            st["pending"], st["postgres"])
    assert st["postgres"] == "down" and st["pending"] > 0, st
    pg.start()
    ctx.log("Postgres back after %.1f s", time.monotonic() - t_down)
    finish(c, u, timeout=200)
    refused = [e.get("data", {}).get("reason") for e in t.events("budget.exhausted")]
    assert not refused, "%d calls refused: %s" % (len(refused), refused[:3])
    sipp.expect_ok(c)
    expect_byes_200(ctx, c, 500)
    ends = t.wait_events("call.end", 500, 30)
    assert len(ends) == 500, len(ends)
    wait_rows(pg, 500, 60)
    time.sleep(1)   # nothing more may come
    expect_exactly(pg, [e["cdr_id"] for e in ends])
    st = status_cdr(t)
    assert st["pending"] == 0 and st["rejected"] == 0, st


def case_bye_while_writer_frozen(ctx):
    """Postgres frozen, not gone (every process of it stopped: the writer's INSERT and
    the routing connection hang and nothing refuses them), while 200 calls at 20 a
    second run, and trunxd itself stopped for 1 s among them so that BYEs wait in its
    socket and are retransmitted: each BYE, first copy or retransmission, is answered
    200 (the signalling thread waits on no writer), every call completes, and once
    Postgres runs again every record lands once."""
    pg, t, u = setup(ctx, uas_calls=200, pool=200, configure=no_shedding)
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, calls=200, rate=20, service=DID[1:],
                  local_ip="127.0.0.2", duration_ms=500, timeout=120, trace_msg=True)
    procs.wait_until(lambda: len(call_ends(t)) >= 20, 30, 0.1)
    frozen = pg_pids(pg)
    for p in frozen:
        os.kill(p, signal.SIGSTOP)
    try:
        ctx.log("Postgres frozen (%d processes) after %d calls", len(frozen),
                len(call_ends(t)))
        time.sleep(3)
        stall(ctx, "trunxd", t.proc.pid, 1.0)
        finish(c, u, timeout=100)
        ctx.log("calls done while frozen: %d ended", len(call_ends(t)))
    finally:
        for p in frozen:
            os.kill(p, signal.SIGCONT)
    refused = [e.get("data", {}).get("reason") for e in t.events("budget.exhausted")]
    assert not refused, "%d calls refused: %s" % (len(refused), refused[:3])
    sipp.expect_ok(c)
    expect_byes_200(ctx, c, 200)
    ends = t.wait_events("call.end", 200, 30)
    wait_rows(pg, 200, 60)
    time.sleep(1)   # nothing more may come
    expect_exactly(pg, [e["cdr_id"] for e in ends])


def case_restart_replay(ctx):
    """Postgres away, calls made, trunxd killed (-9) with their records only in its
    journal; Postgres and trunxd started again: the journal is replayed, every record
    lands once (also those Postgres had before the outage)."""
    pg, t, u = setup(ctx, uas_calls=30)
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, name="uac1", calls=10, rate=20,
                  service=DID[1:], local_ip="127.0.0.2", duration_ms=100)
    c.wait()
    sipp.expect_ok(c)
    wait_rows(pg, 10)
    pg.stop()
    c2 = calls.uac(ctx, "uac_cps.xml", t.sip_addr, name="uac2", calls=20, rate=20,
                   service=DID[1:], local_ip="127.0.0.2", duration_ms=100)
    c2.wait()
    sipp.expect_ok(c2)
    ends = t.wait_events("call.end", 30, 10)
    # Durable in the journal (not only logged) before the kill: every record handed
    # over so far, the 30 calls' among them (the journal holds the calls' events too,
    # so a count of 30 journaled records was reached before the last call's record).
    def all_journaled():
        st = status_cdr(t)
        return st["submitted"] >= 30 and st["journaled"] >= st["submitted"]
    ok = procs.wait_until(all_journaled, 10, 0.1)
    assert ok, status_cdr(t)
    t._expect_exit = True   # killed on purpose
    t.proc.send_signal(signal.SIGKILL)
    t.proc.wait(10)
    journal = ctx.path("trunxd-journal")
    assert glob.glob(os.path.join(journal, "cdr-*.log")), "no journal segment"
    pg.start()
    t2 = trunxd.Trunxd(ctx, ctx.trunxd_path, name="trunxd2",
                       configure=dbmode.configure_db(pg, journal_dir=journal)).start()
    recs = t2.wait_events("cdr.replay", 1, 10)
    assert recs, "no replay at start"
    wait_rows(pg, 30, 30)
    time.sleep(1)
    expect_exactly(pg, [e["cdr_id"] for e in ends])
    u.stop()


def case_refused_record_set_aside(ctx):
    """A record Postgres refuses (a constraint an operator added) is found in its batch,
    set aside in rejected.log and logged; the records around it are written."""
    pg, t, u = setup(ctx, uas_calls=4)
    dbmode.did(pg, "+15557770009", trunk="carrier1", tenant="acme", peer="acme-pbx")
    dbmode.wait_routing(t, lambda m: "2 DIDs" in m)
    pg.sql("ALTER TABLE calls ADD CONSTRAINT no_9 CHECK (did IS DISTINCT FROM '+15557770009')")
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, calls=3, rate=10, service=DID[1:],
                  local_ip="127.0.0.2", duration_ms=100)
    c9 = calls.uac(ctx, "uac_cps.xml", t.sip_addr, name="uac9", calls=1, service="15557770009",
                   local_ip="127.0.0.2", duration_ms=100)
    c.wait()
    c9.wait()
    sipp.expect_ok(c)
    sipp.expect_ok(c9)
    ends = t.wait_events("call.end", 4, 10)
    good = [e["cdr_id"] for e in ends if e["did"] == DID]
    wait_rows(pg, 3, 20)
    procs.wait_until(lambda: status_cdr(t)["rejected"] == 1, 10, 0.1)
    assert status_cdr(t)["rejected"] == 1, status_cdr(t)
    expect_exactly(pg, good)
    rej = open(os.path.join(ctx.path("trunxd-journal"), "rejected.log")).read()
    assert "+15557770009" in rej and "no_9" in rej, rej
    assert t.events("cdr.rejected"), "no cdr.rejected log line"
    u.stop()


def case_transient_error_not_refused(ctx):
    """Postgres failing the INSERT for a reason of its own state, not the record's (a
    full disk: SQLSTATE 53100, raised here by a trigger; the same holds for a server
    shutting down, 57P01, a deadlock, a cancelled statement) is not a refusal: the
    record is not set aside, it stays in the journal, is tried again and lands once
    Postgres can take it."""
    pg, t, u = setup(ctx, uas_calls=1)
    pg.sql("CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS "
           "$$BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' "
           "USING ERRCODE = 'disk_full'; END$$")
    pg.sql("CREATE TRIGGER disk_full BEFORE INSERT ON calls FOR EACH ROW "
           "EXECUTE FUNCTION test_disk_full()")
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, calls=1, service=DID[1:],
                  local_ip="127.0.0.2", duration_ms=100)
    c.wait()
    sipp.expect_ok(c)
    ends = t.wait_events("call.end", 1, 10)
    # Deferred (or set aside) at the first try; then tried again every second.
    procs.wait_until(lambda: t.events("cdr.batch_deferred") or
                     status_cdr(t)["rejected"] > 0, 15, 0.2)
    time.sleep(2.5)
    st = status_cdr(t)
    assert st["rejected"] == 0, "a record set aside for a full disk: %s %s" % (
        st, [e.get("msg") for e in t.events("cdr.rejected")])
    assert st["pending"] >= 1 and t.events("cdr.batch_deferred"), st
    assert "53100" in t.events("cdr.batch_deferred")[0].get("msg", ""), \
        t.events("cdr.batch_deferred")[0]
    pg.sql("DROP TRIGGER disk_full ON calls")
    wait_rows(pg, 1, 20)
    procs.wait_until(lambda: status_cdr(t)["pending"] == 0, 10, 0.2)
    expect_exactly(pg, [e["cdr_id"] for e in ends])
    st = status_cdr(t)
    assert st["pending"] == 0 and st["rejected"] == 0, st
    u.stop()


def case_refused_record_kept_until_set_aside(ctx):
    """A record Postgres refuses while rejected.log cannot be written (here a directory
    of that name) is not counted as set aside nor dropped: it stays in the journal and
    is tried again, and lands in rejected.log once the file can be written."""
    pg, t, u = setup(ctx, uas_calls=4)
    dbmode.did(pg, "+15557770009", trunk="carrier1", tenant="acme", peer="acme-pbx")
    dbmode.wait_routing(t, lambda m: "2 DIDs" in m)
    pg.sql("ALTER TABLE calls ADD CONSTRAINT no_9 CHECK (did IS DISTINCT FROM '+15557770009')")
    blocker = os.path.join(ctx.path("trunxd-journal"), "rejected.log")
    os.mkdir(blocker)
    c9 = calls.uac(ctx, "uac_cps.xml", t.sip_addr, name="uac9", calls=1, service="15557770009",
                   local_ip="127.0.0.2", duration_ms=100)
    c9.wait()
    sipp.expect_ok(c9)
    c = calls.uac(ctx, "uac_cps.xml", t.sip_addr, calls=3, rate=10, service=DID[1:],
                  local_ip="127.0.0.2", duration_ms=100)
    c.wait()
    sipp.expect_ok(c)
    ends = t.wait_events("call.end", 4, 10)
    good = [e["cdr_id"] for e in ends if e["did"] == DID]
    ok = procs.wait_until(lambda: len(t.events("cdr.set_aside_failed")) >= 2, 15, 0.2)
    assert ok, "no repeated cdr.set_aside_failed log line: %s" % status_cdr(t)
    st = status_cdr(t)
    assert st["rejected"] == 0 and st["pending"] >= 1, st
    os.rmdir(blocker)
    ok = procs.wait_until(lambda: status_cdr(t)["rejected"] == 1, 15, 0.2)
    assert ok, status_cdr(t)
    wait_rows(pg, 3, 20)
    procs.wait_until(lambda: status_cdr(t)["pending"] == 0, 10, 0.2)
    expect_exactly(pg, good)
    rej = open(blocker).read()
    kept = [line for line in rej.splitlines() if line.startswith("{")]
    assert len(kept) == 1 and '"did":"+15557770009"' in kept[0] and "no_9" in rej, rej
    assert status_cdr(t)["pending"] == 0, status_cdr(t)
    u.stop()


if __name__ == "__main__":
    sys.exit(case.main(globals()))
