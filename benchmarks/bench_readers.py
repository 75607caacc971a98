"""Reader benchmarks, run on demand (never in the test suite).

Usage::

    python benchmarks/bench_readers.py engines [FOLDER] [--repeat N]
    python benchmarks/bench_readers.py big [--rows 100000 1000000] [--old-ref main] [--old-src DIR]
    python benchmarks/bench_readers.py compare [FOLDER ...] [--old-ref main] [--old-src DIR]

``engines``
    Every real workbook read whole with ``pandas.read_excel`` through
    python-calamine and through pandas' default engine (openpyxl / odf);
    best of N runs and the ratio.
``big``
    The big-extract case: copies of the real 2021-2024 staff extract (74
    columns) made at run time by replicating its rows under new
    organisation codes (``00L`` -> ``00L~7`` for copy 7; never committed),
    each read with :func:`linkage.readers.read_file` by the old code (a
    checkout of ``--old-ref`` with its own import path, or ``--old-src``)
    and by this checkout, side by side in one run, each read in a fresh
    process so its peak memory (``ru_maxrss``) is its own.  The old code is
    skipped for files above ``--old-max-rows`` (it needs ~10 GB at 1M rows).
``compare``
    Every file in the folders (default: the real data and a fresh demo
    raw folder) read by the old and the new code; the tidy, quarantine,
    organisations and name-audit frames must be identical (the only
    intended difference, R's ``NA`` now audited as ``missing`` instead of
    ``suppressed``, is mapped before comparing and counted).

FOLDER defaults to ``$LINKAGE_REAL_DATA`` or ``<repo>/../shared/data/real``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ENGINE = {".xlsx": "openpyxl", ".xlsm": "openpyxl", ".ods": "odf"}
EXTRACT = Path("nss") / "nss_2021_2024_trust_wellbeing_extract.csv"

#: Run in a fresh interpreter: read one file, report seconds and peak RSS, optionally pickle the frames.
WORKER = r"""
import json, pickle, resource, sys, time
from linkage.readers import read_file
path, out = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
try:
    res = read_file(path)
    err = None
except Exception as e:  # the error itself is what is compared
    res, err = None, f"{type(e).__name__}: {e}"
dt, dc = time.perf_counter() - t0, time.process_time() - c0
use = resource.getrusage(resource.RUSAGE_SELF)
rss = use.ru_maxrss / 1024
info = {"seconds": dt, "cpu_s": use.ru_utime + use.ru_stime, "read_cpu_s": dc, "peak_mb": rss, "error": err, "rows": None if res is None else len(res.tidy)}
if out != "-":
    frames = None if res is None else {n: getattr(res, n) for n in ("tidy", "quarantine", "orgs", "names")}
    with open(out, "wb") as fh:
        pickle.dump((info, frames), fh)
print(json.dumps(info))
"""


def default_folder() -> Path:
    return Path(os.environ.get("LINKAGE_REAL_DATA") or str(REPO.parent / "shared" / "data" / "real"))


# --------------------------------------------------------------------------- engines
def best_time(path: Path, engine: str, repeat: int) -> float:
    """Best wall time (seconds) of ``repeat`` whole-workbook reads."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        pd.read_excel(path, sheet_name=None, header=None, engine=engine)
        best = min(best, time.perf_counter() - t0)
    return best


def engines(args: argparse.Namespace) -> int:
    folder = Path(args.folders[0]) if args.folders else default_folder()
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


# --------------------------------------------------------------------------- old and new code
def old_source(args: argparse.Namespace, tmp: Path) -> Path:
    """The ``src`` folder of the old code: ``--old-src``, or ``--old-ref`` exported from git into ``tmp``."""
    if args.old_src:
        return Path(args.old_src)
    dest = tmp / "old"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", args.old_ref, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def run_worker(src: Path, path: Path, out: str = "-") -> dict:
    """Read ``path`` with the code under ``src`` in a fresh process; its timing and peak memory."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run([sys.executable, "-c", WORKER, str(path), out], env=env, capture_output=True, text=True,
                          cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        return {"seconds": float("nan"), "cpu_s": float("nan"), "read_cpu_s": float("nan"), "peak_mb": float("nan"),
                "error": proc.stderr.strip()[-300:], "rows": None}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- big
def synthesise(real: Path, rows: int, dest: Path) -> Path:
    """A CSV of ``rows`` data rows in the real extract's layout: its rows repeated under new codes."""
    lines = real.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], [ln for ln in lines[1:] if ln]
    heads = [ln.split(",", 1) for ln in body]
    out = dest / f"extract_{rows}.csv"
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(header + "\n")
        written, copy = 0, 0
        while written < rows:
            take = heads[: rows - written]
            fh.write("".join(f"{code}~{copy},{rest}\n" for code, rest in take))
            written += len(take)
            copy += 1
    return out


