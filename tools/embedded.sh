#!/usr/bin/env bash
# tools/embedded.sh — the embedded default: a private Postgres cluster and a Redis under
# a directory of ours (var/ for tools/run.sh, a test's work dir for the test suite),
# both reached through Unix sockets only and run as an unprivileged system user
# (initdb and postgres refuse to run as root).
#
#   tools/embedded.sh start DIR [pg|redis|both]   creates what is missing, starts, and
#                                                 prints the URLs:
#                                                   postgres=postgresql:///trunx?host=...
#                                                   redis=unix:.../redis.sock
#   tools/embedded.sh stop DIR                    stops both (by their PID files)
#   tools/embedded.sh status DIR                  prints what runs
#   tools/embedded.sh init DIR [pg|redis|both]    creates the user, directories and the
#                                                 cluster; starts nothing
#   tools/embedded.sh run-pg DIR                  runs Postgres in the foreground (exec;
#   tools/embedded.sh run-redis DIR               Redis likewise): what the test harness
#                                                 uses, so that its servers die with it
#   tools/embedded.sh createdb DIR                creates the database trunx (Postgres up)
#
# Layout under DIR: pg/data (the cluster, owned by the user), pg/log, redis/ (its working
# directory and log), and the sockets in DIR/run (or, when that path is too long for a
# Unix socket, a short directory under /tmp named after DIR; DIR/run then links to it).
# Environment: TRUNX_DB_USER (default trunx), TRUNX_PG_BIN (default: the newest
# /usr/lib/postgresql/*/bin).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
what=${3:-both}
user=${TRUNX_DB_USER:-trunx}

die() { echo "embedded: $*" >&2; exit 1; }
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop|status DIR [pg|redis|both]"
case "$what" in pg|redis|both) ;; *) die "what: pg, redis or both" ;; esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

pg_bin() {
  if [ -n "${TRUNX_PG_BIN:-}" ]; then echo "$TRUNX_PG_BIN"; return; fi
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$b" ] || die "no Postgres server found (Debian package postgresql; tools/deps.sh)"
  echo "$b"
}

as_user() { runuser -u "$user" -- "$@"; }

ensure_user() {
  id -u "$user" >/dev/null 2>&1 && return
  [ "$(id -u)" -eq 0 ] || die "user $user does not exist and only root can create it"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
          --user-group "$user" >/dev/null
  echo "embedded: created the system user $user" >&2
}

# Every directory above DIR must let the user through (search permission only).
ensure_reachable() {
  local d=$dir
  while [ "$d" != / ]; do
    if ! as_user test -x "$d"; then
      chmod o+x "$d"
      echo "embedded: allowed others to traverse $d (search only) for $user" >&2
    fi
    d=$(dirname "$d")
  done
}

