#!/usr/bin/env bash
# Instructions per iteration of the traced tight loop (`x = i`, one LHS
# probe), counted by callgrind in the Python process: the count at 200,000
# iterations minus the count at 100,000, divided by 100,000 — start-up and
# sealing cancel out. Instruction counts do not depend on machine load, so
# this is the measure for small hot-path changes (docs/PERFORMANCE.md).
#
#   scripts/callgrind-loop.sh [PROBE_BINARY] [PYTHON:CORE ...]
# default: target/release/probe, 3.11:settrace 3.12:monitoring 3.13:monitoring
set -euo pipefail
cd "$(dirname "$0")/.."
probe="${1:-target/release/probe}"
probe_abs="$(cd "$(dirname "$probe")" && pwd)/$(basename "$probe")"
shift || true
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(3.11:settrace 3.12:monitoring 3.13:monitoring)
command -v valgrind >/dev/null || { echo "error: valgrind is needed" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python_for() {
  local v="$1"
  if [ -x ".ci/venvs/$v/bin/python" ]; then echo "$PWD/.ci/venvs/$v/bin/python"; return; fi
  ls -d /root/.pyenv/versions/"$v".*/bin/python 2>/dev/null | tail -n 1
}

count() { # python core iterations -> instructions of the python process
  local py="$1" core="$2" n="$3"
  local prog="$work/loop_$n.py"
  sed "s/1_000_000/$n/" fixtures/bench/loop_function.py > "$prog"
  local line
  line=$(grep -n "PROBE x" "$prog" | cut -d: -f1)
  rm -f "$work"/callgrind.out.*
  (cd "$work" && valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$work/callgrind.out.%p" \
      "$probe_abs" record -q --force --core "$core" -o "$work/l.probe" -p "$prog:$line:x" -- "$py" "$prog" \
      >/dev/null 2>&1)
  # The Python process's file is the one whose command line names the
  # program — and is not the recorder's (`probe record … -- python loop.py`
  # names it too).
  local f total=""
  for f in "$work"/callgrind.out.*; do
    if grep -q "^cmd:.*loop_$n.py" "$f" && ! grep -q "^cmd:.* record .*loop_$n.py" "$f"; then
      total=$(grep -m1 "^summary:" "$f" | awk '{print $2}')
    fi
  done
  echo "${total:-0}"
}

for r in "${runs[@]}"; do
  v="${r%%:*}"; core="${r##*:}"
  py="$(python_for "$v")"
  [ -n "$py" ] || { echo "$v: no interpreter" >&2; continue; }
  a=$(count "$py" "$core" 100000)
  b=$(count "$py" "$core" 200000)
  echo "$v $core: $(( (b - a) / 100000 )) instructions per iteration ($a at 100k, $b at 200k)"
done
