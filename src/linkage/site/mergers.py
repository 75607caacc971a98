"""Which organisations and years a merged trust's values combine, from the linked long panel.

The link step maps a predecessor's rows to its successor and records, per
trust, year and measure, the codes it combined (``merged_from``) and how they
were weighted. A merged trust's page says so in words, so that its earlier
values are not read as the successor's own.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..paths import STAGES
from .words import and_list, year_list

#: How the link step weighted combined values (``panel_long.weighting``), in words.
WEIGHTING_TEXT = {"respondents": "weighted by the number who answered", "sum": "added together",
                  "ratio": "combined as a ratio of their totals", "single": "taken as published"}


def load_merged(root: str | Path = ".") -> pd.DataFrame:
    """``org_code, year, merged_from, weighting`` of every combined value (empty if the long panel is absent)."""
    path = Path(root) / STAGES["report"].path("panel_long")
    if not path.exists():
        return pd.DataFrame(columns=["org_code", "year", "merged_from", "weighting"])
    pl = pd.read_parquet(path, columns=["org_code", "year", "merged_from", "weighting"])
    return pl[pl["merged_from"].fillna("").astype(str) != ""]


def merger_text(merged: pd.DataFrame, code: str) -> str:
    """A sentence naming the organisations and years a trust's values combine ('' if none were combined)."""
    rows = merged[merged["org_code"] == code]
    if rows.empty:
        return ""
    parts = []
    for codes, g in rows.groupby("merged_from", sort=True):
        ways = and_list(sorted({WEIGHTING_TEXT.get(str(w), str(w)) for w in g["weighting"].dropna()}))
        parts.append(f"in {year_list(g['year'].astype(int))}, the values combine "
                     f"{and_list(sorted(str(codes).split(';')))}{f' ({ways})' if ways else ''}")
    return ("This trust was formed by a merger, or took over another organisation: its results are the combined "
            "results of the organisations it replaced, mapped to it by the link step. "
            + ". ".join(p[:1].upper() + p[1:] for p in parts) + ". Values from before and after a merger describe "
            "different organisations, so read changes across it with care.")
