#!/usr/bin/env python3
"""trunxd behind and in front of a record-routing, transaction-stateful Kamailio.

Kamailio (tm + sl + rr, kamailio.cfg here) stands on the caller's side (A -> Kamailio ->
trunxd: the carrier trunk is Kamailio's address), on the callee's side (trunxd ->
Kamailio -> B: the pbx trunk's uri is Kamailio), or both. Both parties are the
harness's scriptable UA (harness/ua.py) and follow the route set of their dialog.

What each case proves: every request of a dialog (ACK of the 2xx, re-INVITE, BYE) goes
through the proxy both ways, as the proxy's own log says (one "KAMTEST" line per
request relayed) and as the party behind it sees (every request comes from the
proxy's address); trunxd takes in-dialog requests that arrive from the proxy; CANCEL
and failures (ACK hop by hop) pass through it; UDP and TCP; several Record-Route
entries (two proxies, or one proxy's double Record-Route between TCP and UDP); a
proxy that adds rport. Every case ends with no call left in `trunxctl calls`, one
`call.end` record with the cause expected, and trunxd stopping cleanly.
"""
import os
import re
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import calls, case, ports, procs, sipp, trunxd, ua  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KAMAILIO = os.environ.get("TRUNX_KAMAILIO", "/usr/sbin/kamailio")
LOOP = "127.0.0.1"          # trunxd, and a party without a proxy
KA_IPS = ("127.0.0.2", "127.0.0.6")   # A's proxies: the one next to trunxd first
A_IP = "127.0.0.5"          # A behind its proxy
KB_IP = "127.0.0.3"         # B's proxy
B_IP = "127.0.0.4"          # B behind its proxy
KB_RR_IP = "127.0.0.8"      # another address of B's proxy (its Record-Route's)
KA_RR_IP = "127.0.0.9"      # another address of A's proxy


# ---- Kamailio ----------------------------------------------------------------------

