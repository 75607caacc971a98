#!/usr/bin/env bash
# One command for a newcomer: create the environment from the lock file, register
# the Jupyter kernel, and run the whole pipeline on the built-in synthetic demo.
# Offline-safe: needs only the package registry (or a local wheel mirror) for the
# first install; the pipeline itself never touches the network.
#
#   bash scripts/bootstrap.sh            # set up + `dvc repro` (demo)
#   SKIP_RUN=1 bash scripts/bootstrap.sh # set up only
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "Python 3.11+ is required (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# Exactly the versions we tested (requirements.lock is compiled from pyproject.toml
# with uv: `uv pip compile pyproject.toml --extra dev -o requirements.lock`).
.venv/bin/python -m pip install --quiet -r requirements.lock
.venv/bin/python -m pip install --quiet --no-deps -e .
.venv/bin/linkage setup-kernel >/dev/null
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "run from a git clone of the workbench" >&2; exit 1; }
echo "environment ready: $(.venv/bin/python --version), linkage $(.venv/bin/python -c 'import linkage; print(linkage.__version__)')"

if [[ -z "${SKIP_RUN:-}" ]]; then
  export PATH="$PWD/.venv/bin:$PATH"
  linkage validate-params
  dvc repro
  echo
  echo "Done. Open reports/index.html: the summary, a page per trust, the step reports, methods."
  dvc metrics show metrics/headline.json
fi
