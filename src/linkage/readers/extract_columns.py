"""The data rows of a researcher extract, read column by column.

:func:`read_rows` does what reading the rows one at a time did (the rules are
listed in :func:`linkage.readers.extract.read`): skip blank rows, quarantine
summary rows, rows without an organisation, bad years and identical repeats,
refuse conflicting repeats, then parse every measure cell, quarantining the
unusable ones with the same reasons, in the same order, and refuse a column
that is mostly bad (:meth:`~linkage.readers.common.Collector.check_columns`).
Each step works on whole numpy columns; only cells the column functions of
:mod:`linkage.readers.columns` cannot decide are looked at one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputFileError
from . import columns as C
from .common import (
    _BAD_CELL,
    NAME_AUDIT_COLUMNS,
    Collector,
    ColumnStats,
    empty_orgs,
    finish_orgs,
    finish_quarantine,
)

if TYPE_CHECKING:
    from ..catalogue import Catalogue

# The mapping and its key positions (extract.Mapping, extract._Keys) are passed in; not imported (extract imports us).
Mapping = _Keys = Any

QUARANTINE_KEYS = ["source_sheet", "row", "org_code", "year", "column", "raw_value", "reason"]


@dataclass
class _Out:
    """Pieces of the quarantine and of the column statistics, each tagged with (data row, measure index)."""

    file: str
    sheet: str | None
    q: list[tuple[np.ndarray, int, dict[str, Any]]] = field(default_factory=list)
    stats: dict[str, list[tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray, str | None]]] = field(
        default_factory=dict)

    def quarantine(self, idx: np.ndarray, sub: int, **cols: Any) -> None:
        """Quarantine rows ``idx`` (data-row positions); ``cols`` are scalars or arrays aligned with ``idx``."""
        if len(idx):
            self.q.append((idx, sub, cols))

    def touch(self, column: str, scale: str | None) -> None:
        self.stats.setdefault(str(column), [])
        self._scale = getattr(self, "_scale", {})
        self._scale.setdefault(str(column), None)
        self._scale[str(column)] = self._scale[str(column)] or scale

    def note(self, column: str, idx: np.ndarray, sub: int, ok: np.ndarray, values: np.ndarray,
             rown: np.ndarray, raws: np.ndarray, reasons: np.ndarray) -> None:
        """Column statistics: parsed values where ``ok``, and the bad cells (``reasons`` of a bad kind)."""
        self.stats[str(column)].append((idx, sub, ok, values, rown, (raws, reasons)))

    def column_stats(self) -> dict[tuple[str | None, str], ColumnStats]:
        out = {}
        for column, parts in self.stats.items():
            st = ColumnStats(scale=self._scale.get(column))
            if parts:
                ok = np.concatenate([p[2] for p in parts])
                values = np.concatenate([p[3] for p in parts])
                if ok.all():  # nothing refused: the values' order does not matter (only their count and range)
                    st.ok = values
                    out[(self.sheet, column)] = st
                    continue
                idx = np.concatenate([p[0] for p in parts])
                sub = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
                rown = np.concatenate([p[4] for p in parts])
                raws = np.concatenate([p[5][0] for p in parts])
                reasons = np.concatenate([p[5][1] for p in parts])
                order = np.lexsort((sub, idx))
                ok, values, rown, raws, reasons = ok[order], values[order], rown[order], raws[order], reasons[order]
                st.ok = values[ok]
                bad = np.zeros(len(ok), dtype=bool)
                refused = np.flatnonzero(~ok)  # only refused cells have a reason: look at those alone
                bad[refused] = [r is not None and r.startswith(_BAD_CELL) for r in reasons[refused]]
                st.bad = [(int(r), str(w), str(why)) for r, w, why in zip(rown[bad], raws[bad], reasons[bad],
                                                                          strict=True)]
            out[(self.sheet, column)] = st
        return out

    def frame(self) -> pd.DataFrame | None:
        if not self.q:
            return None
        idx = np.concatenate([p[0] for p in self.q])
        sub = np.concatenate([np.full(len(p[0]), p[1]) for p in self.q])
        data: dict[str, Any] = {"source_file": np.full(len(idx), self.file, dtype=object)}
        for c in QUARANTINE_KEYS:
            parts = []
            for i, _, cols in self.q:
                v = cols.get(c, self.sheet if c == "source_sheet" else None)
                if isinstance(v, np.ndarray):
                    parts.append(v.astype(object))
                else:
                    a = np.empty(len(i), dtype=object)
                    a[:] = [v] * len(i)
                    parts.append(a)
            data[c] = np.concatenate(parts)
        order = np.lexsort((sub, idx))
        return pd.DataFrame({c: v[order] for c, v in data.items()})


def n_rows(data: dict) -> int:
    """Number of data rows of the columns ``data``."""
    return len(next(iter(data.values()))) if data else 0


def _raw_strings(raw: np.ndarray) -> np.ndarray:
    """``None if v is None else str(v)`` for every cell."""
    out = np.empty(len(raw), dtype=object)
    out[:] = [v if type(v) is str else (None if v is None else str(v)) for v in raw]
    return out


def _org_codes(out: _Out, data: dict, n: int, rown: np.ndarray, k: _Keys, mapping: Mapping,
               table: Any, audit: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's organisation code and whether the row goes on (blank, summary and unmatched rows quarantined)."""
    kc = mapping.columns
    ct = C.texts(C.cells(data, k.code_j)) if k.code_j is not None else None
    nt = C.texts(C.cells(data, k.name_j)) if k.name_j is not None else None
    key = nt if mapping.by_name else ct
    empty = np.flatnonzero(key == "")
    active = np.ones(n, dtype=bool)
    if len(empty):
        active[empty[table.blank(empty)]] = False
    label = C.summary_labels(ct, nt, n)
    summary = active & pd.notna(label)
    si = np.flatnonzero(summary)
    out.quarantine(si, 0, row=rown[si], org_code=None, year=k.year, column=kc.org_code or kc.org_name,
                   raw_value=label[si], reason=C.format_reasons("summary_row: not an organisation ({!r})", label[si]))
    rest = active & ~summary
    codes = np.full(n, None, dtype=object)
    if not mapping.by_name:
        up = C.upper(ct)
        bl = np.flatnonzero(rest & (up == ""))
        out.quarantine(bl, 0, row=rown[bl], org_code=None, year=None, column=kc.org_code, raw_value="",
                       reason="blank_org_code: row has no organisation code")
        ok = rest & (up != "")
        codes[ok] = up[ok]
        return codes, ok
    ok = np.zeros(n, dtype=bool)
    cache: dict = {}
    raw_names = C.cells(data, k.name_j)
    for i in np.flatnonzero(rest):
        v = raw_names[i]
        text = "" if v is None else str(v).strip()
        hit = cache.get(text) or cache.setdefault(text, k.names.match(v))
        if hit.status == "blank":  # no name is not an unmatched name (and not a row of the name audit)
            out.quarantine(np.array([i]), 0, row=rown[i:i + 1], org_code=None, year=None, column=kc.org_name,
                           raw_value="", reason="blank_org_name: row has no organisation name")
            continue
        audit.append({"source_file": out.file, "row": int(rown[i]), "name": hit.name, "status": hit.status,
                      "org_code": hit.org_code, "candidates": hit.candidates_text()})
        if hit.status != "matched":
            out.quarantine(np.array([i]), 0, row=rown[i:i + 1], org_code=None, year=k.year, column=kc.org_name,
                           raw_value=hit.name, reason=f"name_{hit.status}: {hit.name!r} " + (
                               "matches several organisations: " if hit.status == "ambiguous"
                               else "matches no organisation in the ODS names; nearest: ")
                           + (hit.candidates_text() or "none"))
            continue
        codes[i], ok[i] = hit.org_code, True
    return codes, ok