class Kamailio:
    """One Kamailio on its own free port (UDP and TCP), in the foreground; killed by
    PID (its process group: the workers) when the case ends."""

    def __init__(self, ctx, name, ip, next_hop=None, rport=False, next_hop_from=None,
                 rr_ip=None):
        self.ctx = ctx
        self.name = name
        self.ip = ip
        self.next_hop = next_hop
        self.rport = rport
        self.next_hop_from = next_hop_from
        self.rr_ip = rr_ip        # Record-Route names this address (a socket of its own)
        self.rr_port = None
        self.port = None
        self.adv_port = None
        self.proc = None

    @property
    def addr(self):
        return (self.ip, self.port)

    def sent(self, src):
        """Whether a message from src came from this proxy (any of its sockets)."""
        return src is not None and ((src[0] == self.ip and
                                     src[1] in (self.port, self.adv_port)) or
                                    (src[0] == self.rr_ip and src[1] == self.rr_port))

    def start(self):
        rundir = self.ctx.path(self.name + "-run")
        os.makedirs(rundir, exist_ok=True)
        last = ""
        for _ in range(3):
            self.port = ports.free_port(self.ip)
            listen = ["-l", "udp:%s:%d" % (self.ip, self.port),
                      "-l", "tcp:%s:%d" % (self.ip, self.port)]
            if self.rport:
                # Sends from port, writes adv_port in its Via (and Record-Route):
                # only rport brings the answers back to the port they came from.
                self.adv_port = ports.free_port(self.ip, avoid=(self.port,))
                listen = ["-l", "udp:%s:%d/%s:%d" % (self.ip, self.port, self.ip,
                                                     self.adv_port),
                          "-l", "udp:%s:%d" % (self.ip, self.adv_port),
                          "-l", "tcp:%s:%d" % (self.ip, self.port)]
            if self.rr_ip:
                self.rr_port = ports.free_port(self.rr_ip)
                listen += ["-l", "udp:%s:%d" % (self.rr_ip, self.rr_port)]
            argv = [KAMAILIO, "-f", os.path.join(HERE, "kamailio.cfg"), "-DD", "-E"] + \
                listen + [
                    "-n", "1", "-m", "64", "-M", "8", "-Y", rundir, "-w", rundir]
            if self.next_hop:
                argv += ["-A", 'NEXT_HOP="%s"' % self.next_hop]
            if self.next_hop_from:
                argv += ["-A", 'NEXT_HOP_FROM="%s"' % self.next_hop_from]
            if self.rport:
                argv += ["-A", "WITH_RPORT"]
            if self.rr_ip:
                argv += ["-A", 'RR_PRESET="%s:%d"' % (self.rr_ip, self.rr_port),
                         "-A", 'RR_SOCKET="udp:%s:%d"' % (self.rr_ip, self.rr_port)]
            argv += ["-A", "TCP_SRC=%s" % self.ip]
            self.proc = self.ctx.reg.start(self.name, argv)
            if procs.wait_until(lambda: not self.proc.alive() or self._answers(), 10,
                                0.1) and self.proc.alive():
                self.ctx.log("%s on udp/tcp %s:%d (pid %d)%s", self.name, self.ip,
                             self.port, self.proc.pid,
                             " -> " + self.next_hop if self.next_hop else "")
                return self
            last = self.proc.read_stderr()[-2000:]
            self.proc.stop()
        raise RuntimeError("%s did not start:\n%s" % (self.name, last))

    def _answers(self):
        """Whether this Kamailio answers on its port: an OPTIONS with Max-Forwards 0
        gets its stateless 483 (a port another process holds answers nothing)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((self.ip, 0))
            cid = "probe-%d" % s.getsockname()[1]
            req = ("OPTIONS sip:probe@%s:%d SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n"
                   "Max-Forwards: 0\r\nFrom: <sip:probe@%s>;tag=p\r\n"
                   "To: <sip:probe@%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n"
                   "Content-Length: 0\r\n\r\n"
                   % (self.ip, self.port, self.ip, s.getsockname()[1], cid, self.ip,
                      self.ip, cid))
            s.sendto(req.encode(), self.addr)
            s.settimeout(0.3)
            data, _ = s.recvfrom(4096)
            return data.startswith(b"SIP/2.0 483") and cid.encode() in data
        except OSError:
            return False
        finally:
            s.close()

    def lines(self, kind=None, call_id=None, method=None):
        """The KAMTEST lines of its log: [(kind, rest)]."""
        out = []
        for line in self.proc.read_stderr().splitlines():
            m = re.search(r"KAMTEST (\S+) (.*)$", line)
            if not m:
                continue
            k, rest = m.group(1), m.group(2)
            if kind and k != kind:
                continue
            if method and not rest.startswith(method + " "):
                continue
            if call_id and (" %s " % call_id) not in (" " + rest + " "):
                continue
            out.append((k, rest))
        return out

    def expect(self, kind, method, call_id, n=1, timeout=3.0):
        """Waits until the proxy logged at least n `kind` lines of method for call_id."""
        got = procs.wait_until(lambda: len(self.lines(kind, call_id, method)) >= n,
                               timeout, 0.1)
        if not got:
            raise AssertionError("%s relayed %d %s %s of call %s, expected %d; its log: %s"
                                 % (self.name, len(self.lines(kind, call_id, method)),
                                    kind, method, call_id, n, self.lines()[-12:]))


# ---- the set-up --------------------------------------------------------------------

class Setup:
    """A (caller UA), optional proxies on A's and B's side, trunxd, B (callee UA)."""

    def __init__(self, ctx, a_proxy=False, b_proxy=False, a_hops=1, a_tcp=False,
                 b_tcp=False, rport=False, b_match=True, b_auto=True, a_auto=True,
                 a_to_trunxd_tcp=False, one_proxy=False, rr_ip=None, a_rr_ip=None,
                 configure=None):
        self.ctx = ctx
        # Each party and proxy on an address of its own: trunxd tells them apart by
        # address (trunks, dialog peers) as it would on a network.
        self.b = ua.UA(B_IP if b_proxy or one_proxy else LOOP, name="b", auto=b_auto)
        ctx.at_end(self.b.close)
        self.k_a = []       # A's proxies, the one A sends to first
        self.k_b = None
        if one_proxy:
            # One proxy on both sides: A's INVITEs to trunxd, trunxd's to B.
            b_proxy = a_proxy = False
            k = Kamailio(ctx, "kamailio", KA_IPS[0],
                         next_hop="sip:%s:%d" % (self.b.ip, self.b.port),
                         next_hop_from=LOOP).start()
            self.k_a, self.k_b = [k], k
        if b_proxy:
            self.k_b = Kamailio(ctx, "kamailio-b", KB_IP,
                                next_hop="sip:%s:%d" % (self.b.ip, self.b.port),
                                rport=rport, rr_ip=rr_ip).start()
        if a_proxy:
            nxt = None
            for i in range(a_hops, 0, -1):   # the last hop (toward trunxd) first
                k = Kamailio(ctx, "kamailio-a%d" % i, KA_IPS[a_hops - i], next_hop=nxt,
                             rport=rport, rr_ip=a_rr_ip if nxt is None else None).start()
                self.k_a.insert(0, k)
                nxt = "sip:%s:%d" % k.addr
        self.a_tcp = a_tcp
        self.ruri_params = ";transport=tcp" if a_to_trunxd_tcp else ""

        def conf(cf):
            cf.media["rtp_timeout"] = 0
            if self.k_a:
                # The carrier trunk is the proxy in front of trunxd.
                cf.carrier["match"] = "%s/32" % self.k_a[-1].ip
                # Over TCP the proxy connects from a port of the kernel's choosing.
                cf.carrier["port"] = None if a_to_trunxd_tcp else self.k_a[-1].port
            if self.k_b:
                cf.pbx["uri"] = "sip:%s:%d%s" % (self.k_b.ip, self.k_b.port,
                                                 ";transport=tcp" if b_tcp else "")
                if b_match and not one_proxy:
                    cf.pbx["match"] = "%s/32" % self.k_b.ip
                    cf.pbx["port"] = None if b_tcp else self.k_b.port
                else:
                    cf.pbx["match"] = None     # outbound only
                    cf.pbx["port"] = None
            if configure:
                configure(cf)
        self.t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=self.b.port, configure=conf)
        ctx.at_end(self.t._end_check)
        self.t.start()
        self.a = ua.UA(A_IP if self.k_a else LOOP, name="a", auto=a_auto, transport="tcp" if a_tcp else "udp")
        if a_tcp:
            self.a.connect(self.k_a[0].addr)
        ctx.at_end(self.a.close)
        self.a_sent = []
        orig = self.a.send

        def spy(data, dest):
            self.a_sent.append(data if isinstance(data, bytes) else data.encode())
            orig(data, dest)
        self.a.send = spy

    @property
    def a_hop(self):
        """Where A's requests go and A's requests come from."""
        return self.k_a[0].addr if self.k_a else (self.t.addr, self.t.port)

    @property
    def b_hop(self):
        return self.k_b.addr if self.k_b else None

    def call(self, **kw):
        c = _Call(self, **kw)
        c.start()
        return c

    def check_sources(self):
        """Every request A and B received came from the hop next to them: a request
        that bypassed the proxy (sent to the Contact instead of along the route set)
        fails the case."""
        if self.k_a and not self.a_tcp:
            bad = [(m, src) for m, src, _ in self.a_srcs() if not self.k_a[0].sent(src)]
            if bad:
                raise AssertionError("A got requests not from its proxy %s: %s"
                                     % (self.a_hop, bad))
        if self.k_b:
            bad = [(m, src) for m, src, _ in self.b_srcs() if not self.k_b.sent(src)]
            if bad:
                raise AssertionError("B got requests not from its proxy %s: %s"
                                     % (self.b_hop, bad))

    def a_srcs(self):
        return [(m.method, m.src, m) for m in self.a.requests_got]

    def b_srcs(self):
        return [(m.method, m.src, m) for m in self.b.requests_got]


class _Call(threading.Thread):
    """A's INVITE in the background (ua.UA.call blocks until the final response)."""

    def __init__(self, s, **kw):
        super().__init__(daemon=True)
        self.s, self.kw = s, kw
        self.dialog = self.final = None

    def run(self):
        s = self.s
        proxy = s.k_a[0].addr if s.k_a else None
        self.dialog, self.final = s.a.call((s.t.addr, s.t.port), proxy=proxy,
                                           timeout=15, ruri_params=s.ruri_params, **self.kw)


