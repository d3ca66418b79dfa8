#!/usr/bin/env python3
"""SIP over TLS through trunxd: the listener, per-trunk certificate verification both
ways (a peer that connects to trunx must present a client certificate its trunk's CAs
sign when tls_verify is on; a peer trunx connects to must present one that chains to
them and names the trunk's address), and SDES keys sent only over TLS.

A throw-away PKI is made per case (harness/tlscerts.py). The called party is a small
TLS server written here: it reports whether the handshake succeeded and what INVITE
came over it.
"""
import os
import random
import re
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import case, mutate, ports, procs, sipmsg, tlscerts, trunxd, ua  # noqa: E402

DID = "5550001000"


class TlsServer:
    """Accepts TLS connections on 127.0.0.1 with a given certificate; records the
    outcome of each handshake and the requests received; answers INVITEs 486."""

    def __init__(self, cert, key, ip="127.0.0.1"):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket(ports.family(ip), socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, ports.free_port(ip)))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handshakes = []   # True / False per connection
        self.requests = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._conn, args=(raw,), daemon=True).start()

    def _conn(self, raw):
        raw.settimeout(5)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshakes.append(False)
            raw.close()
            return
        self.handshakes.append(True)
        buf = b""
        while not self.stop.is_set():
            try:
                data = conn.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            buf += data
            msgs, buf = sipmsg.split_stream(buf)
            for m in (sipmsg.Message(x) for x in msgs):
                if not m.method:
                    continue
                self.requests.append(m)
                if m.method == "INVITE":
                    self._answer(conn, m, 486)
        conn.close()

    @staticmethod
    def _answer(conn, req, code):
        lines = ["SIP/2.0 %d Busy Here" % code]
        for h in ("Via", "From", "Call-ID", "CSeq"):
            for v in req.header_all(h):
                lines.append("%s: %s" % (h, v))
        lines.append("To: %s;tag=srv1" % req.header("To"))
        lines.append("Content-Length: 0")
        try:
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except OSError:
            pass

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def start(ctx, pki, configure, tls=True):
    cert, key, _ = pki.issue("trunx")
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=configure,
                      tls=(cert, key, pki.ca) if tls else None).start()
    return t


def start_trunk_tls(ctx, **sip):
    """trunxd with its TLS listener and the carrier trunk (127.0.0.1) unverified (the
    test's client shows no certificate), with the [sip] keys given: (trunxd, its TLS
    address, the PKI)."""
    pki = tlscerts.Pki(ctx.path("pki"))

    def conf(c):
        c.sip.update(sip)
        c.carrier["tls_verify"] = False
    t = start(ctx, pki, conf)
    return t, ("127.0.0.1", t.tls_port), pki


def invite_over(ep, dest, body):
    data, cid, _ = ep.request("INVITE", dest, ruri="sip:%s@127.0.0.1:%d" % (DID, dest[1]),
                              to_user=DID, body=body)
    ep.send(data, dest)
    return cid


def client_ctx(cert=None, key=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if cert:
        c.load_cert_chain(cert, key)
    return c


def handshake(dest, version, ciphers=None):
    """One TLS handshake to dest at exactly this version (and TLS 1.2 cipher list):
    (version, cipher) taken, or "refused: ..." with the reason."""
    import warnings
    warnings.simplefilter("ignore", DeprecationWarning)   # TLSv1 and TLSv1_1, on purpose
    c = client_ctx()
    c.minimum_version = c.maximum_version = version
    if ciphers:
        c.set_ciphers(ciphers + ":@SECLEVEL=0")
    s = socket.create_connection(dest, timeout=5)
    try:
        tls = c.wrap_socket(s)
        got = (tls.version(), tls.cipher()[0])
        tls.close()
        return got
    except (ssl.SSLError, OSError) as e:
        s.close()
        return "refused: %s" % e


# ---- calls trunx makes over TLS ------------------------------------------------------

def outgoing(ctx, server_cert, verify, want_invite):
    pki = tlscerts.Pki(ctx.path("pki"))
    if server_cert == "good":
        cert, key, _ = pki.issue("pbx")
    elif server_cert == "rogue":
        cert, key, _ = pki.issue("rogue", self_signed=True)
    else:   # signed by the CA, for another address
        cert, key, _ = pki.issue("other", ips=("127.0.0.2",))
    srv = TlsServer(cert, key)
    ctx.at_end(srv.close)

    def conf(c):
        c.pbx = c.section("trunk pbx", match="127.0.0.1/32", port=srv.port,
                          uri="sip:127.0.0.1:%d;transport=tls" % srv.port, tls_verify=verify,
                          srtp="required")
        c.route = c.section("route did", match="+15550001000", to_trunk="pbx")

    t = start(ctx, pki, conf)
    with sipmsg.Endpoint("127.0.0.1") as ep:
        cid = invite_over(ep, ("127.0.0.1", t.port), sipmsg.sdp_offer("127.0.0.1", 40000))
        final, _ = ep.wait_final(40, call_id=cid)
    ctx.log("final %s; server handshakes %s; requests %s", final, srv.handshakes,
            srv.requests)
    invites = [m for m in srv.requests if m.method == "INVITE"]
    if want_invite:
        if not invites:
            raise AssertionError("no INVITE reached the TLS server (handshakes %s)"
                                 % srv.handshakes)
        inv = invites[0]
        via = inv.header("Via") or ""
        if not via.upper().startswith("SIP/2.0/TLS"):
            raise AssertionError("INVITE's Via is not TLS: %s" % via)
        if "transport=tls" not in (inv.header("Contact") or ""):
            raise AssertionError("Contact does not say transport=tls: %s" % inv.header("Contact"))
        body = inv.body.decode()
        # SRTP required toward the trunk: keys go in the SDP, over TLS
        if "RTP/SAVP" not in body or "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" not in body:
            raise AssertionError("no SDES offer over TLS: %s" % body)
        if not final or final.status != 486:
            raise AssertionError("caller got %s, expected the callee's 486" % final)
    else:
        if invites:
            raise AssertionError("an INVITE reached a server whose certificate must "
                                 "have been refused")
        if not final or final.status < 400:
            raise AssertionError("caller got %s" % final)
        refused = t.counter("tls_refused")
        if refused < 1:
            raise AssertionError("tls_refused is %s" % refused)
        ev = t.events("sip.tls_refused")
        if not ev:
            raise AssertionError("no sip.tls_refused log record")
        ctx.log("refused: %s", ev[0])


def case_ipv6_out_verified(ctx):
    """trunxd on [::1] calls a TLS trunk at sips on [::1] whose certificate names IP
    ::1: the handshake verifies (tls_verify = yes, the name is the uri's IPv6 host),
    the INVITE goes over it with trunx's bracketed Via and IN IP6 SDP; a certificate
    for another IPv6 address is refused."""
    pki = tlscerts.Pki(ctx.path("pki"))
    for name, ips, want in (("pbx6", ("::1",), True), ("other6", ("fd00::99",), False)):
        cert, key, _ = pki.issue(name, ips=ips)
        srv = TlsServer(cert, key, ip="::1")
        ctx.at_end(srv.close)

        def conf(c, srv=srv):
            c.pbx = c.section("trunk pbx", match="::1/128", port=srv.port,
                              uri="sip:[::1]:%d;transport=tls" % srv.port, tls_verify=True)
            c.route = c.section("route did", match="+15550001000", to_trunk="pbx")
        tcert, tkey, _ = pki.issue("trunx6", ips=("::1",))
        t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=conf, ip="::1",
                          tls=(tcert, tkey, pki.ca), name="trunxd-" + name).start()
        with sipmsg.Endpoint("::1") as ep:
            data, cid, _ = ep.request("INVITE", ("::1", t.port), to_user=DID,
                                      body=sipmsg.sdp_offer("::1", 40000))
            ep.send(data, ("::1", t.port))
            final, _ = ep.wait_final(40, call_id=cid)
        ctx.log("%s: final %s; handshakes %s", name, final and final.status,
                srv.handshakes)
        invites = [m for m in srv.requests if m.method == "INVITE"]
        if want:
            if not invites or True not in srv.handshakes:
                raise AssertionError("no verified TLS INVITE to [::1]: handshakes %s, "
                                     "final %s" % (srv.handshakes, final))
            inv = invites[0]
            if ("SIP/2.0/TLS [::1]:%d" % t.tls_port not in inv.header("Via", "")
                    or "c=IN IP6 ::1" not in inv.body.decode(errors="replace")):
                raise AssertionError("INVITE over TLS/IPv6:\n%s"
                                     % inv.raw.decode(errors="replace"))
        elif invites or True in srv.handshakes:
            raise AssertionError("a certificate for fd00::99 was taken for [::1]: %s"
                                 % srv.handshakes)
        t.stop()
        srv.close()


