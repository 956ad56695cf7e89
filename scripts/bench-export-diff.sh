#!/usr/bin/env bash
# Speed of `probe export` and `probe diff` on a large scalar trace.
#
#   scripts/bench-export-diff.sh [N_RECORDS] [REPEAT]     (defaults 10000000, 3)
#
# Writes a synthetic N-record scalar trace (examples/bench_log.rs: a loop
# whose trigger captures an int and a float, realistic timestamps) and a
# copy with one float moved by one ulp, then times whole `probe` processes
# (start-up included), best of REPEAT:
#   export to Parquet, Arrow, and (once) CSV and JSON Lines;
#   diff of the two traces (must exit 1 and find the nudged value) and of a
#   trace with itself (must exit 0).
# Prints records/s; checks every result and exits 1 if one is wrong. It
# never asserts a time. Outputs go to $BENCH_DIR (default: a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000000}"
REPEAT="${2:-3}"
N=$(( N / 2 * 2 ))
NUDGE=$(( N / 4 ))

cargo build --profile profiling --quiet --bin probe --example bench_log
PROBE="$PWD/target/profiling/probe"
GEN="$PWD/target/profiling/examples/bench_log"
DIR="${BENCH_DIR:-$(mktemp -d)}"; mkdir -p "$DIR"
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$DIR"' EXIT

echo "probe export/diff benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo "git     : $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
echo "host    : $(nproc) cores, loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "records : $N per trace (int + float per trigger), nudged float at value #$NUDGE of x"
"$GEN" "$DIR/a.probe" "$N"
"$GEN" "$DIR/b.probe" "$N" --nudge "$NUDGE"
echo "trace   : $(stat -c %s "$DIR/a.probe") bytes"
echo

fail=0
NFMT=$(echo "$N" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')
best() { # sets BEST / BEST_CPU (wall and user+sys seconds of the fastest of REPEAT runs of "$@") and status
  local b="" c="" w u k
  for _ in $(seq "$REPEAT"); do
    set +e; /usr/bin/time -f "%e %U %S" -o "$DIR/time.txt" "$@" >"$DIR/out.txt" 2>"$DIR/err.txt"; status=$?; set -e
    read -r w u k < <(tail -n 1 "$DIR/time.txt")
    if [ -z "$b" ] || [ "$(echo "$w < $b" | bc -l)" = 1 ]; then b=$w; c=$(echo "$u + $k" | bc -l); fi
  done
  BEST=$b; BEST_CPU=$c
}
rate() { echo "$1 / $2 / 1000000" | bc -l | xargs printf "%.1f"; }

printf "%-34s %9s %8s %13s %s\n" "operation" "wall (s)" "cpu (s)" "M records/s" "output"
for fmt in parquet arrow; do
  best "$PROBE" export "$DIR/a.probe" -o "$DIR/a.$fmt" --force; t=$BEST
  grep -q "wrote .* — $NFMT rows" "$DIR/err.txt" || { echo "export $fmt: $(cat "$DIR/err.txt")"; fail=1; }
  [ "$status" = 0 ] || { echo "export $fmt exited $status: $(cat "$DIR/err.txt")"; fail=1; }
  printf "%-34s %9.3f %8.2f %13s %s\n" "export -> $fmt" "$t" "$BEST_CPU" "$(rate "$N" "$t")" "$(stat -c %s "$DIR/a.$fmt") bytes"
done
REPEAT_SAVE=$REPEAT; REPEAT=1
for fmt in csv jsonl; do
  best "$PROBE" export "$DIR/a.probe" -o "$DIR/a.$fmt" --force; t=$BEST
  [ "$status" = 0 ] || { echo "export $fmt exited $status: $(cat "$DIR/err.txt")"; fail=1; }
  lines=$(wc -l < "$DIR/a.$fmt")
  want=$N; [ "$fmt" = csv ] && want=$(( N + 1 ))
  [ "$lines" = "$want" ] || { echo "export $fmt: $lines lines, expected $want"; fail=1; }
  printf "%-34s %9.3f %8.2f %13s %s\n" "export -> $fmt (1 run)" "$t" "$BEST_CPU" "$(rate "$N" "$t")" "$(stat -c %s "$DIR/a.$fmt") bytes"
done
REPEAT=$REPEAT_SAVE

best "$PROBE" diff "$DIR/a.probe" "$DIR/b.probe"; t=$BEST
[ "$status" = 1 ] || { echo "diff of nudged traces exited $status (expected 1)"; fail=1; }
grep -q "first divergence at value #$NUDGE:" "$DIR/out.txt" || { echo "diff did not find value #$NUDGE:"; cat "$DIR/out.txt"; fail=1; }
printf "%-34s %9.3f %8.2f %13s %s\n" "diff A B (one ulp apart)" "$t" "$BEST_CPU" "$(rate "$N" "$t")" "pairs/s; $(rate $(( 2 * N )) "$t") M records read/s"
best "$PROBE" diff "$DIR/a.probe" "$DIR/a.probe"; t=$BEST
[ "$status" = 0 ] || { echo "diff of a trace with itself exited $status (expected 0)"; fail=1; }
printf "%-34s %9.3f %8.2f %13s %s\n" "diff A A (identical)" "$t" "$BEST_CPU" "$(rate "$N" "$t")" "pairs/s; $(rate $(( 2 * N )) "$t") M records read/s"

echo
echo "loadavg at end $(cut -d' ' -f1-3 /proc/loadavg); whole-process wall time, best of $REPEAT, start-up included;"
echo "M records/s = records per trace / wall time (for diff: value pairs compared per second; it reads both traces)"
if [ "$fail" != 0 ]; then echo "CHECKS FAILED"; exit 1; fi
echo "checks: every export wrote all rows, diff found the nudged value (exit 1) and passed the identical pair (exit 0)"
