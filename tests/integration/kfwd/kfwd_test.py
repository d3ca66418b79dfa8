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
Needs root (network namespaces, CAP_BPF): skipped, and said so, without it.
"""
import json
import os
import random
import re
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import case, procs, trunxd, ua  # noqa: E402

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtp_ns_peer.py")
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


if __name__ == "__main__":
    sys.exit(case.main(globals()))
