"""Call helpers: start SIPp callers (UAC) and callees (UAS) with the scenarios of
conf/sipp/, either directly against each other or through trunxd."""
from . import capture, ports, sipp

DID = "5550001000"          # national number; carrier trunk normalises it to +15550001000
CALLER = "15551230000"


def uas(ctx, scenario, name="uas", calls=1, duration_ms=0, keys=None, trace_msg=False,
        timeout=120, port=None, local_ip="127.0.0.1", **kw):
    """Starts a SIPp callee; returns the Sipp (already listening)."""
    k = {"pcap": capture.G711A_PCAP}
    k.update(keys or {})
    kw.setdefault("transport", "u1")
    s = sipp.Sipp(ctx.reg, ctx.scenario(scenario), name, calls=calls, keys=k,
                  port=port, local_ip=local_ip, trace_msg=trace_msg, timeout=timeout,
                  extra=["-d", str(duration_ms)] + list(kw.pop("extra", ())), **kw)
    s.start()
    if s.rc is not None:
        raise AssertionError("%s exited at start:\n%s" % (name, s.describe_failure()))
    proto = "tcp" if kw.get("transport", "u1").startswith("t") else "udp"
    if not sipp.wait_listening(s.port, proto, 10):
        raise AssertionError("%s not listening on %d" % (name, s.port))
    return s


def uac(ctx, scenario, remote, name="uac", calls=1, duration_ms=0, keys=None,
        service=DID, trace_msg=False, timeout=120, local_ip="127.0.0.1", **kw):
    """Starts a SIPp caller towards remote ("ip:port"); returns the Sipp."""
    k = {"pcap": capture.G711A_PCAP, "caller": CALLER}
    k.update(keys or {})
    s = sipp.Sipp(ctx.reg, ctx.scenario(scenario), name, remote=remote, calls=calls,
                  keys=k, service=service, local_ip=local_ip, trace_msg=trace_msg,
                  timeout=timeout, extra=["-d", str(duration_ms)] + list(kw.pop("extra", ())),
                  **kw)
    return s.start()


def pick_media_port(local_ip="127.0.0.1"):
    """A media port for a SIPp (RTP on it, RTCP and video above it left free)."""
    return ports.free_range(4, local_ip)[0]


def finish(*ss, timeout=None):
    """Waits for every SIPp given, in order (callers first); returns their exit codes.
    Once one has failed, the ones after it get a short grace and are then stopped,
    so a caller that failed at once does not leave its callee waiting minutes."""
    rcs = []
    failed = False
    for s in ss:
        if failed:
            if s.proc.wait(10) is None:
                s.stop()
            s.rc = s.proc.popen.returncode
            rcs.append(s.rc)
            continue
        rc = s.wait(timeout)
        rcs.append(rc)
        failed = rc != 0
    return rcs
