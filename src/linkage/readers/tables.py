"""Tables of researcher extracts: a sheet's rows, or a CSV read column by column.

A :class:`Table` is what :mod:`linkage.readers.extract` reads from: the top
rows (where the header is looked for) and, for the data below the header,
whole columns (:meth:`Table.columns`) holding exactly the cells the row-by-row
reader saw: numpy object arrays, or for a CSV read by pyarrow its text columns
as :class:`~linkage.readers.columns.Pending` (converted to numpy cells by
:func:`~linkage.readers.columns.cells` only when a step needs the cells).

A CSV is read with pyarrow's CSV parser (chosen over pandas'
parser because it keeps every column as compact Arrow text until a column is
asked for, so a million-row, 74-column file fits in a few GB; polars is not a
dependency).  The header is still found and the delimiter still chosen by the
Python ``csv`` module on the first lines, and any file the fast parser cannot
read exactly as ``csv`` would (rows of different widths, a lone carriage
return, a cell longer than ``csv``'s field limit, a parse error) is read with
``csv`` instead, so the cells are the same either way.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError
from .columns import Pending
from .common import Workbook, cell_text, decode_text

log = logging.getLogger("linkage.readers")

#: Bytes of CSV text the fast parser takes at a time, and for a file with a row longer than that (a row
#: longer than both is read by the ``csv`` module).
CSV_BLOCK_BYTES = 1 << 22
CSV_LONG_ROW_BLOCK_BYTES = 1 << 26

#: Rows searched for the header (a title line or two above it is common).
HEADER_SEARCH_ROWS = 10


@dataclass
class Table:
    """All rows of a CSV or one sheet, and where its header row is."""

    sheet: str | None
    rows: list[list[Any]]
    header_at: int = 0

    @property
    def header(self) -> list[str]:
        """The header cells as text."""
        return [cell_text(c) for c in self.rows[self.header_at]] if self.rows else []

    def locate_header(self, want: list[str]) -> str | None:
        """Move :attr:`header_at` to the first row (of the top rows) holding all ``want``; else say what is missing."""
        best = None
        for i, r in enumerate(self.rows[:HEADER_SEARCH_ROWS]):
            cells = {cell_text(c) for c in r}
            missing = [c for c in want if c not in cells]
            if not missing:
                self.header_at = i
                return None
            if best is None or len(missing) < len(best[1]):
                best = (i, missing)
        if best is None:
            return "the file has no rows"
        if len(best[1]) == len(want):  # no row holds any expected column: not a table of ours, so quote nothing of it
            return f"missing columns {best[1]} (none of the first {HEADER_SEARCH_ROWS} rows holds any of them)"
        hdr = [cell_text(c) for c in self.rows[best[0]]][:5]
        return f"missing columns {best[1]} (best header candidate row {best[0] + 1} starts {hdr})"

    def data_rows(self) -> list[list[Any]]:
        """The rows below the header (blank ones included)."""
        return self.rows[self.header_at + 1:]

    def columns(self, positions: list[int]) -> tuple[dict[int, np.ndarray], int]:
        """The cells below the header of each 0-based column in ``positions`` (None past a short row), and how many rows."""
        rows = self.data_rows()
        out = {}
        for j in positions:
            a = np.empty(len(rows), dtype=object)
            a[:] = [r[j] if j < len(r) else None for r in rows]
            out[j] = a
        return out, len(rows)

    def blank(self, index: np.ndarray) -> np.ndarray:
        """For data rows ``index`` (0-based below the header): whether every cell of the row is blank."""
        rows = self.data_rows()
        return np.array([not any(cell_text(c) for c in rows[i]) for i in index], dtype=bool)


def _delimiter(lines: list[str]) -> str:
    """The delimiter giving the most rows of one consistent width (>1) in the first lines."""
    best, score = ",", -1
    for d in (",", ";", "\t", "|"):
        try:
            widths = [len(r) for r in csv.reader(lines, delimiter=d) if any(x.strip() for x in r)]
        except csv.Error:  # e.g. a whole line longer than the field limit read as one field: not this delimiter
            continue
        if not widths:
            continue
        width, freq = Counter(widths).most_common(1)[0]
        s = freq * (width > 1) * width
        if s > score:
            best, score = d, s
    return best


def _csv_rows(path: Path) -> list[list[Any]]:
    """Every non-empty row of a CSV with the ``csv`` module (the reference reading)."""
    text = decode_text(path)
    if not text.strip():
        raise InputFileError("file holds no text (only whitespace)", file=path.name)
    lines = text.splitlines()
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=_delimiter(lines[:60])))
    except csv.Error as err:
        raise InputFileError(f"cannot parse as CSV: {err}", file=path.name) from None
    return [r for r in rows if r]


def _lines(text: str) -> Iterator[str]:
    """``text`` split after each newline, as iterating ``io.StringIO(text)`` would (without copying it)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _first_lines(text: str, n: int) -> list[str]:
    """``text.splitlines()[:n]`` without splitting the whole text."""
    lines = text[:2_000_000].splitlines()
    return lines[:n] if len(lines) > n + 1 else text.splitlines()[:n]


