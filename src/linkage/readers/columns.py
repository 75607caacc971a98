"""Whole-column versions of the cell functions in :mod:`linkage.readers.common`.

Each function here takes a column of raw cells (a numpy object array: text,
numbers, None, the odd date or bool from a workbook) and returns what the
cell-by-cell function would return for every cell, computed with pandas
string methods and numpy instead of a Python call per cell.  The per-cell
functions stay the reference: cells of an unusual type, or text that is not a
plain decimal number, are handed to them one by one, so the results are the
same by construction (``tests/test_readers_columns.py`` compares the two on
awkward cells).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ..vocab import SCALE_RANGES
from .common import _SUMMARY_CODE, _SUMMARY_NAME, MISSING_MARKS, cell_text, parse_number

#: Text that Python's ``float`` reads exactly as numpy's object->float cast does (a plain decimal number).
_PLAIN_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"

BLANK = "blank: no value published"


def _is_str(arr: np.ndarray) -> np.ndarray:
    return np.fromiter((type(v) is str for v in arr), dtype=bool, count=len(arr))


def texts(arr: np.ndarray) -> np.ndarray:
    """:func:`~linkage.readers.common.cell_text` of every cell (an object array of str)."""
    out = np.empty(len(arr), dtype=object)
    is_str = _is_str(arr)
    if is_str.any():
        out[is_str] = pd.Series(arr[is_str], dtype=object).str.strip().to_numpy(dtype=object)
    for i in np.flatnonzero(~is_str):
        out[i] = cell_text(arr[i])
    return out


def parse_numbers(arr: np.ndarray, marks: set[str], scale: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~linkage.readers.common.parse_number` of every cell.

    Returns
    -------
    values, reasons
        ``values`` float64 (NaN where the cell gave no number) and ``reasons``
        an object array (None where the cell parsed).
    """
    n = len(arr)
    values = np.full(n, np.nan)
    reasons = np.full(n, None, dtype=object)
    kind = np.fromiter((0 if v is None else 1 if type(v) is str else 2 if type(v) is float
                        else 4 if type(v) is int else 3 for v in arr), dtype=np.int8, count=n)
    reasons[kind == 0] = BLANK
    fl = np.flatnonzero(kind == 2)
    if len(fl):
        f = arr[fl].astype(np.float64)
        values[fl] = np.where(np.isfinite(f), f, np.nan)
        reasons[fl[np.isnan(f)]] = BLANK
        for i in fl[np.isinf(f)]:
            reasons[i] = f"non_numeric: {arr[i]!r}"
    ints = np.flatnonzero(kind == 4)
    if len(ints):
        values[ints] = np.array([float(v) for v in arr[ints]], dtype=np.float64)
    for i in np.flatnonzero(kind == 3):  # int, bool, dates...: the reference function, cell by cell
        values[i], reasons[i] = _one(arr[i], marks, scale)
    st = np.flatnonzero(kind == 1)
    if len(st):
        _parse_text(arr, st, marks, scale, values, reasons)
    return values, reasons


def _one(v: Any, marks: set[str], scale: str | None) -> tuple[float, str | None]:
    f, why = parse_number(v, marks, scale)
    return (np.nan if f is None else f), why


def _parse_text(arr: np.ndarray, idx: np.ndarray, marks: set[str], scale: str | None,
                values: np.ndarray, reasons: np.ndarray) -> None:
    """Text cells ``arr[idx]``: blanks and marks by set look-up, plain numbers by one cast, the rest one by one."""
    s = pd.Series(arr[idx], dtype=object).str.strip()
    blank = (s == "").to_numpy()
    missing = s.isin(MISSING_MARKS).to_numpy() & ~blank
    mark = (s.isin(marks) | s.str.lower().isin(marks)).to_numpy() & ~blank & ~missing
    reasons[idx[blank]] = BLANK
    for i, t in zip(idx[missing], s[missing], strict=True):
        reasons[i] = f"missing: mark {t!r}"
    for i, t in zip(idx[mark], s[mark], strict=True):
        reasons[i] = f"suppressed: mark {t!r}"
    rest = ~blank & ~mark & ~missing
    plain = rest & s.str.fullmatch(_PLAIN_NUMBER).fillna(False).to_numpy(dtype=bool)
    if plain.any():
        f = s[plain].to_numpy(dtype=object).astype(np.float64)  # float() per cell, in C
        bad = ~np.isfinite(f)
        values[idx[plain][~bad]] = f[~bad]
        for i in idx[plain][bad]:
            values[i], reasons[i] = _one(arr[i], marks, scale)
    for i in idx[rest & ~plain]:  # thousands separators, percent signs, words: the reference function
        values[i], reasons[i] = _one(arr[i], marks, scale)


def range_problems(values: np.ndarray, ok: np.ndarray, scale: str) -> np.ndarray:
    """:func:`~linkage.readers.common.range_problem` of every parsed value (None where in range or not parsed)."""
    lo, hi = SCALE_RANGES[scale]
    out = np.full(len(values), None, dtype=object)
    with np.errstate(invalid="ignore"):
        outside = ok & ((values < lo) | (values > hi))
    for i in np.flatnonzero(outside):
        out[i] = f"out_of_range: {float(values[i])!r} outside [{lo:g}, {hi:g}] for scale {scale}"
    return out


