"""Researcher extracts (CSV or XLSX, one row per organisation-year) read through a YAML mapping.

A mapping (the packaged ones in ``src/linkage/mappings/``, a project's own in
the folder named by ``data.mappings_dir``) says which columns hold the keys
and, for each measure, the value column, its scale and its base column::

    id: nss_2021_2024_extract
    match_columns: [ODS code, Year, Stress_rate]   # auto-detection
    columns: {org_code: ODS code, year: Year, org_name: Organisation name,
              benchmark_group: Benchmarking group}
    measures:
      staff.stress: {value: Stress_rate, scale: percent, base: Stress_base}

It can also give a constant year or take it from the file name
(``year: {constant: 2022}`` / ``year: {from_file_name: '(?P<year>20\\d\\d)'}``),
compute columns (``computed: {w: {product: [a, b]}}``; ``sum``,
``difference``, ``ratio``), key organisations by name only (``columns:
{org_name: Trust}``, matched to ODS codes through :mod:`linkage.names`), and
feed several roles from one file (each measure's role comes from the
catalogue).  ``docs/mappings.md`` documents the format with worked examples.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..catalogue import Catalogue, convertible
from ..errors import InputFileError, LinkageError
from ..names import NameIndex
from ..vocab import Role, Scale
from .common import (
    NAME_AUDIT_COLUMNS,
    Collector,
    ReadResult,
    Workbook,
    cell_text,
    check_duplicate_orgs,
    decode_text,
    normalise_decimal_commas,
    parse_number,
    require_column,
    summary_row_label,
)

DEFAULT_MARKS = ["*", "-", "", " ", "x", "n/a", "NA", "<NA>", "..", "NaN", "nan"]
#: Rows searched for the header (a title line or two above it is common).
HEADER_SEARCH_ROWS = 10


class MappingError(LinkageError):
    """A mapping YAML file is malformed or names an unknown measure."""


class MeasureColumn(BaseModel):
    """Where one measure is in the file."""

    model_config = ConfigDict(extra="forbid")
    value: str
    scale: Scale
    base: str | None = None
    question: str | None = None


class YearRule(BaseModel):
    """A year that is not a column: a constant, or taken from the file name by a regex."""

    model_config = ConfigDict(extra="forbid")
    constant: int | None = Field(default=None, ge=1990, le=2100)
    from_file_name: str | None = None

    @model_validator(mode="after")
    def _one(self) -> YearRule:
        if (self.constant is None) == (self.from_file_name is None):
            raise ValueError("give exactly one of year.constant or year.from_file_name")
        if self.from_file_name is not None:
            try:
                re.compile(self.from_file_name)
            except re.error as err:
                raise ValueError(f"year.from_file_name is not a valid regular expression: {err}") from None
        return self


class Computed(BaseModel):
    """A column computed from others, row by row: exactly one of product, sum, difference, ratio."""

    model_config = ConfigDict(extra="forbid")
    product: list[str] | None = None
    sum: list[str] | None = None
    difference: list[str] | None = Field(default=None, min_length=2, max_length=2)
    ratio: list[str] | None = Field(default=None, min_length=2, max_length=2)

    @model_validator(mode="after")
    def _one(self) -> Computed:
        given = [k for k in ("product", "sum", "difference", "ratio") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a computed column takes exactly one of product, sum, difference (a - b), ratio (a / b)")
        return self

    @property
    def op(self) -> str:
        """The operation's name."""
        return next(k for k in ("product", "sum", "difference", "ratio") if getattr(self, k))

    @property
    def inputs(self) -> list[str]:
        """The columns it combines."""
        return list(getattr(self, self.op))


class KeyColumns(BaseModel):
    """Key columns: an organisation code or name, a year column, an optional organisation type."""

    model_config = ConfigDict(extra="forbid")
    org_code: str | None = None
    org_name: str | None = None
    year: str | None = None
    benchmark_group: str | None = Field(default=None, description="organisation type / benchmarking group column")


