#!/usr/bin/env python3
"""Prompts, recording and live AMD through trunxd, with real RTP on the wire: two
scripted UAs (harness/ua.py) call through trunxd and each sends G.711 from its own
media socket on an exact 20 ms schedule, so what trunxd must produce is known.

  record      the route records (record = DIR): both legs send a tone for exactly 10 s
              with packets dropped; the WAV is stereo 8 kHz, 10 s +-40 ms long, the
              caller's tone on the left, the callee's on the right, the dropped
              packets as silence; call.record names the file and its duration
  play        trunxctl play of a 16 kHz 1500 Hz prompt to the callee: the callee hears
              it (frequency, level) in place of the caller's tone, then the bridge
              again, with one SSRC, contiguous sequence numbers and no timestamp
              jump; the caller hears the callee throughout; call.play start and end
  play_mix    the same with --mix: both tones during the prompt
  play_errors bad prompts (22.05 kHz, stereo, not a WAV, missing), a bad leg, an
              unknown call: clear errors, nothing played, the call unharmed
  amd_machine the callee answers with a recorded greeting and beep from the AMD
              corpus (route amd = yes): call.amd MACHINE and call.beep near the
              beep's end, as trunx-amd says offline for the same clip
  amd_human   a human answer from the corpus, AMD started by `trunxctl amd`: HUMAN
"""
import bisect
import math
import os
import random
import socket
import struct
import sys
import threading
import time
import wave

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import baresip, case, procs, trunxd, ua  # noqa: E402

DID = "5550001000"
RATE = 8000
LEVEL = -12.0
PCMU_ONLY = ((0, "PCMU/8000"), (101, "telephone-event/8000"))
PCMA_ONLY = ((8, "PCMA/8000"), (101, "telephone-event/8000"))
_ua_sdp = ua.sdp


def callee_codec(codecs):
    """What the scripted callee answers with (its auto mode calls ua.sdp)."""
    def sdp(ip, port, version=1, direction=None, sess=None, pts=None):
        return _ua_sdp(ip, port, version, direction, sess, pts or codecs)
    ua.sdp = sdp


# ---- G.711 --------------------------------------------------------------------------

def _ulaw_dec(u):
    u = ~u & 0xFF
    sign, exp, mant = u & 0x80, (u >> 4) & 7, u & 0x0F
    s = (((mant << 3) + 0x84) << exp) - 0x84
    return -s if sign else s


def _alaw_dec(a):
    a ^= 0x55
    sign, exp, mant = a & 0x80, (a >> 4) & 7, a & 0x0F
    s = (mant << 4) + 8 if exp == 0 else ((mant << 4) + 0x108) << (exp - 1)
    return s if sign else -s


ULAW = [_ulaw_dec(i) for i in range(256)]
ALAW = [_alaw_dec(i) for i in range(256)]
_SORTED = {pt: sorted((v, i) for i, v in enumerate(t)) for pt, t in ((0, ULAW), (8, ALAW))}
_VALS = {pt: [v for v, _ in srt] for pt, srt in _SORTED.items()}


def g711_enc(s, pt=0):
    """The code whose decoded value is nearest to s (PT 0 mu-law, 8 A-law)."""
    vals = _VALS[pt]
    k = bisect.bisect_left(vals, s)
    if k == len(vals) or (k > 0 and s - vals[k - 1] < vals[k] - s):
        k -= 1
    return _SORTED[pt][k][1]


def decode(pt, payload):
    table = ULAW if pt == 0 else ALAW
    return [table[b] for b in payload]


def tone(hz, dbfs, n, phase0=0):
    a = 32767 * 10 ** (dbfs / 20)
    return [a * math.sin(2 * math.pi * hz * (phase0 + i) / RATE) for i in range(n)]


def write_wav(path, samples, rate=RATE, channels=1):
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, int(round(s)))))
                               for s in samples))


def read_wav_any(path):
    with wave.open(path, "rb") as w:
        return (w.getnchannels(), w.getframerate(), w.getsampwidth(),
                w.readframes(w.getnframes()))


# ---- RTP peers -----------------------------------------------------------------------