def _years(out: _Out, data: dict, n: int, rown: np.ndarray, go: np.ndarray, codes: np.ndarray, k: _Keys,
           mapping: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Each row's survey year (a column or the mapping's rule), bad years quarantined as ``bad_year``."""
    years = np.zeros(n, dtype=np.int64)
    if k.year is not None:
        years[:] = k.year
        return years, go
    idx = np.flatnonzero(go)
    ycol = mapping.columns.year
    if not len(idx):
        return years, go
    yv, why = C.parse_column(data, k.year_j, None if len(idx) == n else idx, set())
    with np.errstate(invalid="ignore"):
        good = pd.isna(why) & (yv == np.floor(yv)) & (yv >= 1990) & (yv <= 2100)
    out.touch(ycol, None)
    bad = ~good
    raw_text = C.texts(C.cells(data, k.year_j)[idx[bad]]) if bad.any() else np.empty(0, dtype=object)
    reasons = np.array([f"bad_year: expected a 4-digit survey year ({w or 'not a year'})" for w in why[bad]],
                       dtype=object)
    out.quarantine(idx[bad], 0, row=rown[idx[bad]], org_code=codes[idx[bad]], year=None, column=ycol,
                   raw_value=raw_text, reason=reasons)
    all_reasons = np.full(len(idx), None, dtype=object)
    all_reasons[bad] = reasons
    all_raws = np.full(len(idx), "", dtype=object)
    all_raws[bad] = raw_text
    out.note(ycol, idx, -1, good, yv, rown[idx], all_raws, all_reasons)
    years[idx[good]] = yv[good].astype(np.int64)
    ok = np.zeros(n, dtype=bool)
    ok[idx[good]] = True
    return years, ok


def _unique(out: _Out, data: dict, rown: np.ndarray, go: np.ndarray, codes: np.ndarray, years: np.ndarray,
            targets: list, mapping: Mapping) -> np.ndarray:
    """Rows that are the first of their (organisation, year); identical repeats quarantined, conflicting refused."""
    idx = np.flatnonzero(go)
    column = mapping.columns.org_code or mapping.columns.org_name
    keys = pd.DataFrame({"c": codes[idx], "y": years[idx]})
    dup = keys.duplicated(keep="first").to_numpy()
    uniq = go.copy()
    if not dup.any():
        return uniq
    group = keys.groupby(["c", "y"], sort=False).ngroup().to_numpy()
    first = np.full(group.max() + 1, -1)
    pos = np.arange(len(idx))
    first[group[~dup][::-1]] = pos[~dup][::-1]
    d = np.flatnonzero(dup)
    f = first[group[d]]
    same = np.ones(len(d), dtype=bool)
    for t in targets:
        txt = C.texts(C.cells(data, t[3])[idx])
        same &= txt[d] == txt[f]
    if not same.all():
        i, j = idx[d[~same][0]], idx[f[~same][0]]
        raise InputFileError(
            f"organisation {codes[i]!r} ({years[i]}) appears twice with different values (first at row {rown[j]}); "
            "remove one of the rows", file=out.file, sheet=out.sheet, column=column, row=int(rown[i]),
        )
    di = idx[d]
    out.quarantine(di, 0, row=rown[di], org_code=codes[di], year=years[di], column=column, raw_value=codes[di],
                   reason=np.array([f"duplicate_row: identical to row {r}" for r in rown[idx[f]]], dtype=object))
    uniq[di] = False
    return uniq


def _orgs(out: _Out, data: dict, idx: np.ndarray, codes: np.ndarray, years: np.ndarray, k: _Keys,
          catalogue: Catalogue) -> pd.DataFrame:
    """The organisations table of the kept rows (name, group and kind as the publisher wrote them)."""
    if not len(idx):
        return empty_orgs()
    whole = len(idx) == n_rows(data)
    texts: dict[int, np.ndarray] = {}

    def cells(j: int) -> np.ndarray:
        return C.cells(data, j) if whole else C.cells(data, j)[idx]

    def text_or_none(j: int | None) -> np.ndarray:
        """``None if v is None else cell_text(v) or None`` of the cells."""
        if j is None:
            return np.full(len(idx), None, dtype=object)
        raw = cells(j)
        t = texts.setdefault(j, C.texts(raw))
        if C.all_text(raw):  # no cell is None
            return t if not (t == "").any() else np.where(t == "", None, t)
        none = np.fromiter((v is None for v in raw), dtype=bool, count=len(raw))
        return np.where(none | (t == ""), None, t)

    kinds = np.full(len(idx), None, dtype=object)
    if k.group_j is not None:
        kinds = catalogue.org_kinds_for(texts.setdefault(k.group_j, C.texts(cells(k.group_j))), codes[idx])
    names = text_or_none(k.name_j)
    return finish_orgs(pd.DataFrame({
        "org_code": C.as_strings(codes[idx]), "year": years[idx], "org_name": C.as_strings(names),
        "benchmark_group": C.as_strings(text_or_none(k.group_j)), "org_kind": C.as_strings(kinds),
        "source_file": out.file,
    }))


def _values(out: _Out, data: dict, idx: np.ndarray, rown: np.ndarray, codes: np.ndarray, years: np.ndarray,
            targets: list, marks: set[str]) -> pd.DataFrame | None:
    """Parse every measure cell of the kept rows: tidy rows (row by row, measures in the mapping's order),
    and quarantine rows with the reason."""
    if not len(idx):
        return None
    for _m, scale, cname, _j, _b in targets:
        out.touch(cname, scale)
    whole = len(idx) == n_rows(data)
    m = len(targets)
    values2 = np.full((len(idx), m), np.nan)
    base2 = np.full((len(idx), m), np.nan)
    ok2 = np.zeros((len(idx), m), dtype=bool)
    for sub, (_measure, scale, cname, j, base_j) in enumerate(targets):
        values, reasons = C.parse_column(data, j, None if whole else idx, marks, scale)
        parsed = pd.isna(reasons)
        rng = C.range_problems(values, parsed, scale)
        reasons = np.where(parsed, rng, reasons)
        ok = pd.isna(reasons)
        bad = ~ok
        raw_s = _raw_strings(C.cells(data, j)[idx[bad]]) if bad.any() else np.empty(0, dtype=object)
        out.quarantine(idx[bad], sub, row=rown[idx[bad]], org_code=codes[idx[bad]], year=years[idx[bad]],
                       column=cname, raw_value=raw_s, reason=reasons[bad])
        raws = np.full(len(idx), "", dtype=object)
        raws[bad] = [("" if v is None else v) for v in raw_s]
        out.note(cname, idx, sub, ok, values, rown[idx], raws, reasons)
        values2[:, sub], ok2[:, sub] = values, ok
        if base_j is not None and ok.any():
            if ok.all():
                base2[:, sub] = C.parse_column(data, base_j, None if whole else idx, marks)[0]
            else:
                base2[ok, sub] = C.parse_column(data, base_j, idx[ok], marks)[0]
    keep = ok2.ravel()
    if not keep.any():
        return None

    per_row = np.repeat(np.arange(len(idx), dtype=np.int32), m)[keep]
    per_measure = np.tile(np.arange(m, dtype=np.int32), len(idx))[keep]
    n = len(per_row)

    def each(values: list) -> Any:
        return C.strings_at(per_measure, [str(v) for v in values])

    return pd.DataFrame({
        "org_code": C.strings_at(per_row, codes[idx]), "year": pd.array(years[idx][per_row], dtype="Int64"),
        "measure": each([t[0] for t in targets]), "value": values2.ravel()[keep], "base_n": base2.ravel()[keep],
        "source_file": C.strings_at(np.zeros(n, dtype=np.int32), [out.file]),
        "source_code": each([t[2] for t in targets]), "scale": each([t[1] for t in targets]),
        "source_sheet": C.strings_at(np.zeros(n, dtype=np.int32), [out.sheet]),
    })


def read_rows(table: Any, data: dict, n: int, k: _Keys, cols: list, mapping: Mapping, catalogue: Catalogue,
              marks: set[str], file: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame,
                                                   pd.DataFrame, set[int]]:
    """Tidy rows, quarantine, organisations, name audit and years seen, from the extract's columns ``data``.

    ``data`` maps a 0-based column position (or a computed column's name) to
    the cells below the header; ``n`` is the number of data rows; ``cols``
    holds ``(measure, scale, value column, its key in data, base key)`` per
    measure, in the mapping's order.
    """
    out = _Out(file, k.sheet)
    rown = table.header_at + 2 + np.arange(n)
    audit: list[dict] = []
    codes, go = _org_codes(out, data, n, rown, k, mapping, table, audit)
    years, go = _years(out, data, n, rown, go, codes, k, mapping)
    seen_years = {int(y) for y in np.unique(years[go])}
    uniq = _unique(out, data, rown, go, codes, years, cols, mapping)
    idx = np.flatnonzero(uniq)
    orgs = _orgs(out, data, idx, codes, years, k, catalogue)
    tidy = _values(out, data, idx, rown, codes, years, cols, marks)
    check = Collector(file)
    check.columns = out.column_stats()
    check.check_columns()
    q = out.frame()
    names = pd.DataFrame(audit, columns=NAME_AUDIT_COLUMNS).astype(
        {"row": "Int64", **{c: "string" for c in NAME_AUDIT_COLUMNS if c != "row"}})
    return tidy, (finish_quarantine(q) if q is not None else None), orgs, names, seen_years
