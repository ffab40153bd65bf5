#!/usr/bin/env bash
# `clerk sync users` of 100,000 mock users into SQLite and PostgreSQL: wall time, users/s,
# peak RSS and CPU time (user + system) of the measured process, and the mock's CPU time during
# each run (the mock shares the machine's cores with the sync; PostgreSQL's server CPU is not
# counted).
#
# Usage (from the workspace root):
#   cargo build --release -p clerk-cli --features mock
#   CLERK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test clerk-cli/benches/sync_100k.sh
#
# Without CLERK_TEST_POSTGRES_URL the PostgreSQL rows are skipped. USERS=n changes the count.
# Rows: a baseline (the mock's listing alone: every page fetched with curl, nothing written),
# then for each database a first sync (100,000 created) and a re-run (100,000 unchanged).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CLERK="${CLERK_BIN:-$ROOT/target/release/clerk}"
USERS="${USERS:-100000}"
PAGE=500
[ -x "$CLERK" ] || { echo "build it first: cargo build --release -p clerk-cli --features mock" >&2; exit 2; }

WORK="$(mktemp -d)"
MOCK_PID=""
SCHEMA=""
cleanup() {
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
    if [ -n "$SCHEMA" ]; then
        psql -q "$CLERK_TEST_POSTGRES_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The mock on a free port; its settings are its first five stdout lines.
"$CLERK" mock --port 0 --users "$USERS" >"$WORK/mock.env" 2>"$WORK/mock.log" &
MOCK_PID=$!
for _ in $(seq 100); do
    [ "$(wc -l <"$WORK/mock.env")" -ge 5 ] && break
    sleep 0.1
done
set -a; . "$WORK/mock.env"; set +a
unset CLERK_PUBLISHABLE_KEY CLERK_FRONTEND_HOSTS CLERK_WEBHOOK_SIGNING_KEY

# The mock's CPU seconds so far (user + system, from /proc).
mock_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$MOCK_PID/stat"
}

ROWS=()
row() { ROWS+=("$(printf '| %-36s | %8s | %9s | %9s | %11s | %10s |' "$@")"); }

# One measured run of "$@" (a clerk command line) with /usr/bin/time -v.
measure() {
    local label="$1"; shift
    local before after
    before="$(mock_cpu)"
    /usr/bin/time -v "$@" >"$WORK/out" 2>"$WORK/time" || { cat "$WORK/out" "$WORK/time" >&2; exit 1; }
    after="$(mock_cpu)"
    local wall rss secs cpu
    wall="$(grep 'Elapsed (wall clock)' "$WORK/time" | awk '{print $NF}')"
    cpu="$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$WORK/time")"
    rss="$(grep 'Maximum resident set size' "$WORK/time" | awk '{print $NF}')"
    secs="$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')"
    row "$label" "$(printf '%.2f' "$secs")" "$(awk -v n="$USERS" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" \
        "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "$cpu" \
        "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')"
    echo "$label: $(tail -n 1 "$WORK/out")" >&2
}

# Baseline: every page of the listing fetched and thrown away (one curl per page, one
# process), the mock's cost without the sync's parsing and writes.
cat >"$WORK/baseline.sh" <<SH
for offset in \$(seq 0 $PAGE $USERS); do
    curl -sf -H "Authorization: Bearer $CLERK_SECRET_KEY" \
        "$CLERK_API_URL/v1/users?limit=$PAGE&offset=\$offset&order_by=created_at" -o /dev/null
done
SH
measure "baseline: listing only (curl)" bash "$WORK/baseline.sh"

export DATABASE_URL="sqlite://$WORK/bench.db?mode=rwc"
"$CLERK" migrate >/dev/null
measure "SQLite: first sync (all created)" "$CLERK" sync users
measure "SQLite: re-run (all unchanged)" "$CLERK" sync users

if [ -n "${CLERK_TEST_POSTGRES_URL:-}" ]; then
    SCHEMA="clerk_bench_sync_$$"
    psql -q "$CLERK_TEST_POSTGRES_URL" -c "CREATE SCHEMA $SCHEMA" >/dev/null
    case "$CLERK_TEST_POSTGRES_URL" in *\?*) sep='&' ;; *) sep='?' ;; esac
    export DATABASE_URL="${CLERK_TEST_POSTGRES_URL}${sep}options=-c%20search_path%3D$SCHEMA"
    "$CLERK" migrate >/dev/null
    measure "PostgreSQL: first sync (all created)" "$CLERK" sync users
    measure "PostgreSQL: re-run (all unchanged)" "$CLERK" sync users
else
    echo "PostgreSQL: skipped (CLERK_TEST_POSTGRES_URL not set)" >&2
fi

echo
echo "clerk sync users: $USERS mock users, pages of $PAGE, $(nproc) cores shared with the mock"
echo
printf '| %-36s | %8s | %9s | %9s | %11s | %10s |\n' "run" "wall s" "users/s" "peak MiB" "its CPU s" "mock CPU s"
printf '|%s|%s|%s|%s|%s|%s|\n' "--------------------------------------" "----------" "-----------" "-----------" "-------------" "------------"
printf '%s\n' "${ROWS[@]}"
