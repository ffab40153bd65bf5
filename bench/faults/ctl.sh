#!/usr/bin/env bash
# Private PostgreSQL and Redis for the fault campaign (never the machine's shared ones):
#   ctl.sh pg-init | pg-start | pg-stop | pg-kill | redis-start | redis-stop | redis-pause | redis-resume | cleanup
# State lives under $FAULTS_DIR; ports $PG_PORT (55432) and $REDIS_PORT (56379).
set -euo pipefail
: "${FAULTS_DIR:?FAULTS_DIR is not set}"
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PGDATA="$FAULTS_DIR/pgdata"
PG_USER="${PG_USER:-postgres}"

as_pg() { # command...: initdb and postgres refuse to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

case "${1:-}" in
  pg-init)
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown "$PG_USER" "$FAULTS_DIR" "$PGDATA"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust >"$FAULTS_DIR/initdb.log" 2>&1
    cat >>"$PGDATA/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$FAULTS_DIR'
fsync = on
max_connections = 100
CONF
    ;;
  pg-start)
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$FAULTS_DIR/pg.log" -w -t 30 start >/dev/null
    ;;
  pg-stop) # fast shutdown: open transactions are rolled back, clients disconnected
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop >/dev/null
    ;;
  pg-kill) # immediate shutdown (crash-like: recovery at next start)
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 30 stop >/dev/null
    ;;
  redis-start)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize yes --pidfile "$FAULTS_DIR/redis.pid" --logfile "$FAULTS_DIR/redis.log"
    for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && exit 0; sleep 0.05; done
    echo "ctl.sh: redis did not start" >&2; exit 1
    ;;
  redis-stop)
    if [ -f "$FAULTS_DIR/redis.pid" ]; then
      pid="$(cat "$FAULTS_DIR/redis.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      rm -f "$FAULTS_DIR/redis.pid"
    fi
    ;;
  redis-pause) # SIGSTOP: Redis hangs (accepts nothing, answers nothing) until redis-resume
    kill -STOP "$(cat "$FAULTS_DIR/redis.pid")"
    ;;
  redis-resume)
    kill -CONT "$(cat "$FAULTS_DIR/redis.pid")"
    ;;
  cleanup)
    [ -f "$FAULTS_DIR/redis.pid" ] && kill -CONT "$(cat "$FAULTS_DIR/redis.pid")" 2>/dev/null || true
    "$0" redis-stop || true
    [ -f "$PGDATA/postmaster.pid" ] && { as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true; }
    rm -rf "$PGDATA"
    ;;
  *) echo "usage: ctl.sh pg-init|pg-start|pg-stop|pg-kill|redis-start|redis-stop|redis-pause|redis-resume|cleanup" >&2; exit 2 ;;
esac
