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
#   scripts/differential.sh --third-party   also the drivers of third-party
#       packages (SciPy, networkx, ...: tests/python/drivers/third_party/),
#       each Python then being a venv of its own under
#       target/third-party-venvs/3.X with those packages (binary wheels from
#       PyPI, installed on first use)
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

drivers=all
if [ "${1:-}" = --third-party ]; then
  drivers=all,third_party
  req=tests/python/drivers/third_party/requirements.txt
  for v in $(echo "${VERSIONS:-3.11,3.12,3.13,3.14,3.15}" | tr , ' '); do
    var="PROBE_TEST_PYTHON_${v/./_}"
    base="${!var:-}"
    if [ -z "$base" ]; then
      for cand in .ci/venvs/"$v"/bin/python /root/.pyenv/versions/"$v".*/bin/python; do
        if [ -x "$cand" ]; then base="$cand"; break; fi
      done
    fi
    [ -n "$base" ] || { echo "differential.sh: Python $v not found (set $var)" >&2; exit 2; }
    venv="target/third-party-venvs/$v"
    if ! "$venv/bin/python" -c "import scipy, networkx, more_itertools, pyparsing, dateutil" 2>/dev/null; then
      echo "differential.sh: making $venv ($(grep -v '^#' "$req" | xargs))" >&2
      rm -rf "$venv"
      "$base" -m venv --without-pip "$venv"
      # The base interpreter's pip installs into the new venv (Debian's
      # 3.14/3.15 builds have no ensurepip).
      "$base" -m pip -q --disable-pip-version-check --python "$venv/bin/python" \
        install --only-binary=:all: -r "$req"
    fi
    export "$var=$PWD/$venv/bin/python"
  done
  [ -n "${VERSIONS:-}" ] || args+=(--versions 3.11,3.12,3.13,3.14,3.15)
fi

cargo build --release --quiet
start=$(date +%s)
status=0
python3 tests/python/differential.py "${args[@]}" --seeds "$SEEDS" --drivers "$drivers" \
  $(for f in fixtures/reference/*.py; do printf -- '--program %s ' "$f"; done) || status=$?
end=$(date +%s)
echo "differential.sh: seeds $SEEDS, drivers: $drivers, $(ls fixtures/reference/*.py | wc -l) construct programs;" \
     "wall time $((end - start))s; exit $status (0 = zero disagreements)"
exit $status
