#!/usr/bin/env python3
"""dtmf_test.py -- black-box tests of trunx-dtmf on WAV files made here.

    dtmf_test.py --tool PATH --workdir DIR --corpus-script PATH CASE

Cases:
  digits    digit sequences in PCM16, mu-law and A-law WAVs (and between speech):
            exactly the digits on line 1, each start within 3 ms on the lines after
  errors    other rates, stereo, 8-bit, not a WAV, missing file, no argument: a
            message on stderr and a non-zero status, never digits; silence: an
            empty line
  talkoff   the talk-off corpus of the test seed (speech from espeak-ng in many
            voices, with spoken digits, and music from sox; the detector was tuned
            on other seeds): no digit in any file
"""
import argparse
import math
import os
import random
import struct
import subprocess
import sys
import wave

RATE = 8000
FREQ = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}
TEST_SEED = 2


def amp(dbm0):
    """Peak amplitude of a sine at dbm0 (a full-scale sine is +3.14 dBm0)."""
    return 32767 * 10 ** ((dbm0 - 3.14) / 20)


def write_wav(path, samples, rate=RATE, channels=1, width=2):
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            frames = b"".join(struct.pack("<h", max(-32768, min(32767, int(round(s)))))
                              * channels for s in samples)
        else:
            frames = bytes(max(0, min(255, int(round(s / 256)) + 128))
                           for s in samples for _ in range(channels))
        w.writeframes(frames)


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        data = w.readframes(w.getnframes())
    return list(struct.unpack("<%dh" % (len(data) // 2), data))


def dtmf_signal(plan, rate=RATE, noise_dbm0=None, seed=0):
    """plan: list of (digit or None, ms, level dBm0). Returns samples and starts (ms)."""
    rng = random.Random(seed)
    out, starts, t = [], [], 0.0
    for digit, ms, level in plan:
        n = int(ms * rate / 1000)
        if digit:
            starts.append((digit, t))
            f1, f2 = FREQ[digit]
            a = amp(level)
            p1, p2 = rng.uniform(0, 6.28), rng.uniform(0, 6.28)
            out += [a * (math.sin(2 * math.pi * f1 * i / rate + p1) +
                         math.sin(2 * math.pi * f2 * i / rate + p2)) for i in range(n)]
        else:
            out += [0.0] * n
        t += ms
    if noise_dbm0 is not None:
        sd = amp(noise_dbm0) / math.sqrt(2)
        out = [s + rng.gauss(0, sd) for s in out]
    return out, starts


def run_tool(tool, path, *extra):
    return subprocess.run([tool, *extra, path], capture_output=True, text=True, timeout=120)


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def expect_digits(tool, path, starts, label):
    r = run_tool(tool, path)
    check(r.returncode == 0, "%s: exit %d, stderr %r" % (label, r.returncode, r.stderr))
    lines = r.stdout.split("\n")
    want = "".join(d for d, _ in starts)
    check(lines[0] == want, "%s: digits %r, want %r" % (label, lines[0], want))
    for (d, ms), line in zip(starts, lines[1:]):
        got_d, got_ms = line.split()
        check(got_d == d and abs(int(got_ms) - ms) <= 3,
              "%s: line %r, want %s at %.1f ms" % (label, line, d, ms))
    check(len([x for x in lines[1:] if x]) == len(starts), "%s: extra lines %r" %
          (label, lines))
    print("ok   %-34s %s" % (label, want))


def sox(*args):
    subprocess.run(["sox", "-q", *args], check=True)


def case_digits(a):
    plan = [(None, 37, 0)]
    for i, d in enumerate("0123456789*#ABCD"):
        plan += [(d, 40 + 7 * (i % 3), -6 - i), (None, 40 + 11 * (i % 4), 0)]
    sig, starts = dtmf_signal(plan, noise_dbm0=-45, seed=1)
    pcm = os.path.join(a.workdir, "digits-pcm16.wav")
    write_wav(pcm, sig)
    expect_digits(a.tool, pcm, starts, "pcm16 16 digits, 40-54 ms")
    for enc in ("u-law", "a-law"):
        g = os.path.join(a.workdir, "digits-%s.wav" % enc)
        sox(pcm, "-e", enc, g)
        expect_digits(a.tool, g, starts, "%s 16 digits" % enc)

    # Long tones, and a digit repeated after a 40 ms pause.
    sig, starts = dtmf_signal([(None, 20, 0), ("5", 1500, -10), (None, 40, 0),
                               ("5", 45, -10), (None, 40, 0), ("5", 900, -20),
                               (None, 100, 0)], seed=2)
    p = os.path.join(a.workdir, "long.wav")
    write_wav(p, sig)
    expect_digits(a.tool, p, starts, "long tones and 40 ms pauses")

    # Digits between spoken prompts (an IVR recording), G.711 round trip.
    speech = os.path.join(a.workdir, "prompt.wav")
    subprocess.run(["espeak-ng", "-v", "en+f3", "-w", os.path.join(a.workdir, "raw.wav"),
                    "Please enter your PIN, then press the pound key."], check=True)
    sox(os.path.join(a.workdir, "raw.wav"), "-r", "8000", "-c", "1", "-b", "16", speech,
        "norm", "-6")
    talk = read_wav(speech)
    tones, tstarts = dtmf_signal([("4", 60, -12), (None, 60, 0), ("0", 60, -12),
                                  (None, 60, 0), ("9", 60, -12), (None, 60, 0),
                                  ("1", 60, -12), (None, 60, 0), ("#", 80, -12)], seed=3)
    mix = talk + [0.0] * 400 + tones + [0.0] * 400 + talk
    off = (len(talk) + 400) * 1000 / RATE
    mixed = os.path.join(a.workdir, "ivr.wav")
    write_wav(os.path.join(a.workdir, "ivr16.wav"), mix)
    sox(os.path.join(a.workdir, "ivr16.wav"), "-e", "u-law", mixed)
    expect_digits(a.tool, mixed, [(d, ms + off) for d, ms in tstarts],
                  "digits between speech, mu-law")


def expect_refused(tool, path, label, words):
    r = run_tool(tool, path)
    check(r.returncode == 1, "%s: exit %d (want 1), stdout %r" % (label, r.returncode,
                                                                  r.stdout))
    check(r.stdout == "", "%s: printed %r" % (label, r.stdout))
    for w in words:
        check(w in r.stderr, "%s: message %r lacks %r" % (label, r.stderr, w))
    print("ok   %-34s %s" % (label, r.stderr.strip()))


def case_errors(a):
    sig16k, _ = dtmf_signal([(None, 30, 0), ("7", 100, -10), (None, 60, 0)], rate=16000)
    p = os.path.join(a.workdir, "rate16k.wav")
    write_wav(p, sig16k, rate=16000)
    expect_refused(a.tool, p, "16 kHz", ["16000", "8000"])
    sig, _ = dtmf_signal([(None, 30, 0), ("7", 100, -10), (None, 60, 0)])
    p = os.path.join(a.workdir, "stereo.wav")
    write_wav(p, sig, channels=2)
    expect_refused(a.tool, p, "stereo", ["2 channels", "mono"])
    p = os.path.join(a.workdir, "pcm8.wav")
    write_wav(p, sig, width=1)
    expect_refused(a.tool, p, "8-bit PCM", ["8 bits"])
    p = os.path.join(a.workdir, "junk.wav")
    with open(p, "wb") as f:
        f.write(b"this is not a wave file at all" * 10)
    expect_refused(a.tool, p, "not a WAV", ["RIFF"])
    expect_refused(a.tool, os.path.join(a.workdir, "missing.wav"), "missing file",
                   ["No such file"])
    r = subprocess.run([a.tool], capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and "usage" in r.stderr, "no argument: exit %d" % r.returncode)
    print("ok   %-34s exit 2" % "no argument")
    p = os.path.join(a.workdir, "silence.wav")
    write_wav(p, [0.0] * 8000)
    r = run_tool(a.tool, p)
    check(r.returncode == 0 and r.stdout == "\n", "silence: %d %r" % (r.returncode, r.stdout))
    print("ok   %-34s empty line" % "silence")


def case_talkoff(a):
    out = os.path.join(a.workdir, "talkoff-seed%d" % TEST_SEED)
    r = subprocess.run([sys.executable, a.corpus_script, "--seed", str(TEST_SEED),
                        "--speech", "150", "--music", "50", "--out", out],
                       capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, "corpus: %s" % r.stderr)
    files = r.stdout.split()
    check(len(files) == 200, "corpus: %d files" % len(files))
    seconds, hits = 0.0, []
    for f in files:
        with wave.open(f, "rb") as w:
            seconds += w.getnframes() / w.getframerate()
        t = run_tool(a.tool, f)
        check(t.returncode == 0, "%s: exit %d %s" % (f, t.returncode, t.stderr))
        if t.stdout.split("\n")[0]:
            hits.append("%s: %r" % (os.path.basename(f), t.stdout.split("\n")[0]))
    print("talk-off: %d files, %.0f s of speech and music, %d digits" %
          (len(files), seconds, len(hits)))
    check(not hits, "talk-off: " + "; ".join(hits))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--corpus-script", required=True)
    ap.add_argument("case", choices=["digits", "errors", "talkoff"])
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    try:
        {"digits": case_digits, "errors": case_errors, "talkoff": case_talkoff}[a.case](a)
    except Fail as e:
        print("FAIL %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
