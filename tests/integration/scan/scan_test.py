#!/usr/bin/env python3
"""The network doors as an attacker's tools see them, one ctest test per case.

The media ports (rtp_bleed_*): a stranger sprays RTP at the whole media port range
while a call runs, as RTP-bleed tools do, to latch a side first and so receive the
call's audio and play its own into it: refused under [media] latch = known; under
any not refused, but each party takes its side back at its first packet from its SDP
address; one trunk's own latch = any applies on that trunk's leg only.

The SIP front as SIPVicious sees it (sipvicious_*): the toolkit most
attacks on SIP services start with (svmap finds SIP services and their User-Agent,
svwar enumerates extensions by how their answers differ, svcrack guesses digest
passwords). trunxd must give it nothing to work with: from a stranger one uniform
refusal (reject mode) or silence (drop mode), from a trunk's address answers that do
not depend on the number asked for, no challenge to crack, and afterwards trunxd still
serves calls. Everything on loopback, ports picked at run time, every process ended by
PID, each scan bounded by its extension range and a timeout.

The extensions asked for are a range and a few of the "typical" ones svwar's -D list
tries (1000, 2000, 1234, 11111, ...): the claim is that the answer does not depend on
the number, which a few dozen numbers show as well as svwar's three thousand defaults
(whose INVITE scan alone took 80 s). svcrack never ends by itself against a front that
refuses every REGISTER without a challenge (it keeps sending, waiting for one): the
stranger case lets it run until trunxd has refused 200 of its requests, then stops it
with SIGINT, on which it prints its (empty) result table.

svwar and svcrack 0.3.3 send from 127.0.0.1 whatever they are told to bind to (-b),
so the reject-mode stranger case moves the trunks elsewhere (127.0.0.9) instead; svmap
honours -b, which the drop-mode case uses (trunxd's readiness check comes from the
trunk, 127.0.0.1, and would be dropped otherwise).
"""
import os
import re
import shutil
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import calls, case, ports, procs, sipp, trunxd  # noqa: E402

EXTENSIONS = "100-139,1000,1001,1100,2000,5000,9900,9901,1234,12345,11111,10000,99901"
STRANGER_REFUSALS = 200   # svcrack runs against a stranger's front until this many
SIPP_DID = "5550002000"


def tool(name):
    p = shutil.which(name)
    if not p:
        raise AssertionError("%s not installed (Debian package sipvicious; tools/deps.sh)"
                             % name)
    return p


def run_tool(ctx, name, argv, timeout=90.0, until=None):
    """Runs one SIPVicious command to its end, or, with until (a predicate), until
    until() holds and then SIGINT (the tools print their results on it); returns its
    stdout + stderr. Each run gets a local port of its own (-P): a scan's late answers
    (trunxd retransmits a final answer to an INVITE until it is acknowledged, and
    svwar's ACK starts a new transaction) must not reach the next scan and be taken for
    its answers."""
    p = ctx.reg.start(name, [tool(argv[0]), "-P", str(ports.free_port(tcp=False))]
                      + argv[1:])
    if until is not None:
        if not procs.wait_until(lambda: until() or not p.alive(), timeout, 0.2):
            p.kill()
            raise AssertionError("%s: condition not met within %.0f s" % (name, timeout))
        p.send_signal(signal.SIGINT)
        timeout = 10.0
    rc = p.wait(timeout)
    if rc is None:
        p.kill()
        raise AssertionError("%s did not finish within %.0f s" % (name, timeout))
    out = p.read_stdout() + p.read_stderr()
    ctx.log("%s (rc %s): %s", " ".join(argv), rc, out.strip().replace("\n", " | ")[-600:])
    return out


def table_rows(out):
    """The rows of a SIPVicious result table: lists of cell texts (header excluded)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in out.splitlines() if line.startswith("|")]
    return rows[1:]


def strangers_only(cf):
    """Trunks on 127.0.0.9: the scanners' 127.0.0.1 is a stranger."""
    for header, kv in cf.sections:
        if header.startswith("trunk "):
            kv["match"] = "127.0.0.9/32"


def expect_nothing_found(what, out):
    rows = table_rows(out)
    if rows:
        raise AssertionError("%s found something: %s" % (what, rows))


def scan_extensions(ctx, t, methods, label):
    for m in methods:
        out = run_tool(ctx, "svwar-%s-%s" % (label, m.lower()),
                       ["svwar", "-p", str(t.port), "-e", EXTENSIONS, "-m", m,
                        "127.0.0.1"], timeout=120)
        expect_nothing_found("svwar -m %s" % m, out)


def crack(ctx, t, label, until=None):
    out = run_tool(ctx, "svcrack-" + label,
                   ["svcrack", "-p", str(t.port), "-u", "100", "-r", "1000-1099",
                    "127.0.0.1"], timeout=120, until=until)
    expect_nothing_found("svcrack", out)


