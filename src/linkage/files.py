"""Small file helpers used across the package: hashing, JSON metrics, stage inputs, safe CSV, the data folder.

Every CSV the workbench writes goes through :func:`write_csv`, which neutralises
cells a spreadsheet would execute (see :func:`neutralise_cell`).

Part of the foundation: imports only the errors module.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LinkageError

if TYPE_CHECKING:
    import pandas as pd


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def lock_deps(root: str | Path = ".") -> dict[str, dict[str, str]]:
    """The md5 ``dvc.lock`` recorded for each stage's dependencies (``{stage: {path: md5}}``); empty when
    there is no readable lock file (a first run, or a lock DVC would refuse: DVC reports that itself)."""
    from ruamel.yaml import YAML

    try:
        stages = (YAML(typ="safe").load((Path(root) / "dvc.lock").read_text()) or {})["stages"]
        return {name: {str(d["path"]): str(d.get("md5")) for d in entry.get("deps") or []}
                for name, entry in stages.items()}
    except Exception:  # noqa: BLE001 - only used to explain and to guess, never to decide
        return {}


def json_safe(obj: Any) -> Any:
    """A JSON-safe copy: numpy scalars become Python numbers, NaN and inf become null."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (valid for DVC metrics: no NaN), creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(obj), indent=2, default=str) + "\n")
    return path


def read_json(path: str | Path, *, missing: Any = ...) -> Any:
    """Read a JSON stage input; a missing file is an error naming the stage to run, unless ``missing`` is given."""
    path = Path(path)
    if not path.exists():
        if missing is not ...:
            return missing
        raise LinkageError(f"{path} not found: run the stage that writes it first (`dvc repro`).")
    return json.loads(path.read_text())


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a parquet or CSV stage input; a missing file is an error naming the stage to run."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise LinkageError(f"{path} not found: run the stage that writes it first (`dvc repro`).")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a stage output as parquet or CSV (by suffix), without the index, creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        write_csv(df, path)
    return path


#: First characters that make a spreadsheet read a cell as a formula (or, for tab and CR, shift it into one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: Any) -> Any:
    """``value`` made inert for a spreadsheet: text starting like a formula gets a leading apostrophe.

    The usual rule for CSV injection: a cell beginning with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return is prefixed with ``'`` so that Excel,
    LibreOffice and Google Sheets show it as text instead of executing it.
    Numbers are left alone, whether stored as numbers or as text (``-3.5`` is
    a negative number, not a formula); so are all other values.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are passed through :func:`neutralise_cell`.

    Numeric, boolean and date columns are returned unchanged (they cannot hold a formula).
    """
    out = df.rename(columns=lambda c: neutralise_cell(c) if isinstance(c, str) else c)
    for col in out.columns[[not _numeric_kind(out[c]) for c in out.columns]] if len(out.columns) else []:
        risky = _formula_like(out[col])
        if risky.any():  # only the few cells that start like a formula go through the cell rule
            out[col] = out[col].astype(object).where(~risky, out[col][risky].map(neutralise_cell))
    return out


def _formula_like(series: Any) -> Any:
    """Boolean mask of the text cells of ``series`` that begin with one of :data:`FORMULA_STARTS` (whole column)."""
    try:
        starts = series.str.startswith(FORMULA_STARTS)
    except AttributeError:  # an object column holding no text at all
        return series.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS)).astype(bool)
    return starts.fillna(False).astype(bool)


def _numeric_kind(series: Any) -> bool:
    return getattr(series.dtype, "kind", "O") in "biufcmM"


def write_csv(df: pd.DataFrame, target: Any, **kwargs: Any) -> Any:
    """Write ``df`` as CSV (no index unless asked) with spreadsheet formulas neutralised; ``target`` is a path or a stream."""
    kwargs.setdefault("index", False)
    if isinstance(target, (str, Path)):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    spreadsheet_safe(df).to_csv(target, **kwargs)
    return target


# --------------------------------------------------------------------------- the data folder
class OutsideFolderError(LinkageError):
    """A file in a data folder is a link to something outside that folder."""


def files_inside(folder: str | Path) -> list[Path]:
    """Every regular file under ``folder`` (recursively, sorted), refusing links that leave it.

    A symbolic link (to a file or a folder) is allowed only when it resolves
    to a place inside ``folder``; one that resolves outside is refused with a
    message naming the link and where it points, before anything is copied,
    hashed or read.  A link to a file inside is listed under its own path; a
    link to a folder inside is skipped (its files are listed where they are).
    """
    root = Path(folder)
    real_root = root.resolve()
    found: list[Path] = []
    outside: list[str] = []
    for here, dirs, names in os.walk(root, followlinks=False):
        for name in sorted(dirs) + sorted(names):
            path = Path(here) / name
            if path.is_symlink():
                target = path.resolve()
                if target != real_root and real_root not in target.parents:
                    outside.append(f"{path} -> {os.readlink(path)}")
                    continue
                if target.is_dir():
                    continue  # a folder inside: its files are listed where they really are
            if name in names and path.is_file():
                found.append(path)
    if outside:
        raise OutsideFolderError(
            f"{root}: {len(outside)} link(s) point outside the data folder and are refused (nothing was copied): "
            + "; ".join(outside) + ". Copy the files themselves into the folder instead."
        )
    return sorted(found)


def copy_folder(source: Path, dest: Path, keep: Callable[[Path], bool]) -> list[Path]:
    """Copy every file of ``source`` that ``keep`` accepts into ``dest`` (same relative paths).

    The files come from :func:`files_inside`, so a link leading outside ``source``
    is refused before anything is copied; hidden files are never copied.  Returns
    the copies; the caller decides whether an empty result is an error.
    """
    import shutil

    copied = []
    for p in files_inside(source):
        if keep(p) and not p.name.startswith("."):
            out = dest / p.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, out)
            copied.append(out)
    return copied