def _ascii_lines(raw: bytes) -> Iterator[str]:
    """:func:`_lines` of the text of ASCII bytes ``raw``, each line decoded as it is asked for (so a big file
    is never decoded whole: its bytes are the text)."""
    start = 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end + 1
        yield raw[start:end].decode("ascii")
        start = end


#: A byte that is not whitespace to ``str.isspace`` (ASCII: space, \t \n \v \f \r and \x1c-\x1f are).
_ASCII_NON_SPACE = re.compile(rb"[^ \t\n\x0b\x0c\r\x1c-\x1f]")


def _top(raw: bytes | None, text: str | None) -> tuple[bool, list[str], Iterator[str]]:
    """Whether the file is blank (``not text or text.isspace()``), its first 60 lines and its lines, from the
    decoded text, or from ASCII bytes (``text`` None) without decoding them."""
    if text is not None:
        return (not text or text.isspace()), _first_lines(text, 60), _lines(text)
    assert raw is not None
    head = raw[:2_000_000].decode("ascii").splitlines()
    first = head[:60] if len(head) > 61 else raw.decode("ascii").splitlines()[:60]
    return _ASCII_NON_SPACE.search(raw) is None, first, _ascii_lines(raw)


@dataclass
class CsvTable(Table):
    """A CSV: its top rows read at once (for the header), the data below read column by column on demand."""

    path: Path | None = None
    delimiter: str = ","
    #: for each top row, the number of physical lines read up to its end
    line_ends: list[int] = field(default_factory=list)
    _data: Any = None
    _bytes: Any = None
    _src: Any = None

    @classmethod
    def open(cls, path: Path) -> CsvTable:
        """Decode the file, choose its delimiter and read its top rows (errors as the reference reading gives them)."""
        raw, text = _decode(path.read_bytes(), path)
        blank, first, lines = _top(raw, text)
        if blank:
            raise InputFileError("file holds no text (only whitespace)", file=path.name)
        delim = _delimiter(first)
        reader = csv.reader(lines, delimiter=delim)
        rows: list[list[Any]] = []
        ends: list[int] = []
        try:
            for r in reader:
                if r:
                    rows.append(r)
                    ends.append(reader.line_num)
                    if len(rows) >= HEADER_SEARCH_ROWS + 1:
                        break
        except csv.Error as err:
            raise InputFileError(f"cannot parse as CSV: {err}", file=path.name) from None
        table = cls(None, rows, path=path, delimiter=delim, line_ends=ends)
        table._bytes = (raw, text)
        return table

    def _load(self, include: list[int] | None = None) -> Any:
        """The rows below the header: a pyarrow Table of the ``include`` text columns (None: all), or the
        reference rows (a list) when pyarrow cannot read the file exactly as ``csv`` does."""
        if isinstance(self._data, list):
            return self._data
        if self._data is not None and (include is None and self._data[0] is None
                                       or include is not None and (self._data[0] is None
                                                                   or set(include) <= self._data[0])):
            return self._data[1]
        if self._bytes is not None:
            raw, text = self._bytes
            self._bytes = None
            self._src = None
            lone_cr = (b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n")) if text is None else (
                "\r" in text and text.count("\r") != text.count("\r\n"))
            if not lone_cr:  # csv refuses a lone CR; pyarrow not
                self._src = _data_bytes(raw, text, self.line_ends[self.header_at] if self.rows else 0)
            del raw, text
        table = None
        if self._src is not None:
            width = len(self.rows[self.header_at]) if self.rows else 0
            table = _arrow_csv(*self._src, self.delimiter, width, include)
        if table is None:
            log.debug("%s: read with the csv module (the fast parser could not read it exactly)", self.path)
            self._src = None
            self._data = _csv_rows(self.path)[self.header_at + 1:]
            return self._data
        self._data = (None if include is None else set(include), table)
        return table

    def data_rows(self) -> list[list[Any]]:
        data = self._load()
        return data if isinstance(data, list) else [list(r.values()) for r in data.to_pylist()]

    def columns(self, positions: list[int]) -> tuple[dict[int, Any], int]:
        """As :meth:`Table.columns`, each column pyarrow parsed left as :class:`Pending` (read its cells with
        :func:`~linkage.readers.columns.cells`)."""
        data = self._load(positions)
        if isinstance(data, list):
            return Table.columns(self, positions)
        out: dict[int, Any] = {}
        for j in positions:
            if f"c{j}" in data.column_names:  # converted to numpy cells only if a step needs them (columns.cells)
                out[j] = Pending(data.column(f"c{j}").combine_chunks())
            else:
                out[j] = np.full(data.num_rows, None, dtype=object)
        return out, data.num_rows

    def blank(self, index: np.ndarray) -> np.ndarray:
        if not len(index):
            return np.zeros(0, dtype=bool)
        data = self._load()
        if isinstance(data, list):
            return Table.blank(self, index)
        rows = data.take(np.asarray(index, dtype=np.int64)).to_pylist()
        return np.array([not any(cell_text(c) for c in r.values()) for r in rows], dtype=bool)


