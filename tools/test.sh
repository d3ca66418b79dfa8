#!/usr/bin/env bash
# tools/test.sh — installs dependencies, builds and runs the whole test suite:
#   1. release build and cppcheck; its integration tests, while the fuzz tree (clang + libFuzzer)
#      and the sanitizer tree (ASan + UBSan) build in the background at nice 19
#   2. every fuzz target runs briefly over its corpus, at nice 19 beside the release
#      tests labelled pair and the unit tests (timed runs: a starved one only makes
#      fewer executions); then alone the release load, benchmark and "serial" tests
#   3. the ThreadSanitizer tree (built in the background with the others): its unit
#      tests but the timed ones (label serial), and its trunxd under the release
#      tree's integration tests where the daemon's threads meet most: calls with
#      media, transcoding and SRTP, the HTTP API and its event stream, the database,
#      CDRs, recording, prompts and transfers (TSAN_TESTS below)
#   4. the sanitizer tree: the same unit + integration tests, but for the benchmark
#      smoke runs (label "bench": a sanitizer's figures measure nothing) and the AMD
#      check on other voices (label "voices": the same code as the AMD tests that do
#      run there, on a second corpus) and a real UA's further call shapes (label
#      "ua_variants": the same trunxd paths as the cases of that UA that do run there)
# Integration tests run four at a time (they wait on timers and peers far more than
# they compute, and each picks its own free ports; the background builds run at nice
# 19), the longest first (tests/ctest-costs.txt), with those that mostly wait (label
# waits: SIP timers, scanners' and attackers' pauses; under a tenth of a core) six at a
# time in a pool beside them; then the tests labelled "pair" (real
# UAs on calls whose quality is asserted: out of the busy stage, two at a time in the
# release tree, one at a time in the sanitizer tree, whose slower binaries starve each
# other's media), then the unit tests four at a time (they wait on real sockets and timers
# far more than they compute; the media engine's are registered in parts, each on its
# own ports), then alone the load, benchmark and "serial" tests (floods, and the unit
# tests so labelled: timed engine tests that must not share the cores). The
# sanitizer stage also runs the tests labelled "media" (audio and its timing checked
# on calls through trunxd) alone, for the same reason as its pairs.
# The output ends with ctest's summary line of the sanitizer run.
# Environment: TRUNX_JOBS (parallel build jobs), TRUNX_FUZZ_SECONDS (default 10),
#              TRUNX_TEST_REGEX (ctest -R filter), TRUNX_SKIP_FUZZ=1, TRUNX_SKIP_RELEASE=1,
#              TRUNX_CTEST_JOBS (release integration tests at once, default 4),
#              TRUNX_ASAN_CTEST_JOBS (sanitizer integration tests at once, default 4),
#              TRUNX_PAIR_JOBS, TRUNX_ASAN_PAIR_JOBS ("pair" tests at once, 2 and 1),
#              TRUNX_UNIT_JOBS (unit tests at once, both trees, default 4),
#              TRUNX_WAIT_JOBS (integration tests labelled waits at once, beside the
#              others, default 6),
#              TRUNX_TEST_KFWD=off|auto|on ([media] kernel_forward of every trunxd the
#              integration harness starts; unset: trunxd's default, off),
#              TRUNX_TEST_LOG_LEVEL (log_level of every trunxd the integration harness
#              starts; default info; debug to chase a flake from the work dir's log),
#              TRUNX_SKIP_TSAN=1 (no ThreadSanitizer build or stage),
#              TRUNX_TEST_TRUNXD (a trunxd binary every integration case runs instead
#              of its own tree's; the ThreadSanitizer stage sets it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${TRUNX_JOBS:-$(nproc)}
fuzz_seconds=${TRUNX_FUZZ_SECONDS:-10}
regex=(); [ -n "${TRUNX_TEST_REGEX:-}" ] && regex=(-R "$TRUNX_TEST_REGEX")

./tools/deps.sh

