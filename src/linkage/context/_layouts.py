"""Context file layouts: the packaged ``layouts.yaml`` plus any YAML a researcher puts in the context folder."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputFileError

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_LAYOUTS = PACKAGE_DIR / "layouts.yaml"
FAMILIES = ("catchment", "area_scores", "trust_values")
#: Columns each family must name under ``columns``.
_REQUIRED = {"catchment": ("trust", "area", "share"), "area_scores": ("area",), "trust_values": ("trust",)}


@dataclass(frozen=True)
class Value:
    """One context value a layout provides: its panel name (``context.<name>``), column and label."""

    name: str
    column: str
    label: str


@dataclass(frozen=True)
class Layout:
    """One kind of context file, recognised by its header."""

    id: str
    family: str
    title: str
    match_columns: tuple[str, ...]
    columns: dict[str, str]
    values: tuple[Value, ...] = ()
    vintage: str = ""
    successors: Path | None = None
    source: Path = PACKAGED_LAYOUTS
    extra: dict[str, Any] = field(default_factory=dict)

    def matches(self, header: list[str]) -> bool:
        """True when every ``match_columns`` cell is in ``header`` (exact, after stripping spaces)."""
        cells = {h.strip() for h in header}
        return all(c in cells for c in self.match_columns)


def _bad(source: Path, lid: str, what: str) -> InputFileError:
    return InputFileError(f"context layout {lid!r}: {what}", file=source)


def _values(spec: dict[str, Any], source: Path, lid: str) -> tuple[Value, ...]:
    out = []
    for name, v in (spec or {}).items():
        if not str(name).replace("_", "").isalnum() or str(name).lower() != str(name):
            raise _bad(source, lid, f"value name {name!r} must be lower_case letters, digits and underscores")
        if not isinstance(v, dict) or "column" not in v:
            raise _bad(source, lid, f"value {name!r} needs a 'column' (and a 'label')")
        out.append(Value(str(name), str(v["column"]), str(v.get("label", name))))
    return tuple(out)


def _layout(lid: str, spec: dict[str, Any], source: Path) -> Layout:
    family = spec.get("family")
    if family not in FAMILIES:
        raise _bad(source, lid, f"family must be one of {list(FAMILIES)}, not {family!r}")
    columns = {str(k): str(v) for k, v in (spec.get("columns") or {}).items()}
    missing = [k for k in _REQUIRED[family] if k not in columns]
    if missing:
        raise _bad(source, lid, f"columns must name {missing} for family {family}")
    match = tuple(str(c) for c in spec.get("match_columns") or ())
    if not match:
        raise _bad(source, lid, "match_columns is empty: a file could never be recognised")
    values = _values(spec.get("scores") or spec.get("values") or {}, source, lid)
    if family != "catchment" and not values:
        raise _bad(source, lid, "lists no values (scores: or values:)")
    succ = spec.get("successors")
    succ_path = None
    if succ:
        succ_path = Path(succ) if Path(succ).is_absolute() else source.parent / succ
        if not succ_path.is_file():
            succ_path = PACKAGE_DIR / str(succ)
        if not succ_path.is_file():
            raise _bad(source, lid, f"successors file {succ!r} not found next to the layout or in the package")
    return Layout(lid, family, str(spec.get("title", lid)), match, columns, values, str(spec.get("vintage", "")),
                  succ_path, source)


def read_layout_file(path: Path) -> dict[str, Layout]:
    """The layouts of one YAML file (``layouts:`` mapping id -> spec)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputFileError(f"not valid YAML: {exc}", file=path) from None
    specs = doc.get("layouts") if isinstance(doc, dict) else None
    if not isinstance(specs, dict):
        raise InputFileError("a context layout file needs a 'layouts:' mapping at the top", file=path)
    return {str(lid): _layout(str(lid), spec or {}, path) for lid, spec in specs.items()}


def load_layouts(folder: str | Path | None = None) -> dict[str, Layout]:
    """Packaged layouts, then those of every ``*.yaml``/``*.yml`` in ``folder`` (a same id replaces the packaged one)."""
    layouts = read_layout_file(PACKAGED_LAYOUTS)
    if folder is not None:
        for p in sorted(Path(folder).rglob("*.y*ml")):
            layouts.update(read_layout_file(p))
    return layouts


def read_successors(path: Path) -> dict[str, tuple[str, str]]:
    """Retired area code -> (successor code, successor name) from a successors CSV."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    need = {"old_code", "new_code", "new_name"}
    if not rows or not need <= set(rows[0]):
        raise InputFileError(f"a successors file needs columns {sorted(need)}", file=path)
    return {r["old_code"].strip(): (r["new_code"].strip(), r["new_name"].strip()) for r in rows}
