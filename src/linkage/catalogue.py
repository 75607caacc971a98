"""The measure catalogue and layout knowledge, kept as data.

The YAML files beside this module (``src/linkage/catalogue/``) hold

``measures.yaml``
    canonical measures: label, description, direction, canonical unit, the
    publisher's column codes per layout, series breaks, ``comparable_from``.
``layouts.yaml``
    what the readers know about each published layout (sheet names, header
    tokens, column patterns, year rules), organisation-kind rules and
    sub-code roll-ups.
``sources.yaml``
    download locations and checksums (used by :mod:`linkage.download`).

Public functions
----------------
load_catalogue(path=None) -> Catalogue
harmonise(tidy, catalogue=None) -> DataFrame
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import LinkageError
from .vocab import ROLE_SIDE, SCALES, Role, Scale

if TYPE_CHECKING:  # pandas is loaded by the functions that use it: validating params.yaml needs only the catalogue
    import pandas as pd

#: Multipliers taking a value from one scale to another (only meaningful pairs).
_CONVERSIONS: dict[tuple[str, str], float] = {
    ("proportion", "percent"): 100.0,
    ("percent", "proportion"): 0.01,
}


class CatalogueError(LinkageError):
    """The catalogue or layout YAML is malformed, or a measure is unknown."""


# --------------------------------------------------------------------------- models
class SeriesBreak(BaseModel):
    """A known break in a measure's time series."""

    model_config = ConfigDict(extra="forbid")
    year: int
    comparable_across: bool = False
    note: str


class MeasureSource(BaseModel):
    """Where a measure comes from in one layout (or extract mapping)."""

    model_config = ConfigDict(extra="forbid")
    layout: str
    code: str
    scale: Scale
    base: str | None = None
    question: str | None = None
    years: tuple[int, int] | None = Field(
        default=None, description="inclusive first and last survey year this entry applies to"
    )

    def applies_to(self, year: int) -> bool:
        """Whether this source entry covers survey ``year``."""
        return self.years is None or self.years[0] <= year <= self.years[1]


class Measure(BaseModel):
    """One canonical measure."""

    model_config = ConfigDict(extra="forbid")
    name: str
    label: str
    description: str = ""
    kind: Role
    unit: Scale
    higher_is_better: bool | None
    comparable_from: int | None = None
    last_year: int | None = None
    rollup: Literal["weighted_mean", "sum", "ratio"] = "weighted_mean"
    sources: list[MeasureSource] = Field(default_factory=list)
    series_breaks: list[SeriesBreak] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _dotted(cls, v: str) -> str:
        if not re.fullmatch(r"(staff|patient|outcome)\.[a-z0-9_]+", v):
            raise ValueError(
                f"measure name {v!r} must look like 'staff.xxx', 'patient.xxx' or 'outcome.xxx' "
                "(lower case letters, digits and _ after the dot)"
            )
        return v

    @property
    def side(self) -> str:
        """The ingest stage (``staff`` or ``patient``) that carries this measure."""
        return ROLE_SIDE[self.kind]


