"""Whole-column versions of the cell functions in :mod:`linkage.readers.common`.

Each function here takes a column of raw cells (a numpy object array: text,
numbers, None, the odd date or bool from a workbook) and returns what the
cell-by-cell function would return for every cell, computed with pandas
string methods and numpy instead of a Python call per cell.  The per-cell
functions stay the reference: cells of an unusual type, or text that is not a
plain decimal number, are handed to them one by one, so the results are the
same by construction (``tests/test_readers_columns.py`` compares the two on
awkward cells, and on long columns for the pyarrow paths).

On all-text columns (every CSV column) the per-cell work is done by pyarrow
compute kernels over the whole column, chosen so that each gives exactly what
Python gives: trimming with the explicit set of characters ``str.strip``
removes, upper-casing only ASCII columns (where pyarrow's and Python's letters
agree), casting plain decimal numbers with pyarrow's correctly rounded parser
(as ``float`` is), and building the ``string`` columns of the outputs from a
dictionary (pandas' ``string`` dtype is pyarrow-backed, so nothing is converted
cell by cell).  An array's pyarrow twin is remembered so a column is converted
at most once.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ..vocab import SCALE_RANGES
from .common import _SUMMARY_CODE, _SUMMARY_NAME, MISSING_MARKS, cell_text, parse_number

#: Text that Python's ``float`` reads exactly as numpy's object->float cast does (a plain decimal number).
BLANK = "blank: no value published"


#: Arrow copies of text columns the CSV parser produced, by ``id`` of their numpy twin (dropped with it).
_ARROW: dict[int, tuple[Any, Any]] = {}


def remember_arrow(arr: np.ndarray, arrow: Any) -> None:
    """Note that ``arrow`` (a pyarrow string array) holds the same cells as ``arr``, to skip converting it again."""
    import weakref

    key = id(arr)
    _ARROW[key] = (weakref.ref(arr, lambda _r, k=key: _ARROW.pop(k, None)), arrow)


class Pending:
    """A column of text cells not yet turned into a numpy array (its pyarrow array, from the CSV parser):
    :func:`cells` converts it when a step needs the cells; a column of bare numbers is parsed from it
    directly (:func:`parse_column`), so its cells never become Python strings.  Anything else that tries to
    index it fails loudly."""

    __slots__ = ("arrow",)

    def __init__(self, arrow: Any) -> None:
        self.arrow = arrow

    def __len__(self) -> int:
        return len(self.arrow)


def cells(data: dict, key: Any) -> np.ndarray:
    """The cells of column ``key`` of ``data`` as a numpy object array (a :class:`Pending` column converted
    once, in place, its pyarrow twin remembered)."""
    col = data[key]
    if isinstance(col, Pending):
        arr = col.arrow.to_numpy(zero_copy_only=False).astype(object, copy=False)
        remember_arrow(arr, col.arrow)
        data[key] = col = arr
    return col


def text_arrow(data: dict, key: Any) -> Any | None:
    """The pyarrow text array of column ``key`` (pending, or converted with a twin), or None."""
    col = data[key]
    return col.arrow if isinstance(col, Pending) else arrow_of(col)


def parse_column(data: dict, key: Any, idx: np.ndarray | None, marks: set[str],
                 scale: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_numbers` of the cells of column ``key`` (rows ``idx``, None: all), by one cast of its pyarrow
    text when every cell is a finite bare number (the cells are then never converted), else cell-wise."""
    text = text_arrow(data, key) if idx is None else None
    if text is not None and not _numeric_marks(marks):
        f = _cast_all(text)
        if f is not None and np.isfinite(f).all():
            return f, np.full(len(f), None, dtype=object)
    arr = cells(data, key)
    return parse_numbers(arr if idx is None else arr[idx], marks, scale)


def _to_arrow(arr: np.ndarray) -> Any:
    """``arr`` (text cells only) as a pyarrow string array."""
    import pyarrow as pa

    hit = _ARROW.get(id(arr))
    if hit is not None and hit[0]() is arr:
        return hit[1]
    return pa.array(arr, type=pa.string())


