#!/usr/bin/env python3
"""DTMF interworking through trunxd with real UAs: two baresip instances (PCMU) call
each other through trunxd, the trunks of the two legs carrying digits differently
(`dtmf = rfc4733 | inband`). What the called UA heard is read back from its WAV with
trunx-dtmf (the same detector as live calls); what it received as RFC 4733 from its
CALL_DTMF_START events; trunxd must log every digit as call.dtmf.
"""
import math
import os
import re
import struct
import subprocess
import sys
import threading
import time
import wave

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import baresip, case, procs, trunxd, ua  # noqa: E402

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
    if got != digits or any(r.get("data", {}).get("source") != via or
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


# ---- SIP INFO legs: the test's own UA (harness/ua.py) ----------------------------------

class RtpSender:
    """PCMU silence at 50 packets/s from the UA's media socket (an INFO endpoint still
    sends audio; trunx's digits toward the other leg ride on that stream)."""

    def __init__(self, sock, dest):
        self.sock, self.dest = sock, dest
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        seq, ts, t0, n = 1, 0, time.monotonic(), 0
        while not self.stop_ev.is_set() and n < 50 * 60:
            pkt = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts, 0x5151) + b"\xff" * 160
            try:
                self.sock.sendto(pkt, self.dest)
            except OSError:
                return
            seq, ts, n = seq + 1, ts + 160, n + 1
            time.sleep(max(0.0, t0 + n * 0.02 - time.monotonic()))

    def stop(self):
        self.stop_ev.set()
        self.thread.join(2)


def sdp_media(body):
    text = (body or b"").decode(errors="replace")
    c = re.search(r"c=IN IP4 (\S+)", text)
    m = re.search(r"m=audio (\d+)", text)
    return (c.group(1), int(m.group(1))) if c and m else None


def info_bodies(u, call_id=None):
    """Digits of the INFO requests the UA received, in order."""
    out = ""
    for m in list(u.inbox):
        if m.method == "INFO" and (call_id is None or m.header("Call-ID") == call_id):
            sig = re.search(r"Signal\s*=\s*(\S)", (m.body or b"").decode(errors="replace"))
            out += sig.group(1) if sig else "?"
    return out


def start_trunxd(ctx, dtmf_a, pbx_port, dtmf_b, pbx_codecs="PCMU, telephone-event"):
    def conf(c):
        c.carrier["dtmf"] = dtmf_a
        c.pbx = c.section("trunk pbx", match="127.0.0.1/32", port=pbx_port,
                          uri="sip:127.0.0.1:%d" % pbx_port, dtmf=dtmf_b,
                          codecs=pbx_codecs)
        c.route = c.section("route did", match="+15550001000", to_trunk="pbx")
    return trunxd.Trunxd(ctx, ctx.trunxd_path, configure=conf).start()


def case_info_to_rfc4733(ctx):
    """A sends "123#" as four INFO requests back to back (application/dtmf-relay): B
    (RFC 4733) receives the digits in order as telephone-events. A malformed DTMF body
    gets 400 and another body type 415; neither becomes a digit."""
    info_caller(ctx, "PCMU/8000", "PCMU, telephone-event")


def case_info_to_rfc4733_opus(ctx):
    """The same with B on Opus: the call is transcoded (PCMU <-> Opus) and the digits
    replace generated Opus frames toward B."""
    info_caller(ctx, "opus/48000/2", "opus, telephone-event")


