#!/usr/bin/env python3
"""The daemon's control plane end to end: trunxd started with a generated configuration
on free loopback ports, driven through trunxctl and the raw control protocol; --check
on good and bad files; SIGHUP and `trunxctl reload` with good and bad files; loglevel;
calls and hangup; sd_notify; control socket conflicts; SIGTERM with a call up."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import calls, case, ports, procs, sipp, trunxd  # noqa: E402

OTHER_DID = "+15550009999"   # a number no call in these tests dials


def _ctl(ctx, td, *args, expect_rc=0, timeout=20):
    """Runs trunxctl; returns (rc, stdout, stderr), checking the exit code."""
    argv = [ctx.trunxctl_path, "-s", td.conf.control_socket] + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if expect_rc is not None and p.returncode != expect_rc:
        raise AssertionError("trunxctl %s: rc %d, expected %d\nstdout: %s\nstderr: %s"
                             % (" ".join(args), p.returncode, expect_rc, p.stdout, p.stderr))
    return p.returncode, p.stdout, p.stderr


def _ctl_json(ctx, td, *args, expect_rc=0):
    _, out, _ = _ctl(ctx, td, *(list(args) + ["--json"]), expect_rc=expect_rc)
    return json.loads(out)


def _raw(path, data, timeout=10.0):
    """Sends raw bytes on the control socket; returns (reply lines, closed_by_server)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(data)
    buf = b""
    closed = False
    want = data.count(b"\n") or 1
    try:
        while buf.count(b"\n") < want:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            buf += chunk
        if not closed:
            s.settimeout(0.5)
            try:
                closed = s.recv(1) == b""
            except socket.timeout:
                closed = False
            except ConnectionResetError:
                closed = True   # closed with our surplus bytes unread: a reset
    finally:
        s.close()
    return [json.loads(l) for l in buf.splitlines() if l.strip()], closed


def _short_path(ctx, name):
    """A path for a Unix socket the test binds itself: a build tree's work dir can be
    too long for sun_path, so it goes to a private temp dir removed at the end."""
    d = tempfile.mkdtemp(prefix="trunx-ctl-")
    ctx.at_end(lambda: shutil.rmtree(d, ignore_errors=True))
    return os.path.join(d, name)


def _write_conf(td, text=None):
    with open(td.conf_path, "w") as f:
        f.write(text if text is not None else td.conf.text())


def _status(ctx, td):
    r = _ctl_json(ctx, td, "status")
    assert r["ok"], r
    return r["result"]


def _wait_event(td, name, count, timeout=15.0):
    recs = td.wait_events(name, count, timeout)
    if len(recs) < count:
        raise AssertionError("%s: %d %s records, expected %d"
                             % (td.name, len(recs), name, count))
    return recs


def _line_of(text, needle):
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip() == needle:
            return i
    raise AssertionError("%r not in the config" % needle)


# ---- cases ----------------------------------------------------------------------------

def case_status_and_socket(ctx):
    """status through trunxctl (JSON and human), the socket's mode, protocol errors on
    the raw socket, and the socket file removed on SIGTERM."""
    td = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    path = td.conf.control_socket
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode), "control socket is not a socket"
    assert stat.S_IMODE(st.st_mode) == 0o660, "mode %o" % stat.S_IMODE(st.st_mode)

    res = _status(ctx, td)
    ctx.log("status: %s", json.dumps(res))
    assert res["version"], res
    assert res["pid"] == td.proc.pid, res
    assert res["uptime_s"] >= 0
    assert res["log_level"] == "info"
    assert res["calls"]["active"] == 0 and res["calls"]["total"] == 0, res
    assert res["workers"] == 2, res
    for k in ("rejected_overload", "shed_overload", "rejected_unknown_source",
              "rejected_no_route", "rejected_bad_request", "rtp_timeouts", "calls_total"):
        assert k in res["counters"], "counter %s missing" % k
    media = res["media"]
    assert media["sessions"] == 0 and media["rtp_relayed"] == 0, media
    assert media["rtp_dropped"] == 0 and media["ports_free"] > 0, media
    mem = res["memory"]   # the allocator's count: objects alive within what it holds
    assert 0 <= mem["heap_in_use_kb"] <= mem["heap_total_kb"], mem   # 0 under ASan
    assert mem["heap_free_kb"] <= mem["heap_total_kb"], mem

    _, out, _ = _ctl(ctx, td, "status")
    for word in ("version", "uptime", "workers", "counters", "rejected_overload",
                 "shed_overload", "ports_free"):
        assert word in out, "%r not in:\n%s" % (word, out)

    # Protocol errors: an unknown command keeps the connection, an oversized line does not.
    reps, closed = _raw(path, b"frobnicate\nstatus\n")
    assert reps[0]["error"] == "unknown_command" and reps[1]["ok"], reps
    assert not closed
    reps, closed = _raw(path, b"x" * 5000)
    assert reps and reps[0]["error"] == "line_too_long", reps
    assert closed, "connection kept after an oversized line"
    _, _, err = _ctl(ctx, td, "hangup", "no-such-call", expect_rc=1)
    assert "not_found" in err, err

    rc = td.stop()
    assert rc == 0, "exit code %s" % rc
    assert not os.path.exists(path), "control socket left behind"