class Mapping(BaseModel):
    """A researcher-extract mapping (see module docstring and ``docs/mappings.md``)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    kind: Role | None = Field(default=None, description="optional; when given, every measure must have this role")
    description: str = ""
    sheet: str | None = Field(default=None, description="sheet of an XLSX extract (default: the first)")
    match_columns: list[str] = Field(default_factory=list)
    columns: KeyColumns
    year: YearRule | None = None
    computed: dict[str, Computed] = Field(default_factory=dict)
    measures: dict[str, MeasureColumn]
    suppression_marks: list[str] = Field(default_factory=lambda: list(DEFAULT_MARKS))
    source_path: str | None = None
    digest: str = ""

    @model_validator(mode="after")
    def _keys(self) -> Mapping:
        if not (self.columns.org_code or self.columns.org_name):
            raise ValueError("columns needs org_code, or org_name for a file keyed by organisation name")
        if (self.columns.year is None) == (self.year is None):
            raise ValueError("give the year either as a column (columns.year) or as a rule "
                             "(year: {constant: 2022} or year: {from_file_name: REGEX}), not both or neither")
        if not self.measures:
            raise ValueError("measures is empty")
        return self

    @property
    def by_name(self) -> bool:
        """Whether organisations are keyed by name (no code column)."""
        return self.columns.org_code is None

    def required_columns(self) -> list[str]:
        """Every file column the mapping reads (keys, values, bases, inputs of computed columns)."""
        kc = self.columns
        cols = [c for c in (kc.org_code, kc.org_name, kc.year, kc.benchmark_group) if c]
        for m in self.measures.values():
            cols += [c for c in (m.value, m.base) if c]
        for c in self.computed.values():
            cols += c.inputs
        return [c for c in dict.fromkeys(cols) if c not in self.computed]

    def sides(self, catalogue: Catalogue) -> set[str]:
        """The ingest sides (``staff``, ``patient``) this file feeds."""
        return {catalogue.measure(m).side for m in self.measures}


def check_mapping(mapping: Mapping, catalogue: Catalogue, where: str) -> None:
    """Check a mapping against the catalogue: known measures, a kind that agrees, convertible scales.

    Raises
    ------
    MappingError
        Naming the mapping, the measure and the fix.
    """
    for name, mc in mapping.measures.items():
        if name not in catalogue.measures:
            raise MappingError(
                f"mapping {where}: measure {name!r} is not in the catalogue; declare it in your measures file "
                f"(data.measures_file / --measures) or use a known one: {sorted(catalogue.measures)}"
            )
        m = catalogue.measures[name]
        if mapping.kind is not None and m.kind != mapping.kind:
            raise MappingError(
                f"mapping {where} declares kind: {mapping.kind} but measure {name!r} has role {m.kind!r}; "
                "remove 'kind' (one file may feed several roles) or fix the measure name"
            )
        if not convertible(mc.scale, m.unit):
            raise MappingError(
                f"mapping {where}: column {mc.value!r} is on scale {mc.scale} but measure {name!r} is on "
                f"{m.unit}, and there is no conversion between them; declare a measure on scale {mc.scale}"
            )
    for name, c in mapping.computed.items():
        loops = [i for i in c.inputs if i in mapping.computed]
        if loops:
            raise MappingError(f"mapping {where}: computed column {name!r} uses computed column(s) {loops}; "
                               "combine file columns only")


def load_mapping(path: str | Path, catalogue: Catalogue | None = None) -> Mapping:
    """Load and validate a mapping file (against ``catalogue`` when given)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        doc = yaml.safe_load(raw)
    except FileNotFoundError:
        raise MappingError(f"mapping file {p} does not exist") from None
    except yaml.YAMLError as err:
        raise MappingError(f"mapping file {p} is not valid YAML: {err}") from None
    if not isinstance(doc, dict):
        raise MappingError(f"mapping file {p} must hold a YAML mapping (id, columns, measures)")
    try:
        mapping = Mapping(**doc, source_path=str(p), digest=hashlib.sha256(raw).hexdigest())
    except ValidationError as err:
        lines = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'top level'}: {e['msg']}" for e in err.errors())
        raise MappingError(f"mapping file {p} is invalid: {lines}") from None
    if catalogue is not None:
        check_mapping(mapping, catalogue, p.name)
    return mapping


def default_mapping_dir() -> Path:
    """The mappings shipped with the package."""
    return Path(str(resources.files("linkage") / "mappings"))


