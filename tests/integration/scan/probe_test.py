#!/usr/bin/env python3
"""The network doors as nmap and sipsak see them, one ctest test per case.

nmap (its SIP, HTTP and TLS scripts) and sipsak (OPTIONS, REGISTER, flood and random
modes) against a running trunxd, from a stranger's address and from a trunk's:

  nmap_sip_stranger   sip-methods, sip-enum-users, sip-brute, sip-call-spoof over UDP
                      and TCP from a stranger: nothing enumerated (the 403 names no
                      method), no account, no call, no challenge
  nmap_sip_trunk      the same scripts from the trunk's address: the methods trunx
                      serves, still no extension, account or challenge; calls refused
                      for lack of a route, never answered
  nmap_tls            ssl-enum-ciphers and ssl-cert on the SIP TLS listener: TLS 1.2
                      and 1.3 only, forward-secret AEAD ciphers only, all graded A;
                      a stranger gets no handshake at all
  nmap_api            http-methods, http-headers, http-server-header, http-trace,
                      http-enum and http-slowloris-check on the HTTP API: the route's
                      own methods only, no Server banner, no TRACE, nothing found,
                      not held open by a slow client; the API still answers
  sipsak_stranger     OPTIONS, REGISTER, a flood and random garbage from a stranger:
                      403 naming nothing, then memory, CPU and the log back to normal
  sipsak_trunk        the same from the trunk's address: 200 with the methods, 405 to
                      REGISTER (no registrar), the flood rate-limited, trunxd back to
                      normal and still serving

nmap's SIP scripts only run against a port named "sip" in its services file, so each
case gives nmap a data directory (--datadir) whose nmap-services names trunxd's ports
for what they are; nmap reads everything else from its own. The stranger's address is
127.0.0.2 (nmap: -S with -e lo; sipsak: --local-ip): trunxd's readiness check and the
trunk stay on 127.0.0.1. nmap's UDP scan and its -S need root.

Everything on loopback, ports picked at run time, every process ended by PID, each
tool run bounded by a timeout.
"""
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "api"))

from harness import case, procs, tlscerts, trunxd  # noqa: E402

STRANGER = "127.0.0.2"
TRUNK = "127.0.0.1"
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK, UPDATE, INFO"


def tool(name, package):
    p = shutil.which(name)
    if not p:
        raise AssertionError("%s not installed (Debian package %s; tools/deps.sh)"
                             % (name, package))
    return p


def run(ctx, name, argv, timeout):
    """Runs one tool to its end (killed by PID past timeout); returns stdout + stderr."""
    p = ctx.reg.start(name, argv)
    rc = p.wait(timeout)
    if rc is None:
        p.kill()
        raise AssertionError("%s did not finish within %.0f s" % (name, timeout))
    out = p.read_stdout() + p.read_stderr()
    ctx.log("%s (rc %s):\n%s", name, rc, out.strip()[-3000:])
    return out


def need_root():
    if os.geteuid() != 0:
        raise AssertionError("nmap's UDP scan and source address (-S) need root")


def nmap(ctx, name, services, ports, scripts, args="", source=None, udp=False,
         timeout=60):
    """nmap with its data directory naming our ports (services: [(name, 'port/proto')]);
    returns {(port, proto): script output text} and the whole output."""
    need_root()
    dd = ctx.path("nmap-" + name)
    os.makedirs(dd, exist_ok=True)
    with open(os.path.join(dd, "nmap-services"), "w") as f:
        for svc, pp in services:
            f.write("%s\t%s\t0.5\n" % (svc, pp))
    argv = [tool("nmap", "nmap"), "-n", "-Pn", "--datadir", dd, "-p", ports,
            "--script", scripts, "--host-timeout", "%ds" % (timeout - 5)]
    argv += ["-sU", "-sT"] if udp else ["-sT"]
    if args:
        argv += ["--script-args", args]
    if source:
        argv += ["-S", source, "-e", "lo"]
    argv.append("127.0.0.1")
    out = run(ctx, "nmap-" + name, argv, timeout)
    if "Nmap done" not in out:
        raise AssertionError("nmap %s did not complete" % name)
    return port_sections(out), out


def port_sections(out):
    """The script output under each port line of nmap's report: {(port, proto): text}."""
    secs, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^(\d+)/(tcp|udp)\s+(\S+)", line)
        if m:
            cur = (int(m.group(1)), m.group(2))
            secs[cur] = ""
        elif cur and line.startswith("|"):
            secs[cur] += line + "\n"
        elif cur and line.strip() == "":
            cur = None
    return secs


