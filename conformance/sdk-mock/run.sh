#!/usr/bin/env bash
# Clerk's official SDKs as the judge of our mock Clerk (docs/design.md §12).
#
# Builds `clerk mock` (clerk-cli, with its `mock` feature when it has one), starts it on a free
# loopback port with a generated data set, runs the Python check (clerk-backend-api, in a venv
# under target/) and the Node check (@clerk/backend, npm ci here) against it, stops it, then
# runs the write checks of both SDKs against a second mock (writes_python.py, writes_node.mjs),
# prints
# `N passed, M failed` last and exits non-zero on any failure.
#
# Needs cargo, python3 (with venv), node >= 18.17 and npm; pip and npm reach their registries
# (or caches). Every step is bounded by `timeout`.
#
# Environment:
#   CLERK_MOCK_BIN=path             use this `clerk` binary instead of building one
#   CLERK_SDK_CHECK_TIMEOUT=secs    bound of each check (default 180)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$target/sdk-mock"
mkdir -p "$work"

USERS=25
ORGS=3
WRITE_USERS=20
check_timeout="${CLERK_SDK_CHECK_TIMEOUT:-180}"

passed=0
failed=0
mock_pid=""

cleanup() {
    if [[ -n "$mock_pid" ]] && kill -0 "$mock_pid" 2>/dev/null; then
        kill "$mock_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$mock_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$mock_pid" 2>/dev/null
    fi
    mock_pid=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

finish() {
    cleanup
    echo "$passed passed, $failed failed"
    [[ "$failed" -eq 0 ]]
    exit $?
}

# A setup step that failed: counted as a failure, then the run ends.
abort() {
    echo "FAIL setup: $*"
    failed=$((failed + 1))
    finish
}

for tool in cargo python3 node npm timeout; do
    command -v "$tool" >/dev/null || abort "$tool is not installed"
done

# ---- the mock binary -----------------------------------------------------------------------
if [[ -n "${CLERK_MOCK_BIN:-}" ]]; then
    bin="$CLERK_MOCK_BIN"
else
    features=()
    # `mock` under clerk-cli's [features], when the CLI has put the command behind one.
    if awk '/^\[/{in_features = ($0 == "[features]")} in_features && /^mock[[:space:]]*=/{found=1} END{exit !found}' \
        "$root/clerk-cli/Cargo.toml"; then
        features=(--features mock)
    fi
    echo "building clerk-cli ${features[*]}"
    timeout 1800 cargo build --quiet -p clerk-cli "${features[@]}" --manifest-path "$root/Cargo.toml" \
        || abort "cargo build -p clerk-cli ${features[*]} failed"
    bin="$target/debug/clerk"
fi
[[ -x "$bin" ]] || abort "no clerk binary at $bin"

# ---- the checks' dependencies --------------------------------------------------------------
venv="$work/venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "creating $venv"
    rm -rf "$venv"
    timeout 120 python3 -m venv "$venv" || abort "python3 -m venv failed"
    timeout 600 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$here/requirements.txt" || abort "pip install -r requirements.txt failed"
    echo "$want" > "$stamp"
fi
(cd "$here" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
    || abort "npm ci failed"

# ---- start the mock ------------------------------------------------------------------------
out="$work/mock.stdout"
err="$work/mock.stderr"
"$bin" mock --port 0 --users "$USERS" --seed-orgs "$ORGS" >"$out" 2>"$err" &
mock_pid=$!

api_url=""
for _ in $(seq 300); do
    api_url="$(sed -n 's/^CLERK_API_URL=//p' "$out" 2>/dev/null)"
    [[ -n "$api_url" ]] && break
    kill -0 "$mock_pid" 2>/dev/null || abort "clerk mock exited: $(cat "$err")"
    sleep 0.1
done
[[ -n "$api_url" ]] || abort "clerk mock printed no CLERK_API_URL within 30 s: $(cat "$err")"
secret_key="$(sed -n 's/^CLERK_SECRET_KEY=//p' "$out")"
publishable_key="$(sed -n 's/^CLERK_PUBLISHABLE_KEY=//p' "$out")"

# Serving: the user count answers with the data set.
timeout 30 "$venv/bin/python" - "$api_url" "$secret_key" "$USERS" <<'EOF' || abort "clerk mock at $api_url does not answer"
import json, sys, time, urllib.request
url, key, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
while True:
    try:
        request = urllib.request.Request(f"{url}/v1/users/count", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=2) as response:
            if json.load(response)["total_count"] == users:
                break
    except OSError:
        pass
    time.sleep(0.1)
EOF
echo "clerk mock on $api_url ($USERS users, $ORGS organizations)"

# ---- the checks ----------------------------------------------------------------------------
# Runs one check, echoes its lines and counts its PASS/FAIL lines; a check that exits non-zero
# without reporting a failure (a crash, the timeout) counts as one more failure.
run_check() {
    local name="$1"
    shift
    local log="$work/$name.log" status
    timeout "$check_timeout" "$@" >"$log" 2>&1
    status=$?
    cat "$log"
    local p f
    p="$(grep -c '^PASS ' "$log")"
    f="$(grep -c '^FAIL ' "$log")"
    passed=$((passed + p))
    failed=$((failed + f))
    if [[ "$status" -ne 0 && "$f" -eq 0 ]]; then
        echo "FAIL $name: exited with status $status (124: timed out after ${check_timeout}s)"
        failed=$((failed + 1))
    fi
}

run_check python "$venv/bin/python" "$here/check_python.py" "$api_url" "$secret_key" "$USERS" "$ORGS"
run_check node env CLERK_TELEMETRY_DISABLED=1 node "$here/check_node.mjs" \
    "$api_url" "$secret_key" "$publishable_key" "$USERS" "$ORGS"
cleanup

# ---- the write checks, on a mock of their own -----------------------------------------------
# The writes change the users the read checks compare with the generated data set, so they run
# on a second mock; Python writes users 0-4 and Node users 10-14 of it.
"$bin" mock --port 0 --users "$WRITE_USERS" >"$out" 2>"$err" &
mock_pid=$!
api_url=""
for _ in $(seq 300); do
    api_url="$(sed -n 's/^CLERK_API_URL=//p' "$out" 2>/dev/null)"
    [[ -n "$api_url" ]] && break
    kill -0 "$mock_pid" 2>/dev/null || abort "clerk mock (writes) exited: $(cat "$err")"
    sleep 0.1
done
[[ -n "$api_url" ]] || abort "clerk mock (writes) printed no CLERK_API_URL within 30 s: $(cat "$err")"
secret_key="$(sed -n 's/^CLERK_SECRET_KEY=//p' "$out")"
publishable_key="$(sed -n 's/^CLERK_PUBLISHABLE_KEY=//p' "$out")"
echo "clerk mock for the writes on $api_url ($WRITE_USERS users)"
run_check python-writes "$venv/bin/python" "$here/writes_python.py" "$api_url" "$secret_key" 0
run_check node-writes env CLERK_TELEMETRY_DISABLED=1 node "$here/writes_node.mjs" \
    "$api_url" "$secret_key" "$publishable_key" 10

finish
