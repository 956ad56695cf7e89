#!/usr/bin/env bash
# Benchmark `probe record` against the SPEC §10 performance targets.
#
#   scripts/bench-record.sh [--repeat N] [--json FILE] [--all-cores] [--no-build] ...
#
# Builds the profiling binary (cargo build --profile profiling: the release
# code with debug info, in target/profiling/; a no-op when up to date)
# unless --no-build is given or $PROBE_BIN points at another binary, then runs
# scripts/bench_record.py with the system python3 (stdlib only). The table goes
# to stdout, progress to stderr. See `scripts/bench-record.sh --help`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${PYTHON3:-}" ]]; then py3="$PYTHON3"; elif [[ -x /usr/bin/python3 ]]; then py3=/usr/bin/python3; else py3=python3; fi
bin="${PROBE_BIN:-$root/target/profiling/probe}"

build=1
for a in "$@"; do
    case "$a" in
        --no-build|-h|--help) build=0 ;;
        --probe-bin|--probe-bin=*) build=0 ;;
    esac
done
[[ -n "${PROBE_BIN:-}" ]] && build=0

if ! command -v "$py3" >/dev/null 2>&1; then
    echo "bench-record: $py3 not found (set PYTHON3=/path/to/python3)" >&2
    exit 2
fi

if [[ $build -eq 1 ]]; then
    if command -v cargo >/dev/null 2>&1; then
        echo "bench-record: cargo build --profile profiling" >&2
        if ! (cd "$root" && cargo build --profile profiling --quiet --bin probe); then
            echo "bench-record: cargo build --profile profiling failed; fix the build or rerun with" \
                 "--no-build to benchmark the existing $bin" >&2
            exit 2
        fi
    elif [[ ! -x "$bin" ]]; then
        echo "bench-record: cargo not found and no binary at $bin" >&2
        exit 2
    else
        echo "bench-record: cargo not found; using the existing $bin" >&2
    fi
fi

exec "$py3" "$root/scripts/bench_record.py" "$@"