class RtpPeer:
    """Sends PCMU from a UA's media socket on an absolute 20 ms schedule and records
    every packet it receives (arrival, pt, marker, seq, ts, ssrc, payload)."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(0.1)
        self.got = []
        self.stop_ev = threading.Event()
        self.rx = threading.Thread(target=self._recv, daemon=True)
        self.rx.start()
        self.tx = None
        self.sent = 0

    def _recv(self):
        while not self.stop_ev.is_set():
            try:
                data, _ = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12 or data[0] >> 6 != 2:
                continue
            self.got.append((time.monotonic(), data[1] & 0x7F, bool(data[1] & 0x80),
                             struct.unpack("!H", data[2:4])[0],
                             struct.unpack("!I", data[4:8])[0],
                             struct.unpack("!I", data[8:12])[0], data[12:]))

    def send(self, dest, samples, drop=(), t0=None, pt=0):
        """Sends samples (8 kHz) as 20 ms G.711 packets (PT 0 or 8); indexes in drop
        are skipped. self.stream is the (seq, ts, ssrc) of the first packet."""
        self.stream = seq, ts, ssrc = random.randint(0, 65535), \
            random.randint(0, 2 ** 32 - 1), random.randint(1, 2 ** 32 - 1)

        def run():
            start = t0 or time.monotonic()
            n = len(samples) // 160
            for k in range(n):
                if self.stop_ev.is_set():
                    return
                due = start + k * 0.02
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if k in drop:
                    continue
                pl = bytes(g711_enc(int(s), pt) for s in samples[k * 160:(k + 1) * 160])
                hdr = struct.pack("!BBHII", 0x80, (0x80 if k == 0 else 0) | pt,
                                  (seq + k) & 0xFFFF, (ts + k * 160) & 0xFFFFFFFF, ssrc)
                self.sock.sendto(hdr + pl, dest)
                self.sent += 1
        self.tx = threading.Thread(target=run, daemon=True)
        self.tx.start()
        return self

    def wait_sent(self, timeout):
        if self.tx:
            self.tx.join(timeout)

    def stop(self):
        self.stop_ev.set()
        if self.tx:
            self.tx.join(2)
        self.rx.join(2)

    def audio(self, since=0.0, until=1e18):
        out = []
        for t, pt, _, _, _, _, pl in self.got:
            if since <= t < until and pt in (0, 8):
                out += decode(pt, pl)
        return out


def media_of(body):
    """(ip, port) of the first audio stream in an SDP body."""
    ip, port = None, None
    for line in body.decode(errors="replace").splitlines():
        if line.startswith("c=IN IP4 "):
            ip = line.split()[2]
        elif line.startswith("m=audio "):
            port = int(line.split()[1])
    return ip, port


class Call:
    """A caller and a callee (both scripted UAs) through trunxd, media addresses known."""

    def __init__(self, ctx, configure=None, pt_b=0):
        """pt_b: the callee's codec, 0 PCMU (a relay: the caller has PCMU) or 8 PCMA
        (trunxd transcodes)."""
        self.ctx = ctx
        self.pt_b = pt_b
        callee_codec(PCMU_ONLY if pt_b == 0 else PCMA_ONLY)
        self.callee = ua.UA(name="callee", auto=True)
        ctx.at_end(self.callee.close)
        self.t = trunxd.Trunxd(ctx, ctx.trunxd_path, uas_port=self.callee.port,
                               configure=configure).start()
        self.caller = ua.UA(name="caller")
        ctx.at_end(self.caller.close)
        body = _ua_sdp("127.0.0.1", self.caller.media_port, pts=PCMU_ONLY)
        self.d, final = self.caller.call((self.t.addr, self.t.port), user=DID, body=body)
        if not self.d:
            raise AssertionError("call not answered: %s" % (final and final.status))
        inv = self.callee.wait(lambda m: m.method == "INVITE", 5)
        if inv is None:
            raise AssertionError("the callee got no INVITE")
        self.to_a = media_of(final.body)      # trunxd's port for the caller
        self.to_b = media_of(inv.body)        # trunxd's port for the callee
        self.a = RtpPeer(self.caller.media)
        self.b = RtpPeer(self.callee.media)
        ctx.at_end(self.a.stop)
        ctx.at_end(self.b.stop)
        calls = self.t.ctl("calls")
        if len(calls) != 1:
            raise AssertionError("trunxctl calls: %s" % calls)
        self.id = calls[0]["id"]
        ctx.log("call %s: trunxd media a=%s b=%s", self.id, self.to_a, self.to_b)

    def hangup(self):
        self.d.bye()
        end = self.t.wait_events("call.end", 1, 10)
        if len(end) != 1:
            raise AssertionError("no call.end")
        return end[0]


def frames_of(samples, hz_list, dbfs=LEVEL):
    """For each 20 ms frame, which of hz_list it carries (or None)."""
    out = []
    for i in range(0, len(samples) - 159, 160):
        f, lvl, tonal = baresip.frame_tone(samples[i:i + 160], RATE)
        got = None
        for hz in hz_list:
            if abs(f - hz) <= 15 and abs(lvl - dbfs) <= 3 and tonal > 0.7:
                got = hz
        out.append(got)
    return out


# ---- recording -------------------------------------------------------------------------

def silent_run_samples(chan, min_run=24):
    """Samples in runs of at least min_run near-zero samples (a tone crosses zero,
    but never for 3 ms)."""
    total = run = 0
    for v in chan + [1000]:
        if abs(v) < 40:
            run += 1
            continue
        if run >= min_run:
            total += run
        run = 0
    return total


def case_record(ctx):
    rec_dir = ctx.path("rec")
    os.makedirs(rec_dir, exist_ok=True)

    def conf(c):
        c.route["record"] = rec_dir
    call = Call(ctx, conf)
    n = 500   # exactly 10 s of 20 ms packets from each leg
    drop_a = {k for k in range(5, n - 5) if k % 20 == 7}     # 5 %
    drop_b = {k for k in range(5, n - 5) if k % 33 == 11}    # 3 %
    t0 = time.monotonic() + 0.1
    call.a.send(call.to_a, tone(1000, LEVEL, n * 160), drop_a, t0)
    call.b.send(call.to_b, tone(600, LEVEL, n * 160), drop_b, t0, call.pt_b)
    call.a.wait_sent(15)
    call.b.wait_sent(15)
    time.sleep(0.3)
    end = call.hangup()
    rec = call.t.wait_events("call.record", 1, 10)
    ctx.log("call.record: %s", rec)
    if len(rec) != 1:
        raise AssertionError("expected one call.record, got %s" % rec)
    path = rec[0].get("path")
    if path != os.path.join(rec_dir, call.id + ".wav"):
        raise AssertionError("call.record path %s, expected %s/%s.wav" % (path, rec_dir, call.id))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:   # the writer thread closes it shortly after
        try:
            ch, rate, width, data = read_wav_any(path)
            if len(data) // 4 == rec[0]["frames"]:
                break
        except (OSError, EOFError, wave.Error):
            pass
        time.sleep(0.1)
    ch, rate, width, data = read_wav_any(path)
    frames = len(data) // 4
    secs = frames / RATE
    ctx.log("%s: %d channels, %d Hz, %d-bit, %.3f s (call.end rtp_a_in %s, rtp_b_in %s)",
            path, ch, rate, width * 8, secs, end.get("rtp_a_in"), end.get("rtp_b_in"))
    problems = []
    if (ch, rate, width) != (2, 8000, 2):
        problems.append("format %d ch %d Hz %d bytes, not stereo 8 kHz 16-bit" % (ch, rate, width))
    if abs(secs - 10.0) > 0.040:
        problems.append("recording %.3f s long, not 10 s +-40 ms" % secs)
    if abs(rec[0].get("duration_ms", 0) - secs * 1000) > 1:
        problems.append("call.record duration_ms %s, file %.0f ms" % (rec[0].get("duration_ms"),
                                                                      secs * 1000))
    s = struct.unpack("<%dh" % (frames * 2), data[:frames * 4])
    left, right = list(s[0::2]), list(s[1::2])
    for name, chan, hz, drops in (("left (A)", left, 1000, drop_a), ("right (B)", right, 600,
                                                                      drop_b)):
        fr = frames_of(chan, [hz])
        share = sum(1 for x in fr if x == hz) / max(1, len(fr))
        quiet = silent_run_samples(chan)
        ctx.log("%s: %.0f Hz in %.0f %% of frames, %d silent samples (%d dropped packets "
                "= %d samples)", name, hz, share * 100, quiet, len(drops), len(drops) * 160)
        if share < 0.85:
            problems.append("%s carries %.0f Hz in only %.0f %% of frames" % (name, hz, share * 100))
        # each dropped packet leaves 20 ms of silence where it belonged (not squeezed out)
        if not (len(drops) - 2) * 160 <= quiet <= (len(drops) + 4) * 160:
            problems.append("%s: %d near-silent samples for %d dropped packets" %
                            (name, quiet, len(drops)))
    if problems:
        raise AssertionError("; ".join(problems))


# ---- prompts ---------------------------------------------------------------------------

def check_stream(pkts, what, skipped=0):
    """One SSRC, contiguous sequence numbers, timestamps advancing by one packet
    (160) between packets, at most 3 packets' worth where the source switched.
    skipped: the frames trunxd counted as skipped toward this leg (frames_skipped in
    call.end: due while its media worker was over 100 ms late, a loaded machine's
    doing); the longer steps may spend them, and no more."""
    problems = []
    ssrcs = {p[5] for p in pkts}
    if len(ssrcs) != 1:
        problems.append("%s: %d SSRCs" % (what, len(ssrcs)))
    jumps = []
    excess = 0
    for prev, cur in zip(pkts, pkts[1:]):
        dseq = (cur[3] - prev[3]) & 0xFFFF
        dts = (cur[4] - prev[4]) & 0xFFFFFFFF
        if dseq != 1:
            problems.append("%s: sequence %d -> %d" % (what, prev[3], cur[3]))
        elif dts != 160:
            jumps.append(dts)
            if dts < 160:
                problems.append("%s: timestamp step %d at seq %d" % (what, dts, cur[3]))
            elif dts > 480:
                excess += -(-(dts - 480) // 160)   # frames, rounded up
    if excess > skipped:
        problems.append("%s: timestamp steps over 480 (%s) skip %d frames, trunxd counted "
                        "%d skipped" % (what, [j for j in jumps if j > 480], excess, skipped))
    return problems, jumps


def play_case(ctx, mix, pt_b=0):
    call = Call(ctx, pt_b=pt_b)
    prompt = ctx.path("prompt16k.wav")
    write_wav(prompt, [a for a in (32767 * 10 ** (LEVEL / 20) *
                                   math.sin(2 * math.pi * 1500 * i / 16000)
                                   for i in range(16000))], rate=16000)
    n = 200   # 4 s each way
    t0 = time.monotonic() + 0.1
    call.a.send(call.to_a, tone(1000, LEVEL, n * 160), (), t0)
    call.b.send(call.to_b, tone(600, LEVEL, n * 160), (), t0, call.pt_b)
    time.sleep(1.3)
    args = ["play", call.id, "b", prompt] + (["--mix"] if mix else [])
    r = call.t.ctl(*args)
    ctx.log("trunxctl %s: %s", " ".join(args), r)
    ev = call.t.wait_events("call.play", 2, 5)
    call.a.wait_sent(10)
    call.b.wait_sent(10)
    time.sleep(0.2)
    end = call.hangup()
    skipped = {leg: end.get("frames_skipped_" + leg, 0) for leg in "ab"}
    ctx.log("call.play: %s; frames skipped (worker late) %s", ev, skipped)
    problems = []
    phases = [(e.get("phase"), e.get("leg"), e.get("mix")) for e in ev]
    if phases != [("start", "b", mix), ("end", "b", mix)]:
        problems.append("call.play events %s" % phases)
    elif abs(ev[1].get("played_ms", 0) - 1000) > 20:
        problems.append("played_ms %s for a 1 s prompt" % ev[1].get("played_ms"))
    pkts = sorted(call.b.got, key=lambda p: p[0])
    p, jumps = check_stream(pkts, "to the callee", skipped["b"])
    problems += p
    ctx.log("to the callee: %d packets, timestamp steps other than 160: %s", len(pkts), jumps)
    fr = frames_of(call.b.audio(), [1000, 1500] if not mix else [1000, 1500])
    # the prompt's run: 50 frames (1 s) of 1500 Hz, the caller's tone before and after
    runs = []
    for x in fr:
        if runs and runs[-1][0] == x:
            runs[-1][1] += 1
        else:
            runs.append([x, 1])
    ctx.log("callee heard (frequency, frames): %s", runs)
    if not mix:
        prompt_frames = sum(c for x, c in runs if x == 1500)
        longest = max([c for x, c in runs if x == 1500] or [0])
        if not 46 - skipped["b"] <= longest <= 51 or prompt_frames > 52:
            problems.append("prompt heard in %d frames (longest run %d), not 50"
                            % (prompt_frames, longest))
        i = max(range(len(runs)), key=lambda k: runs[k][1] if runs[k][0] == 1500 else -1)
        before = sum(c for x, c in runs[:i] if x == 1000)
        after = sum(c for x, c in runs[i + 1:] if x == 1000)
        if before < 50 or after < 50:
            problems.append("the bridged tone around the prompt: %d frames before, %d after"
                            % (before, after))
    else:
        # both tones during the prompt: a two-line spectrum, so check by correlation
        aud = call.b.audio()
        hits = 0
        for i in range(0, len(aud) - 159, 160):
            seg = aud[i:i + 160]
            e15 = abs(sum(v * complex(math.cos(2 * math.pi * 1500 * k / RATE),
                                      -math.sin(2 * math.pi * 1500 * k / RATE))
                          for k, v in enumerate(seg)))
            e10 = abs(sum(v * complex(math.cos(2 * math.pi * 1000 * k / RATE),
                                      -math.sin(2 * math.pi * 1000 * k / RATE))
                          for k, v in enumerate(seg)))
            amp = 32767 * 10 ** (LEVEL / 20) * 80   # a full-level tone's bin, 160 samples
            if e15 > amp / 2 and e10 > amp / 2:
                hits += 1
        ctx.log("frames with both 1000 and 1500 Hz: %d", hits)
        if not 44 - skipped["b"] <= hits <= 52:
            problems.append("mixed prompt: %d frames carry both tones, not ~50" % hits)
    heard_a = frames_of(call.a.audio(), [600])
    share_a = sum(1 for x in heard_a if x == 600) / max(1, len(heard_a))
    ctx.log("caller heard 600 Hz in %.0f %% of frames", share_a * 100)
    if share_a < 0.85:
        problems.append("the caller heard the callee in only %.0f %% of frames" % (share_a * 100))
    p, _ = check_stream(sorted(call.a.got, key=lambda q: q[0]), "to the caller",
                        skipped["a"])
    problems += p
    if problems:
        raise AssertionError("; ".join(problems))


def case_play(ctx):
    play_case(ctx, False)


def case_play_mix(ctx):
    play_case(ctx, True)


def case_play_xcode(ctx):
    """The callee speaks PCMA, the caller PCMU: the prompt goes through the
    transcoding path's stream, which goes on generating after it."""
    play_case(ctx, False, pt_b=8)