@dataclass
class Catalogue:
    """Measures and layouts loaded from the catalogue folder.

    Attributes
    ----------
    measures
        Canonical measures by name.
    layouts
        Layout definitions by id (plain dicts from ``layouts.yaml``).
    org_kinds, org_code_kinds, rollups
        Organisation typing rules and sub-code roll-ups from ``layouts.yaml``.
    folder
        Folder the YAML files were read from.
    digest
        sha256 of the catalogue files' bytes (part of the reader cache key).
    """

    measures: dict[str, Measure]
    layouts: dict[str, dict[str, Any]]
    org_kinds: list[dict[str, str]] = field(default_factory=list)
    org_code_kinds: list[dict[str, str]] = field(default_factory=list)
    rollups: list[dict[str, str]] = field(default_factory=list)
    folder: Path | None = None
    digest: str = ""

    # ----------------------------------------------------------------- lookups
    def measure(self, name: str) -> Measure:
        """Return measure ``name`` or raise :class:`CatalogueError` listing the known ones."""
        try:
            return self.measures[name]
        except KeyError:
            raise CatalogueError(
                f"unknown measure {name!r}; the catalogue knows {sorted(self.measures)}"
            ) from None

    def layout(self, layout_id: str) -> dict[str, Any]:
        """Return layout ``layout_id`` or raise :class:`CatalogueError`."""
        try:
            return self.layouts[layout_id]
        except KeyError:
            raise CatalogueError(
                f"unknown layout {layout_id!r}; known layouts are {sorted(self.layouts)}"
            ) from None

    def sources_for(self, layout_id: str) -> dict[str, list[tuple[Measure, MeasureSource]]]:
        """Map publisher code -> [(measure, source entry)] for one layout."""
        out: dict[str, list[tuple[Measure, MeasureSource]]] = {}
        for m in self.measures.values():
            for s in m.sources:
                if s.layout == layout_id:
                    out.setdefault(s.code, []).append((m, s))
        return out

    def lookup(self, layout_id: str, code: str, year: int) -> tuple[Measure, MeasureSource] | None:
        """The measure that ``code`` of ``layout_id`` gives for ``year`` (or None)."""
        for m, s in self.sources_for(layout_id).get(code, []):
            if s.applies_to(year):
                return m, s
        return None

    def comparable_from(self, name: str) -> int | None:
        """First year of ``name`` comparable with later years (None: no limit known)."""
        return self.measure(name).comparable_from

    def org_kind(self, benchmark_group: object, org_code: object = None) -> str:
        """Classify an organisation as ``trust`` or a non-trust kind.

        Parameters
        ----------
        benchmark_group
            The publisher's benchmarking group text (e.g. ``"CCGs"``).
        org_code
            The organisation code; some code shapes (``00C/00D``) are always
            non-trust.
        """
        import pandas as pd

        code = "" if org_code is None or pd.isna(org_code) else str(org_code)
        for rule in self.org_code_kinds:
            if re.search(rule["pattern"], code):
                return rule["kind"]
        return self._group_kind("" if benchmark_group is None or pd.isna(benchmark_group) else str(benchmark_group))

    def _group_kind(self, text: str) -> str:
        """The kind named by the first group rule matching ``text`` (``other`` if none)."""
        for rule in self.org_kinds:
            if re.search(rule["pattern"], text, flags=re.IGNORECASE):
                return rule["kind"]
        return "other"

    def org_kinds_for(self, benchmark_groups: Any, org_codes: Any) -> Any:
        """:meth:`org_kind` of many organisations at once (an object array, same order).

        Code rules run as one vectorised regex search per rule; group rules
        once per distinct group text.
        """
        import numpy as np
        import pandas as pd

        def text(values: Any) -> pd.Series:
            s = pd.Series(values, dtype=object)
            if pd.api.types.infer_dtype(s, skipna=False) == "string":
                return s
            return s.map(lambda v: "" if v is None or pd.isna(v) else str(v))

        codes, groups = text(org_codes), text(benchmark_groups)
        out = np.full(len(codes), None, dtype=object)
        todo = np.ones(len(codes), dtype=bool)
        which, distinct = pd.factorize(codes.to_numpy(dtype=object))  # each distinct code tested once
        for rule in self.org_code_kinds:
            pat = rule["pattern"]
            if re.escape(pat) == pat:  # a plain text: a substring test
                found = np.fromiter((pat in c for c in distinct), dtype=bool, count=len(distinct))
            else:
                rx = re.compile(pat)
                found = np.fromiter((rx.search(c) is not None for c in distinct), dtype=bool, count=len(distinct))
            hit = found[which] & todo
            out[hit] = rule["kind"]
            todo &= ~hit
        if todo.any():  # each distinct group text looked up once, then spread by its factor codes
            which_g, texts = pd.factorize(groups[todo].to_numpy(dtype=object))
            kinds = np.array([self._group_kind(g) for g in texts] + [None], dtype=object)[:-1]
            out[todo] = kinds[which_g]
        return out

    def rollup_targets(self, org_codes: Any) -> pd.Series:
        """:meth:`rollup_target` of many codes at once (a Series of targets or None, same index), each distinct
        code looked up once."""
        import numpy as np
        import pandas as pd

        given = pd.Series(org_codes)
        if not self.rollups or given.empty:
            return pd.Series([None] * len(given), index=given.index, dtype=object)
        rules = [(re.compile(r["pattern"]), r["into"]) for r in self.rollups]
        found: dict[str, str] = {}
        # distinct codes (their text as str() gives it), without converting the column; each rule takes the
        # codes it matches that no earlier rule took (filter runs the match in C, without a Python loop)
        left = list(dict.fromkeys(map(str, np.asarray(given.unique(), dtype=object).tolist())))
        for rx, into in rules:
            hits = list(filter(rx.fullmatch, left))
            if hits:
                found.update(dict.fromkeys(hits, into))
                left = [c for c in left if c not in found]
        if not found:
            return pd.Series([None] * len(given), index=given.index, dtype=object)
        codes = given.astype(object)
        text = codes.map(str) if pd.api.types.infer_dtype(codes, skipna=False) != "string" else codes
        return text.map(found).astype(object).where(text.isin(list(found)), None)

    def rollup_target(self, org_code: str) -> str | None:
        """The code that sub-code ``org_code`` rolls up into, if any."""
        for rule in self.rollups:
            if re.fullmatch(rule["pattern"], org_code):
                return rule["into"]
        return None

    def describe(self) -> pd.DataFrame:
        """One row per measure for reports: name, label, description, unit, direction, breaks."""
        import pandas as pd

        rows = []
        for m in self.measures.values():
            rows.append(
                {
                    "measure": m.name,
                    "label": m.label,
                    "description": m.description,
                    "kind": m.kind,
                    "unit": m.unit,
                    "higher_is_better": m.higher_is_better,
                    "comparable_from": m.comparable_from,
                    "last_year": m.last_year,
                    "source_codes": "; ".join(
                        f"{s.layout}:{s.code}" + (f" ({s.question})" if s.question else "")
                        for s in m.sources
                    ),
                    "series_breaks": "; ".join(f"{b.year}: {b.note}" for b in m.series_breaks),
                }
            )
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------- loading
def default_folder() -> Path:
    """The catalogue folder shipped with the package."""
    return Path(str(resources.files("linkage") / "catalogue"))