def case_out_verified(ctx):
    """tls_verify on, the callee's certificate chains to the CA and names 127.0.0.1:
    the INVITE goes over TLS, with SDES keys (srtp = required)."""
    outgoing(ctx, "good", True, True)


def case_out_rogue_refused(ctx):
    """tls_verify on, a self-signed certificate: the handshake fails, nothing is sent,
    the caller gets a failure and tls_refused counts it."""
    outgoing(ctx, "rogue", True, False)


def case_out_wrong_name_refused(ctx):
    """tls_verify on, a CA-signed certificate naming another address: refused."""
    outgoing(ctx, "other", True, False)


def case_out_unverified(ctx):
    """tls_verify off: the self-signed certificate is taken."""
    outgoing(ctx, "rogue", False, True)


# ---- connections peers open to trunx -------------------------------------------------

def incoming(ctx, verify, client_cert):
    pki = tlscerts.Pki(ctx.path("pki"))

    def conf(c):
        c.carrier["tls_verify"] = verify

    t = start(ctx, pki, conf)
    cert = key = None
    if client_cert == "good":
        cert, key, _ = pki.issue("carrier")
    elif client_cert == "rogue":
        cert, key, _ = pki.issue("rogue", self_signed=True)
    ep = sipmsg.Endpoint("127.0.0.1", transport="tls", tls_ctx=client_ctx(cert, key))
    try:
        ep.connect(("127.0.0.1", t.tls_port))
        final, _ = ep.options(("127.0.0.1", t.tls_port), timeout=5)
    except (ssl.SSLError, OSError) as e:
        ctx.log("TLS connection failed: %s", e)
        final = None
    finally:
        ep.close()
    return t, final


def case_in_no_verify(ctx):
    """tls_verify off: a client without a certificate is served over TLS."""
    _, final = incoming(ctx, False, None)
    if not final or final.status != 200:
        raise AssertionError("OPTIONS over TLS got %s" % final)


def case_in_verify(ctx):
    """tls_verify on: a client certificate signed by the CA is served; none, or a
    self-signed one, ends the handshake (counted)."""
    t, final = incoming(ctx, True, "good")
    if not final or final.status != 200:
        raise AssertionError("OPTIONS with a good client certificate got %s" % final)
    for bad in (None, "rogue"):
        cert = key = None
        if bad:
            cert, key, _ = tlscerts.Pki(ctx.path("pki2")).issue("rogue", self_signed=True)
        ep = sipmsg.Endpoint("127.0.0.1", transport="tls", tls_ctx=client_ctx(cert, key))
        try:
            ep.connect(("127.0.0.1", t.tls_port))
            got, _ = ep.options(("127.0.0.1", t.tls_port), timeout=3)
        except (ssl.SSLError, OSError):
            got = None
        finally:
            ep.close()
        if got is not None:
            raise AssertionError("client certificate %s served: %s" % (bad, got))
    if t.counter("tls_refused") < 1:
        raise AssertionError("tls_refused not counted")


# ---- SDES keys only over TLS --------------------------------------------------------

def savp_offer(port):
    body = sipmsg.sdp_offer("127.0.0.1", port, pts=((0, "PCMU/8000"),)).decode()
    body = body.replace("RTP/AVP", "RTP/SAVP") + \
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
    return body.encode()


def case_keys_need_tls(ctx):
    """An SRTP offer over UDP from a trunk that may not take keys without TLS gets 488;
    the same offer over TLS is taken and the call goes on (to a callee over UDP, which
    gets plain RTP: its trunk has no SRTP)."""
    pki = tlscerts.Pki(ctx.path("pki"))
    callee = sipmsg.Endpoint("127.0.0.1")
    ctx.at_end(callee.close)

    def conf(c):
        c.carrier.update(srtp="optional", tls_verify=False)
        c.pbx = c.section("trunk pbx", match="127.0.0.1/32", port=callee.port,
                          uri="sip:127.0.0.1:%d" % callee.port)
        c.route = c.section("route did", match="+15550001000", to_trunk="pbx")

    t = start(ctx, pki, conf)
    with sipmsg.Endpoint("127.0.0.1") as ep:
        cid = invite_over(ep, ("127.0.0.1", t.port), savp_offer(40000))
        final, _ = ep.wait_final(10, call_id=cid)
    if not final or final.status != 488 or "TLS" not in (final.header("Warning") or ""):
        raise AssertionError("SRTP offer over UDP got %s (Warning %s)"
                             % (final, final and final.header("Warning")))
    ep = sipmsg.Endpoint("127.0.0.1", transport="tls", tls_ctx=client_ctx())
    ctx.at_end(ep.close)
    ep.connect(("127.0.0.1", t.tls_port))
    cid = invite_over(ep, ("127.0.0.1", t.tls_port), savp_offer(40002))
    inv = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and inv is None:
        m = callee.recv(0.5)
        if m and m.method == "INVITE":
            inv = m
    if inv is None:
        raise AssertionError("the SRTP offer over TLS did not reach the callee")
    body = inv.body.decode()
    if "a=crypto" in body or "RTP/SAVP" in body:
        raise AssertionError("keys offered to the plain-RTP callee: %s" % body)
    # the callee refuses; the caller gets it
    lines = ["SIP/2.0 486 Busy Here"] + ["%s: %s" % (h, v) for h in ("Via", "From", "Call-ID",
                                                                   "CSeq")
                                         for v in inv.header_all(h)]
    lines += ["To: %s;tag=c1" % inv.header("To"), "Content-Length: 0"]
    callee.send(("\r\n".join(lines) + "\r\n\r\n").encode(), inv.src)
    final, _ = ep.wait_final(10, call_id=cid)
    if not final or final.status != 486:
        raise AssertionError("caller over TLS got %s" % final)
    end = t.wait_events("call.end", 2, 10)
    if not re.search(r"SDES keys need TLS", end[0].get("reason", "")):
        ctx.log("first call.end: %s", end[0])


