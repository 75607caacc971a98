#!/usr/bin/env bash
# Time what a new user does on a fresh clone: install, the demo run, the tests.
# Prints one line per step (wall-clock and CPU seconds, 1-minute load average before and after) and writes them to $OUT (default
# ci-artifacts/times.txt in this checkout). The numbers go into README.md by hand
# after a run; they depend on the machine (cores, other load, a warm pip cache).
#
#   bash scripts/measure_times.sh                 # clone HEAD of this checkout into a temp folder
#   KEEP=1 bash scripts/measure_times.sh          # keep the temp clone (its path is printed)
#   SKIP_TESTS=1 bash scripts/measure_times.sh    # install and demo run only
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$here/ci-artifacts/times.txt}"
work="$(mktemp -d "${TMPDIR:-/tmp}/linkage-times.XXXXXX")"
mkdir -p "$(dirname "$out")"
# the clone sits beside a link to the real data folder, as a user's clone does
[[ -d "$here/../shared" ]] && ln -s "$(cd "$here/../shared" && pwd)" "$work/shared"
git clone --quiet "$here" "$work/linkage"
cd "$work/linkage"

step() {  # step NAME COMMAND... : run it, record wall-clock and CPU seconds and the load around it
  local name=$1; shift
  local load0; load0=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f '%e %U %S' -o "$work/$name.time" "$@" >"$work/$name.log" 2>&1 \
    || { echo "$name failed (log: $work/$name.log)" >&2; exit 1; }
  local load1; load1=$(cut -d' ' -f1 /proc/loadavg)
  read -r wall usr sys <"$work/$name.time"
  # CPU = user + system seconds of the step and its children: less sensitive to other load than wall clock
  printf '%-8s wall %6.0f s  cpu %6.0f s  load %s -> %s  (%s)\n' "$name" "$wall" \
    "$(echo "$usr + $sys" | bc)" "$load0" "$load1" "$*" | tee -a "$work/times.txt"
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)" \
  | tee "$work/times.txt"
step install env SKIP_RUN=1 bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
step demo dvc repro
[[ -z "${SKIP_TESTS:-}" ]] && step tests python -m pytest -q -x -p no:cacheprovider
cp "$work/times.txt" "$out"
echo "written $out"
if [[ -z "${KEEP:-}" ]]; then rm -rf "$work"; else echo "clone kept in $work"; fi