def case_check_good_and_bad(ctx):
    """--check: a good file exits 0; bad values and unknown keys exit non-zero with
    FILE:LINE: reason; a missing file too."""
    port = ports.free_port("127.0.0.1")
    conf = trunxd.Config(port, (20000, 20099), "/tmp/unused-check.sock")
    good = conf.text()
    path = ctx.path("good.conf")
    with open(path, "w") as f:
        f.write(good)
    p = subprocess.run([ctx.trunxd_path, "--config", path, "--check"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "ok" in p.stdout, p.stdout

    cases = [
        ("max_calls = 1000", "max_calls = lots", "max_calls"),
        ("log_level = info", "log_level = shouty", "log_level"),
        ("workers = 2", "workerz = 2", "workerz"),
    ]
    for old, new, word in cases:
        line = _line_of(good, old)
        bad = ctx.path("bad_%s.conf" % word)
        with open(bad, "w") as f:
            f.write(good.replace(old + "\n", new + "\n"))
        p = subprocess.run([ctx.trunxd_path, "--config", bad, "--check"],
                           capture_output=True, text=True, timeout=30)
        want = "%s:%d:" % (bad, line)
        ctx.log("--check %s -> rc %d: %s", new, p.returncode, p.stderr.strip())
        assert p.returncode != 0, "bad config accepted: %s" % new
        assert want in p.stderr and word in p.stderr, \
            "expected %r and %r in: %s" % (want, word, p.stderr)
    p = subprocess.run([ctx.trunxd_path, "--config", ctx.path("missing.conf"), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "missing.conf" in p.stderr, p.stderr


def _pbx_config(uas_port, did_match):
    def configure(c):
        c.route["match"] = did_match
    return configure


def case_reload_good(ctx):
    """A call to a number without a route gets 404; the route is added to the file, and
    after SIGHUP the same call goes through; after `trunxctl reload` with the route
    gone again it gets 404 again."""
    uas = calls.uas(ctx, "uas_answer.xml", calls=1, timeout=90)
    td = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=uas.port,
                       configure=_pbx_config(uas.port, OTHER_DID)).start()

    c = calls.uac(ctx, "uac_404.xml", td.sip_addr, name="uac_404_before", timeout=30)
    calls.finish(c)
    sipp.expect_ok(c)
    assert _status(ctx, td)["counters"]["rejected_no_route"] == 1

    td.conf.route["match"] = "+1" + calls.DID
    _write_conf(td)
    td.proc.send_signal(signal.SIGHUP)
    rec = _wait_event(td, "reload.done", 1)[0]
    assert rec.get("source") == "signal", rec
    c = calls.uac(ctx, "uac_basic.xml", td.sip_addr, name="uac_after", duration_ms=500,
                  timeout=60)
    calls.finish(c, uas)
    sipp.expect_ok(c)
    sipp.expect_ok(uas)
    res = _status(ctx, td)
    assert res["counters"]["rejected_no_route"] == 1, res
    assert res["calls"]["answered"] == 1, res

    td.conf.route["match"] = OTHER_DID
    _write_conf(td)
    r = _ctl_json(ctx, td, "reload")
    assert r["ok"] and r["result"]["restart_required"] == [], r
    assert r["result"]["routes"] == 1 and r["result"]["trunks"] == 2, r
    c = calls.uac(ctx, "uac_404.xml", td.sip_addr, name="uac_404_after", timeout=30)
    calls.finish(c)
    sipp.expect_ok(c)
    assert _status(ctx, td)["counters"]["rejected_no_route"] == 2


def case_reload_bad(ctx):
    """A broken file on SIGHUP and on `trunxctl reload`: the error (file:line) is logged
    and replied, trunxd keeps running with the old configuration (its route still
    routes), and a later good reload works."""
    uas = calls.uas(ctx, "uas_answer.xml", calls=1, timeout=90)
    td = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=uas.port).start()
    good = td.conf.text()
    line = _line_of(good, "max_cps = 1000")
    _write_conf(td, good.replace("max_cps = 1000\n", "max_cps = 0\n")
                + "[route extra]\nmatch = +1999\nto_trunk = pbx\n")
    want = "%s:%d:" % (td.conf_path, line)

    td.proc.send_signal(signal.SIGHUP)
    rec = _wait_event(td, "reload.failed", 1)[0]
    ctx.log("reload.failed: %s", rec)
    assert rec.get("source") == "signal" and want in rec.get("error", ""), rec
    td.check_alive()

    rc, out, err = _ctl(ctx, td, "reload", expect_rc=1)
    assert "reload_failed" in err and want in err and "max_cps" in err, err
    r = _ctl_json(ctx, td, "reload", expect_rc=1)
    assert not r["ok"] and r["error"] == "reload_failed" and want in r["message"], r

    # The old configuration is in force: the call is routed and answered.
    assert td.options_ok()
    c = calls.uac(ctx, "uac_basic.xml", td.sip_addr, duration_ms=300, timeout=60)
    calls.finish(c, uas)
    sipp.expect_ok(c)
    sipp.expect_ok(uas)

    _write_conf(td, good)
    r = _ctl_json(ctx, td, "reload")
    assert r["ok"], r
    _wait_event(td, "reload.done", 1)


def case_reload_restart_required(ctx):
    """Settings bound at start-up are reported, not applied: trunxd keeps its SIP
    port and the reply names the keys; live ones (max_calls) need no restart."""
    td = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    old_port = td.port
    td.conf.sip["listen"] = "127.0.0.1:%d" % ports.free_port("127.0.0.1")
    td.conf.sip["max_calls"] = 5
    td.conf.media["workers"] = 3
    _write_conf(td)
    r = _ctl_json(ctx, td, "reload")
    assert r["ok"], r
    assert sorted(r["result"]["restart_required"]) == ["media.workers", "sip.listen"], r
    _, out, _ = _ctl(ctx, td, "reload")
    assert "configuration reloaded" in out and "sip.listen" in out, out
    recs = _wait_event(td, "reload.restart_required", 2)
    ctx.log("restart_required: %s", [r.get("msg") for r in recs])
    assert td.options_ok(), "trunxd no longer answers on its original port %d" % old_port
    assert _status(ctx, td)["workers"] == 2


def case_loglevel(ctx):
    """loglevel shows and sets the level at once: debug records appear after
    `loglevel debug` and stop after `loglevel warn`; a bad level is refused."""
    td = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    r = _ctl_json(ctx, td, "loglevel")
    assert r["result"]["log_level"] == "info", r
    _ctl(ctx, td, "status")
    assert not td.events("ctl.request"), "debug record at level info"

    _, out, _ = _ctl(ctx, td, "loglevel", "debug")
    assert out.strip() == "log level debug (was info)", out
    _ctl(ctx, td, "status")
    recs = _wait_event(td, "ctl.request", 1)
    assert recs[-1]["level"] == "debug" and recs[-1]["command"] == "status", recs[-1]

    _ctl(ctx, td, "loglevel", "warn")
    n = len(td.events("ctl.request"))
    _ctl(ctx, td, "status")
    _ctl(ctx, td, "calls")
    time.sleep(0.3)
    assert len(td.events("ctl.request")) == n, "debug records after loglevel warn"
    assert _status(ctx, td)["log_level"] == "warn"
    _, _, err = _ctl(ctx, td, "loglevel", "shouty", expect_rc=1)
    assert "bad_request" in err, err
    # A reload sets the file's level again.
    r = _ctl_json(ctx, td, "reload")
    assert r["result"]["log_level"] == "info" and _status(ctx, td)["log_level"] == "info"


def case_calls_and_hangup(ctx):
    """A call in progress is listed by `trunxctl calls` (id, numbers, state, legs,
    codecs) and `trunxctl hangup ID` ends it: both sides get BYE, status is back to 0
    active calls."""
    uas = calls.uas(ctx, "uas_answer.xml", calls=1, timeout=90)
    td = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=uas.port).start()
    c = calls.uac(ctx, "uac_wait_bye.xml", td.sip_addr, timeout=90)
    got = procs.wait_until(lambda: _ctl_json(ctx, td, "calls")["result"], 20, 0.2)
    assert got and len(got) == 1, got
    call = got[0]
    ctx.log("call: %s", call)
    assert call["to"] == "+1" + calls.DID, call
    assert calls.CALLER in call["from"], call
    procs.wait_until(lambda: _ctl_json(ctx, td, "calls")["result"][0]["state"] == "answered"
                     if _ctl_json(ctx, td, "calls")["result"] else False, 20, 0.2)
    _, out, _ = _ctl(ctx, td, "calls")
    ctx.log("trunxctl calls:\n%s", out)
    assert "ID" in out and call["id"] in out and "1 call" in out, out
    assert _status(ctx, td)["calls"]["active"] == 1

    _, out, _ = _ctl(ctx, td, "hangup", call["id"])
    assert "hangup sent" in out, out
    calls.finish(c, uas, timeout=60)
    sipp.expect_ok(c)
    sipp.expect_ok(uas)
    assert procs.wait_until(lambda: _status(ctx, td)["calls"]["active"] == 0, 15, 0.2), \
        "calls still active after hangup"
    assert _ctl_json(ctx, td, "calls")["result"] == []
    _, _, err = _ctl(ctx, td, "hangup", call["id"], expect_rc=1)
    assert "not_found" in err, err


def case_sd_notify(ctx):
    """With NOTIFY_SOCKET set, trunxd sends READY=1 once serving, RELOADING=1 then
    READY=1 around a reload, STOPPING=1 on SIGTERM."""
    sock_path = _short_path(ctx, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(sock_path)
    ns.settimeout(20)
    os.environ["NOTIFY_SOCKET"] = sock_path   # inherited by trunxd only
    try:
        td = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    finally:
        del os.environ["NOTIFY_SOCKET"]

    def expect(state):
        while True:
            msg = ns.recv(4096).decode()
            ctx.log("notify: %r", msg)
            if state in msg.split("\n"):
                return
    expect("READY=1")
    _ctl(ctx, td, "reload")
    expect("RELOADING=1")
    expect("READY=1")
    td.proc.send_signal(signal.SIGTERM)
    expect("STOPPING=1")
    assert td.stop() == 0
    ns.close()


def case_socket_conflicts(ctx):
    """A stale socket file (a dead trunxd's) is replaced at start; a second trunxd
    configured with a live trunxd's socket refuses to start and leaves it alone."""
    sock = _short_path(ctx, "shared.ctl")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.close()                      # the file stays, nobody listens: stale

    def same_socket(c):
        c.general["control_socket"] = sock
        c.control_socket = sock
    td = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=same_socket).start()
    assert _status(ctx, td)["calls"]["active"] == 0

    port = ports.free_port("127.0.0.1")
    conf = trunxd.Config(port, ports.free_range(20, "127.0.0.1", avoid=(port,)), sock)
    path = ctx.path("second.conf")
    with open(path, "w") as f:
        f.write(conf.text())
    p = ctx.reg.start("second", [ctx.trunxd_path, "--config", path])
    rc = p.wait(30)
    err = p.read_stderr()
    ctx.log("second trunxd: rc %s, %s", rc, err.strip().splitlines()[-3:])
    assert rc not in (None, 0), "second trunxd did not refuse (rc %s)" % rc
    assert "ctl.listen_failed" in err and "another process" in err, err
    assert not trunxd.sanitizer_report(err), err
    # The first one still owns its socket.
    assert _status(ctx, td)["pid"] == td.proc.pid


def case_sigterm_with_call(ctx):
    """SIGTERM with a call up: the call gets BYE on both legs, trunxd exits 0 within the
    grace period, the control socket is removed."""
    uas = calls.uas(ctx, "uas_answer.xml", calls=1, timeout=90)
    td = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=uas.port).start()
    c = calls.uac(ctx, "uac_wait_bye.xml", td.sip_addr, timeout=90)
    assert procs.wait_until(lambda: _status(ctx, td)["calls"]["answered"] == 1, 20, 0.2)
    t0 = time.monotonic()
    rc = td.stop()
    ctx.log("trunxd exit %s after %.2f s", rc, time.monotonic() - t0)
    assert rc == 0, rc
    calls.finish(c, uas, timeout=30)
    sipp.expect_ok(c)
    sipp.expect_ok(uas)
    assert not os.path.exists(td.conf.control_socket)
    stops = [r for r in td.log_records() if r.get("event") == "trunxd.stop"]
    assert stops, "no trunxd.stop record"


