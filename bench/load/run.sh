#!/usr/bin/env bash
# Load run of the Axum adapter : requests/s, p99 and server CPU per request
# of one JSON route served by several variants, interleaved over several rounds, medians reported;
# then the memory run (peak RSS after 100,000 requests with 10,000 distinct tokens).
#
#   bench/load/run.sh [--variant 'NAME|TOKENS|BASELINE|COMMAND']...
#
# Variants (defaults a-d below; --variant adds more, e.g. Rocket rows):
#   NAME      a label
#   TOKENS    none | one (the same token every request) | rotate (a different token per request,
#             cycling through the 10,000 minted ones)
#   BASELINE  the NAME whose median requests/s this row is divided by in the report, or -
#   COMMAND   run with bash; it must serve GET $BENCH_PATH and GET /healthz on $ADDR, reading the
#             CLERK_* settings (a mock Clerk, exported) from the environment
#
# Environment knobs: ROUNDS (5), DURATION seconds per measurement (10), WARMUP seconds (2),
# CONNECTIONS (32), WRK_THREADS (1), SERVER_CPU (0), LOAD_CPU (1), SERVER_THREADS (1: tokio
# workers, matching the one core), MEMORY_REQUESTS (100000), OUT (a temp dir).
# Needs: wrk (apt-get install -y wrk), curl, taskset.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROUNDS="${ROUNDS:-5}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
WRK_THREADS="${WRK_THREADS:-1}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
export TOKIO_WORKER_THREADS="${SERVER_THREADS:-1}"
MEMORY_REQUESTS="${MEMORY_REQUESTS:-100000}"
export BENCH_PATH="${BENCH_PATH:-/api/hello}"
MOCK_PORT="${MOCK_PORT:-7700}"
export ADDR="${ADDR:-127.0.0.1:7701}"
OUT="${OUT:-$(mktemp -d /tmp/clerk-load.XXXXXX)}"
mkdir -p "$OUT"

for tool in wrk curl taskset; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (apt-get install -y wrk curl util-linux)" >&2; exit 1; }
done

echo "== building (release)" >&2
. "$HERE/common.sh"

VARIANTS=(
  "a|none|-|$BIN/load-server none \$ADDR"
  "b|one|a|$BIN/load-server clerk-axum \$ADDR"
  "c|rotate|d|$BIN/load-server clerk-axum-nocache \$ADDR"
  "d|rotate|-|$BIN/load-server clerk-rs \$ADDR"
)
parse_variants "$@"

echo "== mock Clerk on 127.0.0.1:$MOCK_PORT, minting 10,000 tokens into $OUT" >&2
taskset -c "$LOAD_CPU" "$BIN/load-mock" "$MOCK_PORT" "$OUT" 10000 &
PIDS+=($!)
for _ in $(seq 3000); do [ -f "$OUT/ready" ] && break; sleep 0.1; done
[ -f "$OUT/ready" ] || { echo "run.sh: the mock did not come up" >&2; exit 1; }
set -a; . "$OUT/env"; set +a
export TOKENS_FILE="$OUT/tokens.txt"
TOKEN1="$(sed -n 1p "$TOKENS_FILE")"
TOKEN2="$(sed -n 2p "$TOKENS_FILE")"

