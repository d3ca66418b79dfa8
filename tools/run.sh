#!/usr/bin/env bash
# tools/run.sh — installs dependencies, builds trunx and runs trunxd in the foreground
# with conf/trunx.conf (or the file given as the first argument).
#
# The embedded default: when the file names no Postgres ([data] postgres), a private
# Postgres cluster is created and started under var/ (tools/embedded.sh: Unix sockets
# only, run as the unprivileged system user trunx), the file's [trunk] and [route]
# sections are put into it (trunxd --seed; rows of the same name are kept), and trunxd
# runs in database mode on it; likewise a Redis when the file names none. Both are
# stopped when trunxd stops. With URLs in the file, trunxd uses those and nothing is
# created.
# Environment: TRUNX_VAR_DIR (default var/), TRUNX_RUN_BINARY (a trunxd to run instead
# of building one; the test suite uses it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
conf=${1:-conf/trunx.conf}
var=${TRUNX_VAR_DIR:-$top/var}
if [ -n "${TRUNX_RUN_BINARY:-}" ]; then
  trunxd=$TRUNX_RUN_BINARY
else
  ./tools/deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$(nproc)" --target trunxd trunxctl
  trunxd=./build/src/trunxd
fi
mkdir -p "$top/var" "$var"   # var/: the sample's control socket and journal
# One run per var directory: a second one would share the first one's Postgres and
# Redis and, on its way out, stop them under the first trunxd. The lock is ours alone:
# the servers and trunxd get the descriptor closed, so it goes with this script.
exec {lock}>"$var/run.lock"
if ! flock -n "$lock"; then
  echo "run: another tools/run.sh is using $var; stop it first (or set TRUNX_VAR_DIR)" >&2
  exit 1
fi

check=$("$trunxd" --config "$conf" --check)
args=()
want=
if grep -qx 'postgres: -' <<<"$check"; then
  grep -qx 'redis: -' <<<"$check" && want=both || want=pg
elif grep -qx 'redis: -' <<<"$check"; then
  want=redis
fi
if [ -n "$want" ]; then
  case "$want" in
    both) what="Postgres and Redis" ;; pg) what=Postgres ;; *) what=Redis ;;
  esac
  echo "run: starting the embedded $what under $var" >&2
  trap './tools/embedded.sh stop "$var" "$want" >&2 || true' EXIT
  while IFS='=' read -r k v; do
    case "$k" in
      postgres) args+=(--postgres "$v") ;;
      redis) args+=(--redis "$v") ;;
    esac
  done < <(./tools/embedded.sh start "$var" "$want" {lock}>&-)
  if [ "$want" != redis ]; then
    "$trunxd" --config "$conf" "${args[@]}" --seed >&2 {lock}>&-
  fi
fi

# trunxd runs as our child so that the servers are stopped after it; SIGINT (Ctrl-C)
# and SIGTERM reach it as SIGTERM: a graceful stop.
"$trunxd" --config "$conf" "${args[@]}" {lock}>&- &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
rc=0
while kill -0 "$pid" 2>/dev/null; do
  wait "$pid" && rc=0 || rc=$?
done
exit "$rc"