def still_serves(ctx, t):
    """Alive, OPTIONS from the trunk answered at once, a SIPp call through completes."""
    t.check_alive()
    if not t.options_ok():
        raise AssertionError("OPTIONS from the trunk unanswered after the scan")
    if t.active_calls() != 0:
        raise AssertionError("calls left after the scan: %s" % t.active_calls())


def case_sipvicious_stranger(ctx):
    """A stranger scans in reject mode: svmap sees one SIP service whose User-Agent
    is the configured `trunx` (no version, no stack name); svwar (REGISTER, INVITE,
    OPTIONS) finds no extension because every request gets the same 403 (which it
    takes for a challenge to an unknown user, and stops); svcrack gets no challenge in
    200 refused REGISTERs. No call is attempted, every
    refusal is counted, trunxd keeps serving."""
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=strangers_only).start()
    for m in ("OPTIONS", "INVITE"):
        out = run_tool(ctx, "svmap-" + m.lower(),
                       ["svmap", "-p", str(t.port), "-m", m, "127.0.0.1"])
        rows = table_rows(out)
        if [r[1:] for r in rows] != [["trunx"]]:
            raise AssertionError("svmap -m %s: %s (want one service, User-Agent "
                                 "'trunx')" % (m, rows))
    scan_extensions(ctx, t, ("REGISTER", "INVITE", "OPTIONS"), "stranger")
    # Every REGISTER refused without a challenge: svcrack would go on forever.
    crack(ctx, t, "stranger", until=lambda: t.status()["counters"][
        "rejected_unknown_source"] >= STRANGER_REFUSALS)
    c = t.status()["counters"]
    ctx.log("counters: calls_total %s, rejected_unknown_source %s, auth_challenged %s",
            c["calls_total"], c["rejected_unknown_source"], c["auth_challenged"])
    if c["calls_total"] != 0 or c["auth_challenged"] != 0:
        raise AssertionError("a stranger's scan reached the call layer: %s" % c)
    # svmap 2 + svwar's first probe x 3 (a 403 ends its scan) + svcrack's attempts
    if c["rejected_unknown_source"] < STRANGER_REFUSALS:
        raise AssertionError("rejected_unknown_source = %s" % c["rejected_unknown_source"])
    t.check_alive()


def case_sipvicious_drop(ctx):
    """A stranger scans in drop mode: svmap (bound to 127.0.0.2, which it honours)
    finds no SIP service at all, with OPTIONS or INVITE; trunxd counts the drops and
    still answers its trunk (127.0.0.1)."""
    def conf(cf):
        cf.sip["unknown_source"] = "drop"
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=conf).start()
    for m in ("OPTIONS", "INVITE"):
        out = run_tool(ctx, "svmap-" + m.lower(),
                       ["svmap", "-p", str(t.port), "-b", "127.0.0.2", "-m", m,
                        "127.0.0.1"])
        expect_nothing_found("svmap -m %s in drop mode" % m, out)
    c = t.status()["counters"]
    ctx.log("counters: rejected_unknown_source %s, dropped_unknown_source %s",
            c["rejected_unknown_source"], c["dropped_unknown_source"])
    if c["rejected_unknown_source"] != 0 or c["dropped_unknown_source"] < 2:
        raise AssertionError("drop mode counters: %s" % c)
    still_serves(ctx, t)


def case_sipvicious_trunk(ctx):
    """The same toolkit from a trunk's address (a forged or compromised carrier
    source): svwar's INVITE and OPTIONS enumeration finds no extension (a number trunx
    has no route for gets the same 404 whatever it is, OPTIONS the same 200), REGISTER
    is refused the same way for every user (no registrar), svcrack gets no challenge,
    and afterwards a real call through trunxd completes. The stack's complaint about
    each of svwar's stray ACKs ("strange ACK from <uri>", one per 404 and per
    retransmission) is one log line and its repeat count, not a line per number."""
    u = calls.uas(ctx, "uas_basic.xml", name="uas_sipp", duration_ms=0)

    def conf(cf):
        cf.section("trunk sipp", match="127.0.0.1/32", port=u.port,
                   uri="sip:127.0.0.1:%d" % u.port)
        cf.section("route sipp", match="+1" + SIPP_DID, to_trunk="sipp")
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=conf).start()
    scan_extensions(ctx, t, ("INVITE", "OPTIONS"), "trunk")
    # REGISTER: trunx is no registrar. svwar lists its own random probe name when the
    # first answer is not a 404 (it calls that "weird"); what matters is that no name
    # of the range is told apart from it.
    out = run_tool(ctx, "svwar-trunk-register",
                   ["svwar", "-p", str(t.port), "-e", EXTENSIONS, "-m", "REGISTER",
                    "127.0.0.1"], timeout=120)
    named = [r for r in table_rows(out) if re.fullmatch(r"\d+", r[0] or "")]
    if named:
        raise AssertionError("svwar REGISTER told extensions apart: %s" % named)
    crack(ctx, t, "trunk")
    c = t.status()["counters"]
    if c["auth_challenged"] != 0 or c["calls_answered"] != 0:
        raise AssertionError("the scan was challenged or answered: %s" % c)
    acks = [r for r in t.log_records()
            if r.get("event") == "sip.stack" and "strange ACK" in r.get("msg", "")]
    ctx.log("stray-ACK log lines: %d (%s repeats)", len(acks),
            sum(r.get("repeated", 0) for r in acks))
    if len(acks) > 6:
        raise AssertionError("the stack's stray-ACK complaints took %d log lines: %s"
                             % (len(acks), [r.get("msg") for r in acks[:5]]))
    still_serves(ctx, t)
    caller = calls.uac(ctx, "uac_basic.xml", t.sip_addr, name="uac_sipp",
                       service=SIPP_DID, duration_ms=200)
    calls.finish(caller, u)
    sipp.expect_ok(caller, 1)
    sipp.expect_ok(u, 1)
    ctx.log("a SIPp call completed after the scans")