# ---- the connection guards over TLS ---------------------------------------------------

def peer_closed(sock, timeout):
    """True when trunxd ended the connection (end of stream, reset, TLS error) within
    timeout; works on plain and TLS sockets."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except socket.timeout:
        return False
    except (ssl.SSLError, OSError):
        return True
    return False


def in_dialog(ep, invite, final, method, cseq):
    """ACK or BYE for the dialog that `final` (a 2xx to our INVITE) set up."""
    target = re.search(r"<([^>]+)>", final.header("Contact") or "")
    lines = ["%s %s SIP/2.0" % (method, target.group(1) if target else invite.split()[1]),
             "Via: SIP/2.0/TLS %s:%d;branch=z9hG4bK%s;rport" % (ep.ip, ep.port,
                                                               sipmsg.rand_token(12)),
             "From: %s" % sipmsg.Message(invite).header("From"),
             "To: %s" % final.header("To"),
             "Call-ID: %s" % final.header("Call-ID"),
             "CSeq: %d %s" % (cseq, method), "Max-Forwards: 70", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def tls_call(ctx, t, ep, port):
    """A call from the trunk over its TLS connection ep: INVITE, 200, ACK, BYE, 200.
    Returns the call.end record."""
    dest = ("127.0.0.1", t.tls_port)
    inv, cid, _ = ep.request("INVITE", dest, ruri="sip:%s@127.0.0.1:%d" % (DID, dest[1]),
                             to_user=DID, body=sipmsg.sdp_offer("127.0.0.1", port))
    ep.send(inv, dest)
    final, _ = ep.wait_final(15, call_id=cid, method="INVITE")
    if not final or final.status != 200:
        raise AssertionError("INVITE over TLS from the trunk got %s" % final)
    ep.send(in_dialog(ep, inv, final, "ACK", 1), dest)
    time.sleep(1)
    ep.send(in_dialog(ep, inv, final, "BYE", 2), dest)
    bye, _ = ep.wait_final(10, call_id=cid, method="BYE")
    if not bye or bye.status != 200:
        raise AssertionError("BYE over TLS got %s" % bye)
    procs.wait_until(lambda: [r for r in t.events("call.end") if r.get("a_call_id") == cid],
                     10, 0.1)
    end = [r for r in t.events("call.end") if r.get("a_call_id") == cid]
    if not end or end[0].get("sip_code") != 200:
        raise AssertionError("the TLS call did not complete: %s" % end)
    return end[0]


def case_guard_flood(ctx):
    """300 connections to the TLS port from unknown 127.x addresses: 50 that try a
    handshake (with a client certificate the CA signed: refused all the same, at the
    ClientHello), then 250 plain TCP connects held idle (20 of them from one address).
    They count against the same caps as TCP (100 in all, of which strangers may hold
    88: 12 are kept for trunks; 8 per source: the rest are closed as they are accepted), every one left is closed after tcp_unknown_timeout,
    a call from the trunk over its own TLS connection completes in the middle of it,
    and the log stays small."""
    from harness import calls, sipp  # noqa: E402
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1024:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 1024), hard))
    pki = tlscerts.Pki(ctx.path("pki"))
    cert, key, _ = pki.issue("trunx")
    u = calls.uas(ctx, "uas_basic.xml", duration_ms=0)

    def conf(c):
        c.sip.update(tcp_max_connections=100, tcp_max_per_source=8, tcp_unknown_timeout=10)
        c.carrier["tls_verify"] = False
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, configure=conf,
                      tls=(cert, key, pki.ca)).start()
    err_path = t.proc.stderr_path
    log0 = os.path.getsize(err_path)
    dest = ("127.0.0.1", t.tls_port)
    trunk = sipmsg.Endpoint("127.0.0.1", transport="tls", tls_ctx=client_ctx())
    ctx.at_end(trunk.close)
    trunk.connect(dest)
    socks = []
    ctx.at_end(lambda: [s.close() for s in socks])
    scert, skey, _ = pki.issue("stranger")
    t0 = time.monotonic()
    handshakes = refused = 0
    for i in range(50):
        raw = socket.socket()
        raw.bind(("127.0.40.%d" % (1 + i // 5), 0))
        raw.settimeout(5)
        try:
            raw.connect(dest)
            socks.append(client_ctx(scert, skey).wrap_socket(raw))
            handshakes += 1
        except ssl.SSLError as e:   # the wrapper took the descriptor and closed it
            refused += "ACCESS_DENIED" in str(e).upper()
        except OSError as e:
            ctx.log("handshake %d: %s", i, e)
            socks.append(raw)
    plain = []
    for i in range(250):
        s = socket.socket()
        s.setblocking(False)
        s.bind(("127.0.41.1" if i < 20 else "127.0.42.%d" % (1 + (i - 20) // 5), 0))
        try:
            s.connect(dest)
        except BlockingIOError:
            pass
        plain.append(s)
    socks += plain
    ctx.log("%d handshakes and %d plain connects in %.1f s", handshakes, len(plain),
            time.monotonic() - t0)
    # Every attempt waits in the listening socket's queue (trunxd raises the stack's
    # backlog of 64) until the guards accept or refuse it: all are handled at once.
    # With the stack's 64, the kernel dropped SYNs of the burst (sent again after 1 s,
    # 3 s, 7 s ...) and lost the SYN-cookie connections it completed while the queue
    # was full: ~60 of these never reached trunxd, and the rest took seconds. 10 s
    # leaves room for a sanitizer build on a loaded machine; strangers accepted early
    # are closed at 10 s (tcp_unknown_timeout), so the number open is judged at its peak.
    peak = [0]

    def handled():
        c = t.status()["counters"]
        peak[0] = max(peak[0], c["tcp_open"])
        return c["tcp_accepted"] + c["tcp_refused_limit"] >= 301   # and the trunk's
    done = procs.wait_until(handled, 10, 0.1)
    st = t.status()["counters"]
    during = {k: st[k] for k in st if k.startswith("tcp_")}
    ctx.log("during (%.1f s): %s, at most %d open", time.monotonic() - t0, during, peak[0])
    if not done:
        raise AssertionError("%d of 300 connection attempts reached trunxd within 10 s"
                             % (st["tcp_accepted"] + st["tcp_refused_limit"] - 1))
    if max(peak[0], st["tcp_open"]) > 100:
        raise AssertionError("%d connections open, the cap is 100" % peak[0])
    # Strangers' handshakes are refused at their ClientHello, certificate or not.
    if handshakes or refused < 40:
        raise AssertionError("%d stranger handshakes completed, %d refused of 50"
                             % (handshakes, refused))
    if st["tcp_refused_limit"] < 50 or peak[0] < 80:
        raise AssertionError("tcp_refused_limit = %d: the caps did not act on TLS"
                             % st["tcp_refused_limit"])
    # The strangers hold all they may: a new connection from the trunk still gets in.
    late = sipmsg.Endpoint("127.0.0.1", transport="tls", tls_ctx=client_ctx())
    ctx.at_end(late.close)
    late.connect(dest)
    final, _ = late.options(dest, timeout=5)
    if not final or final.status != 200:
        raise AssertionError("a new trunk connection during the flood was not served: %s"
                             % final)
    late.close()
    rec = tls_call(ctx, t, trunk, 40000)
    ctx.log("call over TLS during the flood: %s after %.1f s", rec.get("sip_code"),
            time.monotonic() - t0)
    calls.finish(u)
    sipp.expect_ok(u)
    # Every unknown connection is closed by tcp_unknown_timeout (10 s).
    still = [s for s in socks[:handshakes] + plain[20:40] if not peer_closed(s, 12)]
    if still:
        raise AssertionError("%d unknown connections were still open after %.1f s"
                             % (len(still), time.monotonic() - t0))
    # Each stranger is closed 10 s after trunxd accepted it, and the accepts of the burst
    # spread over a second or more in a sanitizer build: wait for the last of them.
    procs.wait_until(lambda: t.status()["counters"]["tcp_closed_unknown"] >= 80, 5, 0.2)
    st = t.status()["counters"]
    ctx.log("after: %s", {k: st[k] for k in st if k.startswith("tcp_")})
    if st["tcp_closed_unknown"] < 80:
        raise AssertionError("tcp_closed_unknown = %d" % st["tcp_closed_unknown"])
    for s in socks:
        s.close()
    if not procs.wait_until(lambda: t.status()["counters"]["tcp_open"] <= 1, 10, 0.2):
        raise AssertionError("connections still counted: %s" % t.status()["counters"])
    final, _ = trunk.options(dest, timeout=5)
    if not final or final.status != 200:
        raise AssertionError("the trunk's TLS connection is not served after the flood: %s"
                             % final)
    grew = os.path.getsize(err_path) - log0
    ctx.log("log +%d bytes", grew)
    if grew > 64 << 10:
        raise AssertionError("the log grew by %d bytes for 300 connections" % grew)
    t.check_alive()


def case_guard_idle(ctx):
    """A trunk's TLS connection that carries no dialog is closed after tcp_idle_timeout
    without data; in drop mode, an unknown source's TLS connection is closed as soon
    as it is accepted."""
    t, dest, pki = start_trunk_tls(ctx, tcp_idle_timeout=2, unknown_source="drop")
    ep = sipmsg.Endpoint("127.0.0.1", transport="tls", tls_ctx=client_ctx())
    ctx.at_end(ep.close)
    ep.connect(dest)
    final, _ = ep.options(dest, timeout=5)
    if not final or final.status != 200:
        raise AssertionError("OPTIONS over TLS got %s" % final)
    t0 = time.monotonic()
    if not peer_closed(ep.sock, 8):
        raise AssertionError("an idle TLS connection without a dialog stayed open")
    after = time.monotonic() - t0
    ctx.log("idle TLS connection closed after %.1f s", after)
    if not 1.5 <= after <= 6:
        raise AssertionError("closed after %.1f s, tcp_idle_timeout is 2 s" % after)
    if t.counter("tcp_closed_idle") < 1:
        raise AssertionError("tcp_closed_idle = %s" % t.counter("tcp_closed_idle"))
    s = socket.socket()
    s.bind(("127.0.43.1", 0))
    s.connect(dest)
    ctx.at_end(s.close)
    if not peer_closed(s, 3):
        raise AssertionError("drop mode: an unknown source's TLS connection was kept")
    if t.counter("tcp_refused_unknown") < 1:
        raise AssertionError("tcp_refused_unknown = %s" % t.counter("tcp_refused_unknown"))


def case_guard_slowloris(ctx):
    """A trunk's request trickled over TLS one byte a record every 300 ms: the
    connection is never idle (tcp_idle_timeout 2 s) and its message never ends; it is
    closed tcp_message_timeout (3 s) after the message began (tcp_closed_incomplete),
    and OPTIONS over TLS are answered after."""
    t, dest, pki = start_trunk_tls(ctx, tcp_idle_timeout=2, tcp_message_timeout=3)
    s = tls_from("127.0.0.1", dest, client_ctx())
    ctx.at_end(s.close)
    s.sendall(b"OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:%d;"
              b"branch=z9hG4bK-slow\r\nX-Slow: " % (dest[1], s.getsockname()[1]))
    t0 = time.monotonic()
    closed = None
    while time.monotonic() - t0 < 9 and closed is None:
        try:
            s.sendall(b"a")
            s.settimeout(0.3)
            if s.recv(4096) == b"":
                closed = time.monotonic() - t0
        except socket.timeout:
            pass
        except (OSError, ssl.SSLError):
            closed = time.monotonic() - t0
    ctx.log("a trickled request over TLS: closed after %s s", closed)
    if closed is None or closed > 6.5:
        raise AssertionError("a trunk's trickled TLS request was not cut (closed after %s s; "
                             "tcp_message_timeout 3 s)" % closed)
    if t.counter("tcp_closed_incomplete") < 1:
        raise AssertionError("tcp_closed_incomplete = %s" % t.counter("tcp_closed_incomplete"))
    ep = sipmsg.Endpoint("127.0.0.1", transport="tls", tls_ctx=client_ctx())
    ctx.at_end(ep.close)
    ep.connect(dest)
    final, _ = ep.options(dest, timeout=5)
    if not final or final.status != 200:
        raise AssertionError("OPTIONS over TLS after the attack got %s" % final)


# ---- the front's per-message checks over TLS --------------------------------------------

PEER = "127.0.0.6"   # the callee's host: no trunk matches it (its trunk matches 127.0.0.7)
SAYS_NOTHING = ("Allow", "Supported", "Accept", "Server", "Allow-Events")


def tls_from(ip, dest, cctx):
    """A TLS connection from ip to dest."""
    raw = socket.socket()
    raw.bind((ip, 0))
    raw.settimeout(5)
    raw.connect(dest)
    s = cctx.wrap_socket(raw)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def tls_send(s, data, records=1):
    """data written in `records` TLS records, 0.2 s apart."""
    cut = [len(data) * i // records for i in range(records + 1)]
    for i in range(records):
        if i:
            time.sleep(0.2)
        s.sendall(data[cut[i]:cut[i + 1]])


def over_tls(data, via, src):
    """An in-dialog request a harness UA built, as sent over TLS from src."""
    return data.replace(via, b"SIP/2.0/TLS %s:%d" % (src[0].encode(), src[1]))


def peer_setup(ctx, name, drop=False):
    """trunxd with TLS, A (127.0.0.1, the carrier trunk) calling B on PEER through it;
    returns (trunxd, a, b, A's dialog, B's dialog, a client context for PEER)."""
    pki = tlscerts.Pki(ctx.path("pki-" + name))
    cert, key, _ = pki.issue("trunx")
    b = ua.UA(PEER, name="b-" + name, auto=True)
    ctx.at_end(b.close)

    def conf(c):
        c.general["log_level"] = "debug"
        c.carrier["tls_verify"] = False
        c.pbx.update(match="127.0.0.7/32", uri="sip:%s:%d" % (PEER, b.port))
        if drop:
            c.sip["unknown_source"] = "drop"
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.port, configure=conf,
                      tls=(cert, key, pki.ca), name="trunxd-" + name).start()
    a = ua.UA("127.0.0.1", name="a-" + name, auto=True)
    ctx.at_end(a.close)
    da, final = a.call((t.addr, t.port))
    if da is None:
        raise AssertionError("call not answered: %s" % (final.start if final else None))
    if not procs.wait_until(lambda: any(not d.ended for d in b.dialogs.values()), 5.0):
        raise AssertionError("B has no dialog")
    db = [d for d in b.dialogs.values() if not d.ended][-1]
    pcert, pkey, _ = pki.issue("peer")
    return t, a, b, da, db, client_ctx(pcert, pkey)


def stack_saw_stranger(t, since):
    """Records of the stack's own source check (debug level): one per request from a
    refused source that reached the stack."""
    return [r for r in t.log_records()[since:] if r.get("event") == "sip.unknown_source"]


def case_peer_other_dialog(ctx):
    """The peer of a live dialog (the callee's host, a source no trunk matches) sends
    over TLS a BYE and an UPDATE naming the other leg's dialog (its Call-ID and tags),
    whole and in two records: each gets the front's refusal, a 403 naming nothing (the
    stack used to cut it loose from the dialog and answer 481 with Allow, every method
    trunx knows), counted as in_dialog_refused, and the call goes on. Its own
    requests split across records reach the stack whole: a 20 KB INFO (answered 415),
    then its BYE, which ends the call."""
    t, a, b, da, db, pctx = peer_setup(ctx, "reject")
    dest = ("127.0.0.1", t.tls_port)
    via_a = b"SIP/2.0/UDP 127.0.0.1:%d" % a.port
    refused0 = t.counter("in_dialog_refused")
    sent = 0
    for meth in ("BYE", "UPDATE"):
        for records in (1, 2):
            s = tls_from(PEER, dest, pctx)
            data, cseq, _ = da.build(meth, contact="")
            tls_send(s, over_tls(data, via_a, s.getsockname()), records)
            sent += 1
            got, closed = sipmsg.read_messages(s, 5.0)
            s.close()
            what = "%s naming the other leg's dialog in %d record(s)" % (meth, records)
            ctx.log("%s -> %s", what, [(m.status, m.header("Allow")) for m in got])
            if [m.status for m in got] != [403]:
                raise AssertionError("%s: got %s, expected [403]"
                                     % (what, [m.status for m in got]))
            told = [h for h in SAYS_NOTHING if got[0].header(h) is not None]
            if told:
                raise AssertionError("%s: the 403 names %s:\n%s" % (
                    what, told, got[0].raw.decode("utf-8", "replace")))
    refused = t.counter("in_dialog_refused") - refused0
    if refused < sent:
        raise AssertionError("in_dialog_refused grew by %d, expected %d" % (refused, sent))
    if a.wait_request("BYE", da.call_id, 0.2) or t.active_calls() != 1:
        raise AssertionError("the peer's BYE naming the other dialog ended the call")
    # Into its own dialog, an INFO of 20 KB in two records: let through whole once its
    # end is here, more than one read of the stack's (16 KB) can take; the rest is read
    # at once (SSL_pending), and the stack answers it (415: not a DTMF body).
    def own_in_two_records(data):
        """B's own request, sent from PEER over TLS in two records: the statuses."""
        s = tls_from(PEER, dest, pctx)
        tls_send(s, over_tls(data, b"SIP/2.0/UDP %s:%d" % (PEER.encode(), b.port),
                             s.getsockname()), 2)
        got, _ = sipmsg.read_messages(s, 5.0)
        s.close()
        return [m.status for m in got]

    data, _, _ = db.build("INFO", b"x" * 20000, contact="", content_type="text/plain")
    got = own_in_two_records(data)
    ctx.log("B's own 20 KB INFO over TLS in 2 records -> %s", got)
    if got != [415]:
        raise AssertionError("B's own 20 KB INFO in 2 records: got %s, expected [415] "
                             "from the stack" % got)
    data, _, _ = db.build("BYE", contact="")
    got = own_in_two_records(data)
    ctx.log("B's own BYE over TLS in 2 records -> %s", got)
    if got != [200]:
        raise AssertionError("B's own split BYE over TLS: got %s, expected [200]" % got)
    if not a.wait_request("BYE", da.call_id, 5.0):
        raise AssertionError("B's BYE over TLS did not end A's leg")
    if not procs.wait_until(lambda: t.active_calls() == 0, 10, 0.2):
        raise AssertionError("the call is still up after B's BYE")
    t.check_alive()