# The socket directory: DIR/run, unless "DIR/run/.s.PGSQL.5432" would not fit a socket
# address (107 bytes); then a short private directory under /tmp.
sock_dir() {
  local want="$dir/run"
  if [ $(( ${#want} + 16 )) -lt 100 ]; then echo "$want"; return; fi
  echo "/tmp/trunx-run-$(printf '%s' "$dir" | md5sum | cut -c1-12)"
}

run_dir=$(sock_dir)

prepare() {
  ensure_user
  ensure_reachable
  mkdir -p "$dir/pg" "$dir/redis" "$run_dir"
  [ "$run_dir" = "$dir/run" ] || ln -sfn "$run_dir" "$dir/run"
  chown "$user:" "$dir/pg" "$dir/redis" "$run_dir"
  chmod 700 "$dir/pg" "$dir/redis" "$run_dir"
}

pg_url() { echo "postgresql://$user@/trunx?host=$run_dir"; }
redis_url() { echo "unix:$run_dir/redis.sock"; }

pg_running() {
  [ -f "$dir/pg/data/postmaster.pid" ] && as_user "$(pg_bin)/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1
}

pg_opts=(-c "listen_addresses=" -c "unix_socket_directories=$run_dir"
         -c max_connections=100)

pg_init() {
  local bin; bin=$(pg_bin)
  [ -f "$dir/pg/data/PG_VERSION" ] && return
  echo "embedded: creating the Postgres cluster in $dir/pg/data" >&2
  as_user "$bin/initdb" -D "$dir/pg/data" -U "$user" -A trust -E UTF8 --no-locale \
          ${TRUNX_PG_NOSYNC:+--no-sync} >"$dir/pg/initdb.log" 2>&1 \
    || die "initdb failed: see $dir/pg/initdb.log"
}

# The database trunxd uses; the schema is trunxd's to migrate.
pg_createdb() {
  local bin; bin=$(pg_bin)
  if ! as_user "$bin/psql" -h "$run_dir" -d postgres -Atqc \
       "SELECT 1 FROM pg_database WHERE datname = 'trunx'" | grep -q 1; then
    as_user "$bin/createdb" -h "$run_dir" trunx
  fi
}

pg_start() {
  local bin; bin=$(pg_bin)
  pg_init
  if ! pg_running; then
    # In a session of its own: the Ctrl-C meant for trunxd must not reach it.
    as_user setsid -w "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w -t 60 \
      -o "${pg_opts[*]} ${TRUNX_PG_OPTS:-}" start >/dev/null \
      || die "Postgres did not start: see $dir/pg/log"
  fi
  pg_createdb
}

redis_running() {
  [ -f "$run_dir/redis.pid" ] && kill -0 "$(cat "$run_dir/redis.pid")" 2>/dev/null
}

redis_args=(--port 0 --unixsocket "$run_dir/redis.sock" --unixsocketperm 700
            --dir "$dir/redis" --save '' --appendonly no)

redis_start() {
  command -v redis-server >/dev/null || die "no redis-server (Debian package redis-server)"
  redis_running && return
  rm -f "$run_dir/redis.sock"
  as_user redis-server "${redis_args[@]}" --daemonize yes --pidfile "$run_dir/redis.pid" \
    --logfile "$dir/redis/redis.log" \
    || die "redis-server did not start: see $dir/redis/redis.log"
  for _ in $(seq 100); do
    [ -S "$run_dir/redis.sock" ] && redis_running && return
    sleep 0.05
  done
  die "redis-server did not open $run_dir/redis.sock: see $dir/redis/redis.log"
}

pg_stop() {
  pg_running || return 0
  as_user "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -m fast -w -t 60 stop >/dev/null
}

redis_stop() {
  redis_running || return 0
  local pid; pid=$(cat "$run_dir/redis.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
}

case "$cmd" in
  start)
    prepare
    case "$what" in pg|both) pg_start; echo "postgres=$(pg_url)" ;; esac
    case "$what" in redis|both) redis_start; echo "redis=$(redis_url)" ;; esac
    ;;
  stop)
    case "$what" in redis|both) redis_stop ;; esac
    case "$what" in pg|both) pg_stop ;; esac
    ;;
  init)
    prepare
    case "$what" in pg|both) pg_init ;; esac
    ;;
  createdb)
    pg_createdb
    ;;
  run-pg)
    # Foreground, as the user, dying with whoever started us (the test harness).
    rm -f "$run_dir/.s.PGSQL.5432" "$run_dir/.s.PGSQL.5432.lock"
    exec setpriv --reuid="$user" --regid="$user" --init-groups --pdeathsig KILL -- \
      "$(pg_bin)/postgres" -D "$dir/pg/data" "${pg_opts[@]}" ${TRUNX_PG_OPTS:-}
    ;;
  run-redis)
    rm -f "$run_dir/redis.sock"
    exec setpriv --reuid="$user" --regid="$user" --init-groups --pdeathsig KILL -- \
      redis-server "${redis_args[@]}" --daemonize no ${TRUNX_REDIS_OPTS:-}
    ;;
  status)
    if pg_running; then echo "postgres: running ($(pg_url))"; else echo "postgres: stopped"; fi
    if redis_running; then echo "redis: running ($(redis_url))"; else echo "redis: stopped"; fi
    ;;
  *) die "unknown command $cmd" ;;
esac
