#!/usr/bin/env python3
"""In-kernel forwarding ([media] kernel_forward) on the routed path: the parties are on
other hosts, here network namespaces this test creates (and removes): trunxd's media
address is on a bridge in trunxd's namespace, each party in its own namespace behind a
veth on that bridge, so the tc program must route (bpf_fib_lookup) and redirect every
packet out of the bridge toward the other party instead of handing it to a local
socket. Signalling stays on loopback.

routed: two calls, RTP both ways in each (300 packets a direction, the caller's
sequence wrapping): every packet arrives, in order, payload intact, from trunxd's port
of that side, with one SSRC of trunxd's, sequence +1 and timestamps +160 each, DSCP EF
and this host's TTL (the senders use TTL 17: a packet the kernel forwarded without the
relay's rewrite would show it); trunxd's kernel counters show the tc program forwarded
most of them, and call.end counts every packet.

kill9_restart: trunxd (kernel_forward = auto) with a call forwarded in the kernel is
killed with SIGKILL: its program leaves the loopback's tcx ingress at once and RTP sent
to its old ports reaches no one (no table left rewriting them); a new trunxd on the
same media ports, same parties and source ports, forwards its own call in the kernel
with its own SSRCs and ports, every packet intact and in sequence.

two_daemons: two trunxd on the loopback, each with a call forwarded by its own program
(both attached, neither's table answers for the other's calls); the first one stops
and the second's call goes on in the kernel, untouched.

no_caps: trunxd without CAP_BPF and CAP_NET_ADMIN (root's capabilities dropped from its
bounding set) and kernel_forward = auto: one info line saying why
the kernel path is off, nothing from libbpf, and calls relayed in userspace.

no_bpf_kernel: the same where bpf() fails with ENOSYS, as on a kernel built without
BPF (a seccomp filter, no_bpf_exec.py).

Needs root (network namespaces, CAP_BPF): skipped, and said so, without it.
"""
import ctypes
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import case, procs, trunxd, ua  # noqa: E402

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtp_ns_peer.py")
NO_BPF_EXEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "no_bpf_exec.py")
COUNT = 300          # packets per direction
INTERVAL_MS = 5      # 1.5 s of media
CALLS = 2
SENDER_TTL = 17
KERNEL_SHARE = 0.6   # of all packets, at least (the first few of each direction and
                     # any sent before the next hop's MAC is known go through trunxd)


def sh(*argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=15)
    if p.returncode:
        raise RuntimeError("%s: %s" % (" ".join(argv), (p.stderr or p.stdout).strip()))
    return p.stdout


class Net:
    """A bridge with trunxd's media address and two namespaces, one party each."""

    def __init__(self, ctx):
        tag = "%04x" % random.randrange(0x10000)
        self.br = "kfbr" + tag
        self.ns = ["kfa" + tag, "kfb" + tag]
        self.veth = ["kfha" + tag, "kfhb" + tag]
        used = sh("ip", "-4", "route", "show", "table", "all")
        while True:
            net = "10.%d.%d" % (random.randint(200, 250), random.randint(1, 250))
            if net + "." not in used:
                break
        self.trunx_ip = net + ".1"
        self.party_ip = [net + ".2", net + ".3"]
        ctx.at_end(self.remove)   # first: a half-made set-up is removed too
        sh("ip", "link", "add", self.br, "type", "bridge")
        sh("ip", "addr", "add", self.trunx_ip + "/24", "dev", self.br)
        sh("ip", "link", "set", self.br, "up")
        # bpf_fib_lookup() routes only where the interface forwards IPv4 (kfwd_create
        # refuses routed delivery otherwise); this bridge holds only the test's parties.
        sh("sysctl", "-qw", "net.ipv4.conf.%s.forwarding=1" % self.br)
        for ns, veth, ip in zip(self.ns, self.veth, self.party_ip):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "p0", "netns", ns)
            sh("ip", "link", "set", veth, "master", self.br, "up")
            sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", "p0")
            sh("ip", "-n", ns, "link", "set", "p0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")

    def remove(self):
        for ns in self.ns:   # takes its veth pair along
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=15)
        subprocess.run(["ip", "link", "del", self.br], capture_output=True, timeout=15)