def case_peer_other_dialog_drop(ctx):
    """In drop mode the same BYE naming the other leg's dialog, from the peer over TLS,
    gets no answer at all, the connection is closed, and the call goes on."""
    t, a, b, da, db, pctx = peer_setup(ctx, "drop", drop=True)
    dest = ("127.0.0.1", t.tls_port)
    s = tls_from(PEER, dest, pctx)
    data, _, _ = da.build("BYE", contact="")
    tls_send(s, over_tls(data, b"SIP/2.0/UDP 127.0.0.1:%d" % a.port, s.getsockname()))
    got, closed = sipmsg.read_messages(s, 1.5)
    closed = closed or peer_closed(s, 2.0)
    s.close()
    ctx.log("drop mode: BYE naming the other dialog -> %s, closed %s",
            [m.status for m in got], closed)
    if got or not closed:
        raise AssertionError("drop mode: got %s, closed %s" % ([m.status for m in got],
                                                               closed))
    if a.wait_request("BYE", da.call_id, 0.2) or t.active_calls() != 1:
        raise AssertionError("drop mode: the BYE ended the call")
    r = da.bye()
    if not r or r.status != 200:
        raise AssertionError("A's BYE: %s" % (r.status if r else None))
    t.check_alive()


def _tls_seeds(ctx, t, dest, da, db, src):
    """Seeds for a TLS stream from src: ordinary out-of-dialog requests, the peer's
    in-dialog requests (never a BYE: the call must outlive the stream), and the RFC
    4475 set, Vias naming TLS from src."""
    base = sipmsg.Endpoint.__new__(sipmsg.Endpoint)
    base.ip, base.port, base.transport = src[0], src[1], "tls"
    body = sipmsg.sdp_offer(src[0], 40000)
    seeds = []
    for meth in ("INVITE", "OPTIONS", "BYE", "UPDATE", "INFO", "CANCEL", "REGISTER"):
        data, _, _ = base.request(meth, dest, to_user=DID,
                                  body=body if meth in ("INVITE", "UPDATE") else b"",
                                  content_type="application/sdp")
        seeds.append(data)
    via = b"SIP/2.0/TLS %s:%d" % (src[0].encode(), src[1])
    for d, ua_via in ((db, b"SIP/2.0/UDP %s:%d" % (PEER.encode(), db.ua.port)),
                      (da, b"SIP/2.0/UDP 127.0.0.1:%d" % da.ua.port)):
        for meth, b in (("INFO", b"Signal=5\r\nDuration=160\r\n"), ("UPDATE", b""),
                        ("INVITE", sipmsg.sdp_offer(src[0], 40002)), ("OPTIONS", b"")):
            data, _, _ = d.build(meth, b, contact="",
                                 content_type="application/dtmf-relay"
                                 if meth == "INFO" else "application/sdp")
            seeds.append(data.replace(ua_via, via))
    tdir = os.environ.get("TRUNX_TORTURE_DIR") or os.path.join(
        ctx.source_dir or ".", "..", "shared", "torture", "rfc4475")
    if os.path.isdir(tdir):
        for f in sorted(os.listdir(tdir)):
            raw = open(os.path.join(tdir, f), "rb").read()
            raw = raw.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
            # the stack drops a request whose Via names another transport unanswered
            seeds.append(re.sub(rb"SIP/2\.0/(UDP|TCP)", b"SIP/2.0/TLS", raw))
    return seeds


