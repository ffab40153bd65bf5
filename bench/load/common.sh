# Sourced by run.sh and instructions.sh: builds the load servers, sets BIN, parses the
# --variant arguments onto VARIANTS (set the defaults first) and kills started PIDS on exit.

(cd "$HERE" && cargo build --release --quiet)
BIN="$(cd "$HERE" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release"

parse_variants() { # "$@" of the script
  while [ $# -gt 0 ]; do
    case "$1" in
      --variant) VARIANTS+=("$2"); shift 2 ;;
      *) echo "$(basename "$0"): unknown argument $1" >&2; exit 2 ;;
    esac
  done
}

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
