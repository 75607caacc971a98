"""Time reading every real spreadsheet with python-calamine and with pandas' default engine.

Usage::

    python benchmarks/bench_readers.py [FOLDER] [--repeat N]

FOLDER defaults to ``$LINKAGE_REAL_DATA`` or ``<repo>/../shared/data/real``.
Each workbook is read whole (all sheets, no header handling) with
``pandas.read_excel(sheet_name=None)``: once with ``engine="calamine"`` and once
with pandas' default engine for the format (openpyxl for .xlsx, odf for .ods).
The best of N runs is reported, with the ratio default / calamine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

DEFAULT_ENGINE = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".ods": "odf"}


def best_time(path: Path, engine: str, repeat: int) -> float:
    """Best wall time (seconds) of ``repeat`` whole-workbook reads."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        pd.read_excel(path, sheet_name=None, header=None, engine=engine)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parents[1]
    default = os.environ.get("LINKAGE_REAL_DATA") or str(repo.parent / "shared" / "data" / "real")
    parser.add_argument("folder", nargs="?", default=default)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in DEFAULT_ENGINE)
    if not files:
        print(f"no .xlsx/.ods files under {folder}", file=sys.stderr)
        return 1
    print(f"{'file':50s} {'calamine s':>11s} {'default s':>10s} {'engine':>9s} {'ratio':>7s}")
    for p in files:
        engine = DEFAULT_ENGINE[p.suffix.lower()]
        fast = best_time(p, "calamine", args.repeat)
        slow = best_time(p, engine, max(1, min(args.repeat, 2)))
        print(f"{p.name[:50]:50s} {fast:11.3f} {slow:10.3f} {engine:>9s} {slow / fast:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