def sdp_media(body):
    text = body.decode() if isinstance(body, bytes) else body
    ip = re.search(r"c=IN IP4 (\S+)", text).group(1)
    port = int(re.search(r"m=audio (\d+)", text).group(1))
    return ip, port


def check_stream(got, label, sent_ssrc, src, ttl):
    """One direction as its receiver saw it."""
    n = len(got)
    if n != COUNT:
        raise AssertionError("%s: %d of %d packets arrived" % (label, n, COUNT))
    bad = [r for r in got if r.get("v") != 2 or r.get("pt") != 8 or not r.get("intact")]
    if bad:
        raise AssertionError("%s: %d packets altered, e.g. %s" % (label, len(bad), bad[0]))
    idx = [r["idx"] for r in got]
    if idx != list(range(COUNT)):
        raise AssertionError("%s: out of order or duplicated: %s" % (label, idx[:20]))
    ssrcs = {r["ssrc"] for r in got}
    if len(ssrcs) != 1 or sent_ssrc in ssrcs:
        raise AssertionError("%s: SSRCs %s (sent %08x): one of trunxd's expected"
                             % (label, sorted(hex(s) for s in ssrcs), sent_ssrc))
    for x, y in zip(got, got[1:]):
        if (y["seq"] - x["seq"]) & 0xFFFF != 1 or (y["ts"] - x["ts"]) & 0xFFFFFFFF != 160:
            raise AssertionError("%s: seq %d -> %d, ts %d -> %d" % (label, x["seq"], y["seq"],
                                                                   x["ts"], y["ts"]))
    srcs = {r["src"] for r in got}
    if srcs != {"%s:%d" % src}:
        raise AssertionError("%s: sent from %s, expected %s:%d" % (label, srcs, *src))
    tos = {r["tos"] for r in got}
    if tos != {0xB8}:
        raise AssertionError("%s: TOS %s, expected EF (0xb8) on every packet" % (label, tos))
    ttls = {r["ttl"] for r in got}
    if ttls != {ttl}:
        raise AssertionError("%s: TTL %s, expected this host's %d on every packet"
                             % (label, ttls, ttl))
    return "%s: %d packets in order, intact, ssrc %08x, seq +1, ts +160, EF, TTL %d" % (
        label, n, got[0]["ssrc"], ttl)


