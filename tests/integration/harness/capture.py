"""Media checking: a tcpdump capture on the loopback interface restricted to the test's
own ports, a small pcap reader and RTP stream checks (count, payload, headers).

SIPp has no RTP checking of its own; it plays g711a.pcap and this module verifies what
actually crossed the wire towards each endpoint.
"""
import os
import shutil
import signal
import socket
import struct
import time

G711A_PCAP = "/usr/share/sip-tester/g711a.pcap"

TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"


class Packet:
    __slots__ = ("ts", "src", "sport", "dst", "dport", "payload")

    def __init__(self, ts, src, sport, dst, dport, payload):
        self.ts, self.src, self.sport, self.dst, self.dport, self.payload = \
            ts, src, sport, dst, dport, payload


class Rtp:
    __slots__ = ("ts", "src", "sport", "dst", "dport", "version", "marker", "pt", "seq",
                 "timestamp", "ssrc", "payload")

    @staticmethod
    def parse(pkt):
        """An Rtp from a UDP Packet, or None if it is not RTP version 2."""
        d = pkt.payload
        if len(d) < 12 or d[0] >> 6 != 2:
            return None
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", d[:12])
        if 72 <= (b1 & 0x7F) <= 76:   # RTCP SR/RR/SDES/BYE/APP share the port space
            return None
        hl = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:                 # header extension
            if len(d) < hl + 4:
                return None
            hl += 4 + 4 * struct.unpack("!H", d[hl + 2:hl + 4])[0]
        end = len(d)
        if b0 & 0x20 and end > hl:    # padding
            end -= d[-1]
        if hl > end:
            return None
        r = Rtp()
        r.ts, r.src, r.sport, r.dst, r.dport = pkt.ts, pkt.src, pkt.sport, pkt.dst, pkt.dport
        r.version = 2
        r.marker = bool(b1 & 0x80)
        r.pt = b1 & 0x7F
        r.seq, r.timestamp, r.ssrc = seq, ts, ssrc
        r.payload = d[hl:end]
        return r


def read_pcap(path):
    """UDP packets (IPv4, IPv6) of a classic pcap file (Ethernet, Linux cooked v1/v2 or raw IP)."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        e = ">"
    else:
        raise ValueError("%s: not a pcap file" % path)
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        ts = sec + frac / (1e9 if nano else 1e6)
        if linktype == 1:         # Ethernet (also what Linux uses on lo)
            if len(frame) < 14:
                continue
            etype = struct.unpack("!H", frame[12:14])[0]
            ip = frame[14:]
            if etype == 0x8100 and len(frame) >= 18:
                etype = struct.unpack("!H", frame[16:18])[0]
                ip = frame[18:]
        elif linktype == 113:     # Linux cooked v1
            etype = struct.unpack("!H", frame[14:16])[0]
            ip = frame[16:]
        elif linktype == 276:     # Linux cooked v2
            etype = struct.unpack("!H", frame[0:2])[0]
            ip = frame[20:]
        elif linktype in (101, 12, 228):   # raw IP / raw IPv4
            etype, ip = 0x0800, frame
        else:
            continue
        if linktype in (101, 12, 228) and ip and ip[0] >> 4 == 6:
            etype = 0x86DD
        if etype == 0x86DD:       # IPv6: UDP right after the fixed header only
            if len(ip) < 48 or ip[0] >> 4 != 6 or ip[6] != 17:
                continue
            udp = ip[40:]
            src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
            dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
        else:
            if etype != 0x0800 or len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 0x0F) * 4
            flags_frag = struct.unpack("!H", ip[6:8])[0]
            if flags_frag & 0x1FFF:   # a non-first fragment
                continue
            udp = ip[ihl:]
            src = "%d.%d.%d.%d" % tuple(ip[12:16])
            dst = "%d.%d.%d.%d" % tuple(ip[16:20])
        if len(udp) < 8:
            continue
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        out.append(Packet(ts, src, sport, dst, dport, udp[8:ulen] if ulen >= 8 else udp[8:]))
    return out


def reference_payloads(path=G711A_PCAP):
    """The RTP payloads SIPp's play_pcap_audio sends from a pcap, in order."""
    out = []
    for p in read_pcap(path):
        r = Rtp.parse(p)
        if r is not None:
            out.append(r.payload)
    return out


