#!/usr/bin/env bash
# Run the bootstrap command N times in a row, each in a fresh clone, while other Jupyter
# kernels keep starting and stopping on the same machine (TCP kernels on random ports, as
# other projects' notebooks would). Stops at the first failure and prints its log.
#
#   bash scripts/bootstrap_loop.sh [N=10]          # full bootstrap (setup + dvc repro on the demo)
#   SKIP_RUN=1 bash scripts/bootstrap_loop.sh 3    # setup only
#
# Needs the project's own .venv (for the background kernels). Clones go to $LOOP_DIR
# (default: a new temporary folder), removed after each successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
ROOT=$PWD
LOOP_DIR=${LOOP_DIR:-$(mktemp -d /tmp/bootstrap-loop.XXXXXX)}
PY="$ROOT/.venv/bin/python"
[[ -x "$PY" ]] || { echo "run scripts/bootstrap.sh here first (the background kernels use .venv)" >&2; exit 1; }

# background load: start a stock (TCP) kernel, run one statement, stop it; again and again
"$PY" - >/dev/null 2>&1 <<'PY' &  # their own TCP warnings are not ours
import time
from jupyter_client.manager import KernelManager
while True:
    km = KernelManager(kernel_name="python3")
    try:
        km.start_kernel()
        kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=60); kc.execute("1"); kc.stop_channels()
    except Exception as err:  # the load must keep going; its own failures do not count
        print("background kernel:", err)
    finally:
        km.shutdown_kernel(now=True)
    time.sleep(0.5)
PY
LOAD=$!
trap 'kill "$LOAD" 2>/dev/null || true' EXIT

for i in $(seq 1 "$N"); do
  clone="$LOOP_DIR/run$i"
  git clone -q "$ROOT" "$clone"
  t0=$(date +%s)
  if (cd "$clone" && bash scripts/bootstrap.sh) >"$LOOP_DIR/run$i.log" 2>&1; then
    echo "run $i/$N: ok in $(( $(date +%s) - t0 )) s"
    rm -rf "$clone"
  else
    echo "run $i/$N: FAILED after $(( $(date +%s) - t0 )) s; log $LOOP_DIR/run$i.log, clone $clone" >&2
    tail -30 "$LOOP_DIR/run$i.log" >&2
    exit 1
  fi
done
echo "bootstrap passed $N times in a row (logs in $LOOP_DIR)"
