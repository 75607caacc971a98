"""Small file helpers used across the package: hashing, JSON metrics, reading stage inputs.

Part of the foundation: imports only the errors module.
"""

from __future__ import annotations

import hashlib
import json
import math
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
        df.to_csv(path, index=False)
    return path