def _decode(raw: bytes, path: Path) -> tuple[bytes | None, str | None]:
    """``(raw, None)`` when the file is ASCII (its bytes are the text :func:`~linkage.readers.common.decode_text`
    gives, so it is not decoded), else ``(None, text)``."""
    from .common import _looks_utf16

    if not raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")) and not _looks_utf16(raw[:512]):
        if raw.isascii():
            return raw, None
        try:
            return None, raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return None, decode_text(path)


def _data_bytes(raw: bytes | None, text: str | None, lines: int) -> tuple[Any, bool]:
    """UTF-8 bytes of the text after its first ``lines`` physical lines (a view of the file's bytes when ASCII:
    ``text`` None), and whether they hold a quote character."""
    pos = 0
    body: Any = raw if text is None else text
    newline: Any = b"\n" if text is None else "\n"
    for _ in range(lines):
        nxt = body.find(newline, pos)
        if nxt < 0:
            pos = len(body)
            break
        pos = nxt + 1
    if raw is not None:
        return memoryview(raw)[pos:], raw.find(b'"', pos) >= 0  # ASCII: characters are bytes
    data = text[pos:].encode("utf-8")
    return data, data.find(b'"') >= 0


def _arrow_csv(data: Any, quoted: bool, delimiter: str, width: int, include: list[int] | None = None) -> Any:
    """``data`` parsed by pyarrow into ``width`` text columns (only ``include`` converted), or None when the
    result would not be the ``csv`` module's (rows of another width, a parse error, an over-long cell)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    buf = pa.py_buffer(data)
    if len(buf) == 0 or width == 0:
        return None
    odd = []

    def handler(row: Any) -> str:
        odd.append(row)
        return "skip"

    names = [f"c{j}" for j in range(width)]
    keep = names if include is None else [f"c{j}" for j in include if j < width]
    table = None
    # 4 MB blocks parse fastest here (they stay in cache); a row longer than a block is tried in 64 MB blocks
    for block in (CSV_BLOCK_BYTES, CSV_LONG_ROW_BLOCK_BYTES):
        try:
            table = pacsv.read_csv(
                pa.BufferReader(buf),
                read_options=pacsv.ReadOptions(column_names=names, block_size=block, use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                                  escape_char=False, newlines_in_values=quoted,
                                                  ignore_empty_lines=True, invalid_row_handler=handler),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in keep}, include_columns=keep,
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
            break
        except pa.ArrowInvalid:  # a row straddling two blocks (or a real parse error: then again, and None)
            if block == CSV_LONG_ROW_BLOCK_BYTES:
                return None
            odd.clear()
        except pa.ArrowNotImplementedError:
            return None
    if table is None or odd:
        return None
    limit = csv.field_size_limit()
    for col in table.columns:
        if len(col) and (pc.max(pc.binary_length(col)).as_py() or 0) > limit:
            return None
    return table


def read_table(path: Path, ftype: str, sheet: str | None = None) -> Table:
    """All rows of a CSV (any of , ; tab |, any text encoding) or of the first (or named) sheet of a workbook."""
    if ftype == "csv":
        return CsvTable.open(path)
    wb = Workbook(path)
    name = sheet or (wb.sheet_names[0] if wb.sheet_names else None)
    if name is None:
        raise InputFileError("workbook has no sheets", file=path.name)
    rows = wb.rows(name)
    if not rows:
        raise InputFileError("sheet is empty", file=path.name, sheet=name)
    return Table(name, rows)
