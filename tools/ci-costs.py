#!/usr/bin/env python3
"""Writes tests/ctest-costs.txt from the log of a full test run (tools/test.sh's output):
each test's longest time over the builds, in ctest's cost-data format. tools/test.sh
gives it to ctest in a fresh build tree, so the longest tests start first and no long
test is left to run alone at the end of a parallel stage.

    tools/ci-costs.py RUN.LOG > tests/ctest-costs.txt
"""
import re
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: ci-costs.py RUN.LOG > tests/ctest-costs.txt")
    cost = {}
    line_re = re.compile(r"Test +#\d+: (\S+) .*?([0-9.]+) sec")
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            m = line_re.search(line)
            if m:
                cost[m.group(1)] = max(cost.get(m.group(1), 0.0), float(m.group(2)))
    if not cost:
        sys.exit("ci-costs.py: no test times in %s" % sys.argv[1])
    for name, c in sorted(cost.items(), key=lambda x: (-x[1], x[0])):
        print("%s 1 %.1f" % (name, c))
    print("---")


if __name__ == "__main__":
    main()
