#!/usr/bin/env python3
"""amd-study — can a small learned layer improve the AMD's turn rules?

Runs amd-eval, built with -DAMD_TRACE_FEATURES (dsp/amd/amd_turn.c then prints the
turn's features on stderr: at 600 ms and 1 s of silence after a phrase, and when a
HUMAN wait is reached), over the tuning seeds and one checking seed, and measures:

  1. each seed's figures and, per shape, errors and the median decision time;
  2. at the HUMAN decision: each feature's AUC (greetings against people among the
     clips called HUMAN), then a logistic regression trained on the tuning seeds,
     and what flipping its highest-scored clips to MACHINE would gain and cost;
  3. an early HUMAN: a logistic regression at 600 ms / 1 s of silence, for turns
     whose wait is 1.2 s or more, and the accuracy and median decision it would give.

Plain Python (no numpy): a few thousand rows. Seed 3 (published) is never read.
Usage:
  cmake -S . -B build-trace -DCMAKE_BUILD_TYPE=RelWithDebInfo \\
        -DCMAKE_C_FLAGS=-DAMD_TRACE_FEATURES && cmake --build build-trace --target amd-eval
  tools/bench/amd-train/amd-study.py --eval build-trace/tools/bench/amd-eval/amd-eval \\
        --corpus build/amd-corpus --train 1,4,5,6,7 --check 2
(each seed made first with tools/bench/amd-corpus/amd-corpus.py --seed N).
"""
import argparse
import math
import os
import subprocess
import sys

FEATURES = ["span", "phrases", "rises", "q", "pdur", "voiced", "lvlstd", "f0std",
            "pitched", "firstdur", "firstgap", "vshare"]


def run_seed(ev, corpus, seed, cache):
    """amd-eval's decisions and the traces of one seed: [(clip, [trace dicts])]."""
    man = os.path.join(corpus, f"seed-{seed}", "manifest.tsv")
    out_p = os.path.join(cache, f"study-{seed}.out")
    err_p = os.path.join(cache, f"study-{seed}.err")
    if not (os.path.exists(out_p) and os.path.getmtime(out_p) > os.path.getmtime(ev)):
        with open(out_p, "w") as o, open(err_p, "w") as e:
            subprocess.run([ev, "--only", "adaptive", "--list", man], stdout=o, stderr=e,
                           check=True)
    clips, summary = [], []
    for line in open(out_p):
        f = line.split()
        if f and f[0] == "adaptive" and len(f) > 4:
            kv = dict(x.split("=", 1) for x in f[4:] if "=" in x)
            clips.append({"name": f[1], "cat": f[2], "lang": f[3], "expect": kv["expect"],
                          "got": kv["got"], "reason": kv["reason"],
                          "ms": int(kv["decision_ms"])})
        elif line.startswith(("clips ", "humans called MACHINE among", "decision ms")):
            summary.append(line.strip())
    traces = []
    for line in open(err_p):
        f = line.split()
        if len(f) < 2 or f[0] != "TRACE":
            continue
        if f[1] == "CLIP":
            traces.append([])
            continue
        d = {"tag": f[1]}
        d.update({k: float(v) for k, v in (x.split("=") for x in f[2:])})
        d["vshare"] = d["voiced"] / max(d["span"], 1.0)
        traces[-1].append(d)
    if len(traces) != len(clips):
        sys.exit(f"amd-study: seed {seed}: {len(traces)} traced streams for {len(clips)} "
                 "clips (is amd-eval built with -DAMD_TRACE_FEATURES?)")
    for c, t in zip(clips, traces):
        c["trace"] = t
    return clips, summary


