#!/usr/bin/env python3
"""A third real UA through trunxd's media server: twinkle-console (Twinkle's own SIP
stack and SDP writer, ccRTP for media: neither baresip's nor linphone's) calls, or is
called by, baresip through trunxd. Twinkle offers G.711 (or its stock list: Speex
wide and narrow band, G.711 A and u, GSM) with telephone-event; each UA plays its own
tone and must hear the other's (frequency within 10 Hz, level within 3 dB, present for
>= 80 % of the window), and RFC 4733 digits must cross both ways. trunxd's call.end
names each leg's codec.

Twinkle has no SDES-SRTP (its encryption is ZRTP, which the Debian build leaves out),
so there is no SRTP case here.
"""
import os
import subprocess
import sys
import wave

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import baresip, case, trunxd, twinkle  # noqa: E402

DID = "5550001000"
TONE_T, TONE_B, LEVEL = 1000.0, 600.0, -12.0
# TRUNX_TWINKLE_EXPECT_HZ: the tone baresip is expected to hear from Twinkle (default
# the one Twinkle plays); set to another frequency to see the cases fail.
EXPECT_T = float(os.environ.get("TRUNX_TWINKLE_EXPECT_HZ", TONE_T))
CALL_S = 9.0
# The window a tone is checked in: after set-up, before the digits (a UA mutes its
# tone while it sends them). Twinkle's speaker file starts with the first packet it
# played, baresip's with the call.
WINDOW = (2.0, CALL_S / 2 - 0.1)
DIGITS_T, DIGITS_B = "123#", "9*"


def problems_heard(ctx, who, samples, rate, hz, start_s, end_s, src):
    """Problems with the tone heard in samples between start_s and end_s."""
    s = samples[int(start_s * rate):int(end_s * rate)]
    if len(s) < rate * (end_s - start_s) * 0.9:
        return ["%s heard only %.2f s of audio (%s)" % (who, len(samples) / float(rate), src)]
    share, f, lvl = baresip.tone_presence(s, rate, hz, LEVEL)
    ctx.log("%s heard %.0f Hz: %.0f %% of frames, median %s Hz, %s dBFS (%s)",
            who, hz, share * 100, f and round(f, 1), lvl and round(lvl, 1), src)
    if share < 0.8:
        return ["%s heard the %.0f Hz tone in only %.0f %% of frames" % (who, hz, share * 100)]
    return []