def info_caller(ctx, codec_b, pbx_codecs):
    if not baresip.available():
        raise AssertionError("baresip is not installed (tools/deps.sh installs baresip-core)")
    wav_b = ctx.path("b.wav")
    rate_b = 48000 if codec_b.startswith("opus") else 8000
    baresip.write_tone(wav_b, 600.0, -20.0, 30, rate_b, 2 if rate_b == 48000 else 1)
    b = baresip.Baresip(ctx, "callee", [codec_b], wav_b, answer=True,
                        user="+15550001000").start()
    ctx.at_end(b.stop)
    t = start_trunxd(ctx, "info", b.sip_port, "rfc4733", pbx_codecs)
    a = ua.UA(name="caller", auto=True)
    ctx.at_end(a.close)
    da, final = a.call((t.addr, t.port), body=ua.sdp(a.ip, a.media_port, pts=(
        (0, "PCMU/8000"), (101, "telephone-event/8000"))))
    if da is None:
        raise AssertionError("call not answered: %s" % (final.start if final else None))
    b.wait_event("CALL_ESTABLISHED", 5)
    rtp = RtpSender(a.media, sdp_media(final.body))
    ctx.at_end(rtp.stop)
    time.sleep(0.5)
    sent = []
    for d in "123#":
        data, cseq, _ = da.build("INFO", ("Signal=%s\r\nDuration=120\r\n" % d).encode(),
                                 content_type="application/dtmf-relay")
        a.send(data, da.dest)
        sent.append(cseq)
    for cseq in sent:
        r = da.wait_final(cseq, "INFO")
        if not r or r.status != 200:
            raise AssertionError("INFO answered %s" % (r.status if r else None))
    for body, ct, want in ((b"Signal=Z\r\n", "application/dtmf-relay", 400),
                           (b"hello", "text/plain", 415)):
        data, cseq, _ = da.build("INFO", body, content_type=ct)
        a.send(data, da.dest)
        r = da.wait_final(cseq, "INFO")
        if not r or r.status != want:
            raise AssertionError("INFO %r answered %s, expected %d"
                                 % (body, r.status if r else None, want))
    b.wait_event("CALL_DTMF_START", 5, count=4)
    b.pump(0.5)
    got = "".join(e.get("param", "") for e in b.events if e.get("type") == "CALL_DTMF_START")
    rtp.stop()
    da.bye()
    t.wait_events("call.end", 1, 10)
    recs = t.events("call.dtmf")
    ctx.log("callee got %r; call.dtmf: %s", got, recs)
    if got != "123#":
        raise AssertionError("callee got %r as RFC 4733, not '123#'" % got)
    check_records(recs, "123#", "info")


def info_callee(ctx, dtmf_a, wav_a, send_a, want):
    """A (baresip) calls B, the test's UA on an INFO trunk; B must receive `want` by
    INFO in order."""
    if not baresip.available():
        raise AssertionError("baresip is not installed (tools/deps.sh installs baresip-core)")
    b = ua.UA(name="callee", auto=True)
    ctx.at_end(b.close)
    t = start_trunxd(ctx, dtmf_a, b.port, "info")
    a = baresip.Baresip(ctx, "caller", ["PCMU/8000"], wav_a).start()
    ctx.at_end(a.stop)
    a.command("dial", "sip:%s@%s" % (DID, t.sip_addr))
    if not a.wait_event("CALL_ESTABLISHED", 15):
        raise AssertionError("call not established: %s" % t.events("call.end"))
    a.pump(1.5)
    if send_a:
        a.command("sndcode", send_a)
    procs.wait_until(lambda: len(info_bodies(b)) >= len(want), 8.0, 0.1)
    a.pump(0.5)
    got = info_bodies(b)
    a.command("hangup")
    a.wait_event("CALL_CLOSED", 10)
    t.wait_events("call.end", 1, 10)
    recs = t.events("call.dtmf")
    ctx.log("callee got %r by INFO; call.dtmf: %s", got, recs)
    if got != want:
        raise AssertionError("callee got %r by INFO, not %r" % (got, want))
    return recs


def case_rfc4733_to_info(ctx):
    """A sends "123#" as RFC 4733; B's trunk takes INFO: four INFO requests, in order."""
    wav_a = ctx.path("a.wav")
    baresip.write_tone(wav_a, 1000.0, -20.0, 30, 8000)
    check_records(info_callee(ctx, "rfc4733", wav_a, "123#", "123#"), "123#", "rfc4733")


def case_inband_to_info(ctx):
    """A's trunk is in-band and A plays "147" as tones; B gets them by INFO."""
    wav_a = ctx.path("a.wav")
    write_digits(wav_a, "147", 2.0, 30)
    check_records(info_callee(ctx, "inband", wav_a, None, "147"), "147", "inband")


if __name__ == "__main__":
    sys.exit(case.main(globals()))