def auc(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    win = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return win / len(pos) / len(neg)


class Logistic:
    """L2-regularised logistic regression on standardised features, by gradient
    descent; pos_weight weighs the positive class's errors."""

    def __init__(self, rows, labels, l2=1.0, steps=800, rate=0.1, pos_weight=1.0):
        n = len(rows[0])
        self.mu = [sum(r[i] for r in rows) / len(rows) for i in range(n)]
        self.sd = [math.sqrt(sum((r[i] - self.mu[i]) ** 2 for r in rows) / len(rows)) or 1.0
                   for i in range(n)]
        z = [self.std(r) for r in rows]
        self.w, self.b = [0.0] * n, 0.0
        for _ in range(steps):
            gw, gb = [0.0] * n, 0.0
            for x, y in zip(z, labels):
                p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, self.raw(x)))))
                e = (p - y) * (pos_weight if y else 1.0)
                gb += e
                for i in range(n):
                    gw[i] += e * x[i]
            self.b -= rate * gb / len(z)
            for i in range(n):
                self.w[i] -= rate * (gw[i] + l2 * self.w[i]) / len(z)

    def std(self, r):
        return [(v - m) / s for v, m, s in zip(r, self.mu, self.sd)]

    def raw(self, z):
        return self.b + sum(w * x for w, x in zip(self.w, z))

    def score(self, r):
        return self.raw(self.std(r))


