#!/usr/bin/env bash
# A long recording of the tight loop (`x = i`, one LHS probe, as in
# fixtures/bench/loop_function.py) — 100 M captures by default — and what it
# cost: peak RSS of the recorder and of the traced program, log bytes per
# record, and how long `probe verify` takes on the result.
#
#   scripts/soak.sh [N] [--python PY] [--keep DIR]
#
# N defaults to 100000000 (about an hour with the pure-Python cores; 20 M
# takes some minutes). The recorder's peak is its own VmHWM (sampled every
# second from /proc, and read once more just before it exits); the
# program's is its own getrusage peak, printed by the program at its end.
# Prints one table on stdout; exits 1 if the log does not verify or does
# not hold N records.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n=100000000
py=""
keep=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --python) py="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) n="$1"; shift ;;
    esac
done
if [[ -z "$py" ]]; then
    py="$(ls -d /root/.pyenv/versions/3.12.*/bin/python 2>/dev/null | sort -V | tail -1 || true)"
    [[ -z "$py" ]] && py="$(command -v python3.12 || command -v python3)"
fi
(cd "$root" && cargo build --release --quiet --bin probe)
bin="$root/target/release/probe"
if [[ -n "$keep" ]]; then work="$keep"; mkdir -p "$work"; else work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT; fi

cat > "$work/soak.py" <<PY
import resource, sys


def main(n):
    for i in range(n):
        x = i  # PROBE x


main(int(sys.argv[1]))
print("program-peak-kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
PY
line="$(grep -n '# PROBE x' "$work/soak.py" | cut -d: -f1)"
log="$work/soak.probe"
echo "soak: recording $n captures with $py ($("$py" --version 2>&1))" >&2
start=$(date +%s.%N)
"$bin" record -q --force -o "$log" -p "$work/soak.py:$line:x" -- "$py" "$work/soak.py" "$n" 2>"$work/program.err" &
pid=$!
rec_hwm=0
while kill -0 "$pid" 2>/dev/null; do
    h=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [[ -n "$h" && "$h" -gt "$rec_hwm" ]] && rec_hwm=$h
    sleep 1
done
wait "$pid" || { echo "soak: probe record failed:" >&2; cat "$work/program.err" >&2; exit 1; }
rec_secs=$(echo "$(date +%s.%N) - $start" | bc)
prog_kib=$(awk '/program-peak-kib/ {print $2}' "$work/program.err")
bytes=$(stat -c %s "$log")
/usr/bin/time -f "%e %U %S %M" -o "$work/verify.time" "$bin" verify "$log" > "$work/verify.txt" || true
read -r vwall vuser vsys vrss < <(tail -1 "$work/verify.time")
records=$("$bin" info --json "$log" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["records"])')
ok=0
grep -q "verdict: OK" "$work/verify.txt" || { echo "soak: verify did not say OK:" >&2; cat "$work/verify.txt" >&2; ok=1; }
[[ "$records" == "$n" ]] || { echo "soak: $records records, expected $n" >&2; ok=1; }

printf '%-34s %s\n' "captures" "$n"
printf '%-34s %s\n' "python" "$("$py" --version 2>&1)"
printf '%-34s %.1f s\n' "recording (wall)" "$rec_secs"
printf '%-34s %.1f MB\n' "recorder peak RSS" "$(echo "$rec_hwm / 1000" | bc -l)"
printf '%-34s %.1f MB\n' "program peak RSS" "$(echo "${prog_kib:-0} / 1000" | bc -l)"
printf '%-34s %s (%.3f bytes/record)\n' "log size" "$bytes" "$(echo "$bytes / $n" | bc -l)"
printf '%-34s %.2f s wall, %.2f s CPU, %.1f M records/s, peak %.1f MB\n' "verify" \
    "$vwall" "$(echo "$vuser + $vsys" | bc)" "$(echo "$n / $vwall / 1000000" | bc -l)" "$(echo "$vrss / 1000" | bc -l)"
exit "$ok"