def _call_id_of(data):
    m = re.search(rb"(?im)^Call-ID:\s*(\S+)", data)
    return m.group(1).decode() if m else None


def _no_calls_left(t, timeout=20.0):
    t.wait_no_calls(timeout)


def _one_end(ctx, t, timeout=15.0, **want):
    return t.one_end(ctx, timeout, 0.5, **want)


def _rtp_port(body):
    m = re.search(rb"m=audio (\d+)", body or b"")
    if not m:
        raise AssertionError("no m=audio in %r" % body)
    return int(m.group(1))


def _rtp_both_ways(ctx, s, a_final, b_invite):
    """20 packets each way: A's reach B, B's reach A, through trunxd's relay."""
    to_b = _rtp_port(a_final.body)      # trunxd's port for A
    to_a = _rtp_port(b_invite.body)     # trunxd's port for B
    for sock in (s.a.media, s.b.media):
        sock.settimeout(0)
    got = {"a": 0, "b": 0}
    for i in range(40):
        pkt = struct.pack("!BBHII", 0x80, 8, i, 160 * i, 0x1111) + b"\xd5" * 160
        s.a.media.sendto(pkt, (s.t.addr, to_b))
        pkt = struct.pack("!BBHII", 0x80, 8, i, 160 * i, 0x2222) + b"\xd5" * 160
        s.b.media.sendto(pkt, (s.t.addr, to_a))
        time.sleep(0.02)
        for k, sock in (("a", s.a.media), ("b", s.b.media)):
            try:
                while True:
                    sock.recvfrom(2048)
                    got[k] += 1
            except OSError:
                pass
    time.sleep(0.2)
    for k, sock in (("a", s.a.media), ("b", s.b.media)):
        try:
            while True:
                sock.recvfrom(2048)
                got[k] += 1
        except OSError:
            pass
    ctx.log("RTP received: at A %d, at B %d (of 40 each)", got["a"], got["b"])
    if got["a"] < 20 or got["b"] < 20:
        raise AssertionError("RTP through trunxd: A got %d, B got %d of 40"
                             % (got["a"], got["b"]))


def _answered(ctx, s):
    """A calls; B (auto) answers; returns (A's dialog, A's 200, B's INVITE, B's
    dialog)."""
    c = s.call()
    c.join(20)
    if c.dialog is None:
        raise AssertionError("A's call not answered: %s" % c.final)
    b_inv = None
    for meth, src, msg in s.b_srcs():
        if meth == "INVITE":
            b_inv = msg
            break
    if b_inv is None:
        raise AssertionError("B got no INVITE")
    bd = None
    for (cid, _tag), d in s.b.dialogs.items():
        if cid == b_inv.header("Call-ID"):
            bd = d
    if bd is None:
        raise AssertionError("B has no dialog")
    # The 2xx ACKs reach trunxd (A's through A's proxies) and B before either side
    # starts a re-INVITE: one sent earlier meets an INVITE transaction still open
    # (491, RFC 3261 14.1).
    for k in s.k_a:
        k.expect("dialog", "ACK", c.dialog.call_id, 1)
    if not procs.wait_until(lambda: any(m.method == "ACK" for m in s.b.requests_got), 5):
        raise AssertionError("B's 200 was not ACKed")
    time.sleep(0.2)
    ctx.log("answered: A Call-ID %s (route %s), B Call-ID %s (route %s)",
            c.dialog.call_id, c.dialog.route, bd.call_id, bd.route)
    return c.dialog, c.final, b_inv, bd