PER_CONN = 5


def case_mutation_tls(ctx):
    """Mutated SIP over TLS, read by the front from the stack's SSL_read: RFC 4475
    messages, ordinary requests and a live dialog's in-dialog requests (both legs'),
    bytes flipped, lines duplicated, dropped or swapped, huge headers, bad lengths,
    truncation, 30 % of them cut across two TLS records, PER_CONN a connection (a
    mutated Content-Length swallows what follows on its connection), from the
    trunk's address and from the live dialog's peer (the two kinds of source that get
    past the ClientHello), for fixed seeds. Afterwards trunxd is alive, answers OPTIONS
    at once, and a TLS call from the trunk completes."""
    t, a, b, da, db, pctx = peer_setup(ctx, "mutation")
    dest = ("127.0.0.1", t.tls_port)
    seeds_env = os.environ.get("TRUNX_MUTATION_SEEDS", "11,23,37")
    n = int(os.environ.get("TRUNX_MUTATION_TLS", "600"))
    seeds = [int(x) for x in seeds_env.split(",")]
    per = max(1, n // (2 * len(seeds)))
    handshakes_failed = written = answers = cut_short = 0
    limited0 = t.counter("rate_limited")
    for seed in seeds:
        r = random.Random(seed)
        if da.ended or t.active_calls() == 0:
            # a mutated request ended the call: a new one, so the peer is welcome again
            da, final = a.call((t.addr, t.port))
            if da is None:
                raise AssertionError("a new call after seed stream: %s" % final)
            procs.wait_until(lambda: any(not d.ended for d in b.dialogs.values()), 5.0)
            db = [d for d in b.dialogs.values() if not d.ended][-1]
        for src, cctx in (("127.0.0.1", client_ctx()), (PEER, pctx)):
            sent = 0
            pool = None
            while sent < per:
                try:
                    s = tls_from(src, dest, cctx)
                except (ssl.SSLError, OSError):
                    # the peer is welcome only while its dialog lives
                    handshakes_failed += 1
                    sent += PER_CONN
                    continue
                try:
                    pool = pool or _tls_seeds(ctx, t, dest, da, db, s.getsockname())
                    for _ in range(PER_CONN):
                        data = mutate.mutate(r, r.choice(pool))[:60000]
                        cut = r.randrange(len(data)) if r.random() < 0.3 else len(data)
                        sent += 1
                        s.sendall(data[:cut])
                        if cut < len(data):
                            time.sleep(0.005)
                            s.sendall(data[cut:])
                        written += 1
                    got, _ = sipmsg.read_messages(s, 0.3, want=PER_CONN)
                    answers += len(got)
                except (ssl.SSLError, OSError):
                    cut_short += 1   # trunxd closed it (a refusal, or bytes it will not frame)
                finally:
                    s.close()
            t.check_alive()
        ctx.log("seed %d: %d mutated messages over TLS from the trunk and from the "
                "dialog's peer; trunxd alive", seed, 2 * per)
    ctx.log("%d messages written whole, %d answers read, %d connections closed by "
            "trunxd mid-stream, rate_limited +%d", written, answers, cut_short,
            t.counter("rate_limited") - limited0)
    if written < n // 2 or answers < n // 20:
        raise AssertionError("too little of the stream reached trunxd: %d written, "
                             "%d answered of %d" % (written, answers, n))
    ctx.log("TLS handshakes refused during the stream (the peer's dialog had ended): %d",
            handshakes_failed)
    with sipmsg.Endpoint("127.0.0.1") as ep:
        r, dt = ep.options((t.addr, t.port), timeout=2.0)
    if r is None or r.status != 200 or dt > 1.0:
        raise AssertionError("OPTIONS after the TLS stream: %s in %.2f s"
                             % (r.status if r else None, dt))
    ep = sipmsg.Endpoint("127.0.0.1", transport="tls", tls_ctx=client_ctx())
    ctx.at_end(ep.close)
    ep.connect(dest)
    tls_call(ctx, t, ep, ports.free_port(tcp=False))
    t.check_alive()


def options_msg(src, dest, n):
    return ("OPTIONS sip:%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/TLS %s:%d;branch=z9hG4bK-o%d-%s;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=o%d\r\nTo: <sip:%s:%d>\r\n"
            "Call-ID: opt-%d-%s@%s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            % (dest[0], dest[1], src[0], src[1], n, sipmsg.rand_token(), src[0], n,
               dest[0], dest[1], n, sipmsg.rand_token(), src[0])).encode()


