#!/usr/bin/env python3
"""The SIP front as SIPVicious sees it, one ctest test per case: the toolkit most
attacks on SIP services start with (svmap finds SIP services and their User-Agent,
svwar enumerates extensions by how their answers differ, svcrack guesses digest
passwords). trunxd must give it nothing to work with: from a stranger one uniform
refusal (reject mode) or silence (drop mode), from a trunk's address answers that do
not depend on the number asked for, no challenge to crack, and afterwards trunxd still
serves calls. Everything on loopback, ports picked at run time, every process ended by
PID, each scan bounded by its extension range and a timeout.

svwar and svcrack 0.3.3 send from 127.0.0.1 whatever they are told to bind to (-b),
so the reject-mode stranger case moves the trunks elsewhere (127.0.0.9) instead; svmap
honours -b, which the drop-mode case uses (trunxd's readiness check comes from the
trunk, 127.0.0.1, and would be dropped otherwise).
"""
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import calls, case, sipmsg, sipp, trunxd  # noqa: E402

EXTENSIONS = "100-139"
SIPP_DID = "5550002000"


def tool(name):
    p = shutil.which(name)
    if not p:
        raise AssertionError("%s not installed (Debian package sipvicious; tools/deps.sh)"
                             % name)
    return p


def run_tool(ctx, name, argv, timeout=90.0):
    """Runs one SIPVicious command to its end; returns its stdout + stderr."""
    p = ctx.reg.start(name, [tool(argv[0])] + argv[1:])
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
                       ["svwar", "-p", str(t.port), "-e", EXTENSIONS, "-D", "-m", m,
                        "127.0.0.1"], timeout=120)
        expect_nothing_found("svwar -m %s" % m, out)


def crack(ctx, t, label):
    out = run_tool(ctx, "svcrack-" + label,
                   ["svcrack", "-p", str(t.port), "-u", "100", "-r", "1000-1099",
                    "127.0.0.1"], timeout=120)
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
    OPTIONS, the range and the usual defaults) finds no extension because every
    request gets the same 403; svcrack gets no challenge. No call is attempted, every
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
    crack(ctx, t, "stranger")
    c = t.status()["counters"]
    ctx.log("counters: calls_total %s, rejected_unknown_source %s, auth_challenged %s",
            c["calls_total"], c["rejected_unknown_source"], c["auth_challenged"])
    if c["calls_total"] != 0 or c["auth_challenged"] != 0:
        raise AssertionError("a stranger's scan reached the call layer: %s" % c)
    # svmap 2 + svwar (40 + defaults + its probes) x 3 + svcrack's attempts
    if c["rejected_unknown_source"] < 200:
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
    and afterwards a real call through trunxd completes."""
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
    still_serves(ctx, t)
    caller = calls.uac(ctx, "uac_basic.xml", t.sip_addr, name="uac_sipp",
                       service=SIPP_DID, duration_ms=200)
    calls.finish(caller, u)
    sipp.expect_ok(caller, 1)
    sipp.expect_ok(u, 1)
    ctx.log("a SIPp call completed after the scans")


if __name__ == "__main__":
    case.main(globals())