def _reinvite(ctx, d, direction, who):
    """A hold/unhold re-INVITE from dialog d, answered 200 and ACKed."""
    cseq, _, _ = d.offer(direction)
    r = d.wait_final(cseq, "INVITE", timeout=8)
    if r is None or r.status != 200:
        raise AssertionError("%s's re-INVITE (%s) got %s" % (who, direction or "sendrecv",
                                                               r and r.start))
    want = {"sendonly": "recvonly", None: "sendrecv"}[direction]
    if ua.sdp_direction(r.body) != want:
        raise AssertionError("%s's re-INVITE (%s) answered %s, expected %s"
                             % (who, direction, ua.sdp_direction(r.body), want))
    d.ack(cseq)
    # Let the ACK reach trunxd before the next re-INVITE: one from the other side
    # would meet this INVITE transaction still open there (491, RFC 3261 14.1).
    time.sleep(0.3)


def _bye(ctx, d, who):
    r = d.bye(timeout=8)
    if r is None or r.status != 200:
        raise AssertionError("%s's BYE got %s" % (who, r and r.start))


def _check_dialog_relayed(s, d_a, d_b, a_methods=(), b_methods=()):
    """The proxies logged the in-dialog requests of each leg (by Call-ID)."""
    for k in s.k_a:
        for meth, n in a_methods:
            k.expect("dialog", meth, d_a.call_id, n)
    if s.k_b:
        for meth, n in b_methods:
            s.k_b.expect("dialog", meth, d_b.call_id, n)


def _ends(ctx, s, cause, sources=True):
    """After an answered call's end: (every request came from where it should,) no call
    left in trunxd, and one call record with that cause."""
    if sources:
        s.check_sources()
    _no_calls_left(s.t)
    _one_end(ctx, s.t, result="answered", cause=cause)


def _mk(ctx, **kw):
    return Setup(ctx, **kw)


# ---- calls answered ----------------------------------------------------------------

def _basic(ctx, bye_from, rtp=True, **kw):
    s = _mk(ctx, **kw)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    if s.k_b and not s.k_b.sent(b_inv.src):
        raise AssertionError("B's INVITE came from %s, not the proxy" % (b_inv.src,))
    if rtp:
        _rtp_both_ways(ctx, s, final, b_inv)
    if bye_from == "a":
        _bye(ctx, d_a, "A")
        cause = "bye_a"
    else:
        _bye(ctx, d_b, "B")
        cause = "bye_b"
    # Both legs' 2xx ACK and BYE went through the proxies.
    _check_dialog_relayed(s, d_a, d_b, a_methods=(("ACK", 1), ("BYE", 1)),
                          b_methods=(("ACK", 1), ("BYE", 1)))
    s.check_sources()
    _no_calls_left(s.t)
    _one_end(ctx, s.t, result="answered", cause=cause)
    return s


def case_a_proxy_bye_a(ctx):
    """A -> Kamailio -> trunxd -> B: RTP both ways, A's BYE via the route set."""
    _basic(ctx, "a", a_proxy=True)


def case_a_proxy_bye_b(ctx):
    """A -> Kamailio -> trunxd -> B: B hangs up; trunxd's BYE to A follows the
    Record-Route through Kamailio (A takes requests only from it)."""
    _basic(ctx, "b", a_proxy=True, rtp=False)


def case_b_proxy_bye_a(ctx):
    """A -> trunxd -> Kamailio -> B (trunk uri = Kamailio): trunxd's ACK and BYE to B
    follow B's Record-Route (B's Contact is behind the proxy)."""
    _basic(ctx, "a", b_proxy=True, rtp=False)


def case_b_proxy_bye_b(ctx):
    """A -> trunxd -> Kamailio -> B: RTP both ways; B's BYE arrives from the proxy's
    address and is taken as the dialog's."""
    _basic(ctx, "b", b_proxy=True)


def case_both_proxies_rtp(ctx):
    """A -> Kamailio -> trunxd -> Kamailio -> B: RTP both ways, BYE from A."""
    _basic(ctx, "a", a_proxy=True, b_proxy=True)


def _outbound_only(ctx, tcp):
    s = _mk(ctx, b_proxy=True, b_match=False, b_tcp=tcp)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    _reinvite(ctx, d_b, "sendonly", "B")
    _reinvite(ctx, d_b, None, "B")
    _bye(ctx, d_b, "B")
    s.k_b.expect("dialog", "INVITE", d_b.call_id, 2)
    _ends(ctx, s, "bye_b")


def case_b_proxy_outbound_only_trunk(ctx):
    """The pbx trunk has a uri (Kamailio) and no match: requests from Kamailio are
    from no trunk, but a dialog through it is the dialog's peer: B's re-INVITE and
    BYE through the proxy are taken."""
    _outbound_only(ctx, False)