def big(args: argparse.Namespace) -> int:
    real = (Path(args.folders[0]) if args.folders else default_folder()) / EXTRACT
    if not real.exists():
        print(f"the real extract {real} is missing", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench_readers_") as t:
        tmp = Path(t)
        old = old_source(args, tmp)
        new = REPO / "src"
        print(f"old code: {args.old_src or args.old_ref}; new code: {REPO} (read_file, fresh process each)")
        print("wall s = elapsed time of read_file; read cpu = CPU time of read_file (the fairer figure on a shared "
              "machine); cpu s = CPU time of the whole process (imports, ~1 s, included)")
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print(f"{'rows':>9s} {'MB':>6s} {'old wall s':>10s} {'old read cpu':>12s} {'old cpu s':>9s} {'old peak MB':>11s} "
              f"{'new wall s':>10s} {'new read cpu':>12s} {'new cpu s':>9s} {'new peak MB':>11s} {'wall x':>7s} "
              f"{'read cpu x':>10s} {'cpu x':>6s}")
        for n in args.rows:
            path = synthesise(real, n, tmp)
            size = path.stat().st_size / 1e6
            fresh = run_worker(new, path)
            stale = run_worker(old, path) if n <= args.old_max_rows else None
            same = ""
            if stale is not None and stale["rows"] != fresh["rows"]:
                same = f"  tidy rows differ: old {stale['rows']} new {fresh['rows']}"
            for r in (fresh, stale):
                if r is not None and r["error"]:
                    same += f"  error: {r['error']}"
            if stale:
                old_cols = (f"{stale['seconds']:10.2f} {stale['read_cpu_s']:12.2f} {stale['cpu_s']:9.2f} "
                            f"{stale['peak_mb']:11.0f}")
                ratio = (f"{stale['seconds'] / fresh['seconds']:6.1f}x {stale['read_cpu_s'] / fresh['read_cpu_s']:9.1f}x "
                         f"{stale['cpu_s'] / fresh['cpu_s']:5.1f}x")
            else:
                old_cols = f"{'skipped':>10s} {'-':>12s} {'-':>9s} {'-':>11s}"
                ratio = f"{'-':>7s} {'-':>10s} {'-':>6s}"
            print(f"{n:9,d} {size:6.0f} {old_cols} {fresh['seconds']:10.2f} {fresh['read_cpu_s']:12.2f} "
                  f"{fresh['cpu_s']:9.2f} {fresh['peak_mb']:11.0f} {ratio}{same}", flush=True)
            path.unlink()
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


# --------------------------------------------------------------------------- compare
def _missing_for_suppressed(q: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Old quarantine with ``suppressed: mark 'NA'`` (and other missing marks) renamed as the new code names them."""
    from linkage.readers.common import MISSING_MARKS

    q = q.copy()
    olds = {f"suppressed: mark {m!r}": f"missing: mark {m!r}" for m in MISSING_MARKS}
    hit = q["reason"].isin(list(olds))
    q.loc[hit, "reason"] = q.loc[hit, "reason"].map(olds)
    return q, int(hit.sum())


def compare(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="compare_readers_") as t:
        tmp = Path(t)
        old = old_source(args, tmp)
        folders = [Path(f) for f in args.folders] or [default_folder(), demo_folder(tmp)]
        failures = 0
        for folder in folders:
            for p in sorted(q for q in folder.rglob("*") if q.is_file() and not q.name.startswith(".")):
                a, b = tmp / "old.pkl", tmp / "new.pkl"
                run_worker(old, p, str(a))
                run_worker(REPO / "src", p, str(b))
                (ia, fa), (ib, fb) = (pickle.loads(x.read_bytes()) for x in (a, b))
                verdict, renamed = _verdict(ia, fa, ib, fb)
                failures += verdict != "identical"
                extra = f" ({renamed} NA cells renamed suppressed -> missing)" if renamed else ""
                print(f"{verdict:10s} {p.relative_to(folder)}  old {ia['seconds']:.2f}s new {ib['seconds']:.2f}s"
                      f"{extra}" + (f"  [{ia['error'][:90]}]" if ia["error"] else ""), flush=True)
    print(f"{failures} file(s) differ")
    return 1 if failures else 0


def _verdict(ia: dict, fa: dict | None, ib: dict, fb: dict | None) -> tuple[str, int]:
    if fa is None or fb is None:
        return ("identical" if (ia["error"] or "").split(":")[0] == (ib["error"] or "").split(":")[0]
                and ia["error"] == ib["error"] else "DIFFERENT"), 0
    renamed = 0
    for name in fa:
        x, y = fa[name], fb[name]
        if name == "quarantine":
            x, renamed = _missing_for_suppressed(x)
        try:
            pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True))
        except AssertionError as err:
            print(f"    {name}: {str(err)[:400]}")
            return "DIFFERENT", renamed
    return "identical", renamed


def demo_folder(tmp: Path) -> Path:
    """A demo raw-data folder written by this checkout's ``linkage.demo`` (default demo parameters)."""
    dest = tmp / "demo"
    code = ("import sys; from linkage.demo import write_demo_files; from linkage.params import load_params; "
            f"write_demo_files(sys.argv[1], load_params({str(REPO / 'params.yaml')!r}).data.demo)")
    subprocess.run([sys.executable, "-c", code, str(dest)], check=True, env={**os.environ,
                                                                             "PYTHONPATH": str(REPO / "src")})
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["engines", "big", "compare"])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--old-ref", default="main", help="git ref of the old code (default: main)")
    parser.add_argument("--old-src", help="a folder holding the old code's linkage package instead")
    parser.add_argument("--old-max-rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    return {"engines": engines, "big": big, "compare": compare}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