def script_out(text, script):
    """The lines one script wrote in a port's section ('' when it wrote none)."""
    out, inside = [], False
    for line in text.splitlines():
        m = re.match(r"^\|_? ?([\w-]+):", line)
        if m and not line.startswith("|  "):
            inside = m.group(1) == script
        if inside:
            out.append(line)
    return "\n".join(out)


SIP_SCRIPTS = "sip-methods,sip-enum-users,sip-brute,sip-call-spoof"


def sip_args(ctx):
    users, words = ctx.path("users.txt"), ctx.path("passwords.txt")
    with open(users, "w") as f:
        f.write("100\n101\n1000\n")
    with open(words, "w") as f:
        f.write("secret\n1234\n100\npassword\n")
    return ("sip-enum-users.minext=100,sip-enum-users.maxext=160,userdb=%s,passdb=%s,"
            "unpwdb.timelimit=15s,sip-call-spoof.timeout=2s,sip-call-spoof.extension=100"
            % (users, words))


def sip_scan(ctx, t, name, source):
    secs, _ = nmap(ctx, name, [("sip", "%d/udp" % t.port), ("sip", "%d/tcp" % t.port)],
                   "U:%d,T:%d" % (t.port, t.port), SIP_SCRIPTS, sip_args(ctx),
                   source=source, udp=True, timeout=90)
    for proto in ("udp", "tcp"):
        if (t.port, proto) not in secs:
            raise AssertionError("nmap did not report %d/%s: %s" % (t.port, proto, secs))
    return secs


def no_account(text, where):
    brute = script_out(text, "sip-brute")
    if brute and "No valid accounts found" not in brute:
        raise AssertionError("sip-brute %s: %s" % (where, brute))
    for s in ("sip-enum-users", "sip-call-spoof"):
        if script_out(text, s):
            raise AssertionError("%s %s found something:\n%s" % (s, where, text))


def case_nmap_sip_stranger(ctx):
    """A stranger runs nmap's SIP scripts over UDP and TCP (reject mode): every answer
    is a 403 that names no method nor extension, so sip-methods lists nothing,
    sip-enum-users finds no extension, sip-brute no account, sip-call-spoof no call;
    nothing reaches the call layer or is challenged, every request is counted as
    refused, the connections from the stranger are closed, trunxd serves on."""
    t = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    secs = sip_scan(ctx, t, "stranger", STRANGER)
    for (port, proto), text in secs.items():
        where = "%s from a stranger" % proto
        if script_out(text, "sip-methods"):
            raise AssertionError("sip-methods enumerated %s:\n%s" % (where, text))
        no_account(text, where)
    c = t.status()["counters"]
    ctx.log("counters: %s", {k: v for k, v in c.items() if v})
    if c["calls_total"] or c["auth_challenged"]:
        raise AssertionError("a stranger's scan reached the call layer: %s" % c)
    if c["rejected_unknown_source"] < 10:
        raise AssertionError("rejected_unknown_source = %s" % c["rejected_unknown_source"])
    if not t.options_ok():
        raise AssertionError("OPTIONS from the trunk unanswered after the scan")


def case_nmap_sip_trunk(ctx):
    """The same scripts from the trunk's address: sip-methods lists exactly what trunx
    serves (over UDP, answered before the stack, and over TCP, by it); sip-enum-users
    finds no extension (REGISTER gets 405 whatever the user, never the 404 it needs for
    a baseline), sip-brute no account (no challenge), sip-call-spoof's INVITE is
    refused (no route) and never answered; trunxd serves on."""
    t = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    secs = sip_scan(ctx, t, "trunk", TRUNK)
    for (port, proto), text in secs.items():
        meth = script_out(text, "sip-methods")
        if ALLOW not in meth:
            raise AssertionError("sip-methods over %s from the trunk: %r (want %s)"
                                 % (proto, meth, ALLOW))
        no_account(text, "%s from the trunk" % proto)
    c = t.status()["counters"]
    ctx.log("counters: %s", {k: v for k, v in c.items() if v})
    if c["auth_challenged"] or c["calls_answered"] or c["rejected_unknown_source"]:
        raise AssertionError("the trunk's scan was challenged, answered or refused as a "
                             "stranger: %s" % c)
    if t.active_calls():
        raise AssertionError("calls left after the scan: %s" % t.active_calls())
    if not t.options_ok():
        raise AssertionError("OPTIONS from the trunk unanswered after the scan")