def case_routed(ctx):
    if os.geteuid() != 0:
        ctx.log("SKIPPED: not root (network namespaces and CAP_BPF needed)")
        return
    try:
        net = Net(ctx)
    except (RuntimeError, OSError) as e:
        ctx.log("SKIPPED: cannot create network namespaces and veth pairs here: %s", e)
        return
    with open("/proc/sys/net/ipv4/ip_default_ttl") as f:
        host_ttl = int(f.read())
    callee = ua.UA("127.0.0.1", name="callee", auto=True)
    ctx.at_end(callee.close)
    offers = []
    lock = threading.Lock()

    def answer(inv):
        with lock:
            k = len(offers)
            offers.append(inv.body)
        return ua.sdp(net.party_ip[1], 42000 + 2 * k, pts=((8, "PCMA/8000"),))

    callee.answer_body = answer

    def conf(c):
        c.media["address"] = net.trunx_ip
        c.media["kernel_forward"] = "on"

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=callee.port, configure=conf).start()
    fwd = t.events("media.kernel_forward")
    if not fwd or "routed" not in fwd[0].get("msg", ""):
        raise AssertionError("kernel forwarding not on with routed delivery: %s" % fwd)
    caller = ua.UA("127.0.0.1", name="caller")
    ctx.at_end(caller.close)
    dialogs, legs = [], []
    for k in range(CALLS):
        body = ua.sdp(net.party_ip[0], 40000 + 2 * k, pts=((8, "PCMA/8000"),))
        d, final = caller.call((t.addr, t.port), body=body)
        if d is None:
            raise AssertionError("call %d not answered: %s" % (k, final and final.status))
        dialogs.append(d)
        legs.append((sdp_media(final.body), sdp_media(offers[k])))   # trunxd's A, B ports
    ctx.log("trunxd media %s; calls (A side, B side): %s", net.trunx_ip, legs)

    peers = []
    go = ctx.path("go")
    for k, (ta, tb) in enumerate(legs):
        for side, (ns, me, to, ssrc, seq0) in enumerate((
                (net.ns[0], (net.party_ip[0], 40000 + 2 * k), ta, 0xA0000000 + k, 65400),
                (net.ns[1], (net.party_ip[1], 42000 + 2 * k), tb, 0xB0000000 + k, 1000))):
            out = ctx.path("rx-%d-%s.json" % (k, "ab"[side]))
            argv = ["ip", "netns", "exec", ns, sys.executable, PEER,
                    "--bind", "%s:%d" % me, "--to", "%s:%d" % to, "--count", str(COUNT),
                    "--interval-ms", str(INTERVAL_MS), "--ssrc", hex(ssrc),
                    "--seq0", str(seq0), "--ts0", str(random.randrange(1 << 32)),
                    "--expect", str(COUNT), "--ttl", str(SENDER_TTL), "--out", out,
                    "--ready", out + ".ready", "--go", go]
            peers.append((k, side, ssrc, out, ctx.reg.start("peer-%d%s" % (k, "ab"[side]),
                                                             argv)))
    if not procs.wait_until(lambda: all(os.path.exists(q[3] + ".ready") or not q[4].alive()
                                        for q in peers), 20, 0.02):
        raise AssertionError("the RTP parties did not start")
    open(go, "w").close()
    for k, side, ssrc, out, p in peers:
        if p.wait(COUNT * INTERVAL_MS / 1000.0 + 15) != 0:
            raise AssertionError("RTP party %d%s failed: %s" % (k, "ab"[side],
                                                               p.read_stderr()[-1500:]))
    for k, side, ssrc, out, p in peers:
        # what this party received is the other party's stream, from trunxd's port of
        # this party's side
        with open(out) as f:
            got = json.load(f)
        other = [q for q in peers if q[0] == k and q[1] != side][0]
        src = legs[k][side]
        ctx.log(check_stream(got, "call %d %s->%s" % (k, "ba"[side], "ab"[side]), other[2],
                             src, host_ttl))

    total = 2 * CALLS * COUNT
    kf = {}

    def folded():
        kf.update(t.status()["media"]["kernel_forward"])
        return kf["packets"] >= KERNEL_SHARE * total

    procs.wait_until(folded, 5, 0.2)   # the workers fold the counters once a second
    ctx.log("kernel_forward: %s of %d packets", kf, total)
    if not kf.get("active") or kf["packets"] < KERNEL_SHARE * total or kf["packets"] > total:
        raise AssertionError("the tc program forwarded %s of %d packets (at least %d%% "
                             "expected)" % (kf.get("packets"), total, KERNEL_SHARE * 100))
    for d in dialogs:
        d.bye()
    recs = t.wait_events("call.end", CALLS, timeout=10)
    if len(recs) != CALLS:
        raise AssertionError("%d call.end records, %d expected" % (len(recs), CALLS))
    for rec in recs:
        counts = {k: rec.get(k) for k in ("rtp_a_in", "rtp_a_out", "rtp_b_in", "rtp_b_out")}
        if set(counts.values()) != {COUNT}:
            raise AssertionError("call.end RTP counts %s, %d each expected" % (counts, COUNT))
    if t.stop() != 0:
        raise AssertionError("trunxd exit code %s" % t.exit_code)



# ---- the loopback cases: kill -9, several daemons, no capabilities -------------------