def case_b_proxy_record_route_elsewhere(ctx):
    """The pbx trunk (outbound only) sends to Kamailio at one address; Kamailio
    record-routes with another of its addresses (a cluster's or a multi-homed proxy's)
    and B's requests come from that one: trunxd sends the dialog's requests there, so
    requests from there are the dialog's and taken (B's re-INVITE and BYE)."""
    s = _mk(ctx, b_proxy=True, b_match=False, rr_ip=KB_RR_IP)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    if KB_RR_IP not in " ".join(d_b.route):
        raise AssertionError("B's route set %s does not name %s" % (d_b.route, KB_RR_IP))
    _reinvite(ctx, d_b, "sendonly", "B")
    _reinvite(ctx, d_a, None, "A")
    _bye(ctx, d_b, "B")
    s.k_b.expect("dialog", "INVITE", d_b.call_id, 2)
    s.k_b.expect("dialog", "BYE", d_b.call_id, 1)
    _ends(ctx, s, "bye_b")


def case_a_proxy_record_route_elsewhere(ctx):
    """The carrier trunk is Kamailio's address; Kamailio record-routes with another
    of its addresses and A's requests come from that one: the dialog's route set
    points there, so they are the dialog's and taken (A's re-INVITE and BYE)."""
    s = _mk(ctx, a_proxy=True, a_rr_ip=KA_RR_IP)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    if KA_RR_IP not in " ".join(d_a.route):
        raise AssertionError("A's route set %s does not name %s" % (d_a.route, KA_RR_IP))
    _reinvite(ctx, d_a, "sendonly", "A")
    _reinvite(ctx, d_b, None, "B")
    _bye(ctx, d_a, "A")
    s.k_a[0].expect("dialog", "INVITE", d_a.call_id, 2)
    s.k_a[0].expect("dialog", "BYE", d_a.call_id, 1)
    _ends(ctx, s, "bye_a")


def case_b_proxy_record_route_elsewhere_drop(ctx):
    """As b_proxy_record_route_elsewhere with `unknown_source = drop`: UDP from
    addresses no trunk matches is dropped in the kernel, so the trunk's match lists
    the proxy's Record-Route address too (docs/OPERATIONS.md, Behind a proxy)."""
    def conf(cf):
        cf.sip["unknown_source"] = "drop"
        cf.pbx["match"] = "%s/32" % KB_RR_IP
    s = _mk(ctx, b_proxy=True, b_match=False, rr_ip=KB_RR_IP, configure=conf)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    _reinvite(ctx, d_b, "sendonly", "B")
    _reinvite(ctx, d_a, None, "A")
    _bye(ctx, d_b, "B")
    s.k_b.expect("dialog", "INVITE", d_b.call_id, 2)
    _ends(ctx, s, "bye_b")


def case_b_proxy_outbound_only_trunk_tcp(ctx):
    """The same over TCP: the proxy opens a connection of its own to trunxd for B's
    requests (from a source no trunk matches); they are the dialog's and taken."""
    _outbound_only(ctx, True)


def case_one_proxy_both_sides(ctx):
    """One Kamailio in front of trunxd for both legs (calls from it on the carrier
    trunk, the pbx trunk's uri is it, its requests match one trunk only): hold and
    unhold from each side, both legs' ACKs, re-INVITEs and BYE through it."""
    s = _mk(ctx, one_proxy=True)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    _rtp_both_ways(ctx, s, final, b_inv)
    _reinvite(ctx, d_a, "sendonly", "A")
    _reinvite(ctx, d_b, "sendonly", "B")
    _reinvite(ctx, d_a, None, "A")
    _reinvite(ctx, d_b, None, "B")
    _bye(ctx, d_a, "A")
    _check_dialog_relayed(s, d_a, d_b, a_methods=(("INVITE", 4), ("ACK", 5), ("BYE", 1)),
                          b_methods=(("INVITE", 4), ("ACK", 5), ("BYE", 1)))
    _ends(ctx, s, "bye_a")


def case_both_proxies_hold_each_side(ctx):
    """Hold and unhold from A, then from B, each re-INVITE relayed through both
    proxies (and its ACK); then B hangs up."""
    s = _mk(ctx, a_proxy=True, b_proxy=True)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    _reinvite(ctx, d_a, "sendonly", "A")
    _reinvite(ctx, d_a, None, "A")
    _reinvite(ctx, d_b, "sendonly", "B")
    _reinvite(ctx, d_b, None, "B")
    _bye(ctx, d_b, "B")
    _check_dialog_relayed(s, d_a, d_b, a_methods=(("INVITE", 4), ("ACK", 5), ("BYE", 1)),
                          b_methods=(("INVITE", 4), ("ACK", 5), ("BYE", 1)))
    _ends(ctx, s, "bye_b")


def case_both_proxies_update(ctx):
    """Hold by UPDATE (RFC 3311) from A, then from B, through both proxies: each
    relayed to the other leg as an offer (trunxd sends it as a re-INVITE) through
    that leg's proxy and answered; then A hangs up."""
    s = _mk(ctx, a_proxy=True, b_proxy=True)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    for d, who in ((d_a, "A"), (d_b, "B")):
        cseq, _, _ = d.offer("sendonly", method="UPDATE")
        r = d.wait_final(cseq, "UPDATE", timeout=8)
        if r is None or r.status != 200 or ua.sdp_direction(r.body) != "recvonly":
            raise AssertionError("%s's UPDATE (sendonly) got %s %s" % (
                who, r and r.start, r and ua.sdp_direction(r.body)))
        time.sleep(0.3)
    _bye(ctx, d_a, "A")
    for k in s.k_a:
        k.expect("dialog", "UPDATE", d_a.call_id, 1)
        k.expect("dialog", "INVITE", d_a.call_id, 1)
    s.k_b.expect("dialog", "INVITE", d_b.call_id, 1)
    s.k_b.expect("dialog", "UPDATE", d_b.call_id, 1)
    _ends(ctx, s, "bye_a")