def tls_scan(ctx, t, who, src):
    secs, _ = nmap(ctx, "tls-" + who, [("sip-tls", "%d/tcp" % t.tls_port)],
                   "T:%d" % t.tls_port, "ssl-enum-ciphers,ssl-cert", source=src, timeout=60)
    text = secs.get((t.tls_port, "tcp"), "")
    enum = script_out(text, "ssl-enum-ciphers")
    return text, enum, re.findall(r"^\|\s+(SSLv\d|TLSv[\d.]+):", enum, re.M)


def case_nmap_tls(ctx):
    """ssl-enum-ciphers and ssl-cert on the SIP TLS listener. From the trunk's address:
    TLS 1.2 and 1.3 only (no SSLv3, TLS 1.0 or 1.1), ECDHE key exchange with AEAD
    ciphers only, every one graded A, the server's order, the configured certificate.
    From a stranger's: no handshake at all (refused on its ClientHello, counted), so no
    protocol, cipher or certificate to list. trunxd serves on."""
    pki = tlscerts.Pki(ctx.path("pki"))
    cert, key, _ = pki.issue("trunx")
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, tls=(cert, key, pki.ca)).start()
    text, enum, versions = tls_scan(ctx, t, "trunk", TRUNK)
    if sorted(versions) != ["TLSv1.2", "TLSv1.3"]:
        raise AssertionError("protocols offered %s (want TLSv1.2, TLSv1.3):\n%s"
                             % (versions, text))
    ciphers = re.findall(r"^\|\s+(TLS_\w+) .* - ([A-F])\s*$", enum, re.M)
    if not ciphers:
        raise AssertionError("no cipher listed:\n%s" % text)
    for name, grade in ciphers:
        if grade != "A" or not (name.startswith("TLS_AKE_") or (
                "_ECDHE_" in name and ("_GCM_" in name or "CHACHA20_POLY1305" in name))):
            raise AssertionError("weak cipher offered: %s (%s)" % (name, grade))
    if "least strength: A" not in enum or "warnings" in enum.lower():
        raise AssertionError("ssl-enum-ciphers:\n%s" % enum)
    if "commonName=trunx" not in script_out(text, "ssl-cert"):
        raise AssertionError("ssl-cert:\n%s" % text)
    before = t.counter("tls_refused_stranger")
    text, enum, versions = tls_scan(ctx, t, "stranger", STRANGER)
    if versions or script_out(text, "ssl-cert"):
        raise AssertionError("a stranger got a TLS handshake:\n%s" % text)
    refused = t.counter("tls_refused_stranger") - before
    ctx.log("the stranger's handshakes refused: %d", refused)
    if refused < 5:
        raise AssertionError("tls_refused_stranger grew by %d only" % refused)
    t.check_alive()
    if not t.options_ok():
        raise AssertionError("OPTIONS from the trunk unanswered after the scan")


def case_nmap_api(ctx):
    """nmap's HTTP scripts on the API's public listener, without a token: on a real
    route (/v1/tenants) http-methods finds exactly the route's methods (everything
    else 405 or 501, all JSON); no Server header and nothing in the answers' headers
    but the API's own; TRACE is not served; http-enum finds no page; a slow client
    does not hold a connection (slowloris check). Afterwards the API answers at once
    and has no connection left open."""
    import apimode
    from apiclient import expect
    need_root()
    a = apimode.start(ctx, redis=False)
    svc = [("http", "%d/tcp" % a.port)]
    secs, _ = nmap(ctx, "api", svc, "T:%d" % a.port,
                   "http-methods,http-headers,http-server-header,http-trace,http-enum,"
                   "http-slowloris-check",
                   "http-methods.test-all,http-methods.url-path=/v1/tenants", timeout=60)
    text = secs.get((a.port, "tcp"), "")
    meth = script_out(text, "http-methods")
    if "Potentially risky" in meth:
        raise AssertionError("http-methods on /v1/tenants:\n%s" % meth)
    heads = script_out(text, "http-headers")
    names = set(re.findall(r"^\|\s{2,}([A-Za-z-]+):", heads, re.M))
    if not heads or not names <= {"Content-Type", "X-Request-Id", "Cache-Control", "Date",
                                  "Content-Length", "Connection"}:
        raise AssertionError("http-headers: %s" % heads)
    for s in ("http-server-header", "http-trace", "http-enum", "http-slowloris-check"):
        if script_out(text, s):
            raise AssertionError("%s found something:\n%s" % (s, text))
    # What the scripts saw, asked directly: 405 with the route's Allow, 501 otherwise.
    r = expect(a.anon.request("DELETE", "/v1/tenants"), 405, "method_not_allowed")
    if r.headers.get("allow") != "GET, POST" or "server" in r.headers:
        raise AssertionError("DELETE /v1/tenants: %s" % r.headers)
    expect(a.anon.request("TRACE", "/v1/tenants"), 501, "not_implemented")
    expect(a.anon.get("/"), 404, "route_not_found")
    expect(a.anon.get("/v1/tenants"), 401, "missing_token")
    expect(a.op.get("/v1/tenants"), 200)
    def open_now():
        # /metrics' own connection is one of them.
        m = re.search(rb"^trunx_api_connections_open (\d+)", a.op.get("/metrics").raw, re.M)
        return int(m.group(1)) if m else None
    if not procs.wait_until(lambda: open_now() == 1, 10, 0.2):
        raise AssertionError("API connections left open after the scan: %s" % open_now())
    a.t.check_alive()


