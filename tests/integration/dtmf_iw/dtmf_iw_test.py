#!/usr/bin/env python3
"""DTMF interworking through trunxd with real UAs: two baresip instances (PCMU) call
each other through trunxd, the trunks of the two legs carrying digits differently
(`dtmf = rfc4733 | inband`). What the called UA heard is read back from its WAV with
trunx-dtmf (the same detector as live calls); what it received as RFC 4733 from its
CALL_DTMF_START events; trunxd must log every digit as call.dtmf.
"""
import math
import os
import struct
import subprocess
import sys
import wave

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import baresip, case, trunxd  # noqa: E402

DID = "5550001000"
FREQS = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209),
         "5": (770, 1336), "6": (770, 1477), "7": (852, 1209), "8": (852, 1336),
         "9": (852, 1477), "*": (941, 1209), "0": (941, 1336), "#": (941, 1477)}


def write_digits(path, digits, start_s, seconds, rate=8000, on_ms=120, off_ms=180,
                 dbfs=-10.0, bg_hz=500.0, bg_dbfs=-30.0):
    """A WAV with a quiet background tone and in-band digits from start_s."""
    amp = 32767 * 10 ** (dbfs / 20.0)
    bg = 32767 * 10 ** (bg_dbfs / 20.0)
    n = int(seconds * rate)
    x = [bg * math.sin(2 * math.pi * bg_hz * i / rate) for i in range(n)]
    at = int(start_s * rate)
    for d in digits:
        lo, hi = FREQS[d]
        for i in range(int(on_ms * rate / 1000)):
            x[at + i] = (amp * math.sin(2 * math.pi * lo * i / rate) +
                         amp * math.sin(2 * math.pi * hi * i / rate))
        at += int((on_ms + off_ms) * rate / 1000)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, int(v)))) for v in x))


def digits_in(path):
    tool = os.environ.get("TRUNX_DTMF_TOOL")
    if not tool:
        raise AssertionError("TRUNX_DTMF_TOOL not set")
    out = subprocess.run([tool, path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("trunx-dtmf %s: %s" % (path, out.stderr))
    lines = out.stdout.splitlines()
    return lines[0].strip() if lines else ""   # the digits; one line per digit follows


def call(ctx, dtmf_a, dtmf_b, wav_a, send_a=None):
    """A calls B through trunxd; returns (digits B heard, B's RFC 4733 digits, trunxd's
    call.dtmf records)."""
    if not baresip.available():
        raise AssertionError("baresip is not installed (tools/deps.sh installs baresip-core)")
    wav_b = ctx.path("b.wav")
    baresip.write_tone(wav_b, 600.0, -20.0, 30, 8000)
    b = baresip.Baresip(ctx, "callee", ["PCMU/8000"], wav_b, answer=True,
                        user="+15550001000").start()
    ctx.at_end(b.stop)

    def conf(c):
        c.carrier["dtmf"] = dtmf_a
        c.pbx = c.section("trunk pbx", match="127.0.0.1/32", port=b.sip_port,
                          uri="sip:127.0.0.1:%d" % b.sip_port, dtmf=dtmf_b)
        c.route = c.section("route did", match="+15550001000", to_trunk="pbx")

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=conf).start()
    a = baresip.Baresip(ctx, "caller", ["PCMU/8000"], wav_a).start()
    ctx.at_end(a.stop)
    a.command("dial", "sip:%s@%s" % (DID, t.sip_addr))
    if not a.wait_event("CALL_ESTABLISHED", 15):
        raise AssertionError("call not established: %s" % t.events("call.end"))
    b.wait_event("CALL_ESTABLISHED", 5)
    a.pump(1.5)
    if send_a:
        a.command("sndcode", send_a)
    a.pump(3.5)
    a.command("hangup")
    a.wait_event("CALL_CLOSED", 10)
    b.wait_event("CALL_CLOSED", 10)
    t.wait_events("call.end", 1, 10)
    got_te = "".join(e.get("param", "") for e in b.events if e.get("type") == "CALL_DTMF_START")
    a.stop()
    b.stop()
    recs = t.events("call.dtmf")
    t.stop()
    path = b.heard_wav()
    if not path:
        raise AssertionError("the callee recorded nothing")
    heard = digits_in(path)
    ctx.log("callee heard %r in-band, got %r as RFC 4733; call.dtmf: %s", heard, got_te, recs)
    return heard, got_te, recs


def check_records(recs, digits, via):
    got = "".join(r.get("data", {}).get("digit", "") for r in recs)
    if got != digits or any(r.get("data", {}).get("via") != via or
                            r.get("data", {}).get("leg") != "a" for r in recs):
        raise AssertionError("call.dtmf records %s: expected %r from leg a via %s"
                             % (recs, digits, via))


def case_rfc4733_to_inband(ctx):
    """A sends "123#" as RFC 4733; B's trunk takes in-band: B hears the four digits as
    tones and receives no telephone-event."""
    wav_a = ctx.path("a.wav")
    baresip.write_tone(wav_a, 1000.0, -20.0, 30, 8000)
    heard, te, recs = call(ctx, "rfc4733", "inband", wav_a, send_a="123#")
    if heard != "123#":
        raise AssertionError("callee heard %r, not '123#'" % heard)
    if te:
        raise AssertionError("callee also got RFC 4733 %r (double digits)" % te)
    check_records(recs, "123#", "rfc4733")


def case_inband_to_rfc4733(ctx):
    """A's trunk is in-band and A plays "147" as tones; B (RFC 4733) receives the three
    digits as telephone-events, and the tones are gone from what B hears."""
    wav_a = ctx.path("a.wav")
    write_digits(wav_a, "147", 2.0, 30)
    heard, te, recs = call(ctx, "inband", "rfc4733", wav_a)
    if te != "147":
        raise AssertionError("callee got %r as RFC 4733, not '147'" % te)
    if heard:
        raise AssertionError("callee also heard %r in-band (double digits)" % heard)
    check_records(recs, "147", "inband")


if __name__ == "__main__":
    sys.exit(case.main(globals()))