_NHS_BODY = re.compile(r"\bNHS\b|\btrust\b", re.IGNORECASE)


def summary_labels(code_texts: np.ndarray | None, name_texts: np.ndarray | None, n: int) -> np.ndarray:
    """:func:`~linkage.readers.common.summary_row_label` of every row, from the cells' texts (None: not a summary)."""
    out = np.full(n, None, dtype=object)
    if code_texts is not None:
        c = pd.Series(code_texts, dtype=object)
        hit = ((c != "") & c.str.match(_SUMMARY_CODE).fillna(False)).to_numpy(dtype=bool)
        out[hit] = code_texts[hit]
    else:
        hit = np.zeros(n, dtype=bool)
    if name_texts is not None:
        s = pd.Series(name_texts, dtype=object)
        named = ((s != "") & s.str.match(_SUMMARY_NAME).fillna(False)
                 & ~s.str.contains(_NHS_BODY).fillna(False)).to_numpy(dtype=bool)
        take = named & ~hit
        out[take] = name_texts[take]
    return out


def format_reasons(template: str, raws: np.ndarray) -> np.ndarray:
    """``template.format(r)`` for every raw text (a small helper for vectorised reason strings)."""
    return np.array([template.format(r) for r in raws], dtype=object)


def normalise_decimal_commas(data: dict[Any, np.ndarray], positions: list[Any], *, file: str,
                             sheet: str | None = None) -> bool:
    """:func:`~linkage.readers.common.normalise_decimal_commas` on whole columns (converted in place).

    ``positions`` are the keys of ``data`` in column order; "first" means
    first in row order, then column order, as the row-by-row version scans.
    """
    from .common import (
        _DECIMAL_COMMA,
        _DOTTED_THOUSANDS,
        _UNAMBIGUOUS_COMMA,
        _UNAMBIGUOUS_POINT,
        InputFileError,
    )

    stripped = {}
    comma = point = None
    for order, j in enumerate(positions):
        arr = data[j]
        is_str = _is_str(arr)
        if not is_str.any():
            continue
        idx = np.flatnonzero(is_str)
        s = pd.Series(arr[idx], dtype=object).str.strip()
        stripped[j] = (idx, s)
        for name, pat in (("comma", _UNAMBIGUOUS_COMMA), ("point", _UNAMBIGUOUS_POINT)):
            hit = np.flatnonzero(s.str.match(pat).fillna(False).to_numpy(dtype=bool))
            if len(hit):
                cand = (int(idx[hit[0]]), order, s.iloc[hit[0]])
                if name == "comma" and (comma is None or cand[:2] < comma[:2]):
                    comma = cand
                if name == "point" and (point is None or cand[:2] < point[:2]):
                    point = cand
    if comma and point:
        raise InputFileError(
            f"mixes decimal commas ({comma[2]!r}, data row {comma[0] + 1}) and decimal points "
            f"({point[2]!r}, data row {point[0] + 1}); re-export it with one number format",
            file=file, sheet=sheet,
        )
    if comma is None:
        return False
    for j, (idx, s) in stripped.items():
        conv = (s.str.match(_DECIMAL_COMMA).fillna(False) | s.str.match(_DOTTED_THOUSANDS).fillna(False)).to_numpy(
            dtype=bool)
        if conv.any():
            new = s[conv].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            data[j] = data[j].copy()
            data[j][idx[conv]] = new.to_numpy(dtype=object)
    return True


def compute(op: str, inputs: list[np.ndarray], marks: set[str]) -> np.ndarray:
    """A computed column (``product``, ``sum``, ``difference``, ``ratio`` of ``inputs``), as
    :func:`linkage.readers.extract._compute` gives each cell: a float, None (an input blank, missing or
    suppressed), or the first bad input's text."""
    n = len(inputs[0])
    out = np.full(n, None, dtype=object)
    decided = np.zeros(n, dtype=bool)
    nums = []
    for arr in inputs:
        vals, why = parse_numbers(arr, marks)
        fail = ~decided & ~pd.isna(why)
        for i in np.flatnonzero(fail):
            out[i] = None if why[i].startswith(("blank", "missing", "suppressed")) else cell_text(arr[i])
        decided |= fail
        nums.append(vals)
    rest = np.flatnonzero(~decided)
    if not len(rest):
        return out
    x = [v[rest] for v in nums]
    with np.errstate(all="ignore"):
        if op == "product":
            res = np.ones(len(rest))
            for v in x:
                res = res * v
        elif op == "sum":
            res = np.zeros(len(rest))
            for v in x:
                res = res + v
        elif op == "difference":
            res = x[0] - x[1]
        else:
            res = np.where(x[1] != 0, x[0] / np.where(x[1] != 0, x[1], 1.0), np.nan)
    vals = res.tolist()
    if op == "ratio":
        zero = (x[1] == 0).tolist()
        vals = [None if z else v for v, z in zip(vals, zero, strict=True)]
    out[rest] = np.array(vals + [None], dtype=object)[:-1]
    return out