# ---- sipsak -----------------------------------------------------------------------

FLOOD = 100000


def sipsak(ctx, name, args, source, t, timeout=30):
    argv = [tool("sipsak", "sipsak"), "--local-ip", source, "-s",
            "sip:100@127.0.0.1:%d" % t.port] + args
    return run(ctx, name, argv, timeout)


def replies(out):
    """The SIP replies sipsak printed (-vv): [(status line, {header: value})]."""
    got = []
    for blk in re.split(r"\n(?=SIP/2\.0 \d{3})", "\n" + out):
        if not blk.startswith("SIP/2.0 "):
            continue
        lines = blk.split("\n")
        hdrs = {}
        for ln in lines[1:]:
            if not ln.strip():
                break
            if ":" in ln:
                k, v = ln.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        got.append((lines[0].strip(), hdrs))
    return got


class Usage:
    """trunxd's resident memory, CPU time and log size, from /proc and its stderr."""

    def __init__(self, t):
        self.t = t
        self.rss0, self.log0 = self.rss(), self.log_bytes()
        self.heap0 = self.heap()
        with open("/proc/%d/maps" % t.proc.pid) as f:
            # AddressSanitizer keeps freed memory in quarantine (256 MB): RSS grows
            # with any churn there, so only the allocator's live objects count.
            self.sanitized = "libasan" in f.read()

    def heap(self):
        """The allocator's objects alive (trunxctl status memory.heap_in_use_kb)."""
        return self.t.status()["memory"]["heap_in_use_kb"]

    def rss(self):
        with open("/proc/%d/status" % self.t.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu(self):
        with open("/proc/%d/stat" % self.t.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_bytes(self):
        return os.path.getsize(self.t.proc.stderr_path)

    def check_back(self, ctx, what, sent):
        """CPU idle again within 5 s, memory and log grown by a bounded amount."""
        busy = None
        for _ in range(5):
            c0, w0 = self.cpu(), time.monotonic()
            time.sleep(1.0)
            busy = (self.cpu() - c0) / (time.monotonic() - w0)
            if busy < 0.2:
                break
        rss, log, heap = self.rss(), self.log_bytes() - self.log0, self.heap()
        ctx.log("%s: %d requests sent; CPU afterwards %.0f%%, RSS %d -> %d kB, heap in use "
                "%d -> %d kB, log +%d bytes", what, sent, busy * 100, self.rss0, rss,
                self.heap0, heap, log)
        if busy >= 0.2:
            raise AssertionError("%s: trunxd still busy afterwards (%.0f%% CPU)"
                                 % (what, busy * 100))
        if heap - self.heap0 > 8 * 1024:
            raise AssertionError("%s: heap in use grew %d -> %d kB" % (what, self.heap0,
                                                                     heap))
        if not self.sanitized and rss - self.rss0 > 32 * 1024:
            raise AssertionError("%s: RSS grew %d -> %d kB" % (what, self.rss0, rss))
        if log > 64 * 1024:
            raise AssertionError("%s: the log grew %d bytes for %d requests"
                                 % (what, log, sent))


def flood_and_garbage(ctx, t, source, label):
    """sipsak's flood (FLOOD OPTIONS as fast as it can) and random modes; trunxd must
    come back to idle with bounded memory and log."""
    use = Usage(t)
    out = sipsak(ctx, "sipsak-flood-" + label, ["-F", "-e", str(FLOOD)], source, t)
    m = re.search(r"to send (\d+) request", out)
    sent = int(m.group(1)) if m else 0
    if sent != FLOOD:
        raise AssertionError("sipsak flood sent %s of %d" % (sent, FLOOD))
    for n in range(3):
        sipsak(ctx, "sipsak-random-%s-%d" % (label, n), ["-R", "-t", "200"], source, t)
    t.check_alive()
    use.check_back(ctx, label, sent)
    return use


def case_sipsak_stranger(ctx):
    """sipsak from a stranger (reject mode): OPTIONS and REGISTER (usrloc mode) get a
    403 that names no method (no Allow, no Supported) and carries the configured
    User-Agent only; a flood of 100,000 OPTIONS is refused or rate-limited, sipsak's
    random garbage answered or dropped; afterwards trunxd is idle, its memory and log
    grew by a bounded amount, nothing reached the call layer and the trunk is
    served."""
    t = trunxd.Trunxd(ctx, ctx.trunxd_path).start()
    for what, args in (("options", ["-vv"]), ("usrloc", ["-U", "-b", "0", "-e", "3", "-vv"])):
        got = replies(sipsak(ctx, "sipsak-%s-stranger" % what, args, STRANGER, t))
        if not got or any(not s.startswith("SIP/2.0 403") for s, _ in got):
            raise AssertionError("sipsak %s from a stranger: %s" % (what, got))
        for s, h in got:
            if "allow" in h or "supported" in h or h.get("user-agent") != "trunx":
                raise AssertionError("sipsak %s: the 403 says too much: %s" % (what, h))
    flood_and_garbage(ctx, t, STRANGER, "stranger")
    c = t.status()["counters"]
    ctx.log("counters: %s", {k: v for k, v in c.items() if v})
    if c["calls_total"] or c["auth_challenged"] or c["options_stateless"] > 1:
        raise AssertionError("the stranger was served: %s" % c)
    # What trunxd read of the flood was refused or rate-limited (the rest the kernel
    # dropped on a full socket buffer: far more of it in a sanitizer build).
    if c["rejected_unknown_source"] + c["rate_limited"] < 1000:
        raise AssertionError("the flood did not reach trunxd: %s" % c)
    if not t.options_ok():
        raise AssertionError("OPTIONS from the trunk unanswered after the flood")


def case_sipsak_trunk(ctx):
    """sipsak from the trunk's address: OPTIONS gets 200 with the methods trunx serves;
    REGISTER (usrloc mode) gets 405 with the same Allow whatever the user (no
    registrar, no challenge); a flood of 100,000 OPTIONS is answered up to the source's
    rate and the rest dropped, sipsak's random garbage answered or dropped; afterwards
    trunxd is idle with bounded memory and log, and answers the trunk at once.
    The source's rate is 500/s here, not the default 2,000: a sanitizer build on a
    loaded machine read the flood slower than 2,000/s (the kernel dropping the rest on
    the full socket buffer), so nothing was over the rate and the limit went untested."""
    def conf(c):
        c.sip["rate_limit"] = 500

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=conf).start()
    got = replies(sipsak(ctx, "sipsak-options-trunk", ["-vv"], TRUNK, t))
    if not got or not got[-1][0].startswith("SIP/2.0 200") or got[-1][1].get("allow") != ALLOW:
        raise AssertionError("sipsak OPTIONS from the trunk: %s" % got)
    got = replies(sipsak(ctx, "sipsak-usrloc-trunk", ["-U", "-b", "0", "-e", "3", "-vv"],
                         TRUNK, t))
    if not got or any(not s.startswith("SIP/2.0 405") or h.get("allow") != ALLOW
                      for s, h in got):
        raise AssertionError("sipsak REGISTER from the trunk: %s" % got)
    flood_and_garbage(ctx, t, TRUNK, "trunk")
    c = t.status()["counters"]
    ctx.log("counters: %s", {k: v for k, v in c.items() if v})
    if c["auth_challenged"] or c["rejected_unknown_source"] or c["calls_answered"]:
        raise AssertionError("the trunk's requests were challenged or refused: %s" % c)
    if c["rate_limited"] == 0:
        raise AssertionError("a flood of %d OPTIONS was not rate-limited: %s" % (FLOOD, c))
    if not t.options_ok():
        raise AssertionError("OPTIONS from the trunk unanswered after the flood")


if __name__ == "__main__":
    sys.exit(case.main(globals()))