@functools.lru_cache(maxsize=16)
def _mappings_in(folder: str, stamp: tuple) -> tuple[Mapping, ...]:
    return tuple(load_mapping(p) for p in sorted(Path(folder).glob("*.y*ml")))


def shipped_mappings(mapping_dir: str | Path | None = None) -> list[Mapping]:
    """Mappings in ``mapping_dir`` (a project's own) plus the shipped ones, the project's first."""
    out: list[Mapping] = []
    folders = [Path(mapping_dir)] if mapping_dir else []
    if mapping_dir and not Path(mapping_dir).is_dir():
        raise MappingError(f"mappings folder {mapping_dir} does not exist (data.mappings_dir / --mappings-dir)")
    folders.append(default_mapping_dir())
    for f in folders:
        stamp = tuple((q.name, q.stat().st_mtime_ns) for q in sorted(f.glob("*.y*ml")))
        out.extend(_mappings_in(str(f.resolve()), stamp))
    return out


# --------------------------------------------------------------------------- tables
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


def _delimiter(lines: list[str]) -> str:
    """The delimiter giving the most rows of one consistent width (>1) in the first lines."""
    best, score = ",", -1
    for d in (",", ";", "\t", "|"):
        widths = [len(r) for r in csv.reader(lines, delimiter=d) if any(x.strip() for x in r)]
        if not widths:
            continue
        width, freq = Counter(widths).most_common(1)[0]
        s = freq * (width > 1) * width
        if s > score:
            best, score = d, s
    return best


def _csv_rows(path: Path) -> list[list[Any]]:
    text = decode_text(path)
    if not text.strip():
        raise InputFileError("file holds no text (only whitespace)", file=path.name)
    lines = text.splitlines()
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=_delimiter(lines[:60])))
    except csv.Error as err:
        raise InputFileError(f"cannot parse as CSV: {err}", file=path.name) from None
    return [r for r in rows if r]


def read_table(path: Path, ftype: str, sheet: str | None = None) -> Table:
    """All rows of a CSV (any of , ; tab |, any text encoding) or of the first (or named) sheet of a workbook."""
    if ftype == "csv":
        return Table(None, _csv_rows(path))
    wb = Workbook(path)
    name = sheet or (wb.sheet_names[0] if wb.sheet_names else None)
    if name is None:
        raise InputFileError("workbook has no sheets", file=path.name)
    rows = wb.rows(name)
    if not rows:
        raise InputFileError("sheet is empty", file=path.name, sheet=name)
    return Table(name, rows)


def probe(table: Table | list[str], mapping: Mapping) -> str | None:
    """None if the table has every ``match_columns`` entry in a header row near its top, else what is missing."""
    want = mapping.match_columns or mapping.required_columns()
    if isinstance(table, list):
        table = Table(None, [table])
    return table.locate_header(want)


# --------------------------------------------------------------------------- reading
def _rule_year(mapping: Mapping, path: Path) -> int | None:
    """The year given by the mapping's ``year`` rule (None when the year is a column)."""
    rule = mapping.year
    if rule is None:
        return None
    if rule.constant is not None:
        return rule.constant
    m = re.search(rule.from_file_name, path.name)
    if m is None:
        raise InputFileError(
            f"mapping {mapping.id!r} takes the year from the file name with {rule.from_file_name!r}, "
            "which does not match this name; rename the file or set year: {constant: YYYY}", file=path.name,
        )
    text = m.groupdict().get("year") or (m.group(1) if m.groups() else m.group(0))
    if not re.fullmatch(r"(19|20)\d{2}", text or ""):
        raise InputFileError(f"the year taken from the file name ({text!r}) is not a 4-digit year", file=path.name)
    return int(text)


def _compute(spec: Computed, values: list[Any], marks: set[str]) -> Any:
    """One computed cell: a float, None (an input blank or suppressed), or the first bad input's raw text."""
    nums = []
    for v in values:
        f, why = parse_number(v, marks)
        if why is not None:
            return None if why.startswith(("blank", "suppressed")) else cell_text(v)
        nums.append(f)
    if spec.op == "product":
        out = 1.0
        for f in nums:
            out *= f
        return out
    if spec.op == "sum":
        return float(sum(nums))
    if spec.op == "difference":
        return nums[0] - nums[1]
    return nums[0] / nums[1] if nums[1] != 0 else None


