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
                 dbfs=-10.0, bg_hz=500.0, bg_dbfs=-30.0, channels=1):
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
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, int(v)))) * channels
                               for v in x))


def to_8k(path):
    """An 8 kHz mono copy of a 48 kHz WAV (an Opus UA's recording) for trunx-dtmf: the
    first channel, averaged over each 6 samples (the digits are far below 4 kHz)."""
    samples, rate = baresip.read_wav(path)
    if rate == 8000:
        return path
    if rate != 48000:
        raise AssertionError("%s: %d Hz" % (path, rate))
    out = path + ".8k.wav"
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(sum(samples[i:i + 6]) / 6))
                               for i in range(0, len(samples) - 5, 6)))
    return out


def digits_in(path):
    tool = os.environ.get("TRUNX_DTMF_TOOL")
    if not tool:
        raise AssertionError("TRUNX_DTMF_TOOL not set")
    out = subprocess.run([tool, path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("trunx-dtmf %s: %s" % (path, out.stderr))
    lines = out.stdout.splitlines()
    return lines[0].strip() if lines else ""   # the digits; one line per digit follows


def call(ctx, dtmf_a, dtmf_b, wav_a, send_a=None, codec_a="PCMU/8000", codec_b="PCMU/8000",
         send_b=None, back=None):
    """A calls B through trunxd; returns (digits B heard, B's RFC 4733 digits, trunxd's
    call.dtmf records). With send_b, B sends those digits too and back gets what A
    heard in-band ("heard") and received as RFC 4733 ("te")."""
    if not baresip.available():
        raise AssertionError("baresip is not installed (tools/deps.sh installs baresip-core)")
    wav_b = ctx.path("b.wav")
    opus_b = codec_b.startswith("opus")
    # (48 kHz files kept short: writing them is the slow part; the call lasts ~6 s)
    baresip.write_tone(wav_b, 600.0, -20.0, 10 if opus_b else 30, 48000 if opus_b else 8000,
                       2 if opus_b else 1)
    b = baresip.Baresip(ctx, "callee", [codec_b], wav_b, answer=True,
                        user="+15550001000").start()
    ctx.at_end(b.stop)

    def conf(c):
        c.carrier["dtmf"] = dtmf_a
        c.carrier["codecs"] = "PCMU, opus, telephone-event"
        c.pbx = c.section("trunk pbx", match="127.0.0.1/32", port=b.sip_port,
                          uri="sip:127.0.0.1:%d" % b.sip_port, dtmf=dtmf_b,
                          codecs="PCMU, opus, telephone-event")
        c.route = c.section("route did", match="+15550001000", to_trunk="pbx")

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=conf).start()
    a = baresip.Baresip(ctx, "caller", [codec_a], wav_a).start()
    ctx.at_end(a.stop)
    a.command("dial", "sip:%s@%s" % (DID, t.sip_addr))
    if not a.wait_event("CALL_ESTABLISHED", 15):
        raise AssertionError("call not established: %s" % t.events("call.end"))
    b.wait_event("CALL_ESTABLISHED", 5)
    a.pump(1.5)
    if send_a:
        a.command("sndcode", send_a)
    if send_b:
        b.command("sndcode", send_b)
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
    heard = digits_in(to_8k(path))
    if back is not None:
        back["te"] = "".join(e.get("param", "") for e in a.events
                             if e.get("type") == "CALL_DTMF_START")
        back["heard"] = digits_in(to_8k(a.heard_wav())) if a.heard_wav() else None
        ctx.log("caller heard %r in-band, got %r as RFC 4733", back["heard"], back["te"])
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


def case_opus_inband_both_ways(ctx):
    """A on Opus with an in-band trunk, B on PCMU with RFC 4733 (transcoded). A plays
    "147" as tones in its Opus audio: B receives them as telephone-events and does not
    hear them. B sends "123#" as RFC 4733: A hears them as tones in its Opus audio and
    gets no telephone-event. (A relayed Opus <-> Opus call is tested at the packet
    level in test_media_dtmf: baresip on Opus sends telephone-event/8000 durations in
    48 kHz units, so it cannot be the RFC 4733 end of that test.)"""
    wav_a = ctx.path("a.wav")
    write_digits(wav_a, "147", 2.0, 10, rate=48000, channels=2)
    back = {}
    heard, te, recs = call(ctx, "inband", "rfc4733", wav_a, codec_a="opus/48000/2",
                           send_b="123#", back=back)
    if te != "147":
        raise AssertionError("callee got %r as RFC 4733, not '147'" % te)
    if heard:
        raise AssertionError("callee also heard %r in-band (double digits)" % heard)
    if back.get("heard") != "123#":
        raise AssertionError("caller heard %r, not '123#'" % back.get("heard"))
    if back.get("te"):
        raise AssertionError("caller also got RFC 4733 %r (double digits)" % back["te"])
    a_recs = [r for r in recs if r.get("data", {}).get("leg") == "a"]
    b_recs = [r for r in recs if r.get("data", {}).get("leg") == "b"]
    check_records(a_recs, "147", "inband")
    got_b = "".join(r["data"]["digit"] for r in b_recs)
    if got_b != "123#" or any(r["data"].get("source") != "rfc4733" for r in b_recs):
        raise AssertionError("call.dtmf records of leg b %s: expected '123#' via rfc4733"
                             % b_recs)


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


# ---- event clocks, SDP per DTMF mode, trunxctl dtmf: the test's own UAs ---------------

class OpusUA(ua.UA):
    """A callee answering Opus with telephone-event/8000 (PT 96) whatever the offer
    holds besides: its leg's event clock differs from a 48 kHz offerer's."""
    offer_seen = None

    def accept_request(self, inv, status=200, ring=False):
        self.offer_seen = inv.body
        orig = ua.sdp
        ua.sdp = lambda ip, port, *a, **k: orig(ip, port, pts=(
            (111, "opus/48000/2"), (96, "telephone-event/8000")))
        try:
            return super().accept_request(inv, status, ring)
        finally:
            ua.sdp = orig


class RtpLog:
    """Every RTP packet arriving on a UA's media socket: (pt, marker, seq, ts, payload,
    ssrc)."""

    def __init__(self, sock):
        self.sock, self.pkts = sock, []
        self.stop_ev = threading.Event()
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                data = self.sock.recv(2048)
            except OSError:
                continue
            if len(data) >= 12:
                b1, (seq, ts, ssrc) = data[1], struct.unpack("!HII", data[2:12])
                self.pkts.append((b1 & 0x7F, bool(b1 & 0x80), seq, ts, data[12:], ssrc))

    def stop(self):
        self.stop_ev.set()
        self.thread.join(2)

    def events(self, pt):
        """Digits in the event packets of type pt: [(event, first ts, total duration,
        segment timestamps)], a long press's segments joined as RFC 4733 says."""
        out = []
        for p, _, _, ts, pl, _ in self.pkts:
            if p != pt or len(pl) < 4:
                continue
            ev, dur = pl[0], pl[2] << 8 | pl[3]
            cur = out[-1] if out else None
            if cur and cur["event"] == ev and ts == cur["segs"][-1]:
                cur["seg_dur"] = max(cur["seg_dur"], dur)
            elif (cur and cur["event"] == ev and 0 < (ts - cur["segs"][-1]) % 2**32 <= 0xFFFF
                  and cur["seg_dur"] > 0x7FFF):
                cur["base"] += (ts - cur["segs"][-1]) % 2**32
                cur["segs"].append(ts)
                cur["seg_dur"] = dur
            else:
                cur = {"event": ev, "segs": [ts], "seg_dur": dur, "base": 0}
                out.append(cur)
        return [(c["event"], c["segs"][0], c["base"] + c["seg_dur"], c["segs"]) for c in out]


def send_event(sock, dest, pt, ssrc, seq, ts, event, total, step, gap=0.002):
    """One RFC 4733 event of `total` clock units in packets of `step`, segments past
    0xFFFF, three end packets; returns the next sequence number."""
    elapsed, seg_ts, base, first = 0, ts, 0, True
    while elapsed < total:
        elapsed = min(total, elapsed + step)
        if elapsed - base > 0xFFFF:
            seg_ts, base = seg_ts + 0xFFFF, base + 0xFFFF
        end = elapsed == total
        for _ in range(3 if end else 1):
            pl = struct.pack("!BBH", event, (0x80 if end else 0) | 10, elapsed - base)
            sock.sendto(struct.pack("!BBHII", 0x80, (0x80 if first else 0) | pt, seq & 0xFFFF,
                                    seg_ts & 0xFFFFFFFF, ssrc) + pl, dest)
            first, seq = False, seq + 1
            time.sleep(gap)
    return seq


def case_event_clocks(ctx):
    """A relayed Opus call whose legs use different event clocks: A offers
    telephone-event/48000, B answers the telephone-event/8000 trunx adds. A 100 ms '5'
    and a 2.5 s '9' from A reach B as PT 96 with durations and timestamps on 8 kHz; a
    10 s '#' from B (two 8 kHz segments) reaches A as PT 101 with eight 48 kHz segments,
    one digit of 480,000. An event's onset stays on the stream's own timeline (48 kHz
    Opus timestamps); durations and segment offsets are in the event clock. trunxd
    logs each digit once."""
    b = OpusUA(name="callee", auto=True)
    ctx.at_end(b.close)
    t = start_trunxd(ctx, "rfc4733", b.port, "rfc4733", "opus, telephone-event")
    a = ua.UA(name="caller", auto=True)
    ctx.at_end(a.close)
    da, final = a.call((t.addr, t.port), body=ua.sdp(a.ip, a.media_port, pts=(
        (111, "opus/48000/2"), (101, "telephone-event/48000"))))
    if da is None:
        raise AssertionError("call not answered: %s" % (final.start if final else None))
    offer_b = (b.offer_seen or b"").decode(errors="replace")
    answer_a = (final.body or b"").decode(errors="replace")
    if "telephone-event/8000" not in offer_b or "telephone-event/48000" not in offer_b:
        raise AssertionError("offer to B lacks an event clock:\n%s" % offer_b)
    if "a=rtpmap:101 telephone-event/48000" not in answer_a:
        raise AssertionError("answer to A lacks its 48 kHz events:\n%s" % answer_a)
    dest_a = sdp_media(final.body)
    log_a, log_b = RtpLog(a.media), RtpLog(b.media)
    ctx.at_end(log_a.stop)
    ctx.at_end(log_b.stop)
    # B's media goes to what trunx offered it
    dest_b = sdp_media(b.offer_seen)
    # a few Opus packets (relayed as they are) so both sides latch
    for i in range(5):
        a.media.sendto(struct.pack("!BBHII", 0x80, 111, 1 + i, 960 * i, 0xA1) + b"\xf8\xff\xfe",
                       dest_a)
        b.media.sendto(struct.pack("!BBHII", 0x80, 111, 1 + i, 960 * i, 0xB1) + b"\xf8\xff\xfe",
                       dest_b)
        time.sleep(0.02)
    seq = send_event(a.media, dest_a, 101, 0xA1, 10, 48000, 5, 4800, 960)
    send_event(a.media, dest_a, 101, 0xA1, seq, 48000 + 48000, 9, 120000, 960)
    send_event(b.media, dest_b, 96, 0xB1, 10, 16000, 11, 80000, 160, gap=0.0015)
    time.sleep(0.8)
    log_a.stop()
    log_b.stop()
    da.bye()
    t.wait_events("call.end", 1, 10)
    recs = t.events("call.dtmf")
    to_b, to_a = log_b.events(96), log_a.events(101)
    ctx.log("B got %s; A got %s; call.dtmf %s",
            [(e, d, len(s)) for e, _, d, s in to_b], [(e, d, len(s)) for e, _, d, s in to_a],
            [(r["data"]["leg"], r["data"]["digit"], r["data"]["duration_ms"]) for r in recs])
    if [(e, d) for e, _, d, _ in to_b] != [(5, 800), (9, 20000)]:
        raise AssertionError("B (8 kHz events) got %s" % [(e, d) for e, _, d, _ in to_b])
    if (to_b[1][1] - to_b[0][1]) % 2**32 != 48000:
        raise AssertionError("B's events 1 s apart are %d units apart on its Opus stream"
                             % ((to_b[1][1] - to_b[0][1]) % 2**32))
    if len(to_a) != 1 or to_a[0][0] != 11 or to_a[0][2] != 480000:
        raise AssertionError("A (48 kHz events) got %s" % [(e, d) for e, _, d, _ in to_a])
    segs = to_a[0][3]
    if len(segs) != 8 or any((s - segs[0]) % 2**32 != i * 0xFFFF for i, s in enumerate(segs)):
        raise AssertionError("A's segments at %s" % [(s - segs[0]) % 2**32 for s in segs])
    got = sorted((r["data"]["leg"], r["data"]["digit"], r["data"]["duration_ms"]) for r in recs)
    if got != [("a", "5", 100), ("a", "9", 2500), ("b", "#", 10000)]:
        raise AssertionError("call.dtmf records %s" % got)


def case_sdp_by_mode(ctx):
    """telephone-event only toward legs that use RFC 4733: A (INFO trunk) offers
    PCMU + events and is answered without events; B (RFC 4733) is offered events and
    its answer's events carry A's INFO digits."""
    b = ua.UA(name="callee", auto=True)
    ctx.at_end(b.close)
    t = start_trunxd(ctx, "info", b.port, "rfc4733")
    a = ua.UA(name="caller", auto=True)
    ctx.at_end(a.close)
    da, final = a.call((t.addr, t.port), body=ua.sdp(a.ip, a.media_port, pts=(
        (0, "PCMU/8000"), (101, "telephone-event/8000"))))
    if da is None:
        raise AssertionError("call not answered: %s" % (final.start if final else None))
    # the UA answers before it files the request: wait for it in the inbox
    procs.wait_until(lambda: any(m.method == "INVITE" for m in b.inbox), 3.0, 0.02)
    inv = [m for m in b.inbox if m.method == "INVITE"]
    if not inv or b"telephone-event/8000" not in (inv[0].body or b""):
        raise AssertionError("RFC 4733 leg not offered events: %s" % (inv[0].body if inv else None))
    if b"telephone-event" in (final.body or b""):
        raise AssertionError("INFO leg answered events:\n%s" % final.body.decode())
    da.bye()
    t.wait_events("call.end", 1, 10)
    t.stop()
    # the other way round: an in-band caller offers events, the INFO callee gets none
    b2 = ua.UA(name="callee2", auto=True)
    ctx.at_end(b2.close)
    t = start_trunxd(ctx, "rfc4733", b2.port, "info")
    a2 = ua.UA(name="caller2", auto=True)
    ctx.at_end(a2.close)
    da, final = a2.call((t.addr, t.port), body=ua.sdp(a2.ip, a2.media_port, pts=(
        (0, "PCMU/8000"), (101, "telephone-event/8000"))))
    if da is None:
        raise AssertionError("call not answered: %s" % (final.start if final else None))
    procs.wait_until(lambda: any(m.method == "INVITE" for m in b2.inbox), 3.0, 0.02)
    inv = [m for m in b2.inbox if m.method == "INVITE"]
    if not inv or b"telephone-event" in (inv[0].body or b""):
        raise AssertionError("INFO leg offered events: %s" % (inv[0].body if inv else None))
    if b"a=rtpmap:101 telephone-event/8000" not in (final.body or b""):
        raise AssertionError("RFC 4733 caller not answered events:\n%s" % final.body.decode())
    da.bye()
    t.wait_events("call.end", 1, 10)


def case_ctl_dtmf(ctx):
    """`trunxctl dtmf CALL b 12# --duration 100` sends three 100 ms RFC 4733 digits to
    B on A's stream and logs them as call.dtmf (source api); a bad digit, a bad leg, a
    bad duration and an unknown call are refused with exit code 1."""
    ctl_dtmf(ctx, audio=True)


def case_ctl_dtmf_silent(ctx):
    """The same while A sends no audio at all: the digits go to B in packets of their
    own, on one stream."""
    ctl_dtmf(ctx, audio=False)


def ctl_dtmf(ctx, audio):
    if not ctx.trunxctl_path:
        raise AssertionError("trunxctl is not built")
    b = ua.UA(name="callee", auto=True)
    ctx.at_end(b.close)
    t = start_trunxd(ctx, "rfc4733", b.port, "rfc4733")
    a = ua.UA(name="caller", auto=True)
    ctx.at_end(a.close)
    da, final = a.call((t.addr, t.port), body=ua.sdp(a.ip, a.media_port, pts=(
        (0, "PCMU/8000"), (101, "telephone-event/8000"))))
    if da is None:
        raise AssertionError("call not answered: %s" % (final.start if final else None))
    log_b = RtpLog(b.media)
    ctx.at_end(log_b.stop)
    rtp = RtpSender(a.media, sdp_media(final.body)) if audio else None
    if rtp:
        ctx.at_end(rtp.stop)
    time.sleep(0.3)
    calls = t.ctl("calls")
    if len(calls) != 1:
        raise AssertionError("trunxctl calls: %s" % calls)
    cid = calls[0]["id"]
    res = t.ctl("dtmf", cid, "b", "12#", "--duration", "100")
    if res.get("sent") != 3:
        raise AssertionError("trunxctl dtmf: %s" % res)
    for bad in (("dtmf", cid, "b", "12X"), ("dtmf", cid, "c", "1"),
                ("dtmf", cid, "b", "1", "--duration", "5"), ("dtmf", "nosuchcall", "b", "1")):
        try:
            t.ctl(*bad)
        except trunxd.TrunxdError as e:
            if "rc 1" not in str(e):
                raise
        else:
            raise AssertionError("trunxctl %s accepted" % " ".join(bad))
    procs.wait_until(lambda: len(log_b.events(101)) >= 3 and
                     sum(1 for p in log_b.pkts if p[0] == 101 and p[4][1] & 0x80) >= 9,
                     5.0, 0.05)
    if rtp:
        rtp.stop()
    log_b.stop()
    da.bye()
    t.wait_events("call.end", 1, 10)
    got = [(e, d) for e, _, d, _ in log_b.events(101)]
    seqs = [p[2] for p in log_b.pkts]
    if any((b2 - b1) % 65536 != 1 for b1, b2 in zip(seqs, seqs[1:])):
        raise AssertionError("B's stream has sequence gaps: %s" % seqs[:40])
    if len(set(p[5] for p in log_b.pkts)) != 1:
        raise AssertionError("B's stream changed SSRC")
    recs = t.events("call.dtmf")
    ctx.log("B got %s; call.dtmf %s", got, recs)
    if got != [(1, 800), (2, 800), (11, 800)]:
        raise AssertionError("B got %s, not 1 2 # of 800 units" % got)
    got = [(r["data"]["leg"], r["data"]["digit"], r["data"]["source"],
            r["data"]["duration_ms"]) for r in recs]
    if got != [("b", "1", "api", 100), ("b", "2", "api", 100), ("b", "#", "api", 100)]:
        raise AssertionError("call.dtmf records %s" % got)


if __name__ == "__main__":
    sys.exit(case.main(globals()))