def _uas_ignoring_bye(ctx):
    """A copy of uas_answer.xml that never answers the BYE: the call stays up on the
    B side until the BYE transaction times out (32 s)."""
    with open(ctx.scenario("uas_answer.xml")) as f:
        text = f.read()
    start = text.index('<recv request="BYE"')
    end = text.index("</send>", start) + len("</send>")
    text = text[:start] + '<recv request="BYE" timeout="120000"/>\n  <pause milliseconds="60000"/>' \
        + text[end:]
    path = ctx.path("uas_ignore_bye.xml")
    with open(path, "w") as f:
        f.write(text)
    return path


def case_shutdown_status(ctx):
    """During the shutdown grace period `trunxctl status` still answers (the call whose
    BYE goes unanswered is still counted) and a reload is refused as unavailable;
    trunxd then exits 0 and removes its socket."""
    grace = 6
    uas = calls.uas(ctx, _uas_ignoring_bye(ctx), calls=1, timeout=90,
                    extra=["-default_behaviors", "none"])

    def cfg(c):
        c.sip["shutdown_grace"] = grace
    td = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=uas.port, configure=cfg).start()
    c = calls.uac(ctx, "uac_wait_bye.xml", td.sip_addr, timeout=90)
    assert procs.wait_until(lambda: _status(ctx, td)["calls"]["answered"] == 1, 20, 0.2)
    t0 = time.monotonic()
    td.proc.send_signal(signal.SIGTERM)
    _wait_event(td, "signal.stop", 1)
    res = _status(ctx, td)
    ctx.log("status while stopping: calls %s", res["calls"])
    assert res["calls"]["active"] == 1, res
    r = _ctl_json(ctx, td, "reload", expect_rc=1)
    assert r["error"] == "unavailable" and "shutting down" in r["message"], r
    calls.finish(c, timeout=30)
    sipp.expect_ok(c)                      # A got its BYE
    rc = td.stop(timeout=60)
    ctx.log("trunxd exit %s after %.1f s", rc, time.monotonic() - t0)
    assert rc == 0, rc
    assert time.monotonic() - t0 >= grace - 1, "trunxd did not wait for the call"
    # The unanswered BYE holds the exit for about 4 s more (not the stack's 32 s).
    assert time.monotonic() - t0 < grace + 20, "exit held by the unanswered BYE"
    assert not os.path.exists(td.conf.control_socket)
    assert td.events("b2bua.stop"), "no record of the call still up after the grace"


