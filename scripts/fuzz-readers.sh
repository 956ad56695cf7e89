#!/usr/bin/env bash
# Hostile logs through every reader command (issue 16): N inputs (default
# 20,000) of at most 1 MiB — built field by field with valid checksums and
# hostile contents, or mutations of real logs — each run through `verify`
# and a rotating share of `info`, `replay`, `diff`, `diff --plot` and
# `export` (Parquet, Arrow, CSV, JSON Lines) as real subprocesses limited
# to 10 s of CPU, 30 s of wall time and 1 GiB of address space.
#
#   scripts/fuzz-readers.sh [N] [--per-input K] [--jobs J] [--seed S] [--first I]
#
# --per-input 15 runs every command on every input (default 3: verify and
# two others, rotating). Prints a summary (inputs by kind, runs by command
# and exit status, the slowest runs, every failure) and exits 1 on any
# failure: a run over its limits, an exit status other than 0, 1 or 2, a
# signal, a panic, or `verify` saying OK on a log whose header or frames
# were altered. Failing inputs are kept in fuzz-failures/ for reproduction.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n=20000
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --per-input|--jobs|--seed|--first) args+=("$1" "$2"); shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) n="$1"; shift ;;
    esac
done
(cd "$root" && cargo build --release --quiet --bin probe --example fuzz_readers)
echo "fuzz-readers: $n inputs ($(date -u +%Y-%m-%dT%H:%M:%SZ), git $(cd "$root" && git rev-parse --short HEAD), $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
PROBE_BIN="$root/target/release/probe" exec "$root/target/release/examples/fuzz_readers" \
    --inputs "$n" --save "$root/fuzz-failures" "${args[@]}"
