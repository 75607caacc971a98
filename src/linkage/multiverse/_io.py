"""Reading the inputs and writing the outputs of a curve (used by the CLI and the stage)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import LinkageDataError
from ..files import write_csv
from ._run import MultiverseRun
from ._specs import merged_trusts


def read_panel(path: str | Path) -> pd.DataFrame:
    """The linked panel from ``.parquet`` or ``.csv``, with a message naming the fix if absent."""
    path = Path(path)
    if not path.exists():
        raise LinkageDataError(f"panel file {str(path)!r} not found; run the link stage (dvc repro link) or give its path")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def load_merged(panel_path: str | Path, setting: str) -> set[str] | None:
    """Merged trust codes from the long panel named by ``multiverse.panel_long`` (None if not available).

    Parameters
    ----------
    panel_path : path
        The wide panel file (``'auto'`` looks for ``panel_long.parquet`` beside it).
    setting : str
        ``multiverse.panel_long``: ``'auto'``, ``''`` (none) or a path.
    """
    if setting == "":
        return None
    path = Path(panel_path).with_name("panel_long.parquet") if setting == "auto" else Path(setting)
    if not path.exists():
        if setting == "auto":
            return None
        raise LinkageDataError(f"multiverse.panel_long={setting!r}: file not found; give the link stage's panel_long.parquet, 'auto' or ''")
    return merged_trusts(pd.read_parquet(path, columns=["org_code", "merged_from"]))


def write_outputs(run: MultiverseRun, out: str | Path, bootstrap_out: str | Path | None = None,
                  joint_out: str | Path | None = None) -> None:
    """Write the specification table (``.parquet`` or ``.csv``), the bootstrap table and the joint test."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        write_csv(run.table, out)
    else:
        run.table.to_parquet(out, index=False)
    if bootstrap_out:
        Path(bootstrap_out).parent.mkdir(parents=True, exist_ok=True)
        write_csv(run.bootstrap, bootstrap_out)
    if joint_out:
        Path(joint_out).parent.mkdir(parents=True, exist_ok=True)
        Path(joint_out).write_text(json.dumps(run.joint, indent=2) + "\n")


def summary_line(run: MultiverseRun, alpha: float) -> str:
    """One paragraph: specifications fitted, share agreeing in sign and significance, adjusted p-values."""
    ok = run.table[run.table["status"] == "ok"]
    n = len(ok)
    if n == 0:
        return f"0 of {len(run.table):,} specifications could be fitted (see the reason column)"
    est = ok["estimate_oriented"] if "estimate_oriented" in ok else ok["estimate"]
    good = float((est > 0).mean())
    sig = ok["p_value"] < alpha
    better = good >= 0.5
    dom = "better staff wellbeing with better patient experience" if better else "better staff wellbeing with worse patient experience"
    same = (est > 0) if better else (est < 0)
    return (
        f"{n:,} of {len(run.table):,} specifications fitted; {max(good, 1 - good):.0%} associate {dom}, "
        f"{float((sig & same).mean()):.0%} do so significantly at {alpha:g}, {float(sig.mean()):.0%} are significant "
        f"in either direction; after adjustment {float((ok['p_bh'] < alpha).mean()):.0%} (Benjamini-Hochberg) and "
        f"{float((ok['p_romano_wolf'] < alpha).mean()):.0%} (Romano-Wolf) remain significant"
    )

