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

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..catalogue import Catalogue, convertible
from ..contract import coerce_tidy, empty_quarantine, empty_tidy
from ..errors import InputFileError, LinkageError
from ..names import NameIndex
from ..vocab import Role, Scale
from . import columns
from .common import ReadResult, cell_text, parse_number, require_column
from .extract_columns import read_rows
from .tables import HEADER_SEARCH_ROWS, CsvTable, Table, read_table  # noqa: F401 - Table and read_table live here too

DEFAULT_MARKS = ["*", "-", "", " ", "x", "n/a", "NA", "<NA>", "..", "NaN", "nan"]


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
            return None if why.startswith(("blank", "missing", "suppressed")) else cell_text(v)
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


def _contract_tidy(tidy: Any) -> Any:
    """``coerce_tidy(tidy)`` (an empty frame for None), skipped when ``tidy`` already has the contract's
    columns, in order, with its dtypes and a plain row index (as :func:`read_rows` builds it)."""
    if tidy is None:
        return empty_tidy()
    want = empty_tidy()
    index = tidy.index
    if (list(tidy.columns) == list(want.columns) and list(tidy.dtypes) == list(want.dtypes)
            and type(index).__name__ == "RangeIndex" and index.start == 0 and index.step == 1):
        return tidy
    return coerce_tidy(tidy)


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
    cols: dict[str, Any] = {}
    for j, h in enumerate(table.header):
        if h and h not in cols:
            cols[h] = j
    mapped = sorted({cols[c] for c in mapping.required_columns() if c in cols})
    data, n = table.columns(mapped)
    columns.normalise_decimal_commas(data, mapped, file=path.name, sheet=table.sheet)
    marks = set(mapping.suppression_marks) | {m.lower() for m in mapping.suppression_marks}
    keys = _keys(table, cols, mapping, path, names)
    for name, spec in mapping.computed.items():
        if name in cols:
            raise InputFileError(f"computed column {name!r} of mapping {mapping.id!r} has the name of a column "
                                 "of the file; give it another name", file=path.name, sheet=table.sheet, column=name)
        data[name] = columns.compute(spec.op, [columns.cells(data, cols[c]) for c in spec.inputs], marks)
        cols[name] = name
    targets = [(name, m.scale, m.value, cols[m.value], cols[m.base] if m.base else None)
               for name, m in mapping.measures.items()]
    tidy, quarantine, orgs, audit, years = read_rows(table, data, n, keys, targets, mapping, catalogue, marks,
                                                     path.name)
    kinds = "+".join(sorted(mapping.sides(catalogue)))
    return ReadResult(tidy=_contract_tidy(tidy),
                      quarantine=quarantine if quarantine is not None else empty_quarantine(),
                      rollups=None, orgs=orgs, layout=f"extract:{mapping.id}",
                      kind=kinds, file_year=max(years) if years else None, names=audit)
