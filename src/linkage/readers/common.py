"""Shared machinery of the readers: file sniffing, sheets, cells, roll-ups, cache.

Nothing here knows a particular publisher's layout; that knowledge lives in
``src/linkage/catalogue/layouts.yaml`` and the family modules.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..catalogue import Catalogue
from ..contract import QUARANTINE_COLUMNS, coerce_tidy, empty_quarantine, empty_tidy
from ..errors import InputFileError
from ..files import sha256_of

log = logging.getLogger("linkage.readers")

ORG_COLUMNS = ["org_code", "year", "org_name", "benchmark_group", "org_kind", "source_file"]
FILE_COLUMNS = ["file", "layout", "kind", "status", "detail"]

#: Bumped when reader logic changes in a way that invalidates cached results.
READER_REVISION = "1"

_RANGES = {"proportion": (0.0, 1.0), "percent": (0.0, 100.0), "score10": (0.0, 10.0), "count": (0.0, math.inf)}


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
        ``staff`` or ``patient``.
    file_year
        The file's own survey year (None for a folder).
    files
        Files looked at: ``file, layout, kind, status, detail``.
    key
        Variable descriptions from the file's key sheet, if it has one
        (``sheet, variable, description``).
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


# --------------------------------------------------------------------------- files
def sniff(path: Path) -> str:
    """Return the file's type from its bytes: ``xlsx``, ``ods``, ``xls`` or ``csv``.

    Raises
    ------
    InputFileError
        Missing, empty, or not a spreadsheet / delimited text file.
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
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if "mimetype" in names:
                    mime = zf.read("mimetype").decode("ascii", "replace")
                    if "opendocument.spreadsheet" in mime:
                        return "ods"
                    raise InputFileError(f"an OpenDocument file but not a spreadsheet ({mime})", file=path)
                if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
                    return "xlsx"
        except zipfile.BadZipFile:
            raise InputFileError("looks like a zip/xlsx file but is corrupt or truncated", file=path) from None
        raise InputFileError("a zip archive that is not an .xlsx or .ods workbook", file=path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if b"\x00" in head:
        what = "a PNG image" if head.startswith(b"\x89PNG") else "a binary file"
        if head.startswith(b"%PDF"):
            what = "a PDF document"
        raise InputFileError(
            f"is {what} (starts with bytes {head[:8]!r}); expected an .xlsx/.ods workbook or a CSV", file=path
        )
    return "csv"


def decode_text(path: Path) -> str:
    """Read a text file as UTF-8 (with or without BOM), falling back to cp1252."""
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputFileError("text file is neither UTF-8 nor Windows-1252 encoded", file=path)


class Workbook:
    """A spreadsheet read with python-calamine; sheets as lists of rows.

    Row ``i`` (0-based) of :meth:`rows` is spreadsheet row ``i + 1``.
    """

    def __init__(self, path: Path) -> None:
        import python_calamine

        self.path = path
        try:
            self._wb = python_calamine.CalamineWorkbook.from_path(str(path))
        except Exception as err:  # calamine raises its own error types
            raise InputFileError(f"cannot open as a spreadsheet: {err}", file=path.name) from None
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
def parse_number(v: Any, marks: set[str]) -> tuple[float | None, str | None]:
    """Parse a cell to a float, or return why not.

    Returns
    -------
    (value, None) for a number; (None, reason) for a blank, a suppression
    mark or anything non-numeric.
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
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return None, "blank: no value published"
        if s in marks or s.lower() in marks:
            return None, f"suppressed: mark {s!r}"
        t = s.replace(",", "")
        pct = t.endswith("%")
        if pct:
            t = t[:-1]
        try:
            f = float(t)
        except ValueError:
            return None, f"non_numeric: {v!r}"
        if math.isnan(f) or math.isinf(f):
            return None, f"non_numeric: {v!r}"
        return (f / 100.0 if pct else f), None
    return None, f"non_numeric: {type(v).__name__} {v!r}"


def range_problem(value: float, scale: str) -> str | None:
    """Reason text if ``value`` lies outside ``scale``'s range, else None."""
    lo, hi = _RANGES[scale]
    if value < lo or value > hi:
        return f"out_of_range: {value!r} outside [{lo:g}, {hi:g}] for scale {scale}"
    return None


class Collector:
    """Accumulates tidy, quarantine and org records for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.tidy: list[dict[str, Any]] = []
        self.quarantine: list[dict[str, Any]] = []
        self.orgs: list[dict[str, Any]] = []

    def quarantine_cell(
        self, *, sheet: str | None, row: int | None, org_code: Any, year: Any, column: str | None, raw: Any, reason: str
    ) -> None:
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
        value, why = parse_number(raw, marks)
        if why is None:
            why = range_problem(value, scale)
        if why is not None:
            self.quarantine_cell(sheet=sheet, row=row, org_code=org_code, year=year, column=column, raw=raw, reason=why)
            return
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

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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
def _combine(values: pd.Series, bases: pd.Series, method: str) -> tuple[float, float]:
    if method == "sum":
        return float(values.sum()), float(bases.sum()) if bases.notna().all() else math.nan
    if bases.isna().any() or (bases <= 0).any():
        return float(values.mean()), math.nan
    if method == "ratio":
        if (values <= 0).any():
            return float(values.mean()), math.nan
        return float(bases.sum() / (bases / values).sum()), float(bases.sum())
    return float((values * bases).sum() / bases.sum()), float(bases.sum())


def roll_up(
    tidy: pd.DataFrame, orgs: pd.DataFrame, catalogue: Catalogue
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Merge sub-codes (e.g. Isle of Wight R1F1..R1F4) into their parent code.

    Values combine by each measure's ``rollup`` rule in the catalogue
    (base-weighted mean, sum, or ratio for response rates).  A parent value is
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
    target = tidy["org_code"].astype(object).map(lambda c: catalogue.rollup_target(str(c)))
    if not target.notna().any():
        return tidy, empty_rollups(), orgs, empty_quarantine()
    subs = tidy[target.notna()].copy()
    subs["into"] = target[target.notna()].astype("string")
    keep = tidy[target.isna()]
    present = set(zip(keep["org_code"], keep["year"], keep["measure"], strict=True))
    org_target = orgs["org_code"].astype(object).map(lambda c: catalogue.rollup_target(str(c)))
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
        value, base = _combine(grp["value"], grp["base_n"], method)
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


_FRAMES = ("tidy", "quarantine", "rollups", "orgs", "key")


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