def case_guard_rate(ctx):
    """The per-source request rate applies over TLS as over UDP and TCP: 40 OPTIONS
    from the trunk in one burst on its TLS connection, one record each, at rate_limit
    5 and rate_burst 5: only about the burst is answered, the rest is dropped before
    the stack and counted (rate_limited); once the bucket has refilled the same
    connection is served again."""
    t, dest, pki = start_trunk_tls(ctx, rate_limit=5, rate_burst=5)
    s = tls_from("127.0.0.1", dest, client_ctx())
    ctx.at_end(s.close)
    limited0 = t.counter("rate_limited")
    src = s.getsockname()
    for n in range(40):
        s.sendall(options_msg(src, dest, n))
    got, closed = sipmsg.read_messages(s, 3.0, want=40)
    limited = t.counter("rate_limited") - limited0
    ctx.log("40 OPTIONS over TLS: %d answered, rate_limited +%d, closed %s", len(got),
            limited, closed)
    if closed or not 3 <= len(got) <= 10 or limited < 30 or len(got) + limited != 40:
        raise AssertionError("40 OPTIONS at rate 5/s over TLS: %d answered, rate_limited "
                             "+%d, closed %s" % (len(got), limited, closed))
    time.sleep(1.5)
    s.sendall(options_msg(src, dest, 99))
    got, _ = sipmsg.read_messages(s, 5.0)
    if [m.status for m in got] != [200]:
        raise AssertionError("after the bucket refilled: %s" % [m.status for m in got])


