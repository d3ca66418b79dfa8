#!/usr/bin/env python3
"""talkoff-corpus.py -- writes a DTMF talk-off corpus: speech from espeak-ng (many
voices, languages, rates and pitches; texts full of spoken digits) and music-like
signals from sox (chords and melodies of rich waveforms), all 8 kHz mono 16-bit WAV,
some band-limited to the telephone band, some with reverberation, some G.711-coded.

    talkoff-corpus.py --seed N --out DIR [--speech N] [--music N]

The same seed always gives the same files. DIR is reused when it already holds the
corpus for the same arguments (a stamp file records them), so tests can cache it in
the build directory. Prints the list of files, one per line.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

TEXTS_EN = [
    "Please enter your account number followed by the pound key.",
    "My number is {num}. Call me back after six.",
    "One two three four five six seven eight nine zero.",
    "Press one for sales, two for support, three for billing, or stay on the line.",
    "The code is {num}, I repeat, {num}.",
    "Hello? Hello, who is this? Sorry, I can't hear you very well.",
    "Nine nine nine, eight eight eight, seven seven seven, six six six.",
    "Your reference is {num} and your PIN is {short}.",
    "We are open from nine to five, Monday to Friday.",
    "Thank you for calling. All our agents are busy right now.",
    "Oh, oh, oh! Ah, ah, eee, ooo, mmm, hmm.",
    "Four hundred and seventy two thousand, nine hundred and one.",
    "Yes, yes, no, maybe. I'll think about it and call you on {num}.",
    "The weather tomorrow will be sunny with a high of twenty six degrees.",
    "Zero zero four four, two zero, seven nine four six, zero nine five eight.",
    "Hi, you have reached {name}. Leave a message after the tone.",
]
TEXTS_OTHER = {
    "de": ["Bitte geben Sie Ihre Kundennummer ein: {num}.",
           "Eins zwei drei vier fünf sechs sieben acht neun null.",
           "Guten Tag, hier ist der Anrufbeantworter von {name}."],
    "fr": ["Veuillez composer votre code secret, {short}, puis dièse.",
           "Un deux trois quatre cinq six sept huit neuf zéro.",
           "Bonjour, vous êtes bien chez {name}, laissez un message."],
    "es": ["Marque uno para ventas y dos para soporte. Su número es {num}.",
           "Uno dos tres cuatro cinco seis siete ocho nueve cero."],
    "it": ["Uno due tre quattro cinque sei sette otto nove zero.",
           "Il suo codice cliente è {num}."],
    "pt": ["Um dois três quatro cinco seis sete oito nove zero."],
    "nl": ["Een twee drie vier vijf zes zeven acht negen nul."],
    "pl": ["Jeden dwa trzy cztery pięć sześć siedem osiem dziewięć zero."],
}
EN_VOICES = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc"]
VARIANTS = ["", "+m1", "+m2", "+m3", "+m4", "+m7", "+f1", "+f2", "+f3", "+f4", "+f5",
            "+klatt", "+klatt2", "+croak", "+Annie", "+belinda", "+Andrea"]
NAMES = ["Anna", "Pierre", "Maria", "John Smith", "Kenji", "Olga"]
WAVES_RICH = ["square", "sawtooth", "trapezium"]
WAVES_ALL = WAVES_RICH + ["triangle", "pluck"]


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def text_for(rng, lang):
    num = " ".join(str(rng.randrange(10)) for _ in range(rng.randrange(4, 11)))
    short = " ".join(str(rng.randrange(10)) for _ in range(4))
    pool = TEXTS_EN if lang == "en" else TEXTS_OTHER[lang]
    parts = [rng.choice(pool) for _ in range(rng.randrange(1, 3))]
    return " ".join(parts).format(num=num, short=short, name=rng.choice(NAMES))


def finish(rng, src, dst, tmp):
    """Resample to 8 kHz and apply a random channel: band, level, reverb, G.711."""
    effects = ["rate", "-v", "8000"]
    if rng.random() < 0.5:
        effects += ["sinc", "300-3400"]
    if rng.random() < 0.25:
        effects += ["reverb", str(rng.randrange(20, 70))]
    # Peak level from -1 to -24 dBFS: loud and quiet talkers.
    effects += ["norm", str(-rng.uniform(1, 24))]
    mid = os.path.join(tmp, "mid.wav")
    run(["sox", "-q", src, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
         mid] + effects)
    codec = rng.choice([None, None, "u-law", "a-law"])
    if codec:
        g = os.path.join(tmp, "g711.wav")
        run(["sox", "-q", mid, "-e", codec, g])
        run(["sox", "-q", g, "-e", "signed-integer", "-b", "16", dst])
    else:
        shutil.move(mid, dst)


def speech(rng, i, out, tmp):
    lang = rng.choice(["en"] * 6 + sorted(TEXTS_OTHER))
    voice = rng.choice(EN_VOICES) if lang == "en" else lang
    voice += rng.choice(VARIANTS)
    raw = os.path.join(tmp, "raw.wav")
    run(["espeak-ng", "-v", voice, "-s", str(rng.randrange(110, 240)),
         "-p", str(rng.randrange(10, 99)), "-w", raw, text_for(rng, lang)])
    dst = os.path.join(out, "speech-%03d.wav" % i)
    finish(rng, raw, dst, tmp)
    return dst


def music(rng, i, out, tmp):
    """About 4 s: chords (3-4 notes, any wave) or dyads/melodies of rich waves."""
    segs = []
    total = 0.0
    while total < 4.0:
        dur = rng.uniform(0.12, 0.6)
        root = rng.randrange(-14, 10)  # semitones from A4 (440 Hz)
        if rng.random() < 0.5:
            wave = rng.choice(WAVES_ALL)
            notes = [root, root + rng.choice([3, 4]), root + 7]
            if rng.random() < 0.5:
                notes.append(root + rng.choice([10, 11, 12]))
        else:
            wave = rng.choice(WAVES_RICH)
            notes = [root, root + rng.randrange(3, 20)]
        seg = os.path.join(tmp, "seg%03d.wav" % len(segs))
        cmd = ["sox", "-q", "-n", "-r", "8000", "-c", "1", "-b", "16", seg, "synth",
               "%.3f" % dur]
        for n in notes:
            cmd += [wave, "%%%d" % n]
        cmd += ["fade", "q", "0.01", "%.3f" % dur, "0.03", "gain", "-8"]
        run(cmd)
        segs.append(seg)
        total += dur
    raw = os.path.join(tmp, "music.wav")
    run(["sox", "-q"] + segs + [raw])
    for s in segs:
        os.unlink(s)
    dst = os.path.join(out, "music-%03d.wav" % i)
    finish(rng, raw, dst, tmp)
    return dst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--speech", type=int, default=60)
    ap.add_argument("--music", type=int, default=20)
    a = ap.parse_args()
    stamp = os.path.join(a.out, ".stamp")
    want = "seed=%d speech=%d music=%d v1\n" % (a.seed, a.speech, a.music)
    names = ["speech-%03d.wav" % i for i in range(a.speech)] + \
            ["music-%03d.wav" % i for i in range(a.music)]
    os.makedirs(a.out, exist_ok=True)
    if os.path.exists(stamp) and open(stamp).read() == want:
        for n in names:
            print(os.path.join(a.out, n))
        return 0
    if os.path.exists(stamp):
        os.unlink(stamp)
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.speech):
            print(speech(rng, i, a.out, tmp))
        for i in range(a.music):
            print(music(rng, i, a.out, tmp))
    with open(stamp, "w") as f:
        f.write(want)
    return 0


if __name__ == "__main__":
    sys.exit(main())