_SYS_BPF = 321           # x86_64
_BPF_PROG_QUERY = 16
_BPF_TCX_INGRESS = 46
PT = 8                   # PCMA
LOOP = "127.0.0.1"


def tcx_ingress_progs(ifname="lo"):
    """The ids of the BPF programs attached to ifname's tcx ingress (BPF_PROG_QUERY)."""
    libc = ctypes.CDLL(None, use_errno=True)
    ids = (ctypes.c_uint32 * 256)()
    attr = (ctypes.c_uint8 * 64)()
    struct.pack_into("IIII", attr, 0, socket.if_nametoindex(ifname), _BPF_TCX_INGRESS, 0, 0)
    struct.pack_into("QI", attr, 16, ctypes.addressof(ids), 256)
    if libc.syscall(ctypes.c_long(_SYS_BPF), ctypes.c_int(_BPF_PROG_QUERY), attr,
                    ctypes.c_uint(64)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "BPF_PROG_QUERY: %s" % os.strerror(e))
    n = struct.unpack_from("I", attr, 24)[0]
    return set(ids[:min(n, 256)])


def own_tcx_progs(pid):
    """The programs of the tcx links process pid holds open (its /proc fdinfo)."""
    out = set()
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if info.get("link_type", "").strip() == "tcx":
            out.add(int(info["prog_id"]))
    return out


class Party:
    """One RTP party on the loopback: a socket, the trunxd port it sends to, its
    stream's SSRC, sequence and timestamp."""

    def __init__(self, ctx, name, ssrc, seq0):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOP, 0))
        ctx.at_end(self.sock.close)
        self.port = self.sock.getsockname()[1]
        self.ssrc = ssrc
        self.seq = seq0
        self.ts = random.randrange(1 << 32)
        self.idx = 0
        self.to = None    # trunxd's port of this party's side
        self.last = {}    # the last packet received, per call

    def send(self):
        hdr = struct.pack("!BBHII", 0x80, PT, self.seq & 0xFFFF, self.ts & 0xFFFFFFFF,
                          self.ssrc)
        self.sock.sendto(hdr + struct.pack("!I", self.idx) + bytes(156), (LOOP, self.to))
        self.seq += 1
        self.ts += 160
        self.idx += 1

    def recv(self, timeout):
        """(header fields, index tag, source port) of the next packet, or None."""
        self.sock.settimeout(timeout)
        try:
            data, src = self.sock.recvfrom(2048)
        except socket.timeout:
            return None
        if len(data) != 12 + 160:
            raise AssertionError("%s: %d-byte datagram from %s" % (self.name, len(data), src))
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
        return {"pt": b1 & 0x7F, "seq": seq, "ts": ts, "ssrc": ssrc, "src": src,
                "idx": struct.unpack("!I", data[12:16])[0], "rest": data[16:] == bytes(156)}

    def drain(self):
        while self.recv(0.05):
            pass


def kstatus(t):
    return t.status()["media"]["kernel_forward"]


def exchange(a, b, n, label, trunx_ports, sent_ssrc):
    """n packets each way, one pair at a time: every one arrives intact, from trunxd's
    port of the receiver's side, one SSRC of trunxd's per direction, sequence +1 and
    timestamp +160 from one to the next (across calls to this function too)."""
    for _ in range(n):
        for frm, to in ((a, b), (b, a)):
            idx = frm.idx
            frm.send()
            r = to.recv(3.0)
            if r is None:
                raise AssertionError("%s: packet %d %s->%s lost" % (label, idx, frm.name,
                                                                   to.name))
            want_src = (LOOP, trunx_ports[to.name])
            if r["idx"] != idx or not r["rest"] or r["pt"] != PT or r["src"] != want_src:
                raise AssertionError("%s: %s->%s packet %d arrived as %s (from %s expected)"
                                     % (label, frm.name, to.name, idx, r, want_src))
            if r["ssrc"] in (sent_ssrc[frm.name], frm.ssrc):
                raise AssertionError("%s: %s->%s kept the sender's SSRC" % (label, frm.name,
                                                                          to.name))
            prev = to.last.get(label)
            if prev and ((r["seq"] - prev["seq"]) & 0xFFFF != 1 or
                         (r["ts"] - prev["ts"]) & 0xFFFFFFFF != 160 or
                         r["ssrc"] != prev["ssrc"]):
                raise AssertionError("%s: %s->%s seq %d -> %d, ts %d -> %d, ssrc %08x -> %08x"
                                     % (label, frm.name, to.name, prev["seq"], r["seq"],
                                        prev["ts"], r["ts"], prev["ssrc"], r["ssrc"]))
            to.last[label] = r


