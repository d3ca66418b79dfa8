#!/usr/bin/env python3
"""amd-pool — the adaptive AMD's figures pooled over several seeds, for tuning.

Runs amd-eval --only adaptive --list on each seed's corpus (extra arguments, such as
--param question_silence=1100, go to amd-eval) and prints, per seed and pooled:
accuracy (NOTSURE counts as wrong), people called MACHINE (and among full sentences),
machines called HUMAN, and the median decision time. One seed's figures move by a
clip or two with any change; the pooled ones over five tuning seeds (1,875 clips)
show whether a change gains or trades. Seed 3 (published) is refused.
Usage:
  tools/bench/amd-train/amd-pool.py --eval build/tools/bench/amd-eval/amd-eval \\
        --corpus build/amd-corpus --seeds 1,4,5,6,7 [-- --param NAME=VALUE ...]
(each seed made first with tools/bench/amd-corpus/amd-corpus.py --seed N).
"""
import argparse
import os
import statistics
import subprocess
import sys


def run_seed(ev, corpus, seed, extra):
    """[(shape, expected, got, decision ms)] of one seed."""
    man = os.path.join(corpus, f"seed-{seed}", "manifest.tsv")
    out = subprocess.run([ev, "--only", "adaptive", "--list", *extra, man],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        f = line.split()
        if len(f) > 4 and f[0] == "adaptive":
            kv = dict(x.split("=", 1) for x in f[4:] if "=" in x)
            rows.append((f[2], kv["expect"], kv["got"], int(kv["decision_ms"])))
    if not rows:
        sys.exit(f"amd-pool: seed {seed}: no clips graded")
    return rows


def figures(rows):
    people = [r for r in rows if r[1] == "HUMAN"]
    full = [r for r in people if r[0] == "human_sentence"]
    machines = [r for r in rows if r[1] == "MACHINE"]
    ok = sum(r[1] == r[2] for r in rows)
    return (f"accuracy {100.0 * ok / len(rows):.2f} % ({ok}/{len(rows)})  "
            f"humans->MACHINE {sum(r[2] == 'MACHINE' for r in people)}/{len(people)} "
            f"(full sentences {sum(r[2] == 'MACHINE' for r in full)}/{len(full)})  "
            f"machines->HUMAN {sum(r[2] == 'HUMAN' for r in machines)}/{len(machines)}  "
            f"median {statistics.median(r[3] for r in rows):.0f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", required=True, help="amd-eval")
    ap.add_argument("--corpus", required=True, help="folder of the seed-N corpora")
    ap.add_argument("--seeds", default="1,4,5,6,7")
    ap.add_argument("extra", nargs="*", help="after --: arguments for amd-eval")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    if 3 in seeds:
        sys.exit("amd-pool: seed 3 is the published seed; it is not tuned on")
    pooled = []
    for s in seeds:
        rows = run_seed(a.eval, a.corpus, s, a.extra)
        pooled += rows
        print(f"seed {s}: {figures(rows)}")
    if len(seeds) > 1:
        print(f"pooled: {figures(pooled)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