def case_a_two_proxies(ctx):
    """A -> Kamailio -> Kamailio -> trunxd: a route set of two loose routers; B's hold,
    unhold and BYE reach A through both (each logs them), A's BYE... is B's here."""
    s = _mk(ctx, a_proxy=True, a_hops=2)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    if len(d_a.route) != 2:
        raise AssertionError("A's route set %s, expected two proxies" % d_a.route)
    _reinvite(ctx, d_b, "sendonly", "B")
    _reinvite(ctx, d_b, None, "B")
    _reinvite(ctx, d_a, "sendonly", "A")
    _bye(ctx, d_b, "B")
    for k in s.k_a:
        k.expect("dialog", "INVITE", d_a.call_id, 3)
        k.expect("dialog", "BYE", d_a.call_id, 1)
    _ends(ctx, s, "bye_b")


def case_a_proxy_tcp(ctx):
    """A over TCP to Kamailio, Kamailio over UDP to trunxd: the proxy record-routes
    twice (one entry per transport); B's hold and BYE reach A over A's connection."""
    s = _mk(ctx, a_proxy=True, a_tcp=True)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    if len(d_a.route) != 2:
        raise AssertionError("A's route set %s, expected the double Record-Route"
                             % d_a.route)
    _reinvite(ctx, d_b, "sendonly", "B")
    _reinvite(ctx, d_a, None, "A")
    _bye(ctx, d_b, "B")
    s.k_a[0].expect("dialog", "INVITE", d_a.call_id, 2)
    s.k_a[0].expect("dialog", "BYE", d_a.call_id, 1)
    _ends(ctx, s, "bye_b", sources=False)


def case_a_proxy_tcp_to_trunxd(ctx):
    """A over UDP to Kamailio, Kamailio over TCP to trunxd (the request-URI says
    transport=tcp): trunxd's requests to A go back over TCP to the proxy's
    Record-Route; A's re-INVITE and BYE come over the proxy's connection."""
    s = _mk(ctx, a_proxy=True, a_to_trunxd_tcp=True)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    if len(d_a.route) != 2:
        raise AssertionError("A's route set %s, expected the double Record-Route"
                             % d_a.route)
    _reinvite(ctx, d_b, "sendonly", "B")
    _reinvite(ctx, d_a, None, "A")
    _reinvite(ctx, d_b, None, "B")
    _bye(ctx, d_a, "A")
    s.k_a[0].expect("dialog", "INVITE", d_a.call_id, 3)
    s.k_a[0].expect("dialog", "BYE", d_a.call_id, 1)
    _ends(ctx, s, "bye_a")


def case_b_proxy_tcp(ctx):
    """trunxd over TCP to Kamailio (trunk uri ;transport=tcp), Kamailio over UDP to B:
    a double Record-Route; B's re-INVITE and BYE come back over TCP from the proxy."""
    s = _mk(ctx, b_proxy=True, b_tcp=True)
    d_a, final, b_inv, d_b = _answered(ctx, s)
    if len(d_b.route) != 2:
        raise AssertionError("B's route set %s, expected the double Record-Route"
                             % d_b.route)
    _reinvite(ctx, d_a, "sendonly", "A")
    _reinvite(ctx, d_b, None, "B")
    _bye(ctx, d_b, "B")
    s.k_b.expect("dialog", "INVITE", d_b.call_id, 2)
    s.k_b.expect("dialog", "BYE", d_b.call_id, 1)
    _ends(ctx, s, "bye_b")


def case_both_proxies_rport(ctx):
    """Proxies that set rport on the Via they received and add ;rport to their own,
    whose Via (and Record-Route) name another port than the one they send from:
    trunxd answers each request at the port it came from (RFC 3581), its requests
    follow the Record-Route; BYE from B."""
    s = _basic(ctx, "b", rtp=False, a_proxy=True, b_proxy=True, rport=True)
    for k in s.k_a + [s.k_b]:
        got = [rest for kind, rest in k.lines("reply")
               if (" from %s:%d/" % (LOOP, s.t.port)) in rest]
        if not got:
            raise AssertionError("%s logged no answer from trunxd" % k.name)
        wrong = [r for r in got if not r.endswith(" at %d" % k.port)]
        ctx.log("%s: %d answers from trunxd, %d not at its sending port %d",
                k.name, len(got), len(wrong), k.port)
        if wrong:
            raise AssertionError("trunxd answered %s at its Via port, not the rport: %s"
                                 % (k.name, wrong[:3]))


