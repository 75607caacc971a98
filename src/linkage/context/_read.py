"""Reading context files and turning catchments into trust values (share-weighted means)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ._layouts import Layout, load_layouts, read_successors

#: Tolerance on a trust's catchment shares summing to 1.
SHARE_SUM_TOL = 1e-6


@dataclass
class ContextFile:
    """One context file as read: its layout and its rows (strings, with the spreadsheet row number)."""

    path: Path
    layout: Layout
    rows: pd.DataFrame


@dataclass
class ContextFiles:
    """Every context file of a folder, by family."""

    folder: Path
    catchment: list[ContextFile] = field(default_factory=list)
    areas: list[ContextFile] = field(default_factory=list)
    trust_values: list[ContextFile] = field(default_factory=list)


def _header_and_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="cp1252")
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise InputFileError("empty file", file=path)
    return [h.strip() for h in rows[0]], rows[1:]


def read_context_file(path: Path, layouts: dict[str, Layout]) -> ContextFile:
    """Recognise ``path`` by its header and read its rows; a file no layout matches is refused."""
    header, body = _header_and_rows(path)
    found = [lay for lay in layouts.values() if lay.matches(header)]
    if not found:
        raise InputFileError(
            "matches no context layout (its header lacks the match_columns of every layout: "
            + "; ".join(f"{lay.id}: {list(lay.match_columns)}" for lay in layouts.values())
            + "). Add a layout YAML next to it (docs/context.md) or remove it from the context folder.", file=path)
    lay = max(found, key=lambda x: len(x.match_columns))
    wanted = list(lay.columns.values()) + [v.column for v in lay.values]
    absent = [c for c in wanted if c not in header]
    if absent:
        raise InputFileError(f"layout {lay.id} needs columns {absent}, not in the header", file=path, row=1)
    idx = {c: header.index(c) for c in wanted}
    rows = pd.DataFrame({c: [r[i].strip() if i < len(r) else "" for r in body] for c, i in idx.items()}, dtype=object)
    rows["row"] = np.arange(2, len(body) + 2)
    rows = rows[[any(str(x) for x in r) for r in rows[wanted].itertuples(index=False)]].reset_index(drop=True)
    return ContextFile(path, lay, rows)


def numbers(cf: ContextFile, column: str, *, lo: float | None = None, hi: float | None = None,
            allow_blank: bool = False) -> np.ndarray:
    """Column ``column`` of ``cf`` as floats; the first unreadable or out-of-range cell is refused by row."""
    raw = cf.rows[column].astype(str)
    vals = pd.to_numeric(raw.where(raw != "", None), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(vals) & ~((raw == "").to_numpy() & allow_blank)
    if lo is not None:
        bad |= vals < lo
    if hi is not None:
        bad |= vals > hi
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rng = f" in [{lo}, {hi}]" if lo is not None or hi is not None else ""
        raise InputFileError(f"value {raw.iloc[i]!r} is not a number{rng} ({int(bad.sum())} such cells)",
                             file=cf.path, column=column, row=int(cf.rows["row"].iloc[i]))
    return vals


def read_context_folder(folder: str | Path) -> ContextFiles:
    """Every ``*.csv`` under ``folder``, recognised by content; YAML files there add layouts."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError("context folder does not exist", file=folder)
    layouts = load_layouts(folder)
    out = ContextFiles(folder)
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix.lower() == ".csv":
            cf = read_context_file(p, layouts)
            {"catchment": out.catchment, "area_scores": out.areas, "trust_values": out.trust_values}[
                cf.layout.family].append(cf)
    if len(out.catchment) > 1:
        raise InputFileError(f"{len(out.catchment)} catchment files ({[c.path.name for c in out.catchment]}); "
                             "keep one", file=folder)
    if out.areas and not out.catchment:
        raise InputFileError("area scores but no catchment file: trust values cannot be computed", file=folder)
    return out