# ---- the media ports ------------------------------------------------------------

STRANGER = "127.0.0.7"
PCAP_PACKETS = 236   # g711a.pcap, played by both SIPp parties


class Sprayer:
    """Sends RTP at every even port of a range from a stranger's address, round after
    round, and counts whatever comes back (a latched side sends the call's audio to
    its latched source). Bounded: it stops by itself after `seconds`."""

    def __init__(self, lo, hi, seconds):
        self.ports = list(range(lo + (lo & 1), hi + 1, 2))
        self.deadline = time.monotonic() + seconds
        self.sent = 0
        self.got = 0
        self.stop_flag = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((STRANGER, 0))
        self.sock.setblocking(False)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _packet(self, seq):
        return struct.pack("!BBHII", 0x80, 8, seq & 0xFFFF, seq * 160, 0x5eed) + b"\xd5" * 160

    def _drain(self):
        while True:
            try:
                self.sock.recv(2048)
                self.got += 1
            except (BlockingIOError, InterruptedError):
                return

    def _run(self):
        seq = 0
        while not self.stop_flag and time.monotonic() < self.deadline:
            seq += 1
            for port in self.ports:
                try:
                    self.sock.sendto(self._packet(seq), ("127.0.0.1", port))
                    self.sent += 1
                except OSError:
                    pass
            self._drain()
            time.sleep(0.05)
        self._drain()

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag = True
        self.thread.join(10)
        self._drain()
        self.sock.close()


def bleed_daemon(ctx, latch, trunks=None, ncalls=1):
    """trunxd with [media] latch and trunks' own latch ({"carrier": "any"}: the
    caller's leg A; "pbx": the called leg B), and a callee for ncalls calls."""
    u = calls.uas(ctx, "uas_basic.xml", calls=ncalls, duration_ms=500)

    def conf(cf):
        cf.media["latch"] = latch
        for name, v in (trunks or {}).items():
            getattr(cf, name)["latch"] = v
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, media_ports=200,
                      configure=conf).start()
    return t, u


def sprayed_call(ctx, t, u, n=1, last=True):
    """Call n: 8.5 s, both parties playing g711a.pcap, with a stranger spraying the
    media range from before the call until after it; returns (sprayer, call.end).
    last: the callee's last call (it is then waited for)."""
    lo, hi = t.conf.media_range
    spray = Sprayer(lo, hi, seconds=20).start()
    time.sleep(0.3)
    c = calls.uac(ctx, "uac_basic.xml", t.sip_addr, name="uac%d" % n, duration_ms=8500)
    if last:
        calls.finish(c, u)
    else:
        calls.finish(c)
    time.sleep(0.5)
    spray.stop()
    recs = t.wait_events("call.end", n, 15)
    if len(recs) != n:
        raise AssertionError("expected %d call.end, got %s" % (n, recs))
    rec = recs[n - 1]
    ctx.log("latch=%s %s: stranger sent %d packets to %d ports, got %d back; call.end "
            "rtp_a_in %s rtp_b_in %s rtp_foreign_a %s rtp_foreign_b %s",
            t.conf.media.get("latch"),
            {k: getattr(t.conf, k).get("latch") for k in ("carrier", "pbx")},
            spray.sent, len(spray.ports), spray.got, rec.get("rtp_a_in"),
            rec.get("rtp_b_in"), rec.get("rtp_foreign_a"), rec.get("rtp_foreign_b"))
    sipp.expect_ok(c)
    if last:
        sipp.expect_ok(u)
    return spray, rec