class Capture:
    """tcpdump on lo for UDP packets touching any of the given ports."""

    def __init__(self, reg, name, ports_, iface="lo"):
        self.reg = reg
        self.name = name
        self.ports = sorted(set(int(p) for p in ports_))
        self.iface = iface
        self.path = os.path.join(reg.workdir, name + ".pcap")
        self.proc = None

    def start(self, timeout=10.0):
        if not self.ports:
            raise ValueError("capture needs at least one port")
        flt = "udp and (%s)" % " or ".join("port %d" % p for p in self.ports)
        argv = [TCPDUMP, "-i", self.iface, "-n", "-U", "-B", "8192", "-s", "2048",
                "-w", self.path, flt]
        self.proc = self.reg.start(self.name, argv)
        # tcpdump prints "listening on lo ..." on stderr once the capture is armed.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "listening on" in self.proc.read_stderr():
                return self
            if not self.proc.alive():
                break
            time.sleep(0.05)
        raise RuntimeError("tcpdump did not start: %s" % self.proc.read_stderr())

    def stop(self):
        """Stops tcpdump (SIGINT flushes the file) and returns the packets captured.
        Raises if the kernel dropped packets: a capture with holes proves nothing."""
        time.sleep(0.3)   # let the last packets reach the capture
        self.proc.stop(signal.SIGINT, timeout=10)
        err = self.proc.read_stderr()
        for line in err.splitlines():
            if "dropped by kernel" in line:
                n = int(line.split()[0])
                if n:
                    raise RuntimeError("tcpdump: %s" % line.strip())
        return read_pcap(self.path)


def rtp_to(packets, dport, dst="127.0.0.1"):
    """The RTP packets sent to dst:dport, in capture order."""
    out = []
    for p in packets:
        if p.dport == dport and p.dst == dst:
            r = Rtp.parse(p)
            if r is not None:
                out.append(r)
    return out


def check_stream(rtps, ref_payloads, label, pt=None, src=None, min_fraction=1.0):
    """Checks one received RTP stream against the payloads that were sent.

    - count: at least min_fraction of the sent packets arrived (1.0 = all of them);
    - payload: the received payloads are the sent ones, in order (a relay may lose
      packets only at the very start or end when min_fraction < 1);
    - header: one SSRC, sequence numbers +1 each, timestamps monotonic, the expected PT
      and source address (symmetric RTP: the relay sends from its advertised port).
    Packets from another IP address than src's are left out (named in the description):
    the suite runs tests side by side, and another test's scanner or relay may send to a
    port this test's peer holds now; packets from src's address but another port count.
    Returns a short description; raises AssertionError with the reason otherwise.
    """
    strays = 0
    if src is not None:
        own = [r for r in rtps if r.src == src[0]]
        strays, rtps = len(rtps) - len(own), own
    n, want = len(rtps), len(ref_payloads)
    if n == 0:
        raise AssertionError("%s: no RTP received (%d sent, %d from other addresses)"
                             % (label, want, strays))
    got = [r.payload for r in rtps]
    # Where the received run sits in the sent sequence (payloads repeat, e.g. silence,
    # so every candidate start is tried).
    start = next((k for k in range(want - n + 1) if ref_payloads[k:k + n] == got), None)
    if start is None:
        k0 = next((k for k in range(want) if ref_payloads[k] == got[0]), None)
        if k0 is None:
            raise AssertionError("%s: first received payload was never sent" % label)
        bad = next((i for i, (a, b) in enumerate(zip(got, ref_payloads[k0:])) if a != b),
                   min(n, want - k0))
        raise AssertionError("%s: %d packets received, %d sent; received packet %d is not "
                             "the next one sent (lost, reordered or altered)"
                             % (label, n, want, bad))
    if n < want * min_fraction or n > want:
        raise AssertionError("%s: received %d RTP packets, sent %d: the first %d and the "
                             "last %d sent never arrived"
                             % (label, n, want, start, want - start - n))
    ssrcs = set(r.ssrc for r in rtps)
    if len(ssrcs) != 1:
        raise AssertionError("%s: %d SSRCs in one direction: %s"
                             % (label, len(ssrcs), sorted(hex(s) for s in ssrcs)))
    for a, b in zip(rtps, rtps[1:]):
        if (b.seq - a.seq) & 0xFFFF != 1:
            raise AssertionError("%s: sequence jumps %d -> %d" % (label, a.seq, b.seq))
        if ((b.timestamp - a.timestamp) & 0xFFFFFFFF) > 0x7FFFFFFF:
            raise AssertionError("%s: timestamp goes back %d -> %d"
                                 % (label, a.timestamp, b.timestamp))
    if pt is not None:
        pts = set(r.pt for r in rtps)
        if pts != {pt}:
            raise AssertionError("%s: payload types %s, expected %d" % (label, pts, pt))
    if src is not None:
        srcs = set((r.src, r.sport) for r in rtps)
        if srcs != {src}:
            raise AssertionError("%s: sent from %s, expected %s:%d"
                                 % (label, srcs, src[0], src[1]))
    return "%s: %d/%d packets, payloads in order, ssrc %08x, pt %d%s" % (
        label, n, want, rtps[0].ssrc, rtps[0].pt,
        ", %d from other addresses left out" % strays if strays else "")
