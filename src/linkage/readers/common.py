"""Shared machinery of the readers: file sniffing, sheets, cells, roll-ups, cache.

Nothing here knows a particular publisher's layout; that knowledge lives in
``src/linkage/catalogue/layouts.yaml`` and the family modules.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..catalogue import Catalogue
from ..combine import combine
from ..contract import QUARANTINE_COLUMNS, coerce_tidy, empty_quarantine, empty_tidy
from ..errors import InputFileError
from ..files import sha256_of
from ..vocab import SCALE_RANGES

log = logging.getLogger("linkage.readers")

ORG_COLUMNS = ["org_code", "year", "org_name", "benchmark_group", "org_kind", "source_file"]
FILE_COLUMNS = ["file", "layout", "kind", "status", "detail"]

#: Bumped when reader logic changes in a way that invalidates cached results.
READER_REVISION = "3"



# --------------------------------------------------------------------------- result
def empty_orgs() -> pd.DataFrame:
    """An empty organisations table."""
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "year" else "string") for c in ORG_COLUMNS})


def empty_files() -> pd.DataFrame:
    """An empty table of files looked at."""
    return pd.DataFrame({c: pd.Series(dtype="string") for c in FILE_COLUMNS})


def empty_rollups() -> pd.DataFrame:
    """An empty roll-ups table (tidy columns plus ``into``)."""
    out = empty_tidy()
    out["into"] = pd.Series(dtype="string")
    return out


@dataclass
class ReadResult:
    """What a reader returns.

    Attributes
    ----------
    tidy
        The tidy contract (:data:`linkage.contract.TIDY_COLUMNS` plus ``scale``
        and ``source_sheet``), values on the publisher's scale.
    quarantine
        Cells or rows not used, with a reason (:data:`~linkage.contract.QUARANTINE_COLUMNS`).
    rollups
        Tidy rows of sub-codes that were rolled up, plus ``into`` (the code they
        were merged into).
    orgs
        ``org_code, year, org_name, benchmark_group, org_kind, source_file``.
    layout
        Layout id (``extract:<mapping id>`` for researcher extracts; several
        ids joined by ``+`` for a folder).
    kind
        ``staff`` or ``patient`` (``patient+staff`` for an extract feeding both sides).
    file_year
        The file's own survey year (None for a folder).
    files
        Files looked at: ``file, layout, kind, status, detail``.
    key
        Variable descriptions from the file's key sheet, if it has one
        (``sheet, variable, description``).
    names
        For a file keyed by organisation name: one row per data row with
        ``source_file, row, name, status`` (matched / ambiguous / unmatched),
        ``org_code`` and the nearest ``candidates`` (empty otherwise).
    unrecognised
        For a folder: the files no reader or mapping recognised (not a
        spreadsheet or text file, or a layout none of the known ones), each
        ``{"file": path relative to the folder, "reason": why}``.
    """

    tidy: pd.DataFrame
    quarantine: pd.DataFrame
    rollups: pd.DataFrame
    orgs: pd.DataFrame
    layout: str
    kind: str
    file_year: int | None = None
    files: pd.DataFrame = field(default_factory=empty_files)
    key: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["sheet", "variable", "description"]))
    names: pd.DataFrame = field(default_factory=lambda: empty_name_audit())
    unrecognised: list[dict[str, str]] = field(default_factory=list)


NAME_AUDIT_COLUMNS = ["source_file", "row", "name", "status", "org_code", "candidates"]


def empty_name_audit() -> pd.DataFrame:
    """An empty name-match audit (see :attr:`ReadResult.names`)."""
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "row" else "string") for c in NAME_AUDIT_COLUMNS})


# --------------------------------------------------------------------------- files
def _text_kind(head: bytes) -> str | None:
    """Name a text format that is not a CSV (HTML, XML), from the first bytes."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()[:512].lower()
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<head", b"<meta")):
        return "an HTML page (a web page or report saved with a spreadsheet extension), not a spreadsheet"
    if text.startswith(b"<?xml"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head or b"mso-application" in head:
            return "an 'XML Spreadsheet 2003' file, not an .xlsx workbook"
        return "an XML document, not a spreadsheet"
    return None


def _binary_kind(head: bytes) -> str:
    """Name a binary format from its first bytes."""
    for magic, what in (
        (b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip-compressed file"),
        (b"BZh", "a bzip2-compressed file"), (b"7z\xbc\xaf", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
        (b"\xff\xd8\xff", "a JPEG image"), (b"PAR1", "a Parquet file"), (b"SQLite format", "an SQLite database"),
    ):
        if head.startswith(magic):
            return what
    return "a binary file"


#: Default of ``data.max_uncompressed_mb`` (see :mod:`linkage.params.data`).
DEFAULT_MAX_UNCOMPRESSED_MB = 1000.0
_MAX_UNCOMPRESSED_MB: ContextVar[float] = ContextVar("max_uncompressed_mb", default=DEFAULT_MAX_UNCOMPRESSED_MB)


@contextmanager
def limits(*, max_uncompressed_mb: float | None = None):
    """Within the block, refuse workbooks declaring more than ``max_uncompressed_mb`` MB unpacked (None: default)."""
    token = _MAX_UNCOMPRESSED_MB.set(DEFAULT_MAX_UNCOMPRESSED_MB if max_uncompressed_mb is None
                                     else float(max_uncompressed_mb))
    try:
        yield
    finally:
        _MAX_UNCOMPRESSED_MB.reset(token)


def _check_unpacked_size(zf: zipfile.ZipFile, path: Path) -> None:
    """Refuse an archive whose declared unpacked size exceeds the limit, before anything is unpacked."""
    limit = _MAX_UNCOMPRESSED_MB.get()
    declared = sum(i.file_size for i in zf.infolist())
    if declared > limit * 1e6:
        size = path.stat().st_size
        raise InputFileError(
            f"is a workbook that declares {declared / 1e6:,.0f} MB of unpacked contents from {size / 1e6:,.1f} MB "
            f"on disk ({declared / max(size, 1):,.0f} times its size), over the limit data.max_uncompressed_mb = "
            f"{limit:g}; refused before parsing (a 'zip bomb'?). If the file is genuine, raise the limit",
            file=path,
        )


def _sniff_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                mime = zf.read("mimetype")[:200].decode("ascii", "replace")
                if "opendocument.spreadsheet" in mime:
                    _check_unpacked_size(zf, path)
                    return "ods"
                raise InputFileError(f"an OpenDocument file but not a spreadsheet ({mime})", file=path)
            if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
                _check_unpacked_size(zf, path)
                return "xlsx"
            if "word/document.xml" in names:
                raise InputFileError("is a Word document (.docx), not a spreadsheet", file=path)
    except zipfile.BadZipFile:
        raise InputFileError("looks like a zip/xlsx file but is corrupt or truncated", file=path) from None
    raise InputFileError("a zip archive that is not an .xlsx or .ods workbook; unzip it first", file=path)


#: Name of the stream an encrypted .xlsx keeps in its OLE2 (compound file) container, as stored (UTF-16LE).
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
#: BIFF8 records: BOF of the workbook globals, FILEPASS (the workbook is encrypted), EOF.
_BIFF_BOF_GLOBALS = b"\x09\x08\x10\x00\x00\x06\x05\x00"
_BIFF_FILEPASS, _BIFF_EOF = 0x002F, 0x000A


def _xls_has_filepass(data: bytes) -> bool:
    """Whether the workbook globals of an Excel 97-2003 file start with a FILEPASS record (password to open)."""
    at = data.find(_BIFF_BOF_GLOBALS)
    if at < 0:
        return False
    pos = at + 4 + 16
    for _ in range(64):  # FILEPASS, when present, comes right after BOF and a few header records
        if pos + 4 > len(data):
            return False
        rtype, rlen = int.from_bytes(data[pos:pos + 2], "little"), int.from_bytes(data[pos + 2:pos + 4], "little")
        if rtype == _BIFF_FILEPASS:
            return True
        if rtype in (_BIFF_EOF, 0x0085):  # EOF, or the first BOUNDSHEET: past where FILEPASS can be
            return False
        pos += 4 + rlen
    return False


def _refuse_encrypted(path: Path) -> None:
    """Name a password-protected workbook: an encrypted .xlsx (an OLE2 file holding ``EncryptionInfo``) or an
    Excel 97-2003 .xls whose workbook stream has a FILEPASS record."""
    with open(path, "rb") as fh:
        data = fh.read(4 << 20)
    what = None
    if _ENCRYPTION_INFO in data:
        what = "an encrypted (password-protected) .xlsx workbook"
    elif _xls_has_filepass(data):
        what = "a password-protected Excel 97-2003 (.xls) workbook"
    if what:
        raise InputFileError(f"is {what}; it cannot be read: remove the password and save again (in Excel: "
                             "File > Info > Protect Workbook > Encrypt with Password, clear the box)", file=path)


def sniff(path: Path) -> str:
    """Return the file's type from its bytes (never its name): ``xlsx``, ``ods``, ``xls`` or ``csv``.

    UTF-16 text counts as ``csv`` (:func:`decode_text` reads it).

    Raises
    ------
    InputFileError
        Missing, empty, or not a spreadsheet / delimited text file; the message
        names what the file is (gzip, HTML page, PDF, image...).
    """
    if not path.exists():
        raise InputFileError("file does not exist", file=path)
    if path.is_dir():
        raise InputFileError("is a folder, not a file (use read_folder for folders)", file=path)
    size = path.stat().st_size
    if size == 0:
        raise InputFileError("file is empty (0 bytes); expected a spreadsheet or CSV", file=path)
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        _refuse_encrypted(path)
        return "xls"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(head):
        return "csv"
    what = _text_kind(head) if b"\x00" not in head else None
    if b"\x00" in head or head.startswith((b"\x1f\x8b", b"%PDF")):
        what = _binary_kind(head)
    if what is not None:
        fix = "; decompress it first" if "compressed" in what else ""
        raise InputFileError(
            f"is {what} (starts with bytes {head[:8]!r}){fix}; expected an .xlsx/.ods/.xls workbook or a CSV",
            file=path,
        )
    return "csv"


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 text without a byte-order mark: every other byte NUL."""
    sample = head[:512]
    return len(sample) >= 8 and (sample[1::2].count(0) > 0.9 * len(sample[1::2]) or sample[0::2].count(0) > 0.9 * len(sample[0::2]))


def decode_text(path: Path) -> str:
    """Read a text file: UTF-16 (BOM or NUL pattern), UTF-8 (with or without BOM), else cp1252."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    elif _looks_utf16(raw[:512]):
        encodings = ("utf-16-le",) if raw[1:512:2].count(0) > raw[0:512:2].count(0) else ("utf-16-be",)
    else:
        encodings = ("utf-8-sig", "cp1252")
    for enc in encodings:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputFileError(f"text file is not valid {' or '.join(encodings)}; save it as UTF-8 CSV", file=path)


class Workbook:
    """A spreadsheet read with python-calamine; sheets as lists of rows.

    Row ``i`` (0-based) of :meth:`rows` is spreadsheet row ``i + 1``.
    """

    def __init__(self, path: Path) -> None:
        import python_calamine

        self.path = path
        try:  # opened from the bytes, so the content decides the format (an .xlsx named .xls works)
            with open(path, "rb") as fh:
                self._wb = python_calamine.load_workbook(io.BytesIO(fh.read()))
        except Exception as err:  # calamine raises its own error types
            hint = " (password-protected? save an unprotected copy)" if "password" in str(err).lower() else ""
            raise InputFileError(f"cannot open as a spreadsheet{hint}: {err}", file=path.name) from None
        self.sheet_names: list[str] = list(self._wb.sheet_names)
        self._rows: dict[str, list[list[Any]]] = {}

    def rows(self, sheet: str) -> list[list[Any]]:
        """All rows of ``sheet`` from spreadsheet row 1 (empty leading rows kept)."""
        if sheet not in self._rows:
            if sheet not in self.sheet_names:
                raise InputFileError(
                    f"no sheet named {sheet!r}; sheets are {self.sheet_names}", file=self.path.name
                )
            try:
                data = self._wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            except Exception as err:
                raise InputFileError(f"cannot read sheet: {err}", file=self.path.name, sheet=sheet) from None
            self._rows[sheet] = [list(r) for r in data]
        return self._rows[sheet]


def column_letter(idx: int) -> str:
    """Spreadsheet column letter for 0-based column ``idx`` (0 -> A, 26 -> AA)."""
    out = ""
    idx += 1
    while idx:
        idx, rem = divmod(idx - 1, 26)
        out = chr(65 + rem) + out
    return out


def cell_text(v: Any) -> str:
    """A cell as stripped text ('' for empty)."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def find_header_row(rows: list[list[Any]], tokens: list[str], search_rows: int) -> int | None:
    """0-based index of the first row (within ``search_rows``) holding all ``tokens``."""
    want = {t.lower() for t in tokens}
    for i, row in enumerate(rows[:search_rows]):
        cells = {cell_text(c).lower() for c in row}
        if want <= cells:
            return i
    return None


def header_index(
    header: list[Any], *, file: str, sheet: str | None, row: int
) -> dict[str, int]:
    """Map header text -> 0-based column; a repeated non-empty header is an error."""
    out: dict[str, int] = {}
    for j, c in enumerate(header):
        name = cell_text(c)
        if not name:
            continue
        if name in out:
            raise InputFileError(
                f"header {name!r} appears twice (columns {column_letter(out[name])} and {column_letter(j)}); "
                "cannot tell which holds the data",
                file=file,
                sheet=sheet,
                column=name,
                row=row,
            )
        out[name] = j
    return out


def require_column(
    columns: dict[str, int] | list[str], name: str, *, what: str, file: str, sheet: str | None, row: int | None
) -> None:
    """Raise a clear error when ``name`` is not among ``columns``, suggesting close names."""
    names = list(columns)
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f"; similar columns: {close}" if close else f"; columns start {names[:12]}"
    raise InputFileError(
        f"expected a column {name!r} ({what}) but there is none{hint}",
        file=file,
        sheet=sheet,
        column=name,
        row=row,
    )


# --------------------------------------------------------------------------- cells
#: Marks for "no value" written by statistics software and spreadsheets (R and pandas ``NA``, Excel ``#N/A``,
#: Stata and SAS ``.``, SQL ``NULL``).  A cell holding one is audited as ``missing``, which is not the
#: publisher's suppression (``*``, ``-``, ``[c]``...) of a value too small or too disclosive to publish.
MISSING_MARKS = frozenset({"NA", "N/A", "n/a", "#N/A", "<NA>", "NaN", "nan", "NULL", "null", "."})

def parse_number(v: Any, marks: set[str], scale: str | None = None) -> tuple[float | None, str | None]:
    """Parse a cell to a float, or return why not.

    A ``%`` suffix means "percent": on a ``percent`` column ``"50.29%"`` is
    50.29, on a ``proportion`` column 0.5029; on any other scale (or with no
    scale given, as for years and bases) a percent sign is refused rather than
    guessed.  Commas are taken as thousands separators; files with decimal
    commas are converted first (:func:`normalise_decimal_commas`).

    Returns
    -------
    (value, None) for a number; (None, reason) for a blank, a missing-value
    mark (:data:`MISSING_MARKS`, reason ``missing``), a suppression mark or
    anything non-numeric.
    """
    if v is None:
        return None, "blank: no value published"
    if isinstance(v, bool):
        return None, f"non_numeric: {v!r}"
    if isinstance(v, int | float):
        f = float(v)
        if math.isnan(f):
            return None, "blank: no value published"
        if math.isinf(f):
            return None, f"non_numeric: {v!r}"
        return f, None
    if not isinstance(v, str):
        return None, f"non_numeric: {type(v).__name__} {v!r}"
    s = v.strip()
    if s == "":
        return None, "blank: no value published"
    if s in MISSING_MARKS:
        return None, f"missing: mark {s!r}"
    if s in marks or s.lower() in marks:
        return None, f"suppressed: mark {s!r}"
    t = s.replace(",", "")
    pct = t.endswith("%")
    if pct:
        t = t[:-1].strip()
    try:
        f = float(t)
    except ValueError:
        return None, f"non_numeric: {v!r}"
    if math.isnan(f) or math.isinf(f):
        return None, f"non_numeric: {v!r}"
    if not pct:
        return f, None
    if scale == "percent":
        return f, None
    if scale == "proportion":
        return f / 100.0, None
    return None, f"non_numeric: percent sign in {v!r} but the column is on scale {scale or 'plain number'}"


_DECIMAL_COMMA = re.compile(r"^[-+]?\d{1,3}(\.\d{3})*,\d+%?$|^[-+]?\d+,\d+%?$")
_UNAMBIGUOUS_COMMA = re.compile(r"^[-+]?\d+,(\d{1,2}|\d{4,})%?$|^[-+]?\d{1,3}(\.\d{3})+,\d+%?$")
_DOTTED_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(\.\d{3})+%?$")
_UNAMBIGUOUS_POINT = re.compile(r"^[-+]?\d+\.(\d{1,2}|\d{4,})%?$|^[-+]?\d{1,3}(,\d{3})+\.\d+%?$")


def normalise_decimal_commas(
    rows: list[list[Any]], *, file: str, sheet: str | None = None, columns: list[int] | None = None
) -> bool:
    """Convert text numbers written with decimal commas (``"41,5"``) in place, if the file uses them.

    A file uses decimal commas when some cell can only be read that way
    (``"41,5"``, ``"0,3125"``, ``"1.234,5"``) and none can only be read with
    a decimal point (``"41.5"``).  ``"1,234"`` alone is ambiguous and read as
    a thousands separator, as before.  In a decimal-comma file ``"1.234"`` is
    one thousand two hundred and thirty-four (dots group thousands).

    Only ``columns`` (0-based positions; default all) are looked at and converted.

    Returns
    -------
    bool
        Whether the rows were converted.

    Raises
    ------
    InputFileError
        The file mixes both conventions (it cannot be read safely).
    """
    comma = point = None
    pick = (lambda r: r) if columns is None else (lambda r: [r[j] for j in columns if j < len(r)])  # noqa: E731
    for i, r in enumerate(rows):
        for c in pick(r):
            if isinstance(c, str):
                t = c.strip()
                if comma is None and _UNAMBIGUOUS_COMMA.match(t):
                    comma = (i, t)
                elif point is None and _UNAMBIGUOUS_POINT.match(t):
                    point = (i, t)
        if comma and point:
            raise InputFileError(
                f"mixes decimal commas ({comma[1]!r}, data row {comma[0] + 1}) and decimal points "
                f"({point[1]!r}, data row {point[0] + 1}); re-export it with one number format",
                file=file, sheet=sheet,
            )
    if comma is None:
        return False
    for r in rows:
        for j in range(len(r)) if columns is None else [j for j in columns if j < len(r)]:
            c = r[j]
            if isinstance(c, str) and (_DECIMAL_COMMA.match(c.strip()) or _DOTTED_THOUSANDS.match(c.strip())):
                r[j] = c.strip().replace(".", "").replace(",", ".")
    return True


_SUMMARY_WORDS = (
    r"median|mean|average|avg|national|england|total|totals|overall|sum|count|all|all trusts|"
    r"all organisations|benchmark|minimum|maximum|min|max|lowest|highest|upper quartile|lower quartile|"
    r"national average|national median|england average|england median|england total|grand total|subtotal"
)
_SUMMARY_CODE = re.compile(rf"^({_SUMMARY_WORDS})([\s:(].*)?$", re.IGNORECASE)
_SUMMARY_NAME = re.compile(
    r"^(median|mean|average|national|england|total|overall|all (trusts|organisations|respondents)|grand total)\b",
    re.IGNORECASE,
)


def summary_row_label(code: Any, name: Any = None) -> str | None:
    """The summary label of a row that is not an organisation ("Median", "England average"...), else None.

    An organisation code that is a summary word, or a name that starts with one
    and does not name an NHS body (``"National average"`` but not
    ``"Royal National Orthopaedic Hospital NHS Trust"``), marks a summary row.
    """
    c, n = cell_text(code), cell_text(name)
    if c and _SUMMARY_CODE.match(c):
        return c
    if n and _SUMMARY_NAME.match(n) and not re.search(r"\bNHS\b|\btrust\b", n, re.IGNORECASE):
        return n
    return None


def range_problem(value: float, scale: str) -> str | None:
    """Reason text if ``value`` lies outside ``scale``'s range, else None."""
    lo, hi = SCALE_RANGES[scale]
    if value < lo or value > hi:
        return f"out_of_range: {value!r} outside [{lo:g}, {hi:g}] for scale {scale}"
    return None


_BAD_CELL = ("non_numeric", "out_of_range", "bad_year")
#: A column is refused when at least this many cells, and at least half of its non-blank cells, are bad.
MIN_BAD_CELLS = 3


def _scale_guess(values: list[float]) -> str | None:
    """The scale a set of numbers looks like: proportion, score10, percent (0-100) or None."""
    if not values:
        return None
    lo, hi = min(values), max(values)
    if lo < 0:
        return None
    for name, top in (("proportions (0-1)", 1.0), ("0-10 scores", 10.0), ("percentages (0-100)", 100.0)):
        if hi <= top:
            return name
    return None


def _likely_cause(scale: str | None, ok: list[float], bad: list[tuple[int | None, str, str]]) -> str:
    """A sentence on why a column's cells failed, from what they look like."""
    raws = [r for _, r, _ in bad]
    if all(reason.startswith("bad_year") for _, _, reason in bad):
        if any(re.fullmatch(r"\s*(19|20)\d{2}\s*[/-]\s*\d{2,4}\s*", r) for r in raws):
            return ("the years look like financial or academic years ('2021/22'), expected a 4-digit survey year; "
                    "convert them, or set the year in the mapping (year: {constant: 2021} or {from_file_name: ...})")
        return "the cells are not 4-digit survey years; is the mapping's year column the right one?"
    numbers = [f for f in (parse_number(r, set())[0] for r in raws) if f is not None]
    if sum(bool(re.fullmatch(r"\s*[-+]?\d+,\d+\s*%?", r)) for r in raws) > len(raws) / 2:
        return "the numbers look like decimal commas ('41,5'); save the file with decimal points or as CSV"
    if sum("%" in r for r in raws) > len(raws) / 2:
        return f"the cells carry '%' signs but the column is on scale {scale}; declare scale: percent"
    if numbers and len(numbers) >= len(raws) / 2:
        guess = _scale_guess(numbers + ok)
        want = {"proportion": "proportions (0-1)", "score10": "0-10 scores", "percent": "percentages (0-100)",
                "mean1to5": "1-5 means"}.get(scale or "", f"scale {scale}")
        lo, hi = SCALE_RANGES.get(scale or "", (math.nan, math.nan))
        seen = f"values run from {min(numbers + ok):g} to {max(numbers + ok):g}"
        if guess is not None and guess != want:
            return f"looks like {guess}, expected {want} ({seen}); declare the column's real scale"
        return f"{seen}, outside [{lo:g}, {hi:g}] expected for {want}; declare the column's real scale"
    return (f"the cells are mostly text, not numbers (e.g. {raws[:3]}); "
            "does the layout or mapping point at the right column?")


def column_problem(st: ColumnStats) -> str | None:
    """Why a column is a layout problem (wholly or mostly unparseable or out of range), or None.

    Also refuses a ``percent`` column whose values all lie in [0, 1] (at least
    ten of them): proportions read as percentages would be silently 100-fold
    too small.
    """
    n_bad, n_ok = len(st.bad), len(st.ok)
    if n_bad >= MIN_BAD_CELLS and n_bad >= n_ok:
        cause = _likely_cause(st.scale, np.asarray(st.ok, dtype=np.float64).tolist(), st.bad)
        return f"{n_bad} of {n_bad + n_ok} non-blank cells could not be used ({st.bad[0][2]}): {cause}"
    if st.scale == "percent" and n_ok >= 10:
        ok = np.asarray(st.ok, dtype=np.float64)  # a list, or the numpy array of a column read whole
        lo, hi = float(ok.min()), float(ok.max())
        if 0 < hi <= 1.0:
            return (f"all {n_ok} values lie between {lo:g} and {hi:g}: looks like proportions (0-1), "
                    "expected percentages (0-100); declare scale: proportion")
    return None




@dataclass
class ColumnStats:
    """What one column of one sheet gave: parsed values and cells refused as unparseable or out of range."""

    scale: str | None = None
    ok: list[float] | np.ndarray = field(default_factory=list)  # a column read whole keeps a float64 array
    bad: list[tuple[int | None, str, str]] = field(default_factory=list)  # (row, raw, reason)


class Collector:
    """Accumulates tidy, quarantine and org records for one file, with per-column statistics.

    :meth:`frames` refuses a file in which a column is wholly or mostly
    unparseable or out of range (see :func:`column_problem`): that is a layout
    problem, not a pile of quarantined cells.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.tidy: list[dict[str, Any]] = []
        self.quarantine: list[dict[str, Any]] = []
        self.orgs: list[dict[str, Any]] = []
        self.columns: dict[tuple[str | None, str], ColumnStats] = {}

    def _stats(self, sheet: str | None, column: str | None, scale: str | None = None) -> ColumnStats:
        st = self.columns.setdefault((sheet, str(column)), ColumnStats())
        st.scale = st.scale or scale
        return st

    def note_ok(self, *, sheet: str | None, column: str, value: float, scale: str | None = None) -> None:
        """Record a parsed value of ``column`` (used for the layout check)."""
        self._stats(sheet, column, scale).ok.append(value)

    def quarantine_cell(
        self, *, sheet: str | None, row: int | None, org_code: Any, year: Any, column: str | None, raw: Any, reason: str
    ) -> None:
        if reason.startswith(_BAD_CELL) and column is not None:
            self._stats(sheet, column).bad.append((row, "" if raw is None else str(raw), reason))
        self.quarantine.append(
            {
                "source_file": self.file,
                "source_sheet": sheet,
                "row": row,
                "org_code": org_code,
                "year": year,
                "column": column,
                "raw_value": None if raw is None else str(raw),
                "reason": reason,
            }
        )

    def value(
        self,
        *,
        sheet: str | None,
        row: int,
        org_code: str,
        year: int,
        measure: str,
        scale: str,
        column: str,
        raw: Any,
        base_raw: Any,
        marks: set[str],
    ) -> None:
        """Parse one measure cell into a tidy row, or quarantine it with the reason."""
        value, why = parse_number(raw, marks, scale)
        self._stats(sheet, column, scale)
        if why is None:
            why = range_problem(value, scale)
        if why is not None:
            self.quarantine_cell(sheet=sheet, row=row, org_code=org_code, year=year, column=column, raw=raw, reason=why)
            return
        self.columns[(sheet, str(column))].ok.append(value)
        base, _ = parse_number(base_raw, marks) if base_raw is not None else (None, None)
        self.tidy.append(
            {
                "org_code": org_code,
                "year": year,
                "measure": measure,
                "value": value,
                "base_n": base,
                "source_file": self.file,
                "source_code": column,
                "scale": scale,
                "source_sheet": sheet,
            }
        )

    def org(self, *, org_code: str, year: int, org_name: Any, benchmark_group: Any, org_kind: str) -> None:
        self.orgs.append(
            {
                "org_code": org_code,
                "year": year,
                "org_name": None if org_name is None else cell_text(org_name) or None,
                "benchmark_group": None if benchmark_group is None else cell_text(benchmark_group) or None,
                "org_kind": org_kind,
                "source_file": self.file,
            }
        )

    def check_columns(self) -> None:
        """Raise :class:`InputFileError` for the first column that is wholly or mostly bad."""
        for (sheet, column), st in self.columns.items():
            why = column_problem(st)
            if why is not None:
                row = st.bad[0][0] if st.bad else None
                raise InputFileError(why, file=self.file, sheet=sheet, column=column, row=row)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Tidy, quarantine and organisations tables, after :meth:`check_columns`."""
        self.check_columns()
        tidy = coerce_tidy(pd.DataFrame(self.tidy)) if self.tidy else empty_tidy()
        quarantine = finish_quarantine(pd.DataFrame(self.quarantine)) if self.quarantine else empty_quarantine()
        orgs = finish_orgs(pd.DataFrame(self.orgs)) if self.orgs else empty_orgs()
        return tidy, quarantine, orgs


def finish_quarantine(df: pd.DataFrame) -> pd.DataFrame:
    """Quarantine with contract columns and stable dtypes (row Int64, rest text)."""
    out = df.copy()
    for c in QUARANTINE_COLUMNS:
        if c not in out.columns:
            out[c] = pd.NA
    out = out[QUARANTINE_COLUMNS]
    out["row"] = pd.to_numeric(out["row"]).astype("Int64")
    out["year"] = pd.to_numeric(out["year"], errors="coerce").astype("Int64")
    for c in ("source_file", "source_sheet", "org_code", "column", "raw_value", "reason"):
        out[c] = out[c].astype("string")
    return out.reset_index(drop=True)


def finish_orgs(df: pd.DataFrame) -> pd.DataFrame:
    """Organisations table with stable columns and dtypes."""
    out = df.copy()
    for c in ORG_COLUMNS:
        if c not in out.columns:
            out[c] = pd.NA
    out = out[ORG_COLUMNS]
    out["year"] = pd.to_numeric(out["year"]).astype("Int64")
    for c in ORG_COLUMNS:
        if c != "year":
            out[c] = out[c].astype("string")
    return out.reset_index(drop=True)


def check_duplicate_orgs(
    seen: dict[tuple[str, int], tuple[str | None, int, tuple]],
    *,
    org_code: str,
    year: int,
    sheet: str | None,
    row: int,
    signature: tuple,
    collector: Collector,
    column: str,
) -> bool:
    """Track (org, year) rows; return True if this row duplicates an earlier one.

    An exact duplicate (same values) is quarantined with the earlier row's
    location; a conflicting duplicate raises :class:`InputFileError`.
    """
    key = (org_code, year)
    if key not in seen:
        seen[key] = (sheet, row, signature)
        return False
    first_sheet, first_row, first_sig = seen[key]
    where = f"row {first_row}" + (f" of sheet {first_sheet!r}" if first_sheet and first_sheet != sheet else "")
    if first_sig == signature:
        collector.quarantine_cell(
            sheet=sheet, row=row, org_code=org_code, year=year, column=column, raw=org_code,
            reason=f"duplicate_row: identical to {where}",
        )
        return True
    raise InputFileError(
        f"organisation {org_code!r} ({year}) appears twice with different values (first at {where}); "
        "remove one of the rows",
        file=collector.file,
        sheet=sheet,
        column=column,
        row=row,
    )


# --------------------------------------------------------------------------- roll-ups
def roll_up(
    tidy: pd.DataFrame, orgs: pd.DataFrame, catalogue: Catalogue
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Merge sub-codes (e.g. Isle of Wight R1F1..R1F4) into their parent code.

    Values combine by each measure's ``rollup`` rule in the catalogue
    (base-weighted mean, sum, or ratio for response rates) with
    :func:`linkage.combine.combine`, weighted by respondents; its docstring
    says how missing or non-positive bases are handled.  A parent value is
    only formed when every sub-code the file lists for that year has a value;
    otherwise the sub-code rows are quarantined with ``rollup_incomplete``.

    Returns
    -------
    tidy, rollups, orgs, quarantine
        Tidy without sub-codes (parents added), the sub-code rows with
        ``into``, organisations with the parent instead of sub-codes, and
        quarantine rows produced here.
    """
    if tidy.empty and orgs.empty:
        return tidy, empty_rollups(), orgs, empty_quarantine()
    target = catalogue.rollup_targets(tidy["org_code"])
    if not target.notna().any():
        return tidy, empty_rollups(), orgs, empty_quarantine()
    subs = tidy[target.notna()].copy()
    subs["into"] = target[target.notna()].astype("string")
    keep = tidy[target.isna()]
    present = set(zip(keep["org_code"], keep["year"], keep["measure"], strict=True))
    org_target = catalogue.rollup_targets(orgs["org_code"])
    listed = orgs[org_target.notna()].assign(into=org_target[org_target.notna()])
    parts_by = listed.groupby(["into", "year"])["org_code"].apply(lambda s: sorted(set(s))).to_dict()

    new_rows, merged, q = [], [], []
    for (into, year, measure, source_file), grp in subs.groupby(
        ["into", "year", "measure", "source_file"], sort=True
    ):
        expected = parts_by.get((into, year), sorted(grp["org_code"].unique()))
        got = sorted(grp["org_code"].unique())
        if (into, year, measure) in present:
            reason = f"subcode_not_rolled_up: {into} itself is in the file"
        elif got != expected:
            reason = f"rollup_incomplete: {into} {measure} has values for {got} but the file lists {expected}"
        else:
            reason = None
        if reason:
            for _, r in grp.iterrows():
                q.append(
                    {
                        "source_file": r["source_file"], "source_sheet": r["source_sheet"], "row": None,
                        "org_code": r["org_code"], "year": r["year"], "column": r["source_code"],
                        "raw_value": repr(float(r["value"])), "reason": reason,
                    }
                )
            continue
        method = catalogue.measure(str(measure)).rollup
        value, base, _ = combine(grp["value"], grp["base_n"], rule=method, weight="respondents")
        codes = grp["source_code"].dropna().unique()
        sheets = grp["source_sheet"].dropna().unique()
        new_rows.append(
            {
                "org_code": into, "year": year, "measure": measure, "value": value, "base_n": base,
                "source_file": source_file, "source_code": codes[0] if len(codes) == 1 else "+".join(codes),
                "scale": grp["scale"].iloc[0], "source_sheet": "+".join(sheets) if len(sheets) else None,
            }
        )
        merged.append(grp)
    parts = [keep]
    if new_rows:
        parts.append(coerce_tidy(pd.DataFrame(new_rows)))
    out_tidy = coerce_tidy(pd.concat(parts, ignore_index=True))
    rollups = coerce_tidy(pd.concat(merged, ignore_index=True)) if merged else empty_rollups()

    # organisations: one parent row per (into, year), group of the largest part
    org_rows = [orgs[org_target.isna()]]
    if not listed.empty:
        is_resp = tidy["measure"].astype(object).map(lambda m: str(m).endswith("respondents"))
        resp_rows = tidy[is_resp.astype(bool)]
        resp = {(c, int(y)): float(v) for c, y, v in zip(resp_rows["org_code"], resp_rows["year"], resp_rows["value"], strict=True)}
        parents = []
        for (into, year), grp in listed.groupby(["into", "year"]):
            if ((orgs["org_code"] == into) & (orgs["year"] == year)).any():
                continue
            sizes = [resp.get((c, int(year)), 0.0) for c in grp["org_code"]]
            lead = grp.iloc[max(range(len(sizes)), key=lambda i: sizes[i])]
            name = re.sub(r"\s*\([^)]*\)\s*$", "", str(lead["org_name"])) if pd.notna(lead["org_name"]) else None
            parents.append(
                {
                    "org_code": into, "year": year, "org_name": name, "benchmark_group": lead["benchmark_group"],
                    "org_kind": lead["org_kind"], "source_file": lead["source_file"],
                }
            )
        if parents:
            org_rows.append(pd.DataFrame(parents))
    out_orgs = finish_orgs(pd.concat(org_rows, ignore_index=True))
    quarantine = finish_quarantine(pd.DataFrame(q)) if q else empty_quarantine()
    return out_tidy, rollups, out_orgs, quarantine


# --------------------------------------------------------------------------- cache
def cache_key(path: Path, catalogue: Catalogue, extra: str = "") -> str:
    """Key of a parsed file: file bytes + catalogue files + mapping + package version."""
    h = hashlib.sha256()
    for part in (sha256_of(path), catalogue.digest, extra, __version__, READER_REVISION):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


_FRAMES = ("tidy", "quarantine", "rollups", "orgs", "key", "names")


def cache_load(cache_dir: Path, key: str, file_name: str) -> ReadResult | None:
    """A cached :class:`ReadResult`, or None if absent or unreadable."""
    folder = Path(cache_dir) / key
    meta_path = folder / "meta.json"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        frames = {n: pd.read_parquet(folder / f"{n}.parquet") for n in _FRAMES}
    except Exception as err:  # a damaged cache entry is simply re-parsed
        log.warning("ignoring damaged cache entry %s: %s", folder, err)
        return None
    # the same bytes may be cached under another file name
    for n in ("tidy", "quarantine", "rollups", "orgs"):
        if "source_file" in frames[n].columns and len(frames[n]):
            frames[n]["source_file"] = pd.Series(file_name, index=frames[n].index, dtype="string")
    return ReadResult(
        tidy=coerce_tidy(frames["tidy"]),
        quarantine=finish_quarantine(frames["quarantine"]),
        rollups=frames["rollups"],
        orgs=finish_orgs(frames["orgs"]),
        layout=meta["layout"],
        kind=meta["kind"],
        file_year=meta.get("file_year"),
        files=pd.DataFrame([{"file": file_name, "layout": meta["layout"], "kind": meta["kind"],
                             "status": "read (cache)", "detail": ""}]).astype("string"),
        key=frames["key"],
        names=frames["names"],
    )


def cache_store(cache_dir: Path, key: str, result: ReadResult) -> None:
    """Write ``result`` under ``cache_dir/key`` atomically (temp folder + rename)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / key
    if final.exists():
        return
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache_dir))
    try:
        for n in _FRAMES:
            getattr(result, n).to_parquet(tmp / f"{n}.parquet", index=False)
        (tmp / "meta.json").write_text(
            json.dumps({"layout": result.layout, "kind": result.kind, "file_year": result.file_year})
        )
        try:
            os.replace(tmp, final)
        except OSError:  # another process won the race
            pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