def _add_computed(table: Table, cols: dict[str, int], mapping: Mapping, marks: set[str], file: str) -> None:
    """Append each computed column to every data row (and to ``cols``)."""
    for name, spec in mapping.computed.items():
        if name in cols:
            raise InputFileError(f"computed column {name!r} of mapping {mapping.id!r} has the name of a column "
                                 "of the file; give it another name", file=file, sheet=table.sheet, column=name)
        idx = [cols[c] for c in spec.inputs]
        j = max(len(r) for r in table.rows)
        for r in table.rows[table.header_at + 1:]:
            r.extend([None] * (j - len(r)))
            r.append(_compute(spec, [r[i] if i < len(r) else None for i in idx], marks))
        cols[name] = j


@dataclass
class _Keys:
    """Column positions and fixed values used for every row of one extract."""

    code_j: int | None
    name_j: int | None
    year_j: int | None
    group_j: int | None
    year: int | None
    names: NameIndex | None
    sheet: str | None


def _row_org(col: Collector, r: list[Any], rown: int, k: _Keys, mapping: Mapping, audit: list[dict]) -> str | None:
    """The row's organisation code (matched by name if need be), or None after quarantining the row."""
    get = lambda j: r[j] if j is not None and j < len(r) else None  # noqa: E731
    kc, sheet = mapping.columns, k.sheet
    label = summary_row_label(get(k.code_j), get(k.name_j))
    if label:
        col.quarantine_cell(sheet=sheet, row=rown, org_code=None, year=k.year, column=kc.org_code or kc.org_name,
                            raw=label, reason=f"summary_row: not an organisation ({label!r})")
        return None
    if not mapping.by_name:
        code = cell_text(get(k.code_j)).upper()
        if code == "":
            col.quarantine_cell(sheet=sheet, row=rown, org_code=None, year=None, column=kc.org_code, raw="",
                                reason="blank_org_code: row has no organisation code")
            return None
        return code
    hit = k.names.match(get(k.name_j))
    if hit.status == "blank":  # no name is not an unmatched name (and not a row of the name audit)
        col.quarantine_cell(sheet=sheet, row=rown, org_code=None, year=None, column=kc.org_name, raw="",
                            reason="blank_org_name: row has no organisation name")
        return None
    audit.append({"source_file": col.file, "row": rown, "name": hit.name, "status": hit.status,
                  "org_code": hit.org_code, "candidates": hit.candidates_text()})
    if hit.status != "matched":
        col.quarantine_cell(sheet=sheet, row=rown, org_code=None, year=k.year, column=kc.org_name, raw=hit.name,
                            reason=f"name_{hit.status}: {hit.name!r} " + (
                                "matches several organisations: " if hit.status == "ambiguous"
                                else "matches no organisation in the ODS names; nearest: ")
                            + (hit.candidates_text() or "none"))
        return None
    return hit.org_code


def _row_year(col: Collector, r: list[Any], rown: int, k: _Keys, code: str, mapping: Mapping) -> int | None:
    """The row's survey year, or None after quarantining the row as ``bad_year``."""
    if k.year is not None:
        return k.year
    raw = r[k.year_j] if k.year_j < len(r) else None
    yv, why = parse_number(raw, set())
    if why is None and float(yv).is_integer() and 1990 <= yv <= 2100:
        col.note_ok(sheet=k.sheet, column=mapping.columns.year, value=yv)
        return int(yv)
    col.quarantine_cell(sheet=k.sheet, row=rown, org_code=code, year=None, column=mapping.columns.year,
                        raw=cell_text(raw), reason=f"bad_year: expected a 4-digit survey year ({why or 'not a year'})")
    return None


def _keys(table: Table, cols: dict[str, int], mapping: Mapping, path: Path, names: NameIndex | None) -> _Keys:
    """Check the key columns exist and fix what every row shares."""
    kc = mapping.columns
    for c in mapping.required_columns():
        require_column(cols, c, what=f"named in mapping {mapping.id!r}", file=path.name, sheet=table.sheet,
                       row=table.header_at + 1)
    if mapping.by_name and names is None:
        raise InputFileError(
            f"mapping {mapping.id!r} keys organisations by name ({kc.org_name!r}); matching names to ODS codes "
            "needs the ODS trust list etr.csv (linkage read --ods-dir FOLDER; in the pipeline, the ods/ folder "
            "of the raw data)", file=path.name,
        )
    pos = lambda c: cols[c] if c else None  # noqa: E731
    return _Keys(code_j=pos(kc.org_code), name_j=pos(kc.org_name), year_j=pos(kc.year),
                 group_j=pos(kc.benchmark_group), year=_rule_year(mapping, path), names=names, sheet=table.sheet)


