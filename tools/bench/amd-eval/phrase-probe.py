#!/usr/bin/env python3
"""phrase-probe — can a local recogniser spot voicemail phrases in the AMD corpus?

Measures the optional phrase-spotting layer issue 7 suggests ("leave a message",
"after the tone", "not available" with pocketsphinx and its en-us model) before any
of it is built into dsp/amd: runs pocketsphinx_continuous in keyword-spotting mode
over every English clip of a corpus manifest (tools/bench/amd-corpus), at several
detection thresholds, and prints for each how many greetings (machines) and how
many people's answers (humans) had a phrase spotted, and how many of the greetings
the acoustic path gets wrong (amd-eval --list output, optional) it would catch.
A control line runs the same spotter on the phrases as espeak-ng renders them,
at 16 kHz with no telephone channel, to tell the voice from the channel.

Not part of the test suite, and pocketsphinx is not in tools/deps.sh (no layer is
built on it; docs/PERFORMANCE.md gives the figures). To run it:
    apt-get install pocketsphinx pocketsphinx-en-us sox espeak-ng
    build/tools/bench/amd-eval/amd-eval --only adaptive --list MANIFEST > /tmp/list
    tools/bench/amd-eval/phrase-probe.py MANIFEST [--list /tmp/list]

The en-us model is a 16 kHz one: clips are resampled to 16 kHz (the band above
4 kHz stays empty, as on any telephone line).
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys
import tempfile

PHRASES = ["leave a message", "leave your", "leave me a message", "after the tone",
           "after the beep", "you have reached", "you've reached", "not available",
           "recording", "call you back", "please leave"]
THRESHOLDS = ["1e-5", "1e-10", "1e-20", "1e-30"]


def spot(wav16, kwfiles):
    out = {}
    for th, kw in kwfiles.items():
        p = subprocess.run(["pocketsphinx_continuous", "-infile", wav16, "-kws", kw,
                            "-logfn", "/dev/null"], capture_output=True, text=True)
        out[th] = p.stdout.split()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest")
    ap.add_argument("--list", help="amd-eval --list output: grade the clips it gets wrong")
    a = ap.parse_args()
    wrong = set()
    if a.list:
        with open(a.list) as f:
            wrong = {ln.split()[1] for ln in f if "WRONG" in ln}
    clips = []
    with open(a.manifest) as f:
        for ln in f:
            if ln.startswith("#"):
                continue
            fld = ln.rstrip("\n").split("\t")
            if len(fld) > 11 and fld[9] == "en" and fld[4] == "-":
                clips.append(fld)
    with tempfile.TemporaryDirectory() as tmp:
        kwfiles = {}
        for th in THRESHOLDS:
            kwfiles[th] = os.path.join(tmp, f"kw{th}.txt")
            with open(kwfiles[th], "w") as f:
                f.write("".join(f"{p} /{th}/\n" for p in PHRASES))

        def one(fld):
            wav16 = os.path.join(tmp, fld[0] + ".wav")
            subprocess.run(["sox", "-q", fld[1], "-r", "16000", wav16], check=True)
            try:
                return fld, spot(wav16, kwfiles)
            finally:
                os.unlink(wav16)

        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            res = list(ex.map(one, clips))

        # Control: the greeting phrases as espeak-ng says them, clean, 16 kHz.
        control = {th: 0 for th in THRESHOLDS}
        texts = ["Please leave a message after the tone.", "You have reached Sam.",
                 "Leave your number and I'll call you back.", "Not available, leave a message."]
        for i, t in enumerate(texts):
            raw, wav16 = os.path.join(tmp, f"c{i}.raw.wav"), os.path.join(tmp, f"c{i}.wav")
            subprocess.run(["espeak-ng", "-v", "en-us", "-w", raw, t], check=True)
            subprocess.run(["sox", "-q", raw, "-r", "16000", wav16], check=True)
            for th, words in spot(wav16, kwfiles).items():
                control[th] += bool(words)

    print(f"{a.manifest}: {len(res)} English clips")
    for th in THRESHOLDS:
        m = [bool(o[th]) for f, o in res if f[2] == "MACHINE"]
        h = [bool(o[th]) for f, o in res if f[2] == "HUMAN"]
        mw = [bool(o[th]) for f, o in res if f[2] == "MACHINE" and f[0] in wrong]
        line = (f"threshold {th:>6}: greetings spotted {sum(m)}/{len(m)}, people's answers "
                f"spotted {sum(h)}/{len(h)}, clean espeak-ng phrases {control[th]}/{len(texts)}")
        if a.list:
            line += f", greetings the acoustic path gets wrong spotted {sum(mw)}/{len(mw)}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
