#!/usr/bin/env bash
# Stage start-up cost, side by side in one run: cold `dvc repro -f` on the demo here and in a
# checkout of the pre-renovation commit, then `dvc exp run -S model.lag=1` from the finished run.
#
#   bash benchmarks/bench_stages.sh /path/to/ce6a3ae-checkout   (bootstrapped with SKIP_RUN=1)
#
# Runs each tree alternately (old, new, old, new) so both see the same machine load; prints
# seconds per run and the ratio of the medians. Run on demand, not in CI (it takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
NEW=$PWD
OLD=${1:?path to a bootstrapped checkout of the pre-renovation commit (e.g. ce6a3ae)}
ROUNDS=${ROUNDS:-1}
export DVC_NO_ANALYTICS=1
cold() {  # $1 = tree; prints seconds of a forced full repro
  (cd "$1" && export PATH="$1/.venv/bin:$PATH" && s=$(date +%s.%N) && dvc repro -f -q >/dev/null 2>&1 \
     && echo "$(date +%s.%N) - $s" | bc)
}
for r in $(seq 1 "$ROUNDS"); do
  o=$(cold "$OLD"); n=$(cold "$NEW")
  echo "round $r: cold dvc repro -f: pre-renovation ${o}s, this tree ${n}s, ratio $(echo "scale=2; $n / $o" | bc)"
done
cd "$NEW" && export PATH="$NEW/.venv/bin:$PATH"
s=$(date +%s.%N)
dvc exp run -q -S model.lag=1 >/dev/null 2>&1
echo "dvc exp run -S model.lag=1 from the finished run: $(echo "$(date +%s.%N) - $s" | bc)s"