def case_sipp_both_proxies(ctx):
    """SIPp caller and callee (conf/sipp uac_basic.xml / uas_basic.xml: [routes],
    Record-Route copied) each behind its Kamailio, 3 s of G.711 both ways: both
    scenarios pass, both proxies relayed the ACKs and the BYE, RTP counted both ways."""
    u = calls.uas(ctx, "uas_basic.xml", local_ip=B_IP, timeout=60)
    k_b = Kamailio(ctx, "kamailio-b", KB_IP, next_hop="sip:%s:%d" % (B_IP, u.port)).start()
    k_a = Kamailio(ctx, "kamailio-a1", KA_IPS[0]).start()

    def conf(cf):
        cf.media["rtp_timeout"] = 0
        cf.carrier["match"] = "%s/32" % k_a.ip
        cf.carrier["port"] = k_a.port
        cf.pbx["uri"] = "sip:%s:%d" % k_b.addr
        cf.pbx["match"] = "%s/32" % k_b.ip
        cf.pbx["port"] = k_b.port
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=u.port, configure=conf)
    ctx.at_end(t._end_check)
    t.start()
    c = calls.uac(ctx, "uac_basic.xml", "%s:%d" % (t.addr, t.port), local_ip=A_IP,
                  duration_ms=3000, timeout=30, extra=["-rsa", "%s:%d" % k_a.addr])
    calls.finish(c, u)
    sipp.expect_ok(c)
    sipp.expect_ok(u)
    rec = _one_end(ctx, t, result="answered", cause="bye_a")
    for k in (k_a, k_b):
        cid = rec["a_call_id"] if k is k_a else rec["b_call_id"]
        k.expect("dialog", "ACK", cid, 1)
        k.expect("dialog", "BYE", cid, 1)
    if rec.get("rtp_a_in", 0) < 50 or rec.get("rtp_b_in", 0) < 50:
        raise AssertionError("RTP through trunxd too low: %s" % rec)
    _no_calls_left(t)


def case_both_proxies_prack(ctx):
    """A says Supported: 100rel; B's reliable 183 (early media) comes through its
    proxy: trunxd's PRACK follows the early dialog's Record-Route through B's proxy,
    A gets the 183 reliably through its own and its PRACK reaches trunxd through it;
    then B answers and A hangs up."""
    s = _mk(ctx, a_proxy=True, b_proxy=True, b_auto=False)
    c = s.call(headers=("Supported: 100rel",))
    inv = s.b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    s.b.respond(inv, 100)
    s.b.respond(inv, 183, body=ua.sdp(s.b.ip, s.b.media_port), to_tag="early1",
                headers=("Require: 100rel", "RSeq: 1"))
    # A: trunxd's 183, reliable toward A (A supports 100rel): PRACK it via its route.
    p183 = s.a.wait(lambda m: m.status == 183, 8)
    if p183 is None:
        raise AssertionError("A got no 183")
    rseq = p183.header("RSeq")
    if rseq:
        early = ua.Dialog(s.a, p183.header("Call-ID"), ua._tag(p183.header("From")),
                          ua._tag(p183.header("To")), ua._uri_of(p183.header("From")),
                          ua._uri_of(p183.header("To")), ua._uri_of(p183.header("Contact")),
                          s.a_hop, cseq=1)
        early.route = list(reversed(ua.record_routes(p183)))
        cseq, _, _ = early.send("PRACK", headers=("RAck: %s 1 INVITE" % rseq,))
        r = early.wait_final(cseq, "PRACK", 8)
        if r is None or r.status != 200:
            raise AssertionError("A's PRACK got %s" % (r and r.start))
        s.k_a[0].expect("dialog", "PRACK", p183.header("Call-ID"), 1)
    prack = s.b.wait_request("PRACK", timeout=8)
    if prack is None:
        raise AssertionError("B's reliable 183 got no PRACK; B's proxy log: %s"
                             % s.k_b.lines()[-6:])
    if not s.k_b.sent(prack.src):
        raise AssertionError("trunxd's PRACK came from %s, not through the proxy"
                             % (prack.src,))
    s.k_b.expect("dialog", "PRACK", inv.header("Call-ID"), 1)
    s.b.respond(prack, 200)
    time.sleep(0.3)
    s.b.respond(inv, 200, body=ua.sdp(s.b.ip, s.b.media_port), to_tag="early1")
    frm = inv.header("From")
    d_b = ua.Dialog(s.b, inv.header("Call-ID"), "early1", ua._tag(frm),
                    ua._uri_of(inv.header("To")), ua._uri_of(frm),
                    ua._uri_of(inv.header("Contact")), inv.src, cseq=100, uac=False)
    d_b.route = ua.record_routes(inv)
    s.b.dialogs[(d_b.call_id, "early1")] = d_b
    c.join(10)
    if c.dialog is None:
        raise AssertionError("A's call not answered: %s" % c.final)
    ack = s.b.wait_request("ACK", timeout=5)
    if ack is None or not s.k_b.sent(ack.src):
        raise AssertionError("B's 200 ACKed from %s" % (ack and (ack.src,)))
    s.b.auto = True
    time.sleep(0.3)
    _bye(ctx, c.dialog, "A")
    s.k_b.expect("dialog", "BYE", inv.header("Call-ID"), 1)
    if not procs.wait_until(lambda: d_b.ended, 5):
        raise AssertionError("B's dialog did not get the BYE")
    _ends(ctx, s, "bye_a")


# ---- calls not answered ------------------------------------------------------------