def inband_digits(ctx, tw):
    """The digits trunx-dtmf finds in what Twinkle heard (Twinkle detects none itself)."""
    tool = os.environ.get("TRUNX_DTMF_TOOL")
    if not tool:
        raise AssertionError("TRUNX_DTMF_TOOL not set")
    path = tw.heard_path + ".wav"
    with open(tw.heard_path, "rb") as f, wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(twinkle.RATE)
        w.writeframes(f.read())
    out = subprocess.run([tool, path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("trunx-dtmf %s: %s" % (path, out.stderr))
    lines = out.stdout.splitlines()
    return lines[0].strip() if lines else ""


def finish(ctx, t, tw, bs, inband=False):
    """After one side hung up: the call.end records, and the problems with what Twinkle
    and the baresip bs heard (tones, digits: with inband, those trunxd played to Twinkle
    as tones). Stops the three processes."""
    bs.wait_event("CALL_CLOSED", 10)
    tw.wait_line(r"call ended|far end ended|call released|Line 1: .*end", 5)
    end = t.wait_events("call.end", 1, 10)
    ctx.log("call.end: %s", end)
    tw.pump(0.5)
    digits_bs = "".join(e.get("param", "") for e in bs.events
                        if e.get("type") == "CALL_DTMF_START")
    digits_t = tw.digits()
    tw.stop()
    if inband:
        digits_t = inband_digits(ctx, tw)
    bs.stop()
    t.stop()
    problems = []
    path = bs.heard_wav()
    if not path or not os.path.exists(path) or os.path.getsize(path) < 1000:
        problems.append("baresip recorded nothing (%s)" % path)
    else:
        s, rate = baresip.read_wav(path)
        problems += problems_heard(ctx, "baresip", s, rate, EXPECT_T, *WINDOW, src=path)
    problems += problems_heard(ctx, "twinkle", tw.heard(), twinkle.RATE, TONE_B, *WINDOW,
                               src=tw.heard_path)
    ctx.log("digits: baresip got %r, twinkle got %r", digits_bs, digits_t)
    if digits_bs != DIGITS_T:
        problems.append("baresip got digits %r, not %r" % (digits_bs, DIGITS_T))
    if digits_t != DIGITS_B:
        problems.append("twinkle got digits %r, not %r" % (digits_t, DIGITS_B))
    if problems:
        ctx.log("twinkle said: %s", tw.lines[-40:])
    return end, problems


def check_end(end, want_a, want_b):
    if len(end) != 1:
        return ["expected one call.end, got %d" % len(end)]
    got_a = (end[0].get("codec_a") or "").split("/")[0].lower()
    got_b = (end[0].get("codec_b") or "").split("/")[0].lower()
    if got_a not in want_a or got_b not in want_b:
        return ["call.end codecs %s/%s, expected %s / %s" % (got_a, got_b, want_a, want_b)]
    return []


def need_uas():
    if not twinkle.available() or not baresip.available():
        raise AssertionError("twinkle-console or baresip missing (tools/deps.sh installs "
                             "twinkle-console and baresip-core)")


def tone_b(ctx, codec_bs):
    """baresip's microphone: its tone at its codec's rate and channels."""
    path = ctx.path("tone_b.wav")
    baresip.write_codec_tone(path, TONE_B, LEVEL, CALL_S + 20, codec_bs)
    return path


def twinkle_calls(ctx, codec_b, codecs=("g711u", "g711a"), want_a=("pcmu",), profile=None,
                  dtmf=None):
    """twinkle-console (codecs, in its names; profile: more of its settings) -> trunxd
    -> baresip (codec_b). dtmf: the carrier trunk's way of digits (Twinkle's leg)."""
    need_uas()
    b = baresip.Baresip(ctx, "callee", [codec_b], tone_b(ctx, codec_b), answer=True,
                        user="+15550001000").start()
    ctx.at_end(b.stop)

    def conf(c):
        if dtmf:
            c.carrier.update(dtmf=dtmf)

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.sip_port, configure=conf).start()
    tw = twinkle.Twinkle(ctx, "twinkle", TONE_T, LEVEL, codecs=codecs,
                         profile=profile).start()
    ctx.at_end(tw.stop)
    mark = len(tw.lines)
    tw.command("call sip:%s@%s" % (DID, t.sip_addr))
    if not tw.wait_line(r"far end answered call", 15, after=mark):
        raise AssertionError("call not established: twinkle said %s, trunxd %s; log %s"
                             % (tw.lines[-20:], t.events("call.end"), tw.log_tail()))
    b.wait_event("CALL_ESTABLISHED", 5)
    tw.check_rtp_bound()
    tw.pump(CALL_S / 2)
    tw.command("dtmf %s" % DIGITS_T)
    tw.pump(1.0)
    b.command("sndcode", DIGITS_B)
    tw.pump(CALL_S / 2 - 1.0)
    live = t.ctl("calls") if ctx.trunxctl_path else None
    ctx.log("trunxctl calls: %s", live)
    tw.command("bye")
    end, problems = finish(ctx, t, tw, b, inband=dtmf == "inband")
    problems += check_end(end, want_a, (codec_b.split("/")[0].lower(),))
    if problems:
        raise AssertionError("; ".join(problems))


def twinkle_answers(ctx, codec_a, codecs=("g711u", "g711a"), want_b=("pcmu", "pcma"),
                    profile=None):
    """baresip (codec_a) -> trunxd -> twinkle-console (auto-answer; profile: more of
    its settings)."""
    need_uas()
    tw = twinkle.Twinkle(ctx, "twinkle", TONE_T, LEVEL, codecs=codecs, answer=True,
                         user="+15550001000", profile=profile).start()
    ctx.at_end(tw.stop)

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=tw.sip_port).start()
    a = baresip.Baresip(ctx, "caller", [codec_a], tone_b(ctx, codec_a)).start()
    ctx.at_end(a.stop)
    a.command("dial", "sip:%s@%s" % (DID, t.sip_addr))
    if not a.wait_event("CALL_ESTABLISHED", 15):
        raise AssertionError("call not established: caller events %s, twinkle said %s; log %s"
                             % (a.events, tw.lines[-20:], tw.log_tail()))
    tw.check_rtp_bound()
    a.pump(CALL_S / 2)
    a.command("sndcode", DIGITS_B)
    a.pump(1.0)
    tw.command("dtmf %s" % DIGITS_T)
    a.pump(CALL_S / 2 - 1.0)
    a.command("hangup")
    end, problems = finish(ctx, t, tw, a)
    problems += check_end(end, (codec_a.split("/")[0].lower(),), want_b)
    if problems:
        raise AssertionError("; ".join(problems))