def case_answer_unwritten(ctx):
    """An answer trunxctl cannot write to its standard output (here /dev/full, as a full
    disk) is not a success: exit code 4 and a line on stderr, in JSON and human form.
    A timeout with anything after its number is refused as usage, not read as the
    number."""
    td = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    sock = td.conf.control_socket
    for args in (["status"], ["status", "--json"], ["calls"]):
        with open("/dev/full", "w") as full:
            p = subprocess.run([ctx.trunxctl_path, "-s", sock] + args, stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=20)
        assert p.returncode == 4, "trunxctl %s to /dev/full: rc %d, stderr %r" % (
            " ".join(args), p.returncode, p.stderr)
        assert "cannot write the answer to standard output" in p.stderr, p.stderr
    _, out, _ = _ctl(ctx, td, "status")
    assert "version" in out, out
    for bad in ("5x", "0", "3601", "", "99999999999999999999"):
        _, _, err = _ctl(ctx, td, "-t", bad, "status", expect_rc=2)
        assert "bad timeout" in err, err
    _ctl(ctx, td, "-t", "5", "status")
    assert td.stop() == 0


def _fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def _rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def case_pipelined_unread(ctx):
    """A control client that pipelines requests and never reads the answers (each
    `status` line of 7 bytes asks for an answer of about 1 KB): trunxd stops reading
    from it once a bounded amount of answers waits (the socket's flow control pushes
    back on the sender), keeps serving other control clients at once meanwhile, and
    closes it after the idle timeout (30 s) without progress. It used to read and
    answer all it was sent, keeping every answer: memory without bound."""
    td = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    pid, path = td.proc.pid, td.conf.control_socket
    _status(ctx, td)
    fds0, rss0 = _fds(pid), _rss_mb(pid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(path)
    s.setblocking(False)
    ctx.at_end(s.close)
    chunk = b"status\n" * 4096
    sent, slowest, peak, t0 = 0, 0.0, rss0, time.monotonic()
    while time.monotonic() - t0 < 6:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.02)
        peak = max(peak, _rss_mb(pid))
        if sent > (64 << 20) or peak - rss0 > 256:
            break   # failed already: spare the machine
        if int((time.monotonic() - t0) * 4) % 4 == 0:   # another client meanwhile
            t1 = time.monotonic()
            reps, _ = _raw(path, b"status\n", timeout=5)
            slowest = max(slowest, time.monotonic() - t1)
            assert reps and reps[0]["ok"], reps
    ctx.log("sent %d bytes of requests unread in %.1f s; RSS %.1f -> peak %.1f MB; "
            "slowest other status %.2f s", sent, time.monotonic() - t0, rss0, peak, slowest)
    assert sent < (4 << 20) and peak - rss0 < 16, "trunxd read %d bytes of requests " \
        "from a client that reads no answer: RSS %.1f -> %.1f MB" % (sent, rss0, peak)
    assert slowest < 2.0, "another control client waited %.2f s" % slowest
    # A client that pipelines as much and reads gets every answer, in order.
    r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctx.at_end(r.close)
    r.connect(path)
    r.settimeout(10)
    r.sendall(b"status\nloglevel\n" * 1000)
    buf = b""
    while buf.count(b"\n") < 2000:
        b = r.recv(1 << 16)
        assert b, "closed after %d answers" % buf.count(b"\n")
        buf += b
    answers = [json.loads(x) for x in buf.splitlines()]
    assert [x["command"] for x in answers] == ["status", "loglevel"] * 1000, answers[:3]
    r.close()
    # Nothing moves: cut after the idle timeout (30 s), its descriptor given back.
    ok = procs.wait_until(lambda: _fds(pid) <= fds0, 40, 0.5)
    assert ok, "a client that reads nothing still held after 40 s (%d fds, %d at start)" % (
        _fds(pid), fds0)
    _status(ctx, td)
    assert td.stop() == 0