def case_refused_welcome(ctx):
    """A live dialog's peer (welcome at the ClientHello, but a source the check
    refuses) sends an OPTIONS out of any dialog over TLS, whole and in three records:
    the front answers it, 403 naming nothing, the stack never sees it, and the
    connection is closed right after the answer (as over TCP; the stack used to answer
    it and keep the connection until tcp_unknown_timeout)."""
    t, a, b, da, db, pctx = peer_setup(ctx, "welcome")
    dest = ("127.0.0.1", t.tls_port)
    lines0 = len(t.log_records())
    for records in (1, 3):
        s = tls_from(PEER, dest, pctx)
        tls_send(s, options_msg(s.getsockname(), dest, records), records)
        got, closed = sipmsg.read_messages(s, 5.0)
        closed = closed or peer_closed(s, 2.0)
        s.close()
        ctx.log("OPTIONS in %d record(s) from the dialog's peer -> %s, closed %s",
                records, [m.status for m in got], closed)
        if [m.status for m in got] != [403] or not closed:
            raise AssertionError("OPTIONS in %d record(s): got %s, closed %s, expected "
                                 "[403] and closed" % (records, [m.status for m in got],
                                                       closed))
        told = [h for h in SAYS_NOTHING if got[0].header(h) is not None]
        if told:
            raise AssertionError("the 403 names %s" % told)
    seen = stack_saw_stranger(t, lines0)
    if seen:
        raise AssertionError("the stack saw %d of the refused source's requests: %s"
                             % (len(seen), seen[0]))
    r = da.bye()
    if not r or r.status != 200:
        raise AssertionError("A's BYE: %s" % (r.status if r else None))
    t.check_alive()


# ---- what strangers and scanners get --------------------------------------------------

def client_hello(cctx):
    """The first flight of a TLS client using cctx: a ClientHello record, as bytes
    (replayed on raw sockets, as a handshake flooder does: it costs the sender no
    public-key work)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = cctx.wrap_bio(inc, out, server_side=False)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def first_record(dest, source, hello, timeout=5):
    """Sends hello from source; returns the first bytes trunxd answers (b"" when it
    closed without a word)."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    try:
        s.connect(dest)
        s.sendall(hello)
        got = b""
        while len(got) < 7:
            b = s.recv(7 - len(got))
            if not b:
                break
            got += b
        return got
    except OSError:
        return b""
    finally:
        s.close()


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def case_stranger_hello(ctx):
    """A TLS ClientHello from a source that is no trunk (nor a host trunx calls, nor a
    dialog's peer) is refused at once with an access_denied alert: no ServerHello, no
    certificate, no key exchange or signature made for it, whatever certificate it
    would present (it used to get trunx's whole first flight, and a stranger with a
    certificate from tls_ca a session whose every request got 403). 600 such hellos
    from 12 addresses are all refused so, counted; the trunk's handshake goes on."""
    t, dest, pki = start_trunk_tls(ctx)
    hello = client_hello(client_ctx())
    # A stranger holding a certificate the CA signed: refused all the same.
    cert, key, _ = pki.issue("stranger")
    raw = socket.socket()
    raw.bind(("127.0.44.1", 0))
    raw.settimeout(5)
    ctx.at_end(raw.close)
    raw.connect(dest)
    try:
        client_ctx(cert, key).wrap_socket(raw)
        raise AssertionError("a stranger completed a TLS handshake")
    except ssl.SSLError as e:
        ctx.log("stranger with a CA certificate: %s", e)
        if "ACCESS_DENIED" not in str(e).upper():
            raise AssertionError("refused with %s, expected access_denied" % e)
    pid = t.proc.pid
    cpu0, t0 = cpu_s(pid), time.monotonic()
    answers = {}
    for i in range(600):
        got = first_record(dest, "127.0.45.%d" % (1 + i % 12), hello)
        kind = got[:1].hex() + ("/%d" % got[6] if len(got) >= 7 else "")
        answers[kind] = answers.get(kind, 0) + 1
    took, cpu = time.monotonic() - t0, cpu_s(pid) - cpu0
    ctx.log("600 stranger hellos in %.1f s: answers %s; trunxd CPU %.2f s", took, answers,
            cpu)
    # 0x15: an alert record; 49: access_denied.
    if answers.get("15/49", 0) != 600:
        raise AssertionError("strangers' hellos were not all refused with access_denied: "
                             "%s" % answers)
    n = t.counter("tls_refused_stranger")
    if n < 601:
        raise AssertionError("tls_refused_stranger = %s" % n)
    # The trunk's own handshake and request are served.
    ep = sipmsg.Endpoint("127.0.0.1", transport="tls", tls_ctx=client_ctx())
    ctx.at_end(ep.close)
    ep.connect(dest)
    final, _ = ep.options(dest, timeout=5)
    if not final or final.status != 200:
        raise AssertionError("the trunk's OPTIONS over TLS got %s" % final)
    if first_record(dest, "127.0.0.1", hello)[:1] != b"\x16":
        raise AssertionError("the trunk's ClientHello did not get a ServerHello")
    t.check_alive()