SERVER_PID=""
start_server() { # command
  taskset -c "$SERVER_CPU" bash -c "exec $1" 2>>"$OUT/server.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "http://$ADDR/healthz" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: server did not start: $1 (see $OUT/server.log)" >&2
  exit 1
}
stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}
expect_200() { # token
  local status
  if [ -n "$1" ]; then
    status="$(curl -s -o "$OUT/last-body" -w '%{http_code}' -H "Authorization: Bearer $1" "http://$ADDR$BENCH_PATH")"
  else
    status="$(curl -s -o "$OUT/last-body" -w '%{http_code}' "http://$ADDR$BENCH_PATH")"
  fi
  [ "$status" = 200 ] || { echo "run.sh: expected 200, got $status: $(cat "$OUT/last-body")" >&2; exit 1; }
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# wrk with bench.lua; prints the RESULT fields
run_wrk() { # tokens duration
  TOKEN_MODE="$1" taskset -c "$LOAD_CPU" \
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$2"s -s "$HERE/lua/bench.lua" "http://$ADDR$BENCH_PATH" \
    | sed -n 's/^RESULT //p'
}
# wrk until every thread has had max_requests responses (then SIGINT makes it report)
run_wrk_count() { # tokens max_requests_per_thread
  local done_file="$OUT/wrk-done.$RANDOM" wrk_pid
  TOKEN_MODE="$1" MAX_REQUESTS="$2" DONE_FILE="$done_file" taskset -c "$LOAD_CPU" \
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d3600s -s "$HERE/lua/bench.lua" "http://$ADDR$BENCH_PATH" \
    >"$done_file.out" &
  wrk_pid=$!
  until [ "$(ls "$done_file".[0-9]* 2>/dev/null | wc -l)" -ge "$WRK_THREADS" ]; do
    kill -0 "$wrk_pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -INT "$wrk_pid" 2>/dev/null || true
  wait "$wrk_pid" || true
  sed -n 's/^RESULT //p' "$done_file.out"
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

TICKS="$(getconf CLK_TCK)"
RESULTS="$OUT/results.tsv"
printf 'round\tvariant\trps\tp99_us\tcpu_us_per_req\n' >"$RESULTS"
echo "== $ROUNDS rounds x ${#VARIANTS[@]} variants, ${DURATION}s each (+${WARMUP}s warm-up); server on CPU $SERVER_CPU ($TOKIO_WORKER_THREADS tokio thread), wrk -t$WRK_THREADS -c$CONNECTIONS on CPU $LOAD_CPU; loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >&2
n=${#VARIANTS[@]}
for round in $(seq "$ROUNDS"); do
  for k in $(seq 0 $((n - 1))); do
    # Rotate the order every round so no variant always runs first or last.
    spec="${VARIANTS[$(((k + round) % n))]}"
    IFS='|' read -r name tokens _baseline command <<<"$spec"
    start_server "$command"
    case "$tokens" in
      none) expect_200 "" ;;
      one) expect_200 "$TOKEN1" ;;
      rotate) expect_200 "$TOKEN1"; expect_200 "$TOKEN2" ;;
    esac
    run_wrk "$tokens" "$WARMUP" >/dev/null
    before="$(cpu_ticks "$SERVER_PID")"
    result="$(run_wrk "$tokens" "$DURATION")"
    after="$(cpu_ticks "$SERVER_PID")"
    stop_server
    requests="$(field "$result" requests)"
    bad=$(( $(field "$result" non2xx) + $(field "$result" connect) + $(field "$result" read) + $(field "$result" timeout) ))
    if [ "$bad" -gt 0 ]; then echo "run.sh: $name: $bad failed requests ($result)" >&2; exit 1; fi
    cpu_us="$(awk -v t=$((after - before)) -v hz="$TICKS" -v r="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')"
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$(field "$result" rps)" "$(field "$result" p99_us)" "$cpu_us" >>"$RESULTS"
    echo "round $round $name: $(field "$result" rps) req/s, p99 $(field "$result" p99_us) us, $cpu_us us CPU/req" >&2
  done
done

median() { # variant column
  awk -F'\t' -v v="$1" -v c="$2" 'NR > 1 && $2 == v { print $c }' "$RESULTS" | median_of
}
median_of() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# Median over rounds of the ratio row/baseline within each round (the machine's load drifts
# between rounds; within one round the variants ran back to back). invert: baseline/row.
round_ratio() { # variant baseline column invert
  awk -F'\t' -v v="$1" -v b="$2" -v c="$3" -v inv="$4" '
    NR > 1 && $2 == v { x[$1] = $c } NR > 1 && $2 == b { y[$1] = $c }
    END { for (r in x) if (r in y) print (inv ? y[r] / x[r] : x[r] / y[r]) }' "$RESULTS" | median_of
}
echo
echo "| variant | requests/s (median) | p99 (median) | server CPU per request (median) | ratio by requests/s (median of per-round ratios) | ratio by CPU per request (baseline CPU / row CPU, median of per-round ratios) |"
echo "|---|---|---|---|---|---|"
for spec in "${VARIANTS[@]}"; do
  IFS='|' read -r name _tokens baseline _command <<<"$spec"
  rps="$(median "$name" 3)"; p99="$(median "$name" 4)"; cpu="$(median "$name" 5)"
  ratio="-"; cpu_ratio="-"
  if [ "$baseline" != "-" ]; then
    ratio="$(printf '%s/%s = %.2f' "$name" "$baseline" "$(round_ratio "$name" "$baseline" 3 0)")"
    cpu_ratio="$(printf '%.2f' "$(round_ratio "$name" "$baseline" 5 1)")"
  fi
  printf '| %s | %.0f | %.2f ms | %s us | %s | %s |\n' "$name" "$rps" "$(awk -v p="$p99" 'BEGIN { print p / 1000 }')" "$cpu" "$ratio" "$cpu_ratio"
done

echo
echo "== memory: variant b (clerk-axum, default verified-token cache) after $MEMORY_REQUESTS requests with 10,000 distinct tokens" >&2
start_server "${VARIANTS[1]##*|}"
expect_200 "$TOKEN1"
idle="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")"
per_thread=$((MEMORY_REQUESTS / WRK_THREADS))
result="$(run_wrk_count rotate "$per_thread")"
hwm1="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")"
result2="$(run_wrk_count rotate "$per_thread")"
hwm2="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")"
rss="$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")"
stop_server
echo "peak RSS (VmHWM): ${idle} KiB after start + 1 request; ${hwm1} KiB after $(field "$result" requests) requests; ${hwm2} KiB after $(field "$result2" requests) more (VmRSS then ${rss} KiB)"
echo "raw results: $RESULTS" >&2
