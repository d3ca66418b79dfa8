#!/usr/bin/env python3
"""A second real UA through trunxd's media server: linphonec (Debian linphone-cli,
liblinphone and belle-sip: another SIP stack, SDP writer and media engine than
baresip's) calls, or is called by, baresip through trunxd. linphone offers its stock
codec list (Opus, Speex, G.711, GSM, G.722, ... with its own fmtp, rtcp-fb and
rtcp-xr attributes); each UA plays its own tone and must hear the other's
(frequency within 10 Hz, level within 3 dB, present for >= 80 % of the window), and
RFC 4733 digits must cross both ways. trunxd's call.end names each leg's codec.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import baresip, case, linphone, trunxd  # noqa: E402

DID = "5550001000"
TONE_L, TONE_B, LEVEL = 1000.0, 600.0, -12.0
CALL_S = 9.0
# The window a tone is checked in: after set-up and linphone's jitter buffer has
# settled (it resizes in its first second, dropping audio, when the line is jittery:
# a loaded machine), before the digits (a UA mutes its tone while it sends them).
WINDOW = (2.0, CALL_S / 2 - 0.1)
DIGITS_L, DIGITS_B = "123#", "9*"


def heard(ctx, who, path, hz, start_s, end_s):
    """Problems with the tone heard in path between start_s and end_s."""
    if not path or not os.path.exists(path) or os.path.getsize(path) < 1000:
        return ["%s recorded nothing (%s)" % (who, path)]
    s, rate = baresip.read_wav(path)
    s = s[int(start_s * rate):int(end_s * rate)]
    share, f, lvl = baresip.tone_presence(s, rate, hz, LEVEL)
    ctx.log("%s heard %.0f Hz: %.0f %% of frames, median %s Hz, %s dBFS (%s)",
            who, hz, share * 100, f and round(f, 1), lvl and round(lvl, 1), path)
    if share < 0.8:
        return ["%s heard the %.0f Hz tone in only %.0f %% of frames" % (who, hz, share * 100)]
    return []


def finish(ctx, t, lp, bs, rec):
    """After one side hung up: the call.end records, and the problems with what
    linphone and the baresip bs heard (tones, digits). Stops the three processes."""
    bs.wait_event("CALL_CLOSED", 10)
    lp.wait_line(r"(?i)ended|terminated", 5)
    end = t.wait_events("call.end", 1, 10)
    ctx.log("call.end: %s", end)
    lp.pump(0.5)
    digits_bs = "".join(e.get("param", "") for e in bs.events
                        if e.get("type") == "CALL_DTMF_START")
    digits_l = lp.digits()
    lp.stop()
    bs.stop()
    t.stop()
    problems = heard(ctx, "baresip", bs.heard_wav(), TONE_L, *WINDOW)
    problems += heard(ctx, "linphone", rec, TONE_B, *WINDOW)
    ctx.log("digits: baresip got %r, linphone got %r", digits_bs, digits_l)
    if digits_bs != DIGITS_L:
        problems.append("baresip got digits %r, not %r" % (digits_bs, DIGITS_L))
    if digits_l != DIGITS_B:
        problems.append("linphone got digits %r, not %r" % (digits_l, DIGITS_B))
    return end, problems


def check_end(end, want_a, want_b, srtp_a=False):
    if len(end) != 1:
        return ["expected one call.end, got %d" % len(end)]
    got_a = (end[0].get("codec_a") or "").split("/")[0].lower()
    got_b = (end[0].get("codec_b") or "").split("/")[0].lower()
    problems = []
    if got_a not in want_a or got_b not in want_b:
        problems.append("call.end codecs %s/%s, expected one of %s / %s"
                        % (got_a, got_b, want_a, want_b))
    if (end[0].get("srtp_a") is not None) != srtp_a:
        problems.append("call.end srtp_a %s, expected %s" % (end[0].get("srtp_a"), srtp_a))
    # linphone repeats an RFC 4733 event's end packet with the same sequence number
    # (two repeats per digit), which SRTP's replay check rightly refuses: at most
    # that many replays, and no authentication failure.
    if end[0].get("srtp_auth_fail_a", 0) or \
            end[0].get("srtp_replay_a", 0) > 2 * len(DIGITS_L):
        problems.append("SRTP packets refused on leg a: %s" % end[0])
    return problems


def tones(ctx, codec_bs):
    """The two UAs' microphones: linphone's tone (8 kHz: its file player resamples)
    and baresip's at its codec's rate and channels."""
    if not linphone.available() or not baresip.available():
        raise AssertionError("linphonec or baresip missing (tools/deps.sh installs "
                             "linphone-cli and baresip-core)")
    tone_l = ctx.path("tone_l.wav")
    tone_b = ctx.path("tone_b.wav")
    baresip.write_tone(tone_l, TONE_L, LEVEL, CALL_S + 20, 8000)
    baresip.write_codec_tone(tone_b, TONE_B, LEVEL, CALL_S + 20, codec_bs)
    return tone_l, tone_b


def linphone_calls(ctx, codec_b, srtp=False, configure=None):
    """linphonec (stock offer) -> trunxd -> baresip (codec_b)."""
    tone_l, tone_b = tones(ctx, codec_b)
    b = baresip.Baresip(ctx, "callee", [codec_b], tone_b, answer=True,
                        user="+15550001000").start()
    ctx.at_end(b.stop)

    def conf(c):
        if configure:
            configure(c)

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=b.sip_port, configure=conf).start()
    lp = linphone.Linphone(ctx, "linphone", srtp=srtp).start()
    ctx.at_end(lp.stop)
    rec = ctx.path("linphone_heard.wav")
    lp.command("play %s" % tone_l)
    lp.command("record %s" % rec)
    lp.command("call sip:%s@%s" % (DID, t.sip_addr))
    if not lp.wait_line(r"(?i)connected", 15):
        raise AssertionError("call not established: linphone said %s, trunxd %s"
                             % (lp.lines[-20:], t.events("call.end")))
    b.wait_event("CALL_ESTABLISHED", 5)
    lp.pump(CALL_S / 2)
    for d in DIGITS_L:
        lp.command(d)
        lp.pump(0.3)
    b.pump(1.0)
    b.command("sndcode", DIGITS_B)
    lp.pump(CALL_S / 2 - 1.0)
    live = t.ctl("calls") if ctx.trunxctl_path else None
    ctx.log("trunxctl calls: %s", live)
    lp.command("terminate")
    end, problems = finish(ctx, t, lp, b, rec)
    problems += check_end(end, ("opus", "pcmu", "pcma"),
                          (codec_b.split("/")[0].lower(),), srtp_a=srtp)
    if problems:
        raise AssertionError("; ".join(problems))


def linphone_answers(ctx, codec_a):
    """baresip (codec_a) -> trunxd -> linphonec (stock codecs, auto-answer)."""
    tone_l, tone_b = tones(ctx, codec_a)
    lp = linphone.Linphone(ctx, "linphone", answer=True).start()
    ctx.at_end(lp.stop)
    rec = ctx.path("linphone_heard.wav")
    lp.command("play %s" % tone_l)
    lp.command("record %s" % rec)

    t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=lp.sip_port).start()
    a = baresip.Baresip(ctx, "caller", [codec_a], tone_b).start()
    ctx.at_end(a.stop)
    a.command("dial", "sip:%s@%s" % (DID, t.sip_addr))
    if not a.wait_event("CALL_ESTABLISHED", 15):
        raise AssertionError("call not established: caller events %s, linphone said %s"
                             % (a.events, lp.lines[-20:]))
    a.pump(CALL_S / 2)
    a.command("sndcode", DIGITS_B)
    a.pump(1.0)
    for d in DIGITS_L:
        lp.command(d)
        lp.pump(0.3)
    a.pump(CALL_S / 2 - 1.0)
    a.command("hangup")
    end, problems = finish(ctx, t, lp, a, rec)
    if len(end) != 1:
        problems.append("expected one call.end, got %d" % len(end))
    elif (end[0].get("codec_a") or "").split("/")[0].lower() != codec_a.split("/")[0].lower():
        problems.append("call.end codec_a %s, expected %s" % (end[0].get("codec_a"), codec_a))
    if problems:
        raise AssertionError("; ".join(problems))


def case_linphone_pcmu(ctx):
    """linphone's stock offer toward a PCMU-only callee."""
    linphone_calls(ctx, "PCMU/8000")


def case_linphone_opus(ctx):
    """linphone's stock offer toward an Opus-only callee."""
    linphone_calls(ctx, "opus/48000/2")


def case_linphone_srtp(ctx):
    """linphone with mandatory SDES-SRTP (RTP/SAVP) toward a plain PCMA callee."""
    def conf(c):
        c.carrier.update(srtp="required", srtp_without_tls=True)
        c.pbx.update(srtp="off", srtp_without_tls=True)
    linphone_calls(ctx, "PCMA/8000", srtp=True, configure=conf)


def case_linphone_answers(ctx):
    """An Opus caller toward linphone, which answers from trunx's offer on its own."""
    linphone_answers(ctx, "opus/48000/2")


if __name__ == "__main__":
    sys.exit(case.main(globals()))