def _cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def case_out_of_descriptors(ctx):
    """Control connections arriving while trunxd is out of descriptors (its open-file
    limit lowered under its feet): the control thread pauses accepting a second at a
    time instead of spinning on the listener (accept() failing at once, again and
    again) and writing a line each time, and serves again once descriptors are back."""
    import resource
    td = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    pid, path = td.proc.pid, td.conf.control_socket
    _status(ctx, td)
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    errs0 = len(td.events("ctl.accept_failed"))
    held = []
    ctx.at_end(lambda: [h.close() for h in held])
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (_fds(pid) + 4, hard))
    try:
        for _ in range(12):
            h = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            h.connect(path)
            held.append(h)
        time.sleep(0.5)
        cpu0 = _cpu_s(pid)
        time.sleep(3.0)
        cpu = _cpu_s(pid) - cpu0
        errs = len(td.events("ctl.accept_failed")) - errs0
        ctx.log("out of descriptors: %.2f s of CPU in 3 s, %d ctl.accept_failed lines",
                cpu, errs)
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    assert errs >= 1, "no ctl.accept_failed line with the descriptors gone"
    assert cpu < 0.5, "trunxd used %.2f s of CPU in 3 s out of descriptors" % cpu
    for h in held:
        h.close()
    held.clear()
    ok = procs.wait_until(lambda: _raw(path, b"status\n", timeout=3)[0][0]["ok"], 10, 0.3)
    assert ok, "the control socket did not recover after the descriptors came back"
    assert td.stop() == 0
    # Every failed accept() counts, those the log folded into "repeated" too.
    fails = sum(1 + r.get("repeated", 0) for r in td.events("ctl.accept_failed")) - errs0
    assert fails <= 10, "accept() failed %d times in 3 s out of descriptors" % fails


if __name__ == "__main__":
    sys.exit(case.main(globals()))