def case_play_errors(ctx):
    call = Call(ctx)
    bad = {}
    bad["rate"] = ctx.path("p22k.wav")
    write_wav(bad["rate"], tone(1000, LEVEL, 22050), rate=22050)
    bad["stereo"] = ctx.path("stereo.wav")
    write_wav(bad["stereo"], tone(1000, LEVEL, 16000), channels=2)
    bad["notwav"] = ctx.path("notwav.wav")
    with open(bad["notwav"], "wb") as f:
        f.write(b"RIFX" + os.urandom(200))
    bad["missing"] = ctx.path("missing.wav")
    good = ctx.path("good.wav")
    write_wav(good, tone(1000, LEVEL, 8000))
    want = {"rate": "22050 Hz", "stereo": "mono", "notwav": "", "missing": "No such file"}
    problems = []
    for k, path in bad.items():
        try:
            call.t.ctl("play", call.id, "b", path)
            problems.append("play of %s accepted" % k)
        except trunxd.TrunxdError as e:
            ctx.log("%s: %s", k, str(e).strip())
            if "bad_request" not in str(e) or want[k] not in str(e):
                problems.append("play of %s: unclear error %s" % (k, e))
    for args, what in (((call.id, "c", good), "leg c"), (("0123456789abcdef", "b", good),
                                                        "unknown call"),
                       ((call.id, "b", good, "--loud"), "unknown option")):
        try:
            call.t.ctl("play", *args)
            problems.append("play with %s accepted" % what)
        except trunxd.TrunxdError as e:
            ctx.log("%s: %s", what, str(e).strip())
            if what == "unknown call" and "not_found" not in str(e):
                problems.append("unknown call: %s" % e)
    for args in (("record", call.id, "/nonexistent-dir/x.wav"), ("record", call.id, "--stop")):
        try:
            call.t.ctl(*args)
            problems.append("%s accepted" % " ".join(args))
        except trunxd.TrunxdError as e:
            ctx.log("%s: %s", " ".join(args), str(e).strip())
    if call.t.events("call.play"):
        problems.append("a refused prompt was played: %s" % call.t.events("call.play"))
    # by trunxctl: one recording at a time, stopped on demand
    rec = ctx.path("byctl.wav")
    call.t.ctl("record", call.id, rec)
    try:
        call.t.ctl("record", call.id, ctx.path("second.wav"))
        problems.append("a second recording was accepted")
    except trunxd.TrunxdError as e:
        ctx.log("second record: %s", str(e).strip())
        if "already running" not in str(e):
            problems.append("second record: unclear error %s" % e)
    call.t.ctl("record", call.id, "--stop")
    got = call.t.wait_events("call.record", 1, 5)
    # The writer thread renames REC.part to REC a moment after call.record.
    procs.wait_until(lambda: os.path.exists(rec), 5, 0.05)
    if len(got) != 1 or got[0].get("path") != rec or not os.path.exists(rec):
        problems.append("record --stop: call.record %s, file %s" % (got, os.path.exists(rec)))
    call.hangup()
    if problems:
        raise AssertionError("; ".join(problems))


