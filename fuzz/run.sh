#!/usr/bin/env bash
# Builds every fuzz target (cargo-fuzz, libFuzzer, on stable Rust) and runs each for a bounded
# time; fails on any crash, leak of the RSS limit or per-input timeout, printing the input.
#
#   bash fuzz/run.sh                 # every target, FUZZ_SECONDS (30) each, FUZZ_JOBS at once
#   FUZZ_SECONDS=10 bash fuzz/run.sh token_signed jwks
#
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_JOBS (targets run at once,
# default the number of cores), FUZZ_RSS_MB (default 2048), FUZZ_TIMEOUT (seconds per input,
# default 10), FUZZ_TARGET_DIR (build cache, default ~/.cache/clerk-rs/fuzz-target so a fresh
# clone on the same machine does not rebuild aws-lc from scratch).
#
# Stable Rust is enough: with `--sanitizer none`, cargo-fuzz passes only stable `-C` flags
# (the `sancov-module` pass, inline 8-bit counters, trace-compares), so coverage guidance works
# without a nightly; RUSTC_BOOTSTRAP is not needed (it is passed through if you set it).
set -euo pipefail
cd "$(dirname "$0")"
fuzz_dir=$(pwd)

seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
rss_mb=${FUZZ_RSS_MB:-2048}
input_timeout=${FUZZ_TIMEOUT:-10}
target_dir=${FUZZ_TARGET_DIR:-${HOME:-/tmp}/.cache/clerk-rs/fuzz-target}
started=$(date +%s)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (crates.io, once per machine)"
    cargo install cargo-fuzz --locked --quiet
fi

all_targets=$(cargo fuzz list)
targets=${*:-$all_targets}

mkdir -p "$(dirname "$target_dir")"
echo "== building fuzz targets (cargo fuzz build --sanitizer none, into $target_dir)"
build_started=$(date +%s)
cargo fuzz build --sanitizer none --target-dir "$target_dir" >"$target_dir.build.log" 2>&1 || {
    tail -50 "$target_dir.build.log" >&2
    echo "error: building the fuzz targets failed (full log: $target_dir.build.log)" >&2
    exit 1
}
build_secs=$(($(date +%s) - build_started))
echo "   built in ${build_secs}s"

triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$target_dir/$triple/release"
work=$(mktemp -d "${TMPDIR:-/tmp}/clerk-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$fuzz_dir/artifacts"

run_one() {
    local target=$1
    local corpus="$work/corpus-$target"
    mkdir -p "$corpus" "$fuzz_dir/artifacts/$target"
    local dict=()
    [ -f "$fuzz_dir/dict/$target.dict" ] && dict=("-dict=$fuzz_dir/dict/$target.dict")
    # New inputs go to the scratch corpus (first directory); the committed seeds are read only.
    set +e
    "$bin_dir/$target" "$corpus" "$fuzz_dir/corpus/$target" "${dict[@]}" \
        -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$input_timeout" \
        -print_final_stats=1 -artifact_prefix="$fuzz_dir/artifacts/$target/" \
        >"$work/$target.log" 2>&1
    echo $? >"$work/$target.rc"
    set -e
}

echo "== fuzzing ${seconds}s per target, $jobs at a time: $(echo $targets | tr '\n' ' ')"
running=0
for target in $targets; do
    run_one "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

failed=0
printf '%-16s %12s %10s %8s %8s %8s %s\n' target executions exec/s cov ft corpus "seed cov → final"
for target in $targets; do
    log="$work/$target.log"
    rc=$(cat "$work/$target.rc" 2>/dev/null || echo 1)
    fstat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE ' "$log" | tail -1 || true)
    inited=$(grep -E '^#[0-9]+[[:space:]]+INITED ' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p' || true)
    field() { echo "$done_line" | sed -n "s/.* $1: \([0-9]*\).*/\1/p"; }
    printf '%-16s %12s %10s %8s %8s %8s %s\n' "$target" "$(fstat number_of_executed_units)" \
        "$(fstat average_exec_per_sec)" "$(field cov)" "$(field ft)" "$(field corp)" \
        "${inited:-?} → $(field cov)"
    if [ "$rc" != 0 ]; then
        failed=1
        echo "---- $target FAILED (libFuzzer exit $rc)" >&2
        grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|^thread' -A3 "$log" | head -30 | cut -c1-300 >&2 || true
        grep -E 'Test unit written to|crash-|timeout-|oom-|leak-' "$log" \
            | sed -n 's/.*written to \(.*\)/   crashing input: \1/p' >&2 || true
        echo "   reproduce: $bin_dir/$target <input>   (or: cargo fuzz run --sanitizer none $target <input>)" >&2
    fi
done
echo "== fuzz: $(echo $targets | wc -w) targets, build ${build_secs}s, total $(($(date +%s) - started))s"
if [ "$failed" != 0 ]; then
    echo "error: a fuzz target crashed (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