def _contact_ok(final, transport, port):
    """None when the 200's Contact is absent or can be reached on `transport` at
    `port` (the one the OPTIONS came on); else what is wrong with it."""
    contact = final.header("Contact")
    if contact is None:
        return None
    m = re.search(r"<?(sips?):[^;>@]*@?([^;>:]+):(\d+)([^>]*)>?", contact)
    if not m:
        return "unreadable Contact %r" % contact
    scheme, _, cport, params = m.groups()
    tp = re.search(r";transport=([A-Za-z]+)", params)
    tp = tp.group(1).lower() if tp else ("tls" if scheme == "sips" else "udp")
    if scheme == "sips" and transport != "tls":
        return "Contact %r is sips: for a request over %s" % (contact, transport)
    if tp != transport or int(cport) != port:
        return "Contact %r names %s port %s for a request over %s to port %d" % (
            contact, tp, cport, transport, port)
    return None


def case_options_contact(ctx):
    """With TLS configured, every 200 to OPTIONS from a trunk names a Contact reachable
    on the transport the OPTIONS came on, or none (RFC 3261 11.2): over UDP (answered
    by trunx's front without state, and by the stack when the request carries
    Require or Max-Forwards 0), over TCP and over TLS. The stack's own answer used
    to name the TLS listener (sips:) whatever the transport."""
    pki = tlscerts.Pki(ctx.path("pki"))

    def conf(c):
        c.carrier["tls_verify"] = False
    t = start(ctx, pki, conf)
    udp_tcp = ("127.0.0.1", t.port)
    tries = (("udp", "front", ()), ("udp", "stack, Max-Forwards 0", {"max_forwards": 0}),
             ("udp", "stack, Require", {"headers": ("Require: timer",)}),
             ("tcp", "stack", ()), ("tls", "stack", ()))
    bad = []
    for transport, what, kw in tries:
        ep = sipmsg.Endpoint("127.0.0.1", transport=transport,
                             tls_ctx=client_ctx() if transport == "tls" else None)
        ctx.at_end(ep.close)
        dest = ("127.0.0.1", t.tls_port) if transport == "tls" else udp_tcp
        if transport != "udp":
            ep.connect(dest)
        final, _ = ep.options(dest, timeout=5, **dict(kw))
        if not final or final.status != 200:
            raise AssertionError("OPTIONS over %s (%s): %s" % (transport, what,
                                                              final.status if final else None))
        ctx.log("OPTIONS over %s (%s): Contact %s", transport, what, final.header("Contact"))
        err = _contact_ok(final, transport, dest[1])
        if err:
            bad.append("%s (%s): %s" % (transport, what, err))
        ep.close()
    if bad:
        raise AssertionError("; ".join(bad))
    t.check_alive()


def case_protocols(ctx):
    """What the TLS listener accepts, tried from a trunk's address: TLS 1.3, and TLS
    1.2 with forward-secret AEAD ciphers; TLS 1.0 and 1.1 and the TLS 1.2 ciphers
    without AEAD (CBC with SHA-1 or SHA-384) are refused (the stack asked OpenSSL for
    "ALL:!ADH:!LOW:!EXP:!MD5")."""
    t, dest, pki = start_trunk_tls(ctx)

    def attempt(version, ciphers=None):
        return handshake(dest, version, ciphers)

    V = ssl.TLSVersion
    want_ok = [(V.TLSv1_3, None), (V.TLSv1_2, "ECDHE-ECDSA-AES128-GCM-SHA256"),
               (V.TLSv1_2, "ECDHE-ECDSA-AES256-GCM-SHA384"),
               (V.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305")]
    want_refused = [(V.TLSv1_2, "ECDHE-ECDSA-AES128-SHA"),
                    (V.TLSv1_2, "ECDHE-ECDSA-AES256-SHA384"),
                    (V.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256"),
                    (V.TLSv1_2, "AECDH-AES256-SHA"),
                    (V.TLSv1_1, "ALL"), (V.TLSv1, "ALL")]
    bad = []
    for v, c in want_ok:
        got = attempt(v, c)
        ctx.log("%s %s: %s", v.name, c, got)
        if isinstance(got, str):
            bad.append("%s %s should work: %s" % (v.name, c, got))
    for v, c in want_refused:
        got = attempt(v, c)
        ctx.log("%s %s: %s", v.name, c, got)
        if not isinstance(got, str):
            bad.append("%s %s was accepted: %s" % (v.name, c, got))
    if bad:
        raise AssertionError("; ".join(bad))
    t.check_alive()



def case_ciphers_configured(ctx):
    """[sip] tls_ciphers widens the TLS 1.2 list for a peer that speaks only an older
    suite: ECDHE-ECDSA-AES128-SHA (refused by default, case_protocols) is taken when
    listed, a suite not listed is still refused, TLS 1.0 still is; a list OpenSSL
    knows nothing of stops start-up with the reason."""
    pki = tlscerts.Pki(ctx.path("pki"))
    cert, key, _ = pki.issue("trunx")
    bad = trunxd.Trunxd(ctx, ctx.trunxd_path, name="trunxd-badlist",
                        configure=lambda c: c.sip.update(tls_ciphers="NO-SUCH-CIPHER"),
                        tls=(cert, key, pki.ca))
    bad._expect_exit = True
    try:
        bad.start(ready_timeout=15)
        raise AssertionError("trunxd started with tls_ciphers = NO-SUCH-CIPHER")
    except trunxd.TrunxdError as e:
        if "tls_ciphers" not in str(e):
            raise AssertionError("start-up refused without naming tls_ciphers: %s" % e)
        ctx.log("bad list refused: %s", str(e).splitlines()[-1][:200])

    def conf(c):
        c.carrier["tls_verify"] = False
        c.sip["tls_ciphers"] = "ECDHE+AESGCM:ECDHE-ECDSA-AES128-SHA"
    t = start(ctx, pki, conf)
    dest = ("127.0.0.1", t.tls_port)

    V = ssl.TLSVersion
    got = handshake(dest, V.TLSv1_2, "ECDHE-ECDSA-AES128-SHA")
    ctx.log("listed ECDHE-ECDSA-AES128-SHA: %s", got)
    if got != ("TLSv1.2", "ECDHE-ECDSA-AES128-SHA"):
        raise AssertionError("the listed suite was not taken: %s" % (got,))
    for v, c in ((V.TLSv1_2, "ECDHE-ECDSA-AES256-SHA"), (V.TLSv1_2, "ECDHE-ECDSA-CHACHA20-POLY1305"),
                 (V.TLSv1, "ALL")):
        got = handshake(dest, v, c)
        ctx.log("%s %s: %s", v.name, c, got)
        if not isinstance(got, str):
            raise AssertionError("%s %s was accepted: %s" % (v.name, c, got))
    t.check_alive()


if __name__ == "__main__":
    sys.exit(case.main(globals()))
