"""Free port picking on loopback. Nothing here reserves a port: a port found free can
be taken by someone else before our process binds it, so callers retry the start-up on a
bind failure (see trunxd.Trunxd.start and sipp.run)."""
import random
import socket

# Keep out of the kernel's ephemeral range (where SIPp, the stack and other tests get
# their random ports) when picking fixed ports and RTP ranges.
_LOW, _HIGH = 10000, 32000
# Ports and ranges this process has handed out (trunxd's media range, a UA's RTP range,
# ...): free now is not enough, their owners bind them only later. The oldest are
# forgotten once they would cover too much of the space (their owners are long gone).
_given = []          # [(first, last)], oldest first
_GIVEN_MAX = 12000


def _taken(p):
    return any(a <= p <= b for a, b in _given)


def _give(first, last):
    _given.append((first, last))
    while len(_given) > 1 and sum(b - a + 1 for a, b in _given) > _GIVEN_MAX:
        _given.pop(0)


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
            return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def family(addr):
    """The socket family of an IP literal (IPv6 when it holds a colon)."""
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def hostport(addr, port):
    """"ip:port" as SIP and SIPp write it: an IPv6 literal in brackets."""
    return ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)


def _free(port, addr="127.0.0.1", udp=True, tcp=True):
    socks = []
    try:
        if udp:
            s = socket.socket(family(addr), socket.SOCK_DGRAM)
            socks.append(s)
            s.bind((addr, port))
        if tcp:
            s = socket.socket(family(addr), socket.SOCK_STREAM)
            socks.append(s)
            s.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def _candidates(step=1):
    lo, hi = _LOW, _HIGH
    elo, ehi = _ephemeral_range()
    if elo <= hi and ehi >= lo:   # overlapping ephemeral range: stay below it
        hi = max(lo + 1000, elo - 1)
    return lo, hi


def port_free(port, addr="127.0.0.1", udp=True, tcp=True):
    """True when port is free right now on addr (UDP and TCP by default)."""
    return 0 < port < 65536 and _free(port, addr, udp, tcp)


def free_port(addr="127.0.0.1", udp=True, tcp=True, avoid=()):
    """A port free for UDP and TCP on addr (both by default), outside the ephemeral range."""
    lo, hi = _candidates()
    for _ in range(500):
        p = random.randint(lo, hi)
        if p in avoid or _taken(p):
            continue
        if _free(p, addr, udp, tcp):
            _give(p, p)
            return p
    raise RuntimeError("no free port found on %s" % addr)


def free_pair(addr="127.0.0.1"):
    """A port p such that p and p + 1 are both free for UDP and TCP on addr and neither
    was handed out before (for programs that bind a second transport on p + 1)."""
    lo, hi = _candidates()
    for _ in range(500):
        p = random.randint(lo, hi - 1)
        if _taken(p) or _taken(p + 1):
            continue
        if _free(p, addr) and _free(p + 1, addr):
            _give(p, p + 1)
            return p
    raise RuntimeError("no free port pair found on %s" % addr)


def free_ports(n, addr="127.0.0.1", udp=True, tcp=True):
    """n distinct free ports."""
    out = []
    while len(out) < n:
        out.append(free_port(addr, udp, tcp, avoid=out))
    return out


def free_range(count, addr="127.0.0.1", avoid=()):
    """An even-aligned range [lo, lo+count-1] of UDP ports all free right now, apart
    from what this process handed out before when that leaves room."""
    lo, hi = _candidates()
    for honour_given in (True, False):
        for _ in range(200):
            start = random.randint(lo, hi - count) & ~1
            last = start + count - 1
            if any(p in avoid for p in range(start, last + 1)):
                continue
            if honour_given and any(a <= last and start <= b for a, b in _given):
                continue
            if all(_free(p, addr, udp=True, tcp=False) for p in range(start, last + 1)):
                _give(start, last)
                return start, last
    raise RuntimeError("no free range of %d UDP ports on %s" % (count, addr))