def case_twinkle_pcmu(ctx):
    """Twinkle's G.711 offer (u-law first) toward a PCMU-only callee."""
    twinkle_calls(ctx, "PCMU/8000")


def case_twinkle_pcma(ctx):
    """Twinkle offering A-law only toward a PCMA-only callee."""
    twinkle_calls(ctx, "PCMA/8000", codecs=("g711a",), want_a=("pcma",))


def case_twinkle_opus(ctx):
    """Twinkle's G.711 offer toward an Opus-only callee: trunxd transcodes."""
    twinkle_calls(ctx, "opus/48000/2")


def case_twinkle_stock(ctx):
    """Twinkle's stock offer (Speex wide and narrow band first, then G.711 A and u, GSM)
    toward a PCMU-only callee: trunxd must answer with a codec it has."""
    twinkle_calls(ctx, "PCMU/8000", codecs=("speex-wb", "speex-nb", "g711a", "g711u", "gsm"),
                  want_a=("pcma", "pcmu"))


def hold_retrieve(ctx, tw, held_s):
    """tw holds the call, waits held_s and takes it back."""
    for cmd in ("hold", "retrieve"):
        mark = len(tw.lines)
        tw.command(cmd)
        if not tw.wait_line(r"re-INVITE successful", 10, after=mark):
            raise AssertionError("%s failed: %s said %s" % (cmd, tw.name, tw.lines[mark:]))
        if cmd == "hold":
            tw.pump(held_s)


def twinkle_to_twinkle(ctx, codecs_a, codecs_b, want_a, want_b, hold_variant,
                       holder="caller"):
    """Twinkle (codecs_a) -> trunxd -> Twinkle (codecs_b, auto-answer). The holder (caller
    or callee) holds the call for 2 s after 1 s and takes it back; after that each must hear the other's
    tone (>= 80 % of frames from 1 s to 4 s after the retrieve: Twinkle reopens its
    speaker on the retrieve, and what it played since is its last speaker file), and
    digits cross both ways."""
    need_uas()
    b = twinkle.Twinkle(ctx, "callee", TONE_B, LEVEL, codecs=codecs_b, answer=True,
                        user="+15550001000", profile={"hold_variant": hold_variant}).start()
    ctx.at_end(b.stop)

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.sip_port).start()
    a = twinkle.Twinkle(ctx, "caller", TONE_T, LEVEL, codecs=codecs_a,
                        profile={"hold_variant": hold_variant}).start()
    ctx.at_end(a.stop)
    a.command("call sip:%s@%s" % (DID, t.sip_addr))
    if not a.wait_line(r"far end answered call", 15):
        raise AssertionError("call not established: caller said %s, callee %s"
                             % (a.lines[-20:], b.lines[-20:]))
    a.pump(1.0)
    a.check_rtp_bound()
    b.check_rtp_bound()
    hold_retrieve(ctx, a if holder == "caller" else b, 2.0)
    a.pump(CALL_S / 2)
    a.command("dtmf %s" % DIGITS_T)
    a.pump(1.0)
    b.command("dtmf %s" % DIGITS_B)
    a.pump(2.0)
    a.command("bye")
    b.wait_line(r"far end ended call|call ended", 10)
    end = t.wait_events("call.end", 1, 10)
    ctx.log("call.end: %s", end)
    b.pump(0.5)
    a.pump(0.5)
    a.stop()
    b.stop()
    t.stop()
    problems = check_end(end, want_a, want_b)
    for who, tw, hz in (("caller", a, TONE_B), ("callee", b, EXPECT_T)):
        segs = tw.segments()
        ctx.log("%s's speaker was opened %d times: %s s", who, len(segs),
                [round(len(x) / float(twinkle.RATE), 2) for x in segs])
        if len(segs) < 2:
            problems.append("%s's speaker was not reopened on the retrieve" % who)
        problems += problems_heard(ctx, who + " after the retrieve", segs[-1] if segs else [],
                                   twinkle.RATE, hz, 1.0, 4.0, src=tw.heard_path)
    ctx.log("digits: callee got %r, caller got %r", b.digits(), a.digits())
    if b.digits() != DIGITS_T:
        problems.append("callee got digits %r, not %r" % (b.digits(), DIGITS_T))
    if a.digits() != DIGITS_B:
        problems.append("caller got digits %r, not %r" % (a.digits(), DIGITS_B))
    if problems:
        raise AssertionError("; ".join(problems))


