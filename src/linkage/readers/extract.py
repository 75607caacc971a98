"""Researcher extracts (CSV or XLSX, one row per organisation-year) read through a YAML mapping.

A mapping (``src/linkage/mappings/*.yaml``) names the key columns and, for
each canonical measure, the value column, its scale and its base column::

    id: nss_2021_2024_extract
    kind: staff
    match_columns: [ODS code, Year, Stress_rate]   # auto-detection
    columns: {org_code: ODS code, year: Year, org_name: Organisation name,
              benchmark_group: Benchmarking group}
    measures:
      staff.stress: {value: Stress_rate, scale: percent, base: Stress_base}

A new extract with other column names needs only a new mapping file.
"""

from __future__ import annotations

import functools
import hashlib
import io
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..catalogue import Catalogue
from ..errors import InputFileError, LinkageError
from .common import (
    Collector,
    ReadResult,
    Workbook,
    cell_text,
    check_duplicate_orgs,
    decode_text,
    parse_number,
    require_column,
)

DEFAULT_MARKS = ["*", "-", "", " ", "x", "n/a", "NA", "<NA>", "..", "NaN", "nan"]


class MappingError(LinkageError):
    """A mapping YAML file is malformed or names an unknown measure."""


class MeasureColumn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str
    scale: Literal["proportion", "percent", "score10", "count"]
    base: str | None = None
    question: str | None = None


class KeyColumns(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_code: str
    year: str
    org_name: str | None = None
    benchmark_group: str | None = None


class Mapping(BaseModel):
    """A researcher-extract mapping (see module docstring)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    kind: Literal["staff", "patient"]
    description: str = ""
    sheet: str | None = Field(default=None, description="sheet of an XLSX extract (default: the first)")
    match_columns: list[str] = Field(default_factory=list)
    columns: KeyColumns
    measures: dict[str, MeasureColumn]
    suppression_marks: list[str] = Field(default_factory=lambda: list(DEFAULT_MARKS))
    source_path: str | None = None
    digest: str = ""

    def required_columns(self) -> list[str]:
        """Every column the mapping reads (keys, values, bases)."""
        cols = [self.columns.org_code, self.columns.year]
        cols += [c for c in (self.columns.org_name, self.columns.benchmark_group) if c]
        for m in self.measures.values():
            cols.append(m.value)
            if m.base:
                cols.append(m.base)
        return list(dict.fromkeys(cols))


def load_mapping(path: str | Path, catalogue: Catalogue | None = None) -> Mapping:
    """Load and validate a mapping file; measures must exist in the catalogue."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        doc = yaml.safe_load(raw)
    except FileNotFoundError:
        raise MappingError(f"mapping file {p} does not exist") from None
    except yaml.YAMLError as err:
        raise MappingError(f"mapping file {p} is not valid YAML: {err}") from None
    if not isinstance(doc, dict):
        raise MappingError(f"mapping file {p} must hold a YAML mapping (id, kind, columns, measures)")
    try:
        mapping = Mapping(**doc, source_path=str(p), digest=hashlib.sha256(raw).hexdigest())
    except ValidationError as err:
        raise MappingError(f"mapping file {p} is invalid: {err}") from None
    if catalogue is not None:
        for name in mapping.measures:
            if name not in catalogue.measures:
                raise MappingError(
                    f"mapping {p.name}: measure {name!r} is not in the catalogue; known: {sorted(catalogue.measures)}"
                )
    return mapping


def default_mapping_dir() -> Path:
    """The mappings shipped with the package."""
    return Path(str(resources.files("linkage") / "mappings"))


@functools.lru_cache(maxsize=16)
def _mappings_in(folder: str) -> tuple[Mapping, ...]:
    return tuple(load_mapping(p) for p in sorted(Path(folder).glob("*.y*ml")))


def shipped_mappings(mapping_dir: str | Path | None = None) -> list[Mapping]:
    """Mappings in ``mapping_dir`` plus the shipped ones (user mappings first)."""
    out: list[Mapping] = []
    folders = [Path(mapping_dir)] if mapping_dir else []
    folders.append(default_mapping_dir())
    for f in folders:
        if f.is_dir():
            out.extend(_mappings_in(str(f.resolve())))
    return out


# --------------------------------------------------------------------------- tables
def read_header_and_rows(path: Path, ftype: str, sheet: str | None = None) -> tuple[str | None, list[str], list[list[Any]]]:
    """Header cells and data rows of a CSV or the first (or named) sheet of a workbook.

    Returns ``(sheet name or None for CSV, header, rows)``; row ``i`` of
    ``rows`` is spreadsheet/CSV line ``i + 2``.
    """
    if ftype == "csv":
        text = decode_text(path)
        if not text.strip():
            raise InputFileError("file holds no text (only whitespace)", file=path.name)
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, header=None, sep=None,
                             engine="python")
        except Exception as err:  # pandas parser errors
            raise InputFileError(f"cannot parse as CSV: {err}", file=path.name) from None
        values = df.to_numpy().tolist()
        return None, [cell_text(c) for c in values[0]], values[1:]
    wb = Workbook(path)
    name = sheet or (wb.sheet_names[0] if wb.sheet_names else None)
    if name is None:
        raise InputFileError("workbook has no sheets", file=path.name)
    rows = wb.rows(name)
    if not rows:
        raise InputFileError("sheet is empty", file=path.name, sheet=name)
    return name, [cell_text(c) for c in rows[0]], rows[1:]