step() { printf '\n==== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# seed_costs DIR: a fresh build tree gets the test times of an earlier run
# (tests/ctest-costs.txt, written by tools/ci-costs.py), so ctest starts the longest
# tests first in a parallel stage; a tree that has run tests keeps its own.
seed_costs() {
  local f="$1/Testing/Temporary/CTestCostData.txt"
  [ -s "$f" ] || { mkdir -p "${f%/*}"; cp tests/ctest-costs.txt "$f"; }
}

# int_tests DIR EXCLUDE JOBS ALONE: the integration tests JOBS at a time but those with
# a label in ALONE (EXCLUDE: a label regex left out of everything). Those labelled
# waits (asleep for most of their 20-100 s: on a SIP timer, or on a scanner's or an
# attacker's pauses; measured at under a tenth of a core) run beside them in a pool of
# their own, TRUNX_WAIT_JOBS at a time, rather than holding one of the JOBS slots;
# their output follows.
int_tests() {
  local r=0 tr=0 log tp
  seed_costs "$1"
  log=$(mktemp)
  (cd "$1" && ctest -L waits -LE "load|bench|serial|pair|$4|$2" \
     --output-on-failure -j "${TRUNX_WAIT_JOBS:-6}" "${regex[@]}") >"$log" 2>&1 &
  tp=$!
  (cd "$1" && ctest -L integration -LE "load|bench|serial|pair|waits|$4|$2" \
     --output-on-failure -j "$3" "${regex[@]}") || r=$?
  wait "$tp" || tr=$?
  printf '\n---- beside them, the tests that mostly wait (label waits):\n'
  cat "$log"; rm -f "$log"
  [ "$r" != 0 ] || r=$tr
  return "$r"
}
# pair_unit_tests DIR EXCLUDE PAIRS: the tests labelled pair (real UAs on a call whose
# quality is asserted: light on CPU, but kept off the busy parallel stage) PAIRS at a
# time, then the unit tests but those labelled serial TRUNX_UNIT_JOBS at a time.
pair_unit_tests() {
  local r=0
  seed_costs "$1"
  (cd "$1" && ctest -L pair -LE "$2" --output-on-failure -j "$3" "${regex[@]}") || r=$?
  (cd "$1" && ctest -L unit -LE "serial|pair|$2" --output-on-failure \
     -j "${TRUNX_UNIT_JOBS:-4}" "${regex[@]}") || r=$?
  return "$r"
}
# solo_tests DIR EXCLUDE ALONE: one by one, nothing beside them, the load, bench and
# serial tests (unit tests among them) and the integration tests with a label in ALONE.
solo_tests() {
  (cd "$1" && ctest -L "load|bench|serial|$3" -LE "pair|$2" --output-on-failure \
     "${regex[@]}")
}
# alone_tests DIR EXCLUDE ALONE PAIRS: both of the above, in that order.
alone_tests() {
  local r=0
  pair_unit_tests "$1" "$2" "$4" || r=$?
  solo_tests "$1" "$2" "$3" || r=$?
  return "$r"
}
# fuzz_run: every fuzz target over its corpus, briefly (TRUNX_FUZZ_SECONDS).
fuzz_run() {
  local re=()
  [ -z "${TRUNX_TEST_REGEX:-}" ] || re=(-R "$TRUNX_TEST_REGEX")
  (cd build-fuzz && ctest -L fuzz --output-on-failure -j "$jobs" "${re[@]}")
}

# cppcheck_src: warnings and errors in base, sip, media, dsp, src and trunxctl fail the
# run (unknownMacro: cppcheck cannot expand libbpf's and jansson's macros without their
# headers' configuration; a finding judged false is suppressed in place, with a reason).
cppcheck_src() {
  cppcheck --enable=warning,portability --inline-suppr -q --std=c11 -j "$jobs" \
           --suppress=unknownMacro --error-exitcode=1 \
           -I base/include -I sip/include -I media/include -I dsp/include -I src \
           base sip media dsp src tools/trunxctl
}

fuzz_build() {
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTRUNX_FUZZ=ON \
        -DTRUNX_FUZZ_SECONDS="$fuzz_seconds" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-fuzz -j "$jobs" --target fuzzers
}
asan_build() {
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTRUNX_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$jobs"
}
# tsan_build: the tree with ThreadSanitizer; the release tree's integration tests run
# its trunxd (TRUNX_TEST_TRUNXD) with the release tree's tools and peers.
tsan_build() {
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRUNX_TSAN=ON >/dev/null
  cmake --build build-tsan -j "$jobs"
}
other_builds() {
  if [ "${TRUNX_SKIP_FUZZ:-0}" != 1 ]; then fuzz_build; fi
  asan_build
  if [ "${TRUNX_SKIP_TSAN:-0}" != 1 ]; then tsan_build; fi
}
# The integration tests run against the ThreadSanitizer trunxd: those where the
# signalling thread, the media workers, the control plane (API, event stream,
# database and Redis clients) and the journal and recording writers hand work to each
# other on live calls, and the chaos soak. A data race fails the test (trunxd's exit
# code, its report).
TSAN_TESTS='^itest\.(api\.(media|sse_long_stream|calls\.(placed|no_answer|bridge|idempotency))$|calls\.(basic_call_rtp|hold_unhold|bye_from_b|cancel_before_answer)$|media\.(opus_pcmu|pcmu_opus|opus_pcmu_rtcp_mux|srtp_srtp_opus|tls_srtp)$|prompt\.(play|record)|(dbmedia|xfer|cdr|events)\.)'
tsan_tests() {
  local r=0
  seed_costs build-tsan
  (cd build-tsan && ctest -L unit -LE "serial|fuzz" --output-on-failure \
     -j "${TRUNX_UNIT_JOBS:-4}" "${regex[@]}") || r=$?
  (cd build && TRUNX_TEST_TRUNXD="$top/build-tsan/src/trunxd" \
     ctest -R "$TSAN_TESTS" -LE "load|bench|serial|fuzz" --output-on-failure -j 3) || r=$?
  # The chaos soak (every thread at once while Postgres, Redis and trunxd stall), alone.
  (cd build && TRUNX_TEST_TRUNXD="$top/build-tsan/src/trunxd" \
     ctest -R '^itest\.soak\.' --output-on-failure) || r=$?
  return "$r"
}

rc=0
if [ "${TRUNX_SKIP_RELEASE:-0}" != 1 ]; then
  step "release build"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$jobs"
  step "static analysis (cppcheck) of the product's sources"
  cppcheck_src
  step "release integration tests; fuzz and sanitizer builds in the background"
  bg_log=$(mktemp)
  (export -f fuzz_build asan_build tsan_build other_builds
   export fuzz_seconds jobs TRUNX_SKIP_FUZZ TRUNX_SKIP_TSAN
   exec nice -n 19 bash -c 'set -euo pipefail; other_builds') >"$bg_log" 2>&1 &
  bg_pid=$!
  int_tests build fuzz "${TRUNX_CTEST_JOBS:-4}" serial || rc=$?
  step "background builds"
  bg_rc=0; wait "$bg_pid" || bg_rc=$?
  cat "$bg_log"; rm -f "$bg_log"
  [ "$bg_rc" = 0 ] || { echo "test.sh: fuzz or sanitizer build failed ($bg_rc)"; exit "$bg_rc"; }
else
  step "fuzz and sanitizer builds"
  TRUNX_SKIP_TSAN=1 other_builds   # the ThreadSanitizer stage runs with the release one
fi

if [ "${TRUNX_SKIP_RELEASE:-0}" != 1 ]; then
  # The fuzzers (timed runs: a slower one only makes fewer executions) at nice 19
  # beside the release pairs and unit tests, which leave most of the cores idle and
  # take over a core at once when they need it; done before the tests that run alone.
  fz_pid=
  if [ "${TRUNX_SKIP_FUZZ:-0}" != 1 ]; then
    step "fuzzers (${fuzz_seconds}s each) in the background, release pairs and unit tests"
    fz_log=$(mktemp)
    (export -f fuzz_run; export jobs
     exec nice -n 19 bash -c 'set -euo pipefail; fuzz_run') >"$fz_log" 2>&1 &
    fz_pid=$!
  else
    step "release pairs and unit tests"
  fi
  pair_unit_tests build fuzz "${TRUNX_PAIR_JOBS:-2}" || rc=$?
  if [ -n "$fz_pid" ]; then
    fz_rc=0; wait "$fz_pid" || fz_rc=$?
    printf '\n---- the fuzzers, beside them:\n'
    cat "$fz_log"; rm -f "$fz_log"
    [ "$fz_rc" = 0 ] || { echo "test.sh: a fuzzer failed ($fz_rc)"; exit "$fz_rc"; }
  fi
  step "release tests that run alone"
  solo_tests build fuzz serial || rc=$?
  [ "$rc" = 0 ] || exit "$rc"
  if [ "${TRUNX_SKIP_TSAN:-0}" != 1 ]; then
    step "ThreadSanitizer: unit tests, and trunxd's threads on live calls"
    tsan_tests || rc=$?
    [ "$rc" = 0 ] || exit "$rc"
  fi
elif [ "${TRUNX_SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzzers (${fuzz_seconds}s each)"
  fuzz_run
fi

step "sanitizer tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}
int_tests build-asan "fuzz|bench|voices|ua_variants" "${TRUNX_ASAN_CTEST_JOBS:-4}" media || rc=$?
alone_tests build-asan "fuzz|bench|voices|ua_variants" media "${TRUNX_ASAN_PAIR_JOBS:-1}" || rc=$?
exit "$rc"