def case_twinkle_hold(ctx):
    """Twinkle to Twinkle in G.711 u-law; the caller holds (a=sendonly) and retrieves."""
    twinkle_to_twinkle(ctx, ("g711u",), ("g711u",), ("pcmu",), ("pcmu",), "rfc3264")


def case_twinkle_hold_2543(ctx):
    """Twinkle (u-law) to Twinkle (A-law): trunxd transcodes; the caller holds the
    RFC 2543 way (c=0.0.0.0) and retrieves."""
    twinkle_to_twinkle(ctx, ("g711u",), ("g711a",), ("pcmu",), ("pcma",), "rfc2543")


def case_twinkle_ptime30_opus(ctx):
    """Twinkle sending 30 ms G.711 packets (a=ptime:30) toward an Opus callee."""
    twinkle_calls(ctx, "opus/48000/2", profile={"ptime": "30"})


def case_twinkle_ptime30_pcmu(ctx):
    """Twinkle sending 30 ms G.711 packets (a=ptime:30) toward a 20 ms PCMU callee."""
    twinkle_calls(ctx, "PCMU/8000", profile={"ptime": "30"})


def case_twinkle_info_dtmf(ctx):
    """Twinkle on a dtmf=info trunk: its digits as SIP INFO (application/dtmf-relay)
    become RFC 4733 toward a PCMU callee, the callee's come to it as INFO."""
    twinkle_calls(ctx, "PCMU/8000", profile={"dtmf_transport": "info"}, dtmf="info")


def case_twinkle_inband_dtmf(ctx):
    """Twinkle on a dtmf=inband trunk: its digits as tones in its G.711 become RFC 4733
    toward an Opus callee, the callee's come to it as tones (found by trunx-dtmf)."""
    twinkle_calls(ctx, "opus/48000/2", profile={"dtmf_transport": "inband"}, dtmf="inband")


def case_twinkle_inband_pcmu(ctx):
    """As twinkle_inband_dtmf toward a PCMU callee (no transcoding)."""
    twinkle_calls(ctx, "PCMU/8000", profile={"dtmf_transport": "inband"}, dtmf="inband")


def case_twinkle_dtmf_pt96(ctx):
    """Twinkle's telephone-event on payload type 96 toward an Opus callee (101)."""
    twinkle_calls(ctx, "opus/48000/2", profile={"dtmf_payload_type": "96"})


def case_twinkle_100rel(ctx):
    """Twinkle requiring 100rel (Require: 100rel in its INVITE)."""
    twinkle_calls(ctx, "PCMU/8000", profile={"ext_100rel": "required"})


def case_twinkle_hold_callee(ctx):
    """Twinkle to Twinkle in G.711 u-law; the callee holds (a=sendonly) and retrieves."""
    twinkle_to_twinkle(ctx, ("g711u",), ("g711u",), ("pcmu",), ("pcmu",), "rfc3264",
                       holder="callee")


def case_twinkle_answers_100rel(ctx):
    """An Opus caller toward Twinkle requiring 100rel: its 180 is reliable (PRACK)."""
    twinkle_answers(ctx, "opus/48000/2", profile={"ext_100rel": "required"})


def case_twinkle_answers_ptime30(ctx):
    """An Opus caller toward Twinkle sending 30 ms G.711 packets."""
    twinkle_answers(ctx, "opus/48000/2", profile={"ptime": "30"})


def case_twinkle_answers(ctx):
    """An Opus caller toward Twinkle, which answers from trunxd's offer on its own."""
    twinkle_answers(ctx, "opus/48000/2")


def case_twinkle_answers_pcma(ctx):
    """A PCMA caller toward Twinkle accepting A-law only."""
    twinkle_answers(ctx, "PCMA/8000", codecs=("g711a",), want_b=("pcma",))


if __name__ == "__main__":
    sys.exit(case.main(globals()))
