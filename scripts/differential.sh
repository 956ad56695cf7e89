#!/usr/bin/env bash
# The long differential run of issue 11: `probe record` (every supported
# Python, every core) against the instruction-level reference, record for
# record, on thousands of generated programs, the whole real-code corpus and
# the construct programs, then a summary (counts per Python and core,
# disagreeing programs, wall time).
#
#   scripts/differential.sh                 seeds 1-2000, all drivers, constructs
#   SEEDS=1-10000 JOBS=2 scripts/differential.sh
#   VERSIONS=3.12 CORES=monitoring scripts/differential.sh
#   KEEP=/tmp/diff scripts/differential.sh  keep every program, probe list and log
#
# Each disagreement is printed in a few lines (--brief); rerun one with
#   python3 tests/python/differential.py --seeds N --versions 3.X --cores C
# for the full report, or --keep DIR to get the files. Needs
# `cargo build --release` and the interpreters (see README: .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS="${SEEDS:-1-2000}"
JOBS="${JOBS:-2}"
args=(--jobs "$JOBS" --brief --json "${JSON:-target/differential-long.json}")
[ -n "${VERSIONS:-}" ] && args+=(--versions "$VERSIONS")
[ -n "${CORES:-}" ] && args+=(--cores "$CORES")
[ -n "${KEEP:-}" ] && args+=(--keep "$KEEP")

cargo build --release --quiet
start=$(date +%s)
status=0
python3 tests/python/differential.py "${args[@]}" --seeds "$SEEDS" --drivers all \
  $(for f in fixtures/reference/*.py; do printf -- '--program %s ' "$f"; done) || status=$?
end=$(date +%s)
echo "differential.sh: seeds $SEEDS, all drivers, $(ls fixtures/reference/*.py | wc -l) construct programs;" \
     "wall time $((end - start))s; exit $status (0 = zero disagreements)"
exit $status
