"""The report stage's domain code, old against new, side by side in one run.

    python benchmarks/bench_site.py                 # against main before this round of the report's speed work
    python benchmarks/bench_site.py --old REF --rounds 3

Needs a finished demo run in this project (``dvc repro``): both trees build the
site from the same pipeline outputs under this project, each into its own
temporary folder. A git worktree of ``--old`` is made in a temporary folder and
removed afterwards. Each round runs old then new, each in a fresh Python
process (so both pay their imports), and prints for each: the whole process's
wall and CPU seconds (user + system, imports included), the seconds inside
``build_site`` alone (wall and CPU), and the 1-minute load average before and
after; then the ratios new/old. At the end it says whether the two trees wrote
the same files with the same bytes, and names those that differ. The machine
may be shared: CPU seconds are the fairer comparison when it is loaded. Run on
demand, never in CI.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: main when the second round of issue 18's report work started (the first round began at 8997f8f, whose
#: parameter schema no longer reads today's params.yaml: an --old that old fails at load_params).
BEFORE = "3d7e0ec"

CHILD = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from linkage.params import load_params
from linkage.site import build_site
root, out = sys.argv[1], sys.argv[2]
params = load_params(f"{root}/params.yaml")
t1, c1 = time.perf_counter(), time.process_time()
build_site(params, root, out, render_steps=False)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"build_wall": t2 - t1, "build_cpu": c2 - c1, "setup_wall": t1 - t0, "setup_cpu": c1 - c0}))
"""


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _run(src: Path, out: Path) -> dict[str, float]:
    """Build the site with the package under ``src`` in a fresh process; its times and the load around it."""
    env = {**os.environ, "PYTHONPATH": str(src), "MPLBACKEND": "Agg"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0, t0 = _load(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(out)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"build_site failed with the package in {src}:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, **json.loads(done.stdout.strip().splitlines()[-1]),
            "load0": load0, "load1": _load()}


def _differences(a: Path, b: Path) -> list[str]:
    """Files present in only one tree or with different bytes (relative paths)."""
    out: list[str] = []

    def walk(cmp: filecmp.dircmp, rel: str) -> None:
        out.extend(f"{rel}{n} (only in old)" for n in cmp.left_only)
        out.extend(f"{rel}{n} (only in new)" for n in cmp.right_only)
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        out.extend(f"{rel}{n}" for n in mismatch + errors)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{rel}{name}/")

    walk(filecmp.dircmp(a, b), "")
    return sorted(out)


def _line(name: str, r: dict[str, float]) -> str:
    return (f"{name}: process wall {r['wall']:.2f}s cpu {r['cpu']:.2f}s; build_site wall {r['build_wall']:.2f}s "
            f"cpu {r['build_cpu']:.2f}s (load {r['load0']:.2f}->{r['load1']:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", default=BEFORE, help="git ref of the old code (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    if not (ROOT / "metrics" / "headline.json").exists():
        sys.exit("no finished pipeline run here: run `dvc repro` first")
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        tree = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), args.old], cwd=ROOT, check=True)
        try:
            print(f"old: {args.old}; new: this tree ({ROOT}); nproc {os.cpu_count()}")
            for r in range(1, args.rounds + 1):
                old = _run(tree / "src", Path(tmp) / f"site-old-{r}")
                new = _run(ROOT / "src", Path(tmp) / f"site-new-{r}")
                print(f"round {r}\n  {_line('old', old)}\n  {_line('new', new)}\n  ratio new/old: process wall "
                      f"{new['wall'] / old['wall']:.2f} cpu {new['cpu'] / old['cpu']:.2f}; build_site wall "
                      f"{new['build_wall'] / old['build_wall']:.2f} cpu {new['build_cpu'] / old['build_cpu']:.2f}")
            diff = _differences(Path(tmp) / "site-old-1", Path(tmp) / "site-new-1")
            print("outputs: byte-identical" if not diff else f"outputs: {len(diff)} file(s) differ: " + ", ".join(diff))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
