#!/usr/bin/env bash
# tools/run.sh — installs dependencies, builds trunx and runs trunxd in the foreground
# with conf/trunx.conf (or the file given as the first argument).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
conf=${1:-conf/trunx.conf}
./tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target trunxd
mkdir -p var
exec ./build/src/trunxd --config "$conf"