def read(path: Path, ftype: str, mapping: Mapping, catalogue: Catalogue, *,
         names: NameIndex | None = None, table: Table | None = None) -> ReadResult:
    """Read a researcher extract with ``mapping``.

    Parameters
    ----------
    path, ftype
        The file and its sniffed type.
    mapping, catalogue
        The mapping (checked against the catalogue here) and the measures.
    names
        Registry names, required when the mapping keys organisations by name.
    table
        The already-read table (from detection), to avoid reading twice.

    Raises
    ------
    InputFileError
        A mapped column is missing (with similar names), an org-year appears
        twice with different values, or a column is mostly unusable.
    """
    check_mapping(mapping, catalogue, mapping.source_path or mapping.id)
    table = table or read_table(path, ftype, mapping.sheet)
    # a header below a title line is found; if none holds every column, _keys names the first one missing
    table.locate_header(mapping.match_columns or mapping.required_columns())
    cols: dict[str, int] = {}
    for j, h in enumerate(table.header):
        if h and h not in cols:
            cols[h] = j
    mapped = sorted({cols[c] for c in mapping.required_columns() if c in cols})
    normalise_decimal_commas(table.rows[table.header_at + 1:], file=path.name, sheet=table.sheet, columns=mapped)
    marks = set(mapping.suppression_marks) | {m.lower() for m in mapping.suppression_marks}
    keys = _keys(table, cols, mapping, path, names)
    _add_computed(table, cols, mapping, marks, path.name)
    col, audit = Collector(path.name), []
    years = _read_rows(col, table, cols, keys, mapping, catalogue, marks, audit)
    tidy, quarantine, orgs = col.frames()
    kinds = "+".join(sorted(mapping.sides(catalogue)))
    return ReadResult(tidy=tidy, quarantine=quarantine, rollups=None, orgs=orgs, layout=f"extract:{mapping.id}",
                      kind=kinds, file_year=max(years) if years else None,
                      names=pd.DataFrame(audit, columns=NAME_AUDIT_COLUMNS).astype(
                          {"row": "Int64", **{c: "string" for c in NAME_AUDIT_COLUMNS if c != "row"}}))


def _read_rows(col: Collector, table: Table, cols: dict[str, int], k: _Keys, mapping: Mapping,
               catalogue: Catalogue, marks: set[str], audit: list[dict]) -> set[int]:
    """Every data row into ``col``; returns the years seen."""
    targets = [(name, m.scale, m.value, cols[m.value], cols[m.base] if m.base else None)
               for name, m in mapping.measures.items()]
    seen: dict = {}
    years: set[int] = set()
    get = lambda r, j: r[j] if j is not None and j < len(r) else None  # noqa: E731
    for i, r in enumerate(table.rows[table.header_at + 1:]):
        rown = table.header_at + i + 2
        if not any(cell_text(c) for c in r):
            continue
        code = _row_org(col, r, rown, k, mapping, audit)
        year = _row_year(col, r, rown, k, code, mapping) if code else None
        if code is None or year is None:
            continue
        years.add(year)
        sig = tuple(cell_text(get(r, t[3])) for t in targets)
        if check_duplicate_orgs(seen, org_code=code, year=year, sheet=k.sheet, row=rown, signature=sig,
                                collector=col, column=mapping.columns.org_code or mapping.columns.org_name):
            continue
        group = get(r, k.group_j)
        kind = catalogue.org_kind(cell_text(group), code) if k.group_j is not None else None
        col.org(org_code=code, year=year, org_name=get(r, k.name_j), benchmark_group=group, org_kind=kind)
        for measure, scale, cname, j, base_j in targets:
            col.value(sheet=k.sheet, row=rown, org_code=code, year=year, measure=measure, scale=scale, column=cname,
                      raw=get(r, j), base_raw=get(r, base_j), marks=marks)
    return years
