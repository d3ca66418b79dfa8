#!/usr/bin/env bash
# tools/test.sh — installs dependencies, builds and runs the whole test suite:
#   1. fuzz build (clang + libFuzzer): every fuzz target runs briefly over its corpus
#   2. release build: unit + integration tests
#   3. sanitizer build (ASan + UBSan): the same unit + integration tests, but for the
#      benchmark smoke runs (label "bench": a sanitizer's figures measure nothing) and
#      the AMD check on other voices (label "voices": the same code as the AMD tests
#      that do run there, on a second corpus)
# The release stage runs the integration tests two at a time (they wait on timers and
# peers far more than they compute, and each picks its own free ports), then the unit
# tests and the load, benchmark and "serial" tests alone (floods, and call-quality
# figures on a clean line: they must not share the cores with another test). The
# sanitizer stage does the same, and also runs the tests labelled "media" (audio and
# its timing checked on calls through trunxd) alone: its slower binaries starve each
# other's media when two such tests share the 2 cores.
# The output ends with ctest's summary line of the sanitizer run.
# Environment: TRUNX_JOBS (parallel build jobs), TRUNX_FUZZ_SECONDS (default 10),
#              TRUNX_TEST_REGEX (ctest -R filter), TRUNX_SKIP_FUZZ=1, TRUNX_SKIP_RELEASE=1,
#              TRUNX_CTEST_JOBS (release integration tests at once, default 2),
#              TRUNX_ASAN_CTEST_JOBS (sanitizer integration tests at once, default 2),
#              TRUNX_TEST_KFWD=off|auto|on ([media] kernel_forward of every trunxd the
#              integration harness starts; unset: trunxd's default, off).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${TRUNX_JOBS:-$(nproc)}
fuzz_seconds=${TRUNX_FUZZ_SECONDS:-10}
regex=(); [ -n "${TRUNX_TEST_REGEX:-}" ] && regex=(-R "$TRUNX_TEST_REGEX")

./tools/deps.sh

step() { printf '\n==== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# run_tests DIR EXCLUDE JOBS ALONE: the integration tests JOBS at a time, then the rest
# one by one: unit, load, bench and serial tests, and integration tests with a label in
# ALONE (EXCLUDE: a label regex left out of everything). Every part runs; the status is
# theirs.
run_tests() {
  local dir=$1 exclude=$2 jobs=$3 alone=$4 rc=0
  (cd "$dir" && ctest -L integration -LE "load|bench|serial|$alone|$exclude" \
     --output-on-failure -j "$jobs" "${regex[@]}") || rc=$?
  (cd "$dir" && ctest -L "unit|load|bench|serial|$alone" -LE "$exclude" --output-on-failure \
     "${regex[@]}") || rc=$?
  return "$rc"
}

if [ "${TRUNX_SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzz build"
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTRUNX_FUZZ=ON \
        -DTRUNX_FUZZ_SECONDS="$fuzz_seconds" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-fuzz -j "$jobs" --target fuzzers
  step "fuzzers (${fuzz_seconds}s each)"
  (cd build-fuzz && ctest -L fuzz --output-on-failure -j "$jobs" "${regex[@]}")
fi

if [ "${TRUNX_SKIP_RELEASE:-0}" != 1 ]; then
  step "release build"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$jobs"
  step "release tests"
  run_tests build fuzz "${TRUNX_CTEST_JOBS:-2}" serial
fi

step "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTRUNX_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
step "sanitizer tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}
run_tests build-asan "fuzz|bench|voices" "${TRUNX_ASAN_CTEST_JOBS:-2}" media