def median(v):
    v = sorted(v)
    return v[(len(v) - 1) // 2] if v else 0


def figures(clips):
    n = len(clips)
    ok = sum(c["got"] == c["expect"] for c in clips)
    hum = [c for c in clips if c["expect"] == "HUMAN"]
    mac = [c for c in clips if c["expect"] == "MACHINE"]
    full = [c for c in hum if c["cat"] == "human_sentence"]
    return (f"accuracy {100.0 * ok / n:.1f} %, humans -> MACHINE "
            f"{sum(c['got'] == 'MACHINE' for c in hum)}/{len(hum)}, full sentences "
            f"{sum(c['got'] == 'MACHINE' for c in full)}/{len(full)}, machines -> HUMAN "
            f"{sum(c['got'] == 'HUMAN' for c in mac)}/{len(mac)}, median "
            f"{median([c['ms'] for c in clips])} ms")


def first_trace(c, tag):
    t = [d for d in c["trace"] if d["tag"] == tag]
    return t[0] if t else None


def vec(d):
    return [d[k] for k in FEATURES]


def study_wait(train, check):
    """At the HUMAN decision: greetings (1) against people (0) among clips called HUMAN."""
    def rows(clips):
        out = []
        for c in clips:
            d = first_trace(c, "WAIT")
            if d and c["got"] == "HUMAN":
                out.append((vec(d), 1 if c["expect"] == "MACHINE" else 0))
        return out
    rt, rc = rows(train), rows(check)
    print(f"\n== at the HUMAN decision: {len(rt)} clips called HUMAN on the tuning seeds "
          f"({sum(y for _, y in rt)} greetings), {len(rc)} on the checking seed "
          f"({sum(y for _, y in rc)})")
    for i, k in enumerate(FEATURES):
        print(f"  AUC {k:9s} tune {auc([x[i] for x, _ in rt], [y for _, y in rt]):.2f}  "
              f"check {auc([x[i] for x, _ in rc], [y for _, y in rc]):.2f}")
    lr = Logistic([x for x, _ in rt], [y for _, y in rt])
    st = [lr.score(x) for x, _ in rt]
    sc = [lr.score(x) for x, _ in rc]
    print("  logistic regression: weights " +
          ", ".join(f"{k} {w:+.2f}" for k, w in zip(FEATURES, lr.w)) + f", bias {lr.b:+.2f}")
    print(f"  AUC tune {auc(st, [y for _, y in rt]):.3f}, check {auc(sc, [y for _, y in rc]):.3f}")
    people = sorted((s for s, (_, y) in zip(st, rt) if not y), reverse=True)
    for k in (0, 2, 4, 8):
        th = people[k] if k < len(people) else float("-inf")
        gm = sum(1 for s, (_, y) in zip(st, rt) if y and s > th)
        gp = sum(1 for s, (_, y) in zip(st, rt) if not y and s > th)
        cm = sum(1 for s, (_, y) in zip(sc, rc) if y and s > th)
        cp = sum(1 for s, (_, y) in zip(sc, rc) if not y and s > th)
        print(f"  flip to MACHINE above {th:+.2f}: tune {gm} greetings for {gp} people, "
              f"check {cm} greetings for {cp} people")


def study_early(train, check, tag, min_wait=1200):
    """An early HUMAN at tag's silence: would a logistic regression find turns safe to
    decide before their wait? Label 1: a greeting the detector catches today (an early
    HUMAN would lose it); greetings already called HUMAN are left out of training."""
    def rows(clips, training):
        out = []
        for ci, c in enumerate(clips):
            for d in c["trace"]:
                if d["tag"] != tag or d["wait"] < min_wait:
                    continue
                y = 1 if c["expect"] == "MACHINE" else 0
                if training and y and c["got"] == "HUMAN":
                    continue
                out.append((ci, vec(d), y, int(d["t"])))
        return out
    rt = rows(train, True)
    lr = Logistic([x for _, x, _, _ in rt], [y for _, _, y, _ in rt], pos_weight=3.0)
    rc = rows(check, False)
    print(f"\n== an early HUMAN at {tag} (turns whose wait is >= {min_wait} ms): "
          f"AUC tune {auc([lr.score(x) for _, x, _, _ in rt], [y for _, _, y, _ in rt]):.3f}, "
          f"check {auc([lr.score(x) for _, x, _, _ in rc], [y for _, _, y, _ in rc]):.3f}")

    def simulate(clips, rws, th):
        fire = {}
        for ci, x, _, t in rws:
            if ci not in fire and lr.score(x) < th:
                fire[ci] = t
        out = []
        for ci, c in enumerate(clips):
            c2 = dict(c)
            if ci in fire and fire[ci] < c["ms"]:
                c2["got"], c2["ms"] = "HUMAN", fire[ci]
            out.append(c2)
        return figures(out)
    greet = sorted(lr.score(x) for _, x, y, _ in rt if y)
    for k in (0, 4, 12):
        th = greet[k] if k < len(greet) else float("inf")
        print(f"  HUMAN below {th:+.2f}: tune {simulate(train, rows(train, False), th)}")
        print(f"  {'':{len(f'HUMAN below {th:+.2f}')}}  check {simulate(check, rc, th)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eval", required=True, help="amd-eval built with -DAMD_TRACE_FEATURES")
    ap.add_argument("--corpus", required=True, help="folder of seed-N corpora")
    ap.add_argument("--train", default="1", help="tuning seeds, comma-separated")
    ap.add_argument("--check", default="2", help="checking seed")
    ap.add_argument("--cache", default=None, help="where amd-eval's output is kept")
    a = ap.parse_args()
    seeds = [int(s) for s in a.train.split(",")]
    if 3 in seeds or int(a.check) == 3:
        sys.exit("amd-study: seed 3 is the published seed; it is not studied")
    cache = a.cache or a.corpus
    train, check = [], []
    for s in seeds + [int(a.check)]:
        clips, _ = run_seed(a.eval, a.corpus, s, cache)
        print(f"seed {s}: {figures(clips)}")
        (check if s == int(a.check) and s not in seeds else train).extend(clips)
    print("\n== by shape, tuning seeds: right / clips, reasons of the wrong, median decision")
    for cat in sorted({c["cat"] for c in train}):
        cc = [c for c in train if c["cat"] == cat]
        wrong = {}
        for c in cc:
            if c["got"] != c["expect"]:
                wrong[c["got"] + "/" + c["reason"]] = wrong.get(c["got"] + "/" + c["reason"], 0) + 1
        print(f"  {cat:15s} {sum(c['got'] == c['expect'] for c in cc):4d}/{len(cc):<4d} "
              f"median {median([c['ms'] for c in cc]):5d} ms  wrong: "
              + (", ".join(f"{k} {v}" for k, v in sorted(wrong.items())) or "-"))
    study_wait(train, check)
    study_early(train, check, "S600")
    study_early(train, check, "S1000")


if __name__ == "__main__":
    main()