def probe(header: list[str], mapping: Mapping) -> str | None:
    """None if the header has every ``match_columns`` entry, else what is missing."""
    want = mapping.match_columns or mapping.required_columns()
    missing = [c for c in want if c not in header]
    if missing:
        return f"missing columns {missing} (header starts {header[:5]})"
    return None


def read(path: Path, ftype: str, mapping: Mapping, catalogue: Catalogue) -> ReadResult:
    """Read a researcher extract with ``mapping``.

    Raises
    ------
    InputFileError
        A mapped column is missing (with similar names), or an org-year
        appears twice with different values.
    """
    file = path.name
    sheet, header, rows = read_header_and_rows(path, ftype, mapping.sheet)
    cols: dict[str, int] = {}
    for j, h in enumerate(header):
        if h and h not in cols:
            cols[h] = j
    for c in mapping.required_columns():
        require_column(cols, c, what=f"named in mapping {mapping.id!r}", file=file, sheet=sheet, row=1)
    for name in mapping.measures:
        catalogue.measure(name)
    marks = set(mapping.suppression_marks) | {m.lower() for m in mapping.suppression_marks}
    kc = mapping.columns
    code_j, year_j = cols[kc.org_code], cols[kc.year]
    name_j = cols.get(kc.org_name) if kc.org_name else None
    group_j = cols.get(kc.benchmark_group) if kc.benchmark_group else None
    targets = [
        (name, m.scale, m.value, cols[m.value], cols[m.base] if m.base else None)
        for name, m in mapping.measures.items()
    ]
    col = Collector(file)
    seen: dict = {}
    years: set[int] = set()

    def get(r: list[Any], j: int | None) -> Any:
        return r[j] if j is not None and j < len(r) else None

    for i, r in enumerate(rows):
        rown = i + 2
        if not any(cell_text(c) for c in r):
            continue
        code = cell_text(get(r, code_j)).upper()
        yv, why = parse_number(get(r, year_j), set())
        if code == "":
            col.quarantine_cell(sheet=sheet, row=rown, org_code=None, year=None, column=kc.org_code, raw="",
                                reason="blank_org_code: row has no organisation code")
            continue
        if why is not None or not float(yv).is_integer() or not 1990 <= yv <= 2100:
            col.quarantine_cell(sheet=sheet, row=rown, org_code=code, year=None, column=kc.year,
                                raw=cell_text(get(r, year_j)), reason=f"bad_year: expected a 4-digit survey year ({why or 'not a year'})")
            continue
        year = int(yv)
        years.add(year)
        sig = tuple(cell_text(get(r, t[3])) for t in targets)
        if check_duplicate_orgs(seen, org_code=code, year=year, sheet=sheet, row=rown, signature=sig,
                                collector=col, column=kc.org_code):
            continue
        group = get(r, group_j)
        col.org(org_code=code, year=year, org_name=get(r, name_j), benchmark_group=group,
                org_kind=catalogue.org_kind(cell_text(group) if group is not None else None, code))
        for measure, scale, cname, j, base_j in targets:
            col.value(sheet=sheet, row=rown, org_code=code, year=year, measure=measure, scale=scale, column=cname,
                      raw=get(r, j), base_raw=get(r, base_j), marks=marks)
    tidy, quarantine, orgs = col.frames()
    return ReadResult(tidy=tidy, quarantine=quarantine, rollups=None, orgs=orgs, layout=f"extract:{mapping.id}",
                      kind=mapping.kind, file_year=max(years) if years else None)
