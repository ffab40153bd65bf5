#!/usr/bin/env bash
# Instructions per request (valgrind's callgrind), the noise-free companion of run.sh: this
# machine is shared, so requests/s and CPU time move between runs by more than the layer costs;
# user-space instruction counts are the same run after run for the same binary and requests.
#
#   bench/load/instructions.sh [--variant 'NAME|TOKENS|BASELINE|COMMAND']...
#
# Variants as in run.sh (TOKENS: none | one). Each server runs twice under callgrind, answering
# N1 and N2 requests on one keep-alive connection (curl); per request = (I(N2) - I(N1)) / (N2 - N1),
# so start-up and shutdown cancel out. Knobs: N1 (200), N2 (2200), OUT.
# Needs: valgrind, curl.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
N1="${N1:-200}"
N2="${N2:-2200}"
export BENCH_PATH="${BENCH_PATH:-/api/hello}"
MOCK_PORT="${MOCK_PORT:-7700}"
export ADDR="${ADDR:-127.0.0.1:7701}"
export TOKIO_WORKER_THREADS=1
OUT="${OUT:-$(mktemp -d /tmp/clerk-instr.XXXXXX)}"
mkdir -p "$OUT"
for tool in valgrind curl; do
  command -v "$tool" >/dev/null || { echo "instructions.sh: $tool is missing" >&2; exit 1; }
done

. "$HERE/common.sh"
VARIANTS=(
  "a|none|-|$BIN/load-server none \$ADDR"
  "b|one|a|$BIN/load-server clerk-axum \$ADDR"
)
parse_variants "$@"
"$BIN/load-mock" "$MOCK_PORT" "$OUT" 2 &
PIDS+=($!)
for _ in $(seq 3000); do [ -f "$OUT/ready" ] && break; sleep 0.1; done
[ -f "$OUT/ready" ] || { echo "instructions.sh: the mock did not come up" >&2; exit 1; }
set -a; . "$OUT/env"; set +a
TOKEN="$(sed -n 1p "$OUT/tokens.txt")"

instructions() { # name command tokens requests
  local file="$OUT/callgrind.$1.$4" pid
  valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$file" bash -c "exec $2" 2>>"$OUT/valgrind.log" &
  pid=$!
  for _ in $(seq 600); do
    curl -fsS -o /dev/null "http://$ADDR/healthz" 2>/dev/null && break
    sleep 0.1
  done
  local auth=()
  [ "$3" = one ] && auth=(-H "Authorization: Bearer $TOKEN")
  local ok
  ok="$(curl -s "${auth[@]}" -o /dev/null -w '%{http_code}\n' "http://$ADDR$BENCH_PATH?[1-$4]" | grep -c '^200$' || true)"
  [ "$ok" = "$4" ] || { echo "instructions.sh: $1: $ok of $4 requests answered 200" >&2; exit 1; }
  kill -INT "$pid"
  wait "$pid" || true
  awk '/^summary:/ {print $2}' "$file"
}

declare -A PER
echo "| variant | instructions per request | ratio (baseline / row) |"
echo "|---|---|---|"
for spec in "${VARIANTS[@]}"; do
  IFS='|' read -r name tokens baseline command <<<"$spec"
  i1="$(instructions "$name" "$command" "$tokens" "$N1")"
  i2="$(instructions "$name" "$command" "$tokens" "$N2")"
  PER[$name]=$(( (i2 - i1) / (N2 - N1) ))
  ratio="-"
  [ "$baseline" != "-" ] && ratio="$(awk -v b="${PER[$baseline]}" -v r="${PER[$name]}" 'BEGIN { printf "%.3f", b / r }')"
  echo "| $name | ${PER[$name]} | $ratio |"
done
echo "raw: $OUT" >&2
