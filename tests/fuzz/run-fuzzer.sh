#!/usr/bin/env bash
# run-fuzzer.sh FUZZER CORPUS_DIR SECONDS — runs a libFuzzer target briefly over a
# scratch copy of its seed corpus (the committed corpus is never modified).
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/ 2>/dev/null || true
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
     -print_final_stats=1 "$work"