def bleed_call(ctx, latch, trunks=None):
    """One sprayed call on a new trunxd; returns (trunxd, sprayer, call.end)."""
    t, u = bleed_daemon(ctx, latch, trunks)
    spray, rec = sprayed_call(ctx, t, u)
    return t, spray, rec


def refused_on(rec, leg):
    """The stranger's packets were refused on leg (counted foreign), and the party's
    every packet taken there."""
    if rec.get("rtp_%s_in" % leg) != PCAP_PACKETS:
        raise AssertionError("leg %s took %s of %d packets" % (leg, rec.get(
            "rtp_%s_in" % leg), PCAP_PACKETS))
    if not rec.get("rtp_foreign_%s" % leg):
        raise AssertionError("no stranger's packet counted on leg %s: %s" % (leg, rec))


def case_rtp_bleed_refused(ctx):
    """latch = known (the default): the stranger latches neither side of the call, so
    it receives nothing of the call's audio, and each party's every packet is taken
    (rtp_a_in = rtp_b_in = the capture's 236); its packets are dropped and counted
    per leg in call.end, in `trunxctl status` and in /metrics' source counter."""
    t, spray, rec = bleed_call(ctx, "known")
    if spray.got:
        raise AssertionError("the stranger received %d packets of the call" % spray.got)
    for leg in ("a", "b"):
        refused_on(rec, leg)
    st = t.status()["media"]
    if st.get("rtp_foreign", 0) != rec["rtp_foreign_a"] + rec["rtp_foreign_b"]:
        raise AssertionError("status media.rtp_foreign %s, record %s + %s" % (
            st.get("rtp_foreign"), rec["rtp_foreign_a"], rec["rtp_foreign_b"]))
    t.check_alive()


def taken_back_on(rec, leg):
    """latch = any on leg: the stranger's packets are never foreign there (any source
    may latch), yet the party, sending from its SDP address, takes a side the stranger
    latched back at its first packet: every one of its packets is taken (the stranger
    may hold the side, and get audio, only before that packet)."""
    if rec.get("rtp_foreign_%s" % leg):
        raise AssertionError("leg %s (latch = any) counted foreign packets: %s" % (leg, rec))
    if rec.get("rtp_%s_in" % leg, 0) < PCAP_PACKETS:
        raise AssertionError("leg %s lost the party's packets to the stranger: %s"
                             % (leg, rec))


def case_rtp_bleed_any(ctx):
    """The same attack against latch = any, the behaviour that setting names: the
    stranger's packets may latch a side (none is counted foreign), but each party takes
    its side back at its first packet from its SDP address, so neither loses a packet
    (the stranger gets at most what came before that packet)."""
    _, spray, rec = bleed_call(ctx, "any")
    for leg in ("a", "b"):
        taken_back_on(rec, leg)


def case_rtp_bleed_trunk_any(ctx):
    """[media] latch = known, the calling trunk (carrier, leg A) with its own latch =
    any (a NATed party behind a signalling-only proxy): the stranger's packets are not
    foreign on leg A (A takes its side back from its SDP address), while leg B (trunk
    pbx, the node's latch) refuses them: counted foreign there, B's every packet taken."""
    _, spray, rec = bleed_call(ctx, "known", {"carrier": "any"})
    taken_back_on(rec, "a")
    refused_on(rec, "b")


def case_rtp_bleed_trunk_any_b(ctx):
    """The same with the called trunk (pbx, leg B) set to latch = any: no packet of
    the stranger is foreign on leg B, while leg A (trunk carrier, the node's latch =
    known) refuses them all and takes A's every packet."""
    _, _, rec = bleed_call(ctx, "known", {"pbx": "any"})
    if rec.get("rtp_foreign_b"):
        raise AssertionError("leg B (latch = any) counted foreign packets: %s" % rec)
    refused_on(rec, "a")


def case_rtp_bleed_trunk_reload(ctx):
    """A trunk's latch changes with a reload, for the calls after it: the carrier's
    latch = any leaves the stranger's packets unrefused on leg A of the first call; the line removed
    (the node's known) and SIGHUP, the second call refuses it on both legs."""
    t, u = bleed_daemon(ctx, "known", {"carrier": "any"}, ncalls=2)
    spray, rec = sprayed_call(ctx, t, u, 1, last=False)
    taken_back_on(rec, "a")
    del t.conf.carrier["latch"]
    with open(t.conf_path, "w") as f:
        f.write(t.conf.text())
    t.proc.send_signal(signal.SIGHUP)
    if not t.wait_events("reload.done", 1, 15):
        raise AssertionError("no reload.done")
    spray, rec = sprayed_call(ctx, t, u, 2)
    if spray.got:
        raise AssertionError("after the reload the stranger received %d packets" % spray.got)
    for leg in ("a", "b"):
        refused_on(rec, leg)


if __name__ == "__main__":
    sys.exit(case.main(globals()))