def catchment_table(cf: ContextFile) -> pd.DataFrame:
    """The catchment rows: ``file, row, trust_code, area_code, share``; shares checked (0-1, sum 1 per trust)."""
    c = cf.layout.columns
    share = numbers(cf, c["share"], lo=0.0, hi=1.0)
    tab = pd.DataFrame({"file": cf.path.name, "row": cf.rows["row"].to_numpy(),
                        "trust_code": cf.rows[c["trust"]].str.upper().to_numpy(),
                        "area_code": cf.rows[c["area"]].str.upper().to_numpy(), "share": share})
    blank = (tab["trust_code"] == "") | (tab["area_code"] == "")
    if blank.any():
        i = int(np.flatnonzero(blank.to_numpy())[0])
        raise InputFileError("blank trust or area code", file=cf.path, row=int(tab["row"].iloc[i]))
    dup = tab.duplicated(["trust_code", "area_code"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputFileError(f"trust {tab['trust_code'].iloc[i]} and area {tab['area_code'].iloc[i]} appear twice",
                             file=cf.path, row=int(tab["row"].iloc[i]))
    sums = tab.groupby("trust_code")["share"].sum()
    off = sums[(sums - 1.0).abs() > SHARE_SUM_TOL]
    if len(off):
        raise InputFileError(f"catchment shares of trust {off.index[0]} sum to {off.iloc[0]:.6f}, not 1 "
                             f"({len(off)} trusts)", file=cf.path, column=c["share"])
    return tab


def area_scores(cf: ContextFile) -> pd.DataFrame:
    """One row per area code with the layout's values (blank cells missing)."""
    codes = cf.rows[cf.layout.columns["area"]].str.upper()
    if codes.duplicated().any():
        i = int(np.flatnonzero(codes.duplicated().to_numpy())[0])
        raise InputFileError(f"area {codes.iloc[i]} appears twice", file=cf.path, row=int(cf.rows["row"].iloc[i]))
    data = {v.name: numbers(cf, v.column, allow_blank=True) for v in cf.layout.values}
    return pd.DataFrame(data, index=pd.Index(codes.to_numpy(), name="area_code"))


def scoring_area(cf: ContextFile, scores: pd.DataFrame, area: str) -> tuple[str | None, str]:
    """The area whose scores stand for catchment area ``area`` in ``cf``, and how (for the audit)."""
    if area in scores.index:
        return area, "direct"
    succ = read_successors(cf.layout.successors) if cf.layout.successors is not None else {}
    if area in succ and succ[area][0] in scores.index:
        new, name = succ[area]
        return new, f"successor {new} {name} (abolished in the 2023 reorganisation)"
    return None, "no score"


def weighted(catch: pd.DataFrame, cf: ContextFile) -> tuple[pd.DataFrame, pd.Series]:
    """Share-weighted mean of ``cf``'s values per catchment trust, and per catchment row how the area was scored.

    A trust with an area that has no score (even via a successor) gets no value of that file: a
    partial mean would silently describe another population.
    """
    scores = area_scores(cf)
    mapped = {a: scoring_area(cf, scores, a) for a in catch["area_code"].unique()}
    target = catch["area_code"].map(lambda a: mapped[a][0])
    how = catch["area_code"].map(lambda a: mapped[a][1])
    out = {}
    for v in cf.layout.values:
        val = scores[v.name].reindex(target.fillna("").to_numpy()).to_numpy()
        prod = pd.Series(catch["share"].to_numpy() * val, index=catch.index)
        complete = pd.Series(~np.isnan(val), index=catch.index).groupby(catch["trust_code"]).all()
        mean = prod.groupby(catch["trust_code"]).sum() / catch.groupby("trust_code")["share"].sum()
        out[v.name] = mean.where(complete)
    vintage = cf.layout.vintage or cf.layout.id
    return pd.DataFrame(out), vintage + ": " + how
