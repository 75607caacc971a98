"""Demo generator benchmark, run on demand (never in the test suite).

Usage::

    python benchmarks/bench_demo.py [--old-ref REF | --old-src DIR] [--repeat N]

Writes the default demo raw folder (``write_demo_files`` with ``data.demo`` of
params.yaml) with the old code (a checkout of ``--old-ref``, default ``main``,
exported with ``git archive``, or ``--old-src``) and with this checkout, each
in a fresh process, alternating, ``--repeat`` times; prints wall seconds, CPU
seconds of the call, peak RSS and the load average for each run, the best of
each side and their ratio, and whether the two folders hold the same bytes
(file by file sha256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, resource, sys, time
from linkage.demo import write_demo_files
from linkage.params import load_params
spec = load_params(sys.argv[2]).data.demo
t0, c0 = time.perf_counter(), time.process_time()
write_demo_files(sys.argv[1], spec)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def old_source(args: argparse.Namespace, tmp: Path) -> Path:
    if args.old_src:
        return Path(args.old_src)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", args.old_ref, "src"], check=True,
                             capture_output=True).stdout
    (tmp / "old").mkdir()
    subprocess.run(["tar", "-x", "-C", str(tmp / "old")], input=archive, check=True)
    return tmp / "old" / "src"


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run(src: Path, dest: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run([sys.executable, "-c", WORKER, str(dest), str(REPO / "params.yaml")], env=env,
                          capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-ref", default="main")
    parser.add_argument("--old-src")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as t:
        tmp = Path(t)
        sides = {"old": old_source(args, tmp), "new": REPO / "src"}
        print(f"old code: {args.old_src or args.old_ref}; new code: {REPO} (write_demo_files, fresh process each)")
        print(f"{'side':>4s} {'run':>3s} {'wall s':>7s} {'cpu s':>6s} {'peak MB':>8s} {'load avg':>8s}")
        best: dict[str, dict] = {}
        for i in range(args.repeat):
            for side, src in sides.items():
                dest = tmp / f"{side}{i}"
                load = os.getloadavg()[0]
                r = run(src, dest)
                print(f"{side:>4s} {i + 1:3d} {r['wall']:7.2f} {r['cpu']:6.2f} {r['peak_mb']:8.0f} {load:8.2f}",
                      flush=True)
                for k in ("wall", "cpu"):
                    best.setdefault(side, {})[k] = min(best.get(side, {}).get(k, float("inf")), r[k])
        same = digests(tmp / "old0") == digests(tmp / "new0")
        print(f"best of {args.repeat}: old wall {best['old']['wall']:.2f} s cpu {best['old']['cpu']:.2f} s; "
              f"new wall {best['new']['wall']:.2f} s cpu {best['new']['cpu']:.2f} s; ratio wall "
              f"{best['old']['wall'] / best['new']['wall']:.1f}x cpu {best['old']['cpu'] / best['new']['cpu']:.1f}x")
        print("files byte-identical: " + ("yes" if same else "NO"))
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
