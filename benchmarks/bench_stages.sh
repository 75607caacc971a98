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
# run, wall seconds, CPU seconds (user+sys of the whole process tree: dvc, the stage processes and
# their kernels, from /usr/bin/time) and the 1-minute load average before and after, then the
# ratios. The machine may be shared: CPU seconds are the fairer comparison when it is loaded.
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
timed() {  # $1 = tree, $2 = venv, $3 = PYTHONPATH (or empty), rest = command; prints "WALL CPU"
  local tree=$1 venv=$2 pypath=$3; shift 3
  (cd "$tree" && export PATH="$venv/bin:$PATH" && if [ -n "$pypath" ]; then export PYTHONPATH="$pypath"; fi \
     && /usr/bin/time -f "%e %U %S" -o /tmp/bench_stages.$$ "$@" >/dev/null 2>&1 \
     && awk '{printf "%.1f %.1f\n", $1, $2 + $3}' /tmp/bench_stages.$$)
}
for r in $(seq 1 "$ROUNDS"); do
  l0=$(load); read -r ow oc < <(timed "$OLD" "$OLD_VENV" "$OLD_PYTHONPATH" dvc repro -f -q)
  l1=$(load); read -r nw nc < <(timed "$NEW" "$NEW_VENV" "$NEW_PYTHONPATH" dvc repro -f -q)
  l2=$(load)
  echo "round $r cold dvc repro -f: pre-renovation wall ${ow}s cpu ${oc}s (load ${l0}->${l1});" \
       "this tree wall ${nw}s cpu ${nc}s (load ${l1}->${l2});" \
       "ratio wall $(echo "scale=2; $nw / $ow" | bc) cpu $(echo "scale=2; $nc / $oc" | bc)"
done
l0=$(load); read -r ew ec < <(timed "$NEW" "$NEW_VENV" "$NEW_PYTHONPATH" dvc exp run -q -S model.lag=1)
echo "dvc exp run -S model.lag=1 from the finished run: wall ${ew}s cpu ${ec}s (load ${l0}->$(load)); nproc $(nproc)"
rm -f /tmp/bench_stages.$$