class LoopCall:
    """A call through trunxd between two loopback parties this test plays."""

    def __init__(self, ctx, t, callee, offers, tag, parties=None):
        self.t = t
        self.label = "%s call %s" % (t.name, tag)
        self.a, self.b = parties or (Party(ctx, "a", 0xA0000000 + tag, 65500),   # wraps
                                     Party(ctx, "b", 0xB0000000 + tag, 1000))
        callee.answer_body = lambda inv: (offers.append(inv.body) or
                                          ua.sdp(LOOP, self.b.port, pts=((PT, "PCMA/8000"),)))
        self.caller = ua.UA(LOOP, name="caller-%s" % tag)
        ctx.at_end(self.caller.close)
        n0 = len(offers)
        d, final = self.caller.call((t.addr, t.port),
                                    body=ua.sdp(LOOP, self.a.port, pts=((PT, "PCMA/8000"),)))
        if d is None:
            raise AssertionError("%s not answered: %s" % (self.label, final and final.status))
        self.dialog = d
        self.a.to = sdp_media(final.body)[1]
        self.b.to = sdp_media(offers[n0])[1]
        self.ports = {"a": self.a.to, "b": self.b.to}
        self.sent = {"a": self.a.ssrc, "b": self.b.ssrc}
        self.packets = 0

    def run(self, n):
        exchange(self.a, self.b, n, self.label, self.ports, self.sent)
        self.packets += n

    def offload(self, flows):
        """Exchanges packets until trunxd's kernel flows reach `flows`."""
        for i in range(100):
            self.run(1)
            if i % 3 == 2 and kstatus(self.t)["flows"] >= flows:
                return
        raise AssertionError("%s: not offloaded: %s" % (self.label, kstatus(self.t)))


def _root_or_skip(ctx):
    if os.geteuid() != 0:
        ctx.log("SKIPPED: not root (CAP_BPF needed)")
        return False
    return True


def _auto(c):
    c.media["kernel_forward"] = "auto"


