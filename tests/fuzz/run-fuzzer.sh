#!/usr/bin/env bash
# run-fuzzer.sh FUZZER CORPUS_DIR SECONDS — runs a libFuzzer target briefly over a
# scratch copy of its seed corpus (the committed corpus is never modified). When the
# fuzzer fails, the input that made it fail is printed (hex and base64) so a CI log
# alone is enough to reproduce it, and kept in the working directory.
set -uo pipefail
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/ 2>/dev/null || true
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
          -print_final_stats=1 -artifact_prefix="$work/" "$work"
rc=$?
if [ "$rc" -ne 0 ]; then
  for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* \
           "$work"/slow-unit-*; do
    [ -f "$a" ] || continue
    name=$(basename "$fuzzer")-$(basename "$a")
    cp "$a" "./$name"
    echo "---- failing input kept as $PWD/$name ($(stat -c %s "$a") bytes)"
    echo "---- hex:";    od -A d -t x1z -v "$a" | head -200
    echo "---- base64:"; base64 -w 76 "$a" | head -200
  done
fi
exit "$rc"