# ---- live AMD ----------------------------------------------------------------------------

def corpus_clips():
    manifest = os.environ.get("TRUNX_AMD_MANIFEST")
    if not manifest or not os.path.exists(manifest):
        raise AssertionError("no AMD corpus manifest (TRUNX_AMD_MANIFEST=%s)" % manifest)
    clips = []
    with open(manifest) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fld = line.rstrip("\n").split("\t")
            clips.append({"name": fld[0], "path": fld[1], "expect": fld[2], "cat": fld[3],
                          "beep": int(fld[5]), "cond": fld[8]})
    return clips


def offline(ctx, clip):
    """trunx-amd's verdict on the clip (the same detector, from a file)."""
    import subprocess
    tool = os.path.join(os.path.dirname(ctx.trunxctl_path), "..", "trunx-amd", "trunx-amd")
    p = subprocess.run([tool, clip["path"]], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return None
    f = p.stdout.split()
    return {"cls": f[0], "beep": int(f[4].split("=")[1]) if len(f) > 4 else None}


def amd_case(ctx, want, by_route):
    clips = [c for c in corpus_clips() if c["expect"] == want and "noise=none" in c["cond"] and
             "codec=pcm" in c["cond"] and (c["beep"] > 0) == (want == "MACHINE")]
    pick = None
    clips.sort(key=lambda c: (c["beep"], c["name"]))   # the shortest call first
    for c in clips[:12]:
        v = offline(ctx, c)
        ctx.log("%s: offline %s", c["name"], v)
        if v and v["cls"] == want and (want != "MACHINE" or v["beep"]):
            pick, ref = c, v
            break
    if not pick:
        raise AssertionError("no %s clip that trunx-amd classifies right offline" % want)
    s, rate = baresip.read_wav(pick["path"])
    if rate != RATE:
        raise AssertionError("%s: %d Hz" % (pick["path"], rate))
    s = s + [0] * (RATE * 2)   # two more seconds of line silence after the clip

    def conf(c):
        if by_route:
            c.route["amd"] = True
    call = Call(ctx, conf)
    if not by_route:
        call.t.ctl("amd", call.id)
    t0 = time.monotonic() + 0.05
    call.b.send(call.to_b, s, (), t0, call.pt_b)
    call.a.send(call.to_a, [0] * len(s), (), t0)
    amd = call.t.wait_events("call.amd", 1, len(s) / RATE + 5)
    beep = call.t.wait_events("call.beep", 1, len(s) / RATE + 3) if want == "MACHINE" else []
    call.hangup()
    ctx.log("clip %s (%s, beep end %s ms): call.amd %s, call.beep %s; offline %s",
            pick["name"], want, pick["beep"], amd, beep, ref)
    problems = []
    if len(amd) != 1 or amd[0].get("result") != want or amd[0].get("leg") != "b":
        problems.append("call.amd %s, expected %s on leg b" % (amd, want))
    elif not (0.5 <= amd[0].get("confidence", 0) <= 0.99) or "reason" not in amd[0] \
            or "decision_ms" not in amd[0] or not amd[0].get("cost_ns_per_frame"):
        problems.append("call.amd fields: %s" % amd[0])
    if want == "MACHINE":
        if len(beep) != 1 or not beep[0].get("beep"):
            problems.append("call.beep %s, expected the beep" % beep)
        elif not -60 <= beep[0]["beep_end_ms"] - pick["beep"] <= 600:
            # time 0 is the answer; the clip starts a little later (set-up, trunxctl)
            problems.append("beep end at %s ms from answer, the clip's at %s ms"
                            % (beep[0]["beep_end_ms"], pick["beep"]))
    if problems:
        raise AssertionError("; ".join(problems))


def case_amd_machine(ctx):
    amd_case(ctx, "MACHINE", True)


def case_amd_human(ctx):
    amd_case(ctx, "HUMAN", False)


if __name__ == "__main__":
    sys.exit(case.main(globals()))
