#!/usr/bin/env bash
# Regenerates the corpus with the pinned SDK (npm ci from package-lock.json) into a temporary
# file and fails on any difference from the committed corpus.json. Needs Node 20+ and the npm
# registry; fails loudly when either is missing.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "error: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: npm is not installed" >&2; exit 1; }
if ! npm ci --no-audit --no-fund --loglevel=error; then
    echo "error: npm ci failed (offline, or the registry refused the pinned packages);" \
        "the clerk-js corpus could not be checked" >&2
    exit 1
fi
tmp=$(mktemp "${TMPDIR:-/tmp}/clerk-js-corpus.XXXXXX.json")
trap 'rm -f "$tmp"' EXIT
node generate.mjs "$tmp"
if ! diff -q corpus.json "$tmp" >/dev/null; then
    echo "error: corpus.json differs from what the pinned SDK decides now:" >&2
    diff <(node -e 'const c = require(process.argv[1]); for (const x of [...c.cases, ...c.machine_cases]) console.log(JSON.stringify(x))' "$PWD/corpus.json") \
         <(node -e 'const c = require(process.argv[1]); for (const x of [...c.cases, ...c.machine_cases]) console.log(JSON.stringify(x))' "$tmp") | head -40 >&2 || true
    exit 1
fi
echo "clerk-js corpus: up to date ($(node -e 'const c = require(process.argv[1]); console.log(`${c.cases.length} cases, ${c.machine_cases.length} machine cases`)' "$PWD/corpus.json"))"