def _all_str(arr: np.ndarray) -> bool:
    """Whether every cell is text (checked in C: the usual case for a CSV column; known at once for a column
    with a pyarrow twin without nulls, as the CSV parser's are)."""
    if not len(arr):
        return False
    twin = arrow_of(arr)
    if twin is not None and twin.null_count == 0:
        return True
    return pd.api.types.infer_dtype(arr, skipna=False) == "string"


def _text_bytes(a: Any) -> np.ndarray | None:
    """The bytes of a pyarrow text array's character buffer (every cell's bytes, and possibly more when the
    array is a slice), or None when it has none or is not a plain array."""
    import pyarrow as pa

    if not isinstance(a, pa.Array) or not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
        return None
    buf = a.buffers()[2]
    return np.zeros(0, dtype=np.uint8) if buf is None else np.frombuffer(buf, dtype=np.uint8)


def surely_ascii(a: Any) -> bool:
    """Whether every cell of pyarrow text array ``a`` is ASCII, from its bytes (False: not known)."""
    raw = _text_bytes(a)
    return raw is not None and (not len(raw) or int(raw.max()) < 0x80)


def surely_without(a: Any, char: str) -> bool:
    """Whether no cell of pyarrow text array ``a`` holds the ASCII character ``char`` (False: not known)."""
    raw = _text_bytes(a)
    return raw is not None and not (raw == ord(char)).any()


def all_text(arr: np.ndarray) -> bool:
    """Whether every cell of ``arr`` is text (no None, number or date)."""
    return _all_str(arr)


def as_strings(arr: np.ndarray) -> Any:
    """An object array of text or None as a pandas ``string`` array, built by pyarrow in one pass
    (``pd.array(arr, dtype="string")`` gives the same array)."""
    import pyarrow as pa

    twin = arrow_of(arr)
    a = twin if twin is not None else pa.array(arr, type=pa.large_string(), from_pandas=False)
    return pd.array(a.cast(pa.large_string()), dtype="string")


def strings_at(positions: np.ndarray, values: Any) -> Any:
    """``values[positions]`` (text or None) as a pandas ``string`` array, decoded by pyarrow from a dictionary
    (the same array as ``pd.array(np.asarray(values, dtype=object)[positions], dtype="string")``)."""
    import pyarrow as pa

    dictionary = pa.array(list(values), type=pa.large_string())
    a = pa.DictionaryArray.from_arrays(pa.array(positions, type=pa.int32()), dictionary)
    return pd.array(a.cast(pa.large_string()), dtype="string")


def _is_str(arr: np.ndarray) -> np.ndarray:
    if _all_str(arr):
        return np.ones(len(arr), dtype=bool)
    return np.fromiter((type(v) is str for v in arr), dtype=bool, count=len(arr))


def _strip(arr: np.ndarray) -> np.ndarray:
    """``str.strip`` of text cells (Python's own, so its idea of whitespace)."""
    return np.array([v.strip() for v in arr] + [None], dtype=object)[:-1]


#: The characters Python's ``str.strip`` removes (``str.isspace``), for pyarrow's trim to remove the same.
PY_WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())


def _strip_arrow(arr: np.ndarray) -> np.ndarray:
    """``str.strip`` of every cell of an all-text column, done by pyarrow over the whole column (its
    trimmed twin remembered, so later whole-column steps on it skip converting it again)."""
    import pyarrow.compute as pc

    a = _to_arrow(arr)
    trimmed = pc.utf8_trim(a, characters=PY_WHITESPACE)
    if pc.all(pc.equal(pc.binary_length(trimmed), pc.binary_length(a))).as_py() is not False:
        return arr  # nothing trimmed from any cell (trimming only shortens): the cells are their own texts
    out = trimmed.to_numpy(zero_copy_only=False)
    if out.dtype != object:
        out = out.astype(object)
    remember_arrow(out, trimmed)
    return out


def upper(texts_: np.ndarray) -> np.ndarray:
    """``str.upper`` of every cell of an all-text column (pyarrow's when the column is ASCII: the same letters)."""
    import pyarrow.compute as pc

    if not _all_str(texts_):
        return pd.Series(texts_, dtype=object).str.upper().to_numpy(dtype=object)
    a = _to_arrow(texts_)
    if not surely_ascii(a) and not pc.all(pc.string_is_ascii(a)).as_py():
        return np.array([v.upper() for v in texts_] + [None], dtype=object)[:-1]
    up = pc.ascii_upper(a)
    out = up.to_numpy(zero_copy_only=False).astype(object, copy=False)
    remember_arrow(out, up)
    return out