def case_both_proxies_cancel(ctx):
    """A cancels while B rings: the CANCEL passes both proxies, B answers it and 487s
    its INVITE, A gets 487."""
    s = _mk(ctx, a_proxy=True, b_proxy=True, b_auto=False)
    c = s.call()
    inv = s.b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    s.b.respond(inv, 100)
    s.b.respond(inv, 180, to_tag="ring1")
    time.sleep(0.5)
    a_inv = [x for x in s.a_sent if x.startswith(b"INVITE ")][0]
    fake = ua.Dialog(s.a, _call_id_of(a_inv), "x", "y", "", "", "", s.a_hop)
    fake.cancel(a_inv)
    cancel = s.b.wait_request("CANCEL", timeout=6)
    if cancel is None:
        raise AssertionError("B got no CANCEL; proxy B log: %s" % s.k_b.lines()[-8:])
    if not s.k_b.sent(cancel.src):
        raise AssertionError("CANCEL from %s, not the proxy" % (cancel.src,))
    s.b.respond(cancel, 200)
    s.b.respond(inv, 487, to_tag="ring1")
    ack = s.b.wait_request("ACK", timeout=5)
    if ack is None:
        raise AssertionError("B's 487 was not ACKed")
    c.join(10)
    if c.final is None or c.final.status != 487:
        raise AssertionError("A got %s, expected 487" % (c.final and c.final.start))
    if not s.k_a[0].lines("cancel"):
        raise AssertionError("A's proxy relayed no CANCEL")
    if not s.k_b.lines("cancel"):
        raise AssertionError("B's proxy relayed no CANCEL")
    _no_calls_left(s.t)
    _one_end(ctx, s.t, result="cancelled")


def case_both_proxies_cancel_crosses_200(ctx):
    """A cancels while B's 200 is on its way through B's proxy (which relays a 2xx
    after a CANCEL, RFC 3261 16.7): A gets 487; trunxd ACKs and BYEs B's dialog
    along that 200's Record-Route, through the proxy."""
    s = _mk(ctx, a_proxy=True, b_proxy=True, b_auto=False)
    c = s.call()
    inv = s.b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    s.b.respond(inv, 100)
    s.b.respond(inv, 180, to_tag="bb")
    if s.a.wait(lambda m: m.status == 180, 5) is None:
        raise AssertionError("A got no 180")
    a_inv = [x for x in s.a_sent if x.startswith(b"INVITE ")][0]
    ua.Dialog(s.a, _call_id_of(a_inv), "x", "y", "", "", "", s.a_hop).cancel(a_inv)
    cancel = s.b.wait_request("CANCEL", timeout=6)
    if cancel is None:
        raise AssertionError("B got no CANCEL")
    s.b.respond(inv, 200, body=ua.sdp(s.b.ip, s.b.media_port), to_tag="bb")
    s.b.respond(cancel, 200)
    c.join(10)
    if c.final is None or c.final.status != 487:
        raise AssertionError("A got %s, expected 487" % (c.final and c.final.start))
    ack = s.b.wait_request("ACK", timeout=5)
    bye = s.b.wait_request("BYE", timeout=5)
    if ack is None or bye is None:
        raise AssertionError("B's crossing 200: ACK %s, BYE %s" % (ack, bye))
    if not s.k_b.sent(ack.src) or not s.k_b.sent(bye.src):
        raise AssertionError("B's ACK from %s, BYE from %s: not through the proxy"
                             % (ack.src, bye.src))
    s.b.respond(bye, 200)
    s.k_b.expect("dialog", "ACK", inv.header("Call-ID"), 1)
    s.k_b.expect("dialog", "BYE", inv.header("Call-ID"), 1)
    _no_calls_left(s.t)
    _one_end(ctx, s.t, result="cancelled")


def _failure(ctx, status, a_status):
    s = _mk(ctx, a_proxy=True, b_proxy=True, b_auto=False)
    c = s.call()
    inv = s.b.wait_request("INVITE", timeout=10)
    if inv is None:
        raise AssertionError("B got no INVITE")
    s.b.respond(inv, 100)
    s.b.respond(inv, status, reason="Busy Here" if status == 486 else "Service Unavailable",
                to_tag="fail1")
    # The proxy ACKs B's failure itself (hop by hop), from its address.
    ack = s.b.wait_request("ACK", timeout=5)
    if ack is None or not s.k_b.sent(ack.src):
        raise AssertionError("B's %d ACKed by %s" % (status, ack and (ack.src,)))
    c.join(15)
    if c.final is None or c.final.status != a_status:
        raise AssertionError("A got %s, expected %d" % (c.final and c.final.start,
                                                        a_status))
    a_cid = c.final.header("Call-ID")
    ctx.log("A got %s", c.final.start)
    # trunxd's failure to the proxy is ACKed by the proxy (hop by hop): trunxd must
    # take that ACK and stop retransmitting (the proxy logs every reply it gets).
    time.sleep(2.5)
    n = len([1 for k, rest in s.k_a[-1].lines("reply", a_cid)
             if rest.startswith("%d " % c.final.status)])
    if n != 1:
        raise AssertionError("trunxd sent its %d to the proxy %d times (the proxy's ACK "
                             "not taken)" % (c.final.status, n))
    _no_calls_left(s.t)
    _one_end(ctx, s.t, result="failed", sip_code=a_status)


def case_both_proxies_486(ctx):
    """B busy through its proxy: A gets 486 through its own; the ACKs are hop by hop."""
    _failure(ctx, 486, 486)


def case_both_proxies_503(ctx):
    """B 503 through its proxy: A gets 500 (a 503 of B's is never relayed as trunxd's
    own overload) through its own; ACKs hop by hop."""
    _failure(ctx, 503, 500)


if __name__ == "__main__":
    sys.exit(case.main(globals()))