def _read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            # libyaml's loader when present: the catalogue is read at the start of every stage
            return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError:
        raise CatalogueError(f"catalogue file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise CatalogueError(f"catalogue file {path} is not valid YAML: {err}") from None


def _expand_sections(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for n in tpl.get("sections", []):
        nn = f"{int(n):02d}"
        name = tpl["name"].format(nn=nn)
        out[name] = {
            "label": tpl["label"].format(nn=nn),
            "description": tpl["description"].format(nn=nn),
            "kind": tpl["kind"],
            "unit": tpl["unit"],
            "higher_is_better": tpl["higher_is_better"],
            "comparable_from": tpl.get("comparable_from"),
            "rollup": tpl.get("rollup", "weighted_mean"),
            "sources": [
                {
                    "layout": tpl["layout"],
                    "code": tpl["code"].format(nn=nn),
                    "scale": tpl["scale"],
                    "question": f"section S{nn} (2022 numbering)",
                }
            ],
            "series_breaks": tpl.get("series_breaks", []),
        }
    return out


def _build_measures(raw: dict[str, Any], where: Path) -> dict[str, Measure]:
    measures: dict[str, Measure] = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            raise CatalogueError(f"{where}: measure {name!r} must be a mapping of label, role, scale, ...")
        spec = dict(spec)
        if "role" in spec:  # user measures files say `role` and `scale`; the catalogue says `kind` and `unit`
            spec.setdefault("kind", spec.pop("role"))
        if "scale" in spec:
            spec.setdefault("unit", spec.pop("scale"))
        spec.setdefault("higher_is_better", None)
        try:
            measures[name] = Measure(name=name, **spec)
        except (ValidationError, TypeError) as err:
            raise CatalogueError(f"{where}: measure {name!r} is invalid: {err}") from None
        if name.split(".")[0] != measures[name].kind:
            raise CatalogueError(
                f"{where}: measure {name!r} declares role {measures[name].kind!r}; its name must start with "
                f"'{measures[name].kind}.' so that every stage can tell its role from its name"
            )
    return measures


def _user_measures(path: Path, known: dict[str, Measure]) -> dict[str, Measure]:
    """Measures declared in a project's own measures file (see ``docs/mappings.md``)."""
    doc = _read_yaml(path) or {"measures": {}}
    if isinstance(doc, dict) and doc.get("measures", {}) is None:
        doc["measures"] = {}  # `measures:` with nothing under it
    if not isinstance(doc, dict) or not isinstance(doc.get("measures"), dict):
        raise CatalogueError(
            f"measures file {path} must hold a top-level 'measures:' mapping "
            "(name: {role, scale, label, higher_is_better, comparable_from})"
        )
    extra = _build_measures(doc["measures"], path)
    clash = sorted(set(extra) & set(known))
    if clash:
        raise CatalogueError(
            f"measures file {path}: {clash} already exist in the packaged catalogue; give your measures new names"
        )
    return extra


@functools.lru_cache(maxsize=8)
def _load(folder: str, measures_file: str | None = None, stamp: int = 0) -> Catalogue:
    # ``stamp`` (the measures file's mtime) makes an edited file a new cache entry
    path = Path(folder)
    mdoc = _read_yaml(path / "measures.yaml") or {}
    ldoc = _read_yaml(path / "layouts.yaml") or {}
    raw = dict(mdoc.get("measures") or {})
    if "section_template" in mdoc:
        raw.update(_expand_sections(mdoc["section_template"]))
    measures = _build_measures(raw, path / "measures.yaml")
    if measures_file:
        measures.update(_user_measures(Path(measures_file), measures))
    layouts = dict(ldoc.get("layouts") or {})
    for lid, spec in layouts.items():
        for key in ("family", "kind"):
            if key not in spec:
                raise CatalogueError(f"{path / 'layouts.yaml'}: layout {lid!r} lacks {key!r}")
        spec["id"] = lid
    h = hashlib.sha256()
    for name in ("measures.yaml", "layouts.yaml"):
        h.update((path / name).read_bytes())
    if measures_file:
        h.update(Path(measures_file).read_bytes())
    return Catalogue(
        measures=measures,
        layouts=layouts,
        org_kinds=list(ldoc.get("org_kinds") or []),
        org_code_kinds=list(ldoc.get("org_code_kinds") or []),
        rollups=list(ldoc.get("rollups") or []),
        folder=path,
        digest=h.hexdigest(),
    )


_PROJECT_MEASURES: list[str | None] = [None]


def set_project_measures(measures_file: str | Path | None) -> None:
    """Make ``measures_file`` (``data.measures_file``) part of every later :func:`load_catalogue` call.

    Called when params are validated (every stage validates its params
    first), so the link, model and report code that asks for "the catalogue"
    sees the project's own measures without passing the file around.
    """
    _PROJECT_MEASURES[0] = str(measures_file) if measures_file else None


def load_catalogue(path: str | Path | None = None, *, measures_file: str | Path | None = None) -> Catalogue:
    """Load (and cache) the catalogue.

    Parameters
    ----------
    path
        Folder holding ``measures.yaml`` and ``layouts.yaml``; default: the one
        shipped in the package.
    measures_file
        A project's own measures YAML (``data.measures_file``): further
        measures with their role, scale, label, direction and first
        comparable year, added to the packaged ones (see ``docs/mappings.md``).
        None: the file set by :func:`set_project_measures`, if any.

    Returns
    -------
    Catalogue

    Raises
    ------
    CatalogueError
        A file is missing or invalid, or a user measure reuses a packaged name.
    """
    folder = Path(path) if path is not None else default_folder()
    measures_file = measures_file or _PROJECT_MEASURES[0]
    extra = str(Path(measures_file).resolve()) if measures_file else None
    if extra is not None and not Path(extra).is_file():
        raise CatalogueError(f"measures file {measures_file} does not exist (data.measures_file / --measures)")
    stamp = Path(extra).stat().st_mtime_ns if extra else 0
    return _load(str(folder.resolve()), extra, stamp)


# --------------------------------------------------------------------------- harmonise
def convertible(from_scale: str, to_scale: str) -> bool:
    """Whether values on ``from_scale`` can be put on ``to_scale`` (equal scales, or proportion <-> percent)."""
    return from_scale == to_scale or (from_scale, to_scale) in _CONVERSIONS


def convert(values: pd.Series, from_scale: str, to_scale: str) -> pd.Series:
    """Convert ``values`` between scales (identity when equal).

    Raises
    ------
    CatalogueError
        For a pair with no meaningful conversion (e.g. ``score10`` to ``percent``).
    """
    if from_scale == to_scale:
        return values
    try:
        return values * _CONVERSIONS[(from_scale, to_scale)]
    except KeyError:
        raise CatalogueError(f"cannot convert values on scale {from_scale!r} to {to_scale!r}") from None


def harmonise(tidy: pd.DataFrame, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Put every value on its measure's canonical unit.

    Parameters
    ----------
    tidy
        Reader output (contract columns plus ``scale``).
    catalogue
        Default: the shipped catalogue.

    Returns
    -------
    DataFrame
        A copy with ``value`` converted and ``scale`` set to each measure's unit.

    Raises
    ------
    CatalogueError
        Unknown measure, missing ``scale``, or an impossible conversion.
    """
    import pandas as pd

    from .contract import coerce_tidy

    cat = catalogue or load_catalogue()
    out = coerce_tidy(tidy)
    if out.empty:
        return out
    if out["scale"].isna().any():
        raise CatalogueError("cannot harmonise: some rows have no 'scale' (reader output expected)")
    values = out["value"].to_numpy(copy=True)
    units = out["scale"].astype(object).to_numpy(copy=True)
    for (measure, scale), idx in out.groupby(["measure", "scale"], sort=False).groups.items():
        unit = cat.measure(str(measure)).unit
        if scale not in SCALES:
            raise CatalogueError(f"measure {measure!r}: unknown scale {scale!r}")
        pos = out.index.get_indexer(idx)
        values[pos] = convert(pd.Series(values[pos]), str(scale), unit).to_numpy()
        units[pos] = unit
    out["value"] = values
    out["scale"] = pd.Series(units, index=out.index).astype("string")
    return out