def arrow_of(arr: np.ndarray) -> Any | None:
    """The pyarrow twin remembered for ``arr`` (None when there is none)."""
    hit = _ARROW.get(id(arr))
    return hit[1] if hit is not None and hit[0]() is arr else None


def texts(arr: np.ndarray) -> np.ndarray:
    """:func:`~linkage.readers.common.cell_text` of every cell (an object array of str)."""
    if _all_str(arr):
        return _strip_arrow(arr) if len(arr) >= 1000 else _strip(arr)
    out = np.empty(len(arr), dtype=object)
    is_str = _is_str(arr)
    if is_str.any():
        out[is_str] = _strip(arr[is_str])
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
    if _all_str(arr):
        _parse_text(arr, np.arange(n), marks, scale, values, reasons)
        return values, reasons
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


def _numeric_marks(marks: set[str]) -> bool:
    """Whether some mark reads as a number (then no cell may be taken as a number before the marks are checked)."""
    for m in marks | MISSING_MARKS:
        try:
            f = float(m)
        except ValueError:
            continue
        if np.isfinite(f):
            return True
    return False


#: Text that is one plain decimal number with ASCII spaces around it (RE2 syntax, run by pyarrow).
_PLAIN_CELL = r"^[ \t]*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[ \t]*$"


def _parse_text(arr: np.ndarray, idx: np.ndarray, marks: set[str], scale: str | None,
                values: np.ndarray, reasons: np.ndarray) -> None:
    """Text cells ``arr[idx]``: plain numbers by one cast, every other cell by the reference function.

    A plain number (digits, one point, an exponent, ASCII spaces around) is
    never blank, a mark (unless a mark itself is a number: then every cell
    goes the reference way) or a thousands-separated or percent value, so
    ``float`` of it is what :func:`parse_number` returns.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    whole = len(idx) == len(arr)
    cells = arr if whole else arr[idx]
    text = None
    if _numeric_marks(marks):
        plain = np.zeros(len(idx), dtype=bool)
    else:
        text = _to_arrow(arr) if whole else pa.array(cells, type=pa.string())
        f = _cast_all(text)
        if f is not None:  # every cell a bare number (the usual column): no regex needed
            bad = ~np.isfinite(f)
            values[idx[~bad]] = f[~bad]
            for i in idx[bad]:
                values[i], reasons[i] = _one(arr[i], marks, scale)
            return
        plain = pc.match_substring_regex(text, _PLAIN_CELL).to_numpy(zero_copy_only=False)
    f = _plain_floats(cells, plain, text)
    bad = ~np.isfinite(f)
    values[idx[plain][~bad]] = f[~bad]
    for i in np.concatenate([idx[plain][bad], idx[~plain]]):
        values[i], reasons[i] = _one(arr[i], marks, scale)


def _cast_all(text: Any) -> np.ndarray | None:
    """pyarrow's cast of a whole text column to float64, or None when some cell is not a bare number.

    The cast accepts a sign, digits, one point and an exponent, and no
    spaces: a plain cell (:data:`_PLAIN_CELL`) without the spaces, so what it
    gives is ``float`` of the cell.  It also reads ``nan``, ``inf`` and
    ``infinity`` (any case), and numbers too big for a double as infinite:
    non-finite results, which the caller hands to the reference function.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(text) or text.null_count:
        return None
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _plain_floats(cells: np.ndarray, plain: np.ndarray, text: Any) -> np.ndarray:
    """``float`` of the plain-number cells ``cells[plain]``: pyarrow's cast of the column's text when there
    is one (correctly rounded, as Python's ``float``), else numpy's cast of the cells."""
    if not plain.any():
        return np.empty(0)
    if text is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            picked = pc.utf8_trim(text.filter(pa.array(plain)), characters=" \t")
            return pc.cast(picked, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return cells[plain].astype(np.float64)


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


def _candidates(texts_: np.ndarray, prefix: str) -> np.ndarray:
    """Cells that may match a case-insensitive regex starting ``prefix``: an RE2 pre-screen, non-ASCII always kept."""
    import pyarrow.compute as pc

    a = _to_arrow(texts_)
    hit = pc.match_substring_regex(a, f"^(?:{prefix})", ignore_case=True)
    if not surely_ascii(a):
        hit = pc.or_(hit, pc.invert(pc.string_is_ascii(a)))
    return hit.to_numpy(zero_copy_only=False)


def summary_labels(code_texts: np.ndarray | None, name_texts: np.ndarray | None, n: int) -> np.ndarray:
    """:func:`~linkage.readers.common.summary_row_label` of every row, from the cells' texts (None: not a summary)."""
    from .common import _SUMMARY_WORDS

    out = np.full(n, None, dtype=object)
    hit = np.zeros(n, dtype=bool)
    if code_texts is not None and n:
        for i in np.flatnonzero(_candidates(code_texts, _SUMMARY_WORDS)):
            c = code_texts[i]
            if c and _SUMMARY_CODE.match(c):
                out[i], hit[i] = c, True
    if name_texts is not None and n:
        for i in np.flatnonzero(_candidates(name_texts, "median|mean|average|national|england|total|overall|all|grand")):
            t = name_texts[i]
            if not hit[i] and t and _SUMMARY_NAME.match(t) and not _NHS_BODY.search(t):
                out[i] = t
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

    comma = point = None
    for order, j in enumerate(positions):  # a decimal comma needs a digit before a comma: screen in C first
        text = text_arrow(data, j)
        if text is not None and surely_ascii(text) and surely_without(text, ","):
            continue  # no candidate (the usual column), known without converting it
        arr = cells(data, j)
        cand = np.flatnonzero(_comma_candidates(arr))
        for i in cand:
            if _UNAMBIGUOUS_COMMA.match(arr[i].strip()):
                if comma is None or (int(i), order) < comma[:2]:
                    comma = (int(i), order, arr[i].strip())
                break
    if comma is None:
        return False
    stripped = {}
    for order, j in enumerate(positions):
        arr = cells(data, j)
        is_str = _is_str(arr)
        if not is_str.any():
            continue
        idx = np.flatnonzero(is_str)
        s = pd.Series(arr[idx], dtype=object).str.strip()
        stripped[j] = (idx, s)
        hit = np.flatnonzero(s.str.match(_UNAMBIGUOUS_POINT).fillna(False).to_numpy(dtype=bool))
        if len(hit):
            cand = (int(idx[hit[0]]), order, s.iloc[hit[0]])
            if point is None or cand[:2] < point[:2]:
                point = cand
    if comma and point:
        raise InputFileError(
            f"mixes decimal commas ({comma[2]!r}, data row {comma[0] + 1}) and decimal points "
            f"({point[2]!r}, data row {point[0] + 1}); re-export it with one number format",
            file=file, sheet=sheet,
        )
    for j, (idx, s) in stripped.items():
        conv = (s.str.match(_DECIMAL_COMMA).fillna(False) | s.str.match(_DOTTED_THOUSANDS).fillna(False)).to_numpy(
            dtype=bool)
        if conv.any():
            new = s[conv].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            data[j] = data[j].copy()
            data[j][idx[conv]] = new.to_numpy(dtype=object)
    return True


def _comma_candidates(arr: np.ndarray) -> np.ndarray:
    """Text cells that may be a decimal-comma number: a comma after a leading digit (or any non-ASCII text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    is_str = _is_str(arr)
    out = np.zeros(len(arr), dtype=bool)
    if not is_str.any():
        return out
    a = _to_arrow(arr) if is_str.all() else pa.array(arr[is_str], type=pa.string())
    ascii_ = surely_ascii(a)
    if ascii_ and surely_without(a, ","):  # ASCII and no comma anywhere (the usual case): no candidate
        return out
    if not pc.any(pc.match_substring(a, ",")).as_py():  # no comma at all: no regex needed
        if ascii_:
            return out
        hit = pc.invert(pc.string_is_ascii(a))
    else:
        hit = pc.match_substring_regex(a, r"^[\s\x0b\x1c-\x1f]*[-+]?[0-9][^,]*,")
        if not ascii_:
            hit = pc.or_(hit, pc.invert(pc.string_is_ascii(a)))
    out[is_str] = hit.to_numpy(zero_copy_only=False)
    return out


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