def case_kill9_restart(ctx):
    if not _root_or_skip(ctx):
        return
    callee = ua.UA(LOOP, name="callee", auto=True)
    ctx.at_end(callee.close)
    offers = []
    t1 = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=callee.port, configure=_auto,
                       name="trunxd1").start()
    if not kstatus(t1)["active"]:
        raise AssertionError("kernel_forward = auto not active as root: %s"
                             % t1.events("media.kernel_forward"))
    c1 = LoopCall(ctx, t1, callee, offers, 1)
    c1.offload(2)
    c1.run(50)
    prog1 = own_tcx_progs(t1.proc.pid)
    on_lo = tcx_ingress_progs()
    ctx.log("trunxd1 pid %d: tcx programs %s; on lo %s; call ports %s, %d packets each way",
            t1.proc.pid, prog1, on_lo, c1.ports, c1.packets)
    if len(prog1) != 1 or not prog1 <= on_lo:
        raise AssertionError("trunxd1's tcx program %s not on lo's ingress %s" % (prog1, on_lo))

    t1.proc.kill()                      # SIGKILL: no clean-up of its own
    t1._stopped = True
    t1._expect_exit = True
    if not procs.wait_until(lambda: not prog1 & tcx_ingress_progs(), 5, 0.05):
        raise AssertionError("trunxd1's program %s still on lo after SIGKILL: %s"
                             % (prog1, tcx_ingress_progs()))
    # What the parties send to the dead trunxd's ports now reaches no one: a table left
    # behind would still rewrite it toward the other party.
    for _ in range(20):
        c1.a.send()
        c1.b.send()
    for p in (c1.a, c1.b):
        r = p.recv(0.5)
        if r is not None:
            raise AssertionError("after SIGKILL, %s still received %s" % (p.name, r))
    ctx.log("after SIGKILL: program gone from lo, nothing forwarded to the old ports")

    # The next trunxd: the same media ports, the same parties (same source ports).
    rng = (t1.conf.media["port_min"], t1.conf.media["port_max"])

    def same_ports(c):
        _auto(c)
        c.media["port_min"], c.media["port_max"] = rng

    t2 = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=callee.port, configure=same_ports,
                       name="trunxd2").start()
    if not kstatus(t2)["active"]:
        raise AssertionError("the restarted trunxd did not attach: %s"
                             % t2.events("media.kernel_forward"))
    c1.a.drain()
    c1.b.drain()
    # the same sockets: the same keys as the killed call's entries if the ports match
    c2 = LoopCall(ctx, t2, callee, offers, 2, parties=(c1.a, c1.b))
    ctx.log("trunxd2: call ports %s (the killed call had %s)", c2.ports, c1.ports)
    c2.offload(2)
    c2.run(100)
    prog2 = own_tcx_progs(t2.proc.pid)
    on_lo = tcx_ingress_progs()
    if len(prog2) != 1 or not prog2 <= on_lo or prog1 & on_lo:
        raise AssertionError("after restart: trunxd2's %s, on lo %s (killed one's %s)"
                             % (prog2, on_lo, prog1))
    procs.wait_until(lambda: kstatus(t2)["packets"] >= 150, 5, 0.2)
    k = kstatus(t2)
    ctx.log("trunxd2 kernel_forward %s after %d packets each way", k, c2.packets)
    if k["flows"] != 2 or k["packets"] < 150:
        raise AssertionError("trunxd2 forwarded %s in the kernel, ~200 expected" % k)
    c2.dialog.bye()
    recs = t2.wait_events("call.end", 1, timeout=10)
    counts = {f: recs[0].get(f) for f in ("rtp_a_in", "rtp_a_out", "rtp_b_in", "rtp_b_out")}
    if len(recs) != 1 or set(counts.values()) != {c2.packets}:
        raise AssertionError("call.end RTP counts %s, %d each expected" % (counts, c2.packets))
    if t2.stop() != 0:
        raise AssertionError("trunxd2 exit code %s" % t2.exit_code)


def case_two_daemons(ctx):
    if not _root_or_skip(ctx):
        return
    callee = ua.UA(LOOP, name="callee", auto=True)
    ctx.at_end(callee.close)
    offers = []
    ts = [trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=callee.port, configure=_auto,
                        name="trunxd%d" % i).start() for i in (1, 2)]
    calls = [LoopCall(ctx, t, callee, offers, i + 1) for i, t in enumerate(ts)]
    for c in calls:
        c.offload(2)
    progs = [own_tcx_progs(t.proc.pid) for t in ts]
    on_lo = tcx_ingress_progs()
    ctx.log("tcx programs %s, on lo %s", progs, on_lo)
    if any(len(p) != 1 for p in progs) or progs[0] == progs[1] or \
            not (progs[0] | progs[1]) <= on_lo:
        raise AssertionError("each trunxd's own program on lo expected: %s, lo %s"
                             % (progs, on_lo))
    for _ in range(5):                  # interleaved: 100 packets each way per call
        for c in calls:
            c.run(20)
    base = kstatus(ts[1])["packets"]
    if ts[0].stop() != 0:
        raise AssertionError("trunxd1 exit code %s" % ts[0].exit_code)
    if progs[0] & tcx_ingress_progs() or not progs[1] <= tcx_ingress_progs():
        raise AssertionError("after trunxd1 stopped, lo has %s (trunxd1 %s, trunxd2 %s)"
                             % (tcx_ingress_progs(), progs[0], progs[1]))
    calls[1].run(100)
    procs.wait_until(lambda: kstatus(ts[1])["packets"] >= base + 190, 5, 0.2)
    k = kstatus(ts[1])
    ctx.log("trunxd2 after trunxd1 stopped: %s (was %d packets)", k, base)
    if k["flows"] != 2 or k["packets"] < base + 190:
        raise AssertionError("trunxd2's call left the kernel when trunxd1 stopped: %s" % k)
    calls[1].dialog.bye()
    if ts[1].stop() != 0:
        raise AssertionError("trunxd2 exit code %s" % ts[1].exit_code)


# CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN (BPF before CAP_BPF), CAP_PERFMON
NO_BPF_CAPS = ("-bpf", "-net_admin", "-sys_admin", "-perfmon")
CAP_BITS = (39, 12, 21, 38)


def _userspace_only(ctx, prefix, why, check=None):
    """trunxd started through prefix with kernel_forward = auto: one info line matching
    why, nothing from libbpf on stderr, and a call relayed in userspace."""
    callee = ua.UA(LOOP, name="callee", auto=True)
    ctx.at_end(callee.close)
    offers = []

    def default(c):
        c.media["kernel_forward"] = "auto"

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=callee.port, configure=default,
                      prefix=prefix).start()
    if check:
        check(t)
    recs = t.events("media.kernel_forward")
    ctx.log("media.kernel_forward: %s", recs)
    if len(recs) != 1 or recs[0].get("level") != "info" or \
            not re.search(r"^off\b.*" + why, recs[0].get("msg", "")):
        raise AssertionError("one info line saying kernel forwarding is off (%s) "
                             "expected: %s" % (why, recs))
    noise = [l for l in t.proc.read_stderr().splitlines()
             if not l.startswith("{") and "bpf" in l.lower()]
    if noise:
        raise AssertionError("libbpf's own output on trunxd's stderr: %s" % noise[:5])
    c = LoopCall(ctx, t, callee, offers, 1)
    c.run(60)
    k = kstatus(t)
    if k["active"] or k["flows"] or k["packets"]:
        raise AssertionError("kernel forwarding used: %s" % k)
    c.dialog.bye()
    recs = t.wait_events("call.end", 1, timeout=10)
    counts = {f: recs[0].get(f) for f in ("rtp_a_in", "rtp_a_out", "rtp_b_in", "rtp_b_out")}
    if set(counts.values()) != {60}:
        raise AssertionError("call.end RTP counts %s, 60 each expected" % counts)
    if t.stop() != 0:
        raise AssertionError("trunxd exit code %s" % t.exit_code)


def case_no_caps(ctx):
    if not _root_or_skip(ctx):
        return

    def caps_gone(t):
        with open("/proc/%d/status" % t.proc.pid) as f:
            eff = int(re.search(r"CapEff:\s*([0-9a-f]+)", f.read()).group(1), 16)
        if any(eff >> b & 1 for b in CAP_BITS):
            raise AssertionError("trunxd still has BPF capabilities: CapEff %x" % eff)

    _userspace_only(ctx, ("setpriv", "--bounding-set=" + ",".join(NO_BPF_CAPS), "--"),
                    "CAP_BPF", caps_gone)


def case_no_bpf_kernel(ctx):
    # bpf() failing with ENOSYS (a seccomp filter), as on a kernel built without BPF
    if not _root_or_skip(ctx):
        return
    if os.uname().machine != "x86_64":
        ctx.log("SKIPPED: the seccomp filter of no_bpf_exec.py is for x86_64")
        return
    _userspace_only(ctx, (sys.executable, NO_BPF_EXEC), "no BPF support")

if __name__ == "__main__":
    sys.exit(case.main(globals()))
