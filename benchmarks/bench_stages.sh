#!/usr/bin/env bash
# Stage start-up cost, side by side in one run: cold `dvc repro -f` on the demo here and in a
# checkout of the pre-renovation commit, then `dvc exp run -S model.lag=1` from the finished run.
#
#   bash benchmarks/bench_stages.sh /path/to/ce6a3ae-checkout   (bootstrapped with SKIP_RUN=1)
#
# A checkout without its own venv runs on another one: OLD_VENV=/path/.venv OLD_PYTHONPATH=/path/src
# (PYTHONPATH wins over the venv's editable install, and the stages' kernels inherit it); likewise
# NEW_VENV / NEW_PYTHONPATH for this tree (e.g. when it is a copy, so the run leaves the clone alone).
#
# Runs each tree alternately (old, new, old, new) so both see the same machine load; prints, per
# run, wall seconds, CPU seconds and the 1-minute load average before and after, then the ratios.
# CPU seconds are the whole machine's busy time during the run (user+nice+system from /proc/stat),
# not /usr/bin/time's: a kernel warmed for a later stage outlives the stage that started it, so it is
# not a waited-for child of dvc and /usr/bin/time would leave its CPU out. On a busy machine the CPU
# seconds include other work; the load average says how much.
# Run on demand, not in CI (it takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
NEW=$PWD
OLD=${1:?path to a bootstrapped checkout of the pre-renovation commit (e.g. ce6a3ae)}
ROUNDS=${ROUNDS:-1}
OLD_VENV=${OLD_VENV:-$OLD/.venv}; OLD_PYTHONPATH=${OLD_PYTHONPATH:-}
NEW_VENV=${NEW_VENV:-$NEW/.venv}; NEW_PYTHONPATH=${NEW_PYTHONPATH:-}
export DVC_NO_ANALYTICS=1
load() { cut -d' ' -f1 /proc/loadavg; }
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }  # clock ticks the machine was busy
timed() {  # $1 = tree, $2 = venv, $3 = PYTHONPATH (or empty), rest = command; prints "WALL CPU"
  local tree=$1 venv=$2 pypath=$3; shift 3
  local b0; b0=$(busy)
  (cd "$tree" && export PATH="$venv/bin:$PATH" && if [ -n "$pypath" ]; then export PYTHONPATH="$pypath"; fi \
     && /usr/bin/time -f "%e" -o /tmp/bench_stages.$$ "$@" >/dev/null 2>&1)
  sleep 0.5  # a warm kernel nobody claimed ends within a fraction of a second of dvc
  awk -v b="$(( $(busy) - b0 ))" -v hz="$(getconf CLK_TCK)" '{printf "%.1f %.1f\n", $1, b / hz}' /tmp/bench_stages.$$
}
for r in $(seq 1 "$ROUNDS"); do
  l0=$(load); read -r ow oc < <(timed "$OLD" "$OLD_VENV" "$OLD_PYTHONPATH" dvc repro -f -q)
  l1=$(load); read -r nw nc < <(timed "$NEW" "$NEW_VENV" "$NEW_PYTHONPATH" dvc repro -f -q)
  l2=$(load)
  echo "round $r cold dvc repro -f: pre-renovation wall ${ow}s cpu ${oc}s (load ${l0}->${l1});" \
       "this tree wall ${nw}s cpu ${nc}s (load ${l1}->${l2});" \
       "ratio wall $(echo "scale=2; $nw / $ow" | bc) cpu $(echo "scale=2; $nc / $oc" | bc)"
done
rm -rf "$NEW/.dvc/cache/runs"  # no run-cache entry from an earlier benchmark: the experiment's stages really run
keep=$(mktemp -d); cp -r "$NEW/params.yaml" "$NEW/dvc.lock" "$NEW/metrics" "$NEW/plots" "$keep/"  # the finished run
back() { rm -rf metrics plots && cp -r "$keep"/* . && dvc checkout -q; }  # back to it (metrics and plots are not cached)
l0=$(load); read -r ew ec < <(timed "$NEW" "$NEW_VENV" "$NEW_PYTHONPATH" dvc exp run -q -S model.lag=1)
echo "dvc exp run -S model.lag=1 from the finished run: wall ${ew}s cpu ${ec}s (load ${l0}->$(load)); nproc $(nproc)"
# the same experiment again from the same start, each line of DVC's output with the seconds since it began,
# so the note can say where the time goes (DVC's own work between the lines, each stage's command on its line)
(cd "$NEW" && export PATH="$NEW_VENV/bin:$PATH" && if [ -n "$NEW_PYTHONPATH" ]; then export PYTHONPATH="$NEW_PYTHONPATH"; fi \
   && back && rm -rf .dvc/cache/runs \
   && dvc exp run -S model.lag=1 2>&1 | python3 -c '
import sys, time
t0 = time.monotonic()
for line in sys.stdin:
    if line.strip():
        print(f"  {time.monotonic() - t0:6.2f}s  {line.rstrip()}", flush=True)' \
   && back)
rm -rf /tmp/bench_stages.$$ "$keep"
