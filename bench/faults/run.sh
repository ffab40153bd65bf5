#!/usr/bin/env bash
# Fault campaign against the example app (release build) with the test kit's mock Clerk:
# Clerk's JWKS hanging / 500 / garbage / slow, Backend API 429 storms on just-in-time
# provisioning, PostgreSQL restarted mid webhook burst, Redis stopped and started, one of two
# instances SIGKILLed mid-burst. One Markdown table per scenario on stdout (RELIABILITY.md,
# "Fault campaign"); raw samples and the apps' logs in $OUT.
#
#   bench/faults/run.sh [--scenarios jwks-hang,jwks-500,jwks-garbage,jwks-slow,api-429,pg-restart,pg-outage-long,redis,kill-instance]
#
# It starts its OWN PostgreSQL (initdb under $OUT, port $PG_PORT, default 55432) and Redis
# (port $REDIS_PORT, default 56379), restarts and stops only those, and removes them at the end;
# the machine's shared services are never touched. Not for CI (it restarts services and takes
# about 5 minutes). Needs: PostgreSQL 15 binaries ($PG_BIN, default /usr/lib/postgresql/15/bin),
# psql, redis-server, redis-cli, taskset; run as root it runs PostgreSQL as user `postgres`.
#
# Knobs: APP (axum-app | rocket-app), APP_CPU (0: the app's core), DRIVER_CPU (1: the driver's and mock's core), OUT,
# JWKS_WARM_S (11: past the 10 s minimum refresh interval after the first fetch) JWKS_FAULT_S (12) JWKS_AFTER_S (14) JWKS_SLOW_S (4), API_USERS (1500),
# API_STORM_HALF_S (5), WEBHOOK_USERS (3000), PG_DOWN_S (4), PG_LONG_DOWN_S (40), REDIS_DOWN_S (6), APP_LOG (warn).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export OUT="${OUT:-$(mktemp -d /tmp/clerk-faults.XXXXXX)}"
export FAULTS_DIR="$OUT/services"
export PG_PORT="${PG_PORT:-55432}" REDIS_PORT="${REDIS_PORT:-56379}"
export APP_CPU="${APP_CPU:-0}"
DRIVER_CPU="${DRIVER_CPU:-1}"
mkdir -p "$FAULTS_DIR"
chmod 755 "$OUT"

for tool in psql redis-server redis-cli taskset; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 1; }
done
for port in "$PG_PORT" "$REDIS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run.sh: port $port is in use; set PG_PORT / REDIS_PORT to free ports" >&2; exit 1
  fi
done

# APP: axum-app (default) or rocket-app; both read the same settings from the environment.
APP="${APP:-axum-app}"
echo "== building (release): $APP and the driver" >&2
(cd "$ROOT" && unset CARGO_TARGET_DIR && cargo build --release --quiet -p "$APP")
APP_BIN="$(cd "$ROOT" && unset CARGO_TARGET_DIR && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/$APP"
# The driver builds into the workspace's target/ (bench/faults/.cargo/config.toml, as bench/load);
# DRIVER_TARGET_DIR puts it elsewhere.
if [ -n "${DRIVER_TARGET_DIR:-}" ]; then export CARGO_TARGET_DIR="$DRIVER_TARGET_DIR"; fi
(cd "$HERE" && cargo build --release --quiet)
DRIVER="$(cd "$HERE" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/clerk-fault-campaign"

cleanup() { "$HERE/ctl.sh" cleanup >/dev/null 2>&1 || true; }
trap cleanup EXIT
echo "== private PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT under $FAULTS_DIR" >&2
"$HERE/ctl.sh" pg-init
"$HERE/ctl.sh" pg-start
"$HERE/ctl.sh" redis-start

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, loadavg $(cut -d' ' -f1-3 /proc/loadavg); app on CPU $APP_CPU (1 tokio worker), driver + mock Clerk on CPU $DRIVER_CPU" >&2
taskset -c "$DRIVER_CPU" "$DRIVER" --app "$APP_BIN" --ctl "$HERE/ctl.sh" --out "$OUT" "$@"
echo "raw samples and logs: $OUT" >&2
