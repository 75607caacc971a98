"""Readers: published files -> the tidy contract.

Public functions
----------------
read_file(path, *, mapping=None, catalogue=None, cache_dir=None) -> ReadResult
read_folder(folder, *, kind, mapping_dir=None, cache_dir=None, catalogue=None) -> ReadResult
detect_layout(path, *, mapping_dir=None, catalogue=None) -> str

Layouts are recognised by content (sheet names, header cells), never by file
name; the knowledge of each layout is in ``src/linkage/catalogue/layouts.yaml``
and researcher-extract mappings in ``src/linkage/mappings/``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ..catalogue import Catalogue, load_catalogue
from ..contract import coerce_tidy, empty_quarantine, validate_tidy
from ..errors import InputFileError, LinkageError, UnknownLayoutError
from ..names import NameIndex
from ..vocab import KINDS
from . import cqc_benchmark, extract, nss_workbook
from .common import (
    ReadResult,
    Workbook,
    cache_key,
    cache_load,
    cache_store,
    empty_files,
    empty_orgs,
    empty_rollups,
    finish_orgs,
    finish_quarantine,
    roll_up,
    sniff,
)
from .extract import Mapping, load_mapping, shipped_mappings

__all__ = [
    "ReadResult",
    "Mapping",
    "detect_layout",
    "load_mapping",
    "read_file",
    "read_folder",
]

log = logging.getLogger("linkage.readers")

_FAMILIES = {"nss_workbook": nss_workbook, "cqc_benchmark": cqc_benchmark}
_SPREADSHEETS = {"xlsx", "ods", "xls"}


def _catalogue(catalogue: Catalogue | str | Path | None) -> Catalogue:
    if isinstance(catalogue, Catalogue):
        return catalogue
    return load_catalogue(catalogue)


def _detect(
    path: Path, ftype: str, cat: Catalogue, mapping_dir: str | Path | None
) -> tuple[str, dict | Mapping, Workbook | extract.Table | None]:
    """Find the layout (or mapping) that fits ``path``; raise UnknownLayoutError listing the differences.

    Returns the layout id, its spec (a ``layouts.yaml`` entry or a
    :class:`Mapping`) and what was opened (a workbook, or an extract's table).
    """
    reasons: list[str] = []
    wb = None
    if ftype in _SPREADSHEETS:
        wb = Workbook(path)
        for lid, layout in cat.layouts.items():
            family = _FAMILIES.get(layout["family"])
            if family is None:
                reasons.append(f"{lid}: reader family {layout['family']!r} is not implemented")
                continue
            why = family.probe(wb, layout)
            if why is None:
                return lid, layout, wb
            reasons.append(f"{lid}: {why}")
    else:
        reasons += [f"{lid}: is a spreadsheet layout, the file is CSV text" for lid in cat.layouts]
    tables: dict[str | None, extract.Table] = {}
    for m in shipped_mappings(mapping_dir):
        try:
            if m.sheet not in tables:
                tables[m.sheet] = extract.read_table(path, ftype, m.sheet)
        except InputFileError as err:
            reasons.append(f"extract:{m.id}: {err.detail}")
            continue
        why = extract.probe(tables[m.sheet], m)
        if why is None:
            return f"extract:{m.id}", m, tables[m.sheet]
        reasons.append(f"extract:{m.id}: {why}")
    raise UnknownLayoutError(
        "matches none of the known layouts; what differs: "
        + " | ".join(reasons)
        + " | (a researcher extract? write a mapping (docs/mappings.md) and pass --mapping MAPPING.yaml, "
        "or put it in the folder named by data.mappings_dir / --mappings-dir)",
        file=path.name,
    )


def detect_layout(
    path: str | Path, *, mapping_dir: str | Path | None = None, catalogue: Catalogue | str | Path | None = None
) -> str:
    """Return the layout id of ``path`` from its contents.

    Returns
    -------
    str
        A ``layouts.yaml`` id, or ``extract:<mapping id>`` for a researcher
        extract matched by a mapping's ``match_columns``.

    Raises
    ------
    UnknownLayoutError
        Naming each known layout and what differs.
    InputFileError
        Missing, empty or non-spreadsheet file.
    """
    p = Path(path)
    cat = _catalogue(catalogue)
    return _detect(p, sniff(p), cat, mapping_dir)[0]


def _nothing_read(result: ReadResult, file: str) -> InputFileError:
    """The error for a file that gave no value: no data rows, or every row refused (top reasons named)."""
    q = result.quarantine
    if q.empty:
        return InputFileError(
            "holds no data rows (only a header, or every row blank); nothing to read", file=file
        )
    top = q["reason"].astype(str).str.split(":").str[0].value_counts()
    first = q.iloc[0]
    example = f"first at row {first['row']}: {first['reason']}" if pd.notna(first["row"]) else str(first["reason"])
    return InputFileError(
        f"gave no usable value: all {len(q):,} cells or rows were refused ("
        + ", ".join(f"{k} {v:,}" for k, v in top.items()) + f"; {example})",
        file=file,
    )


def _finish(result: ReadResult, cat: Catalogue, file: str) -> ReadResult:
    if result.tidy.empty:
        raise _nothing_read(result, file)
    tidy, rollups, orgs, rq = roll_up(result.tidy, result.orgs, cat)
    quarantine = result.quarantine if rq.empty else finish_quarantine(pd.concat([result.quarantine, rq]))
    validate_tidy(tidy, what=f"{result.layout} reader output")
    result.tidy, result.rollups, result.orgs, result.quarantine = tidy, rollups, orgs, quarantine
    return result


def read_file(
    path: str | Path,
    *,
    mapping: str | Path | Mapping | None = None,
    catalogue: Catalogue | str | Path | None = None,
    cache_dir: str | Path | None = None,
    mapping_dir: str | Path | None = None,
    names: NameIndex | str | Path | None = None,
) -> ReadResult:
    """Read one published file or researcher extract into the tidy contract.

    Parameters
    ----------
    path
        A Staff Survey workbook, CQC benchmark file, or CSV/XLSX extract.
    mapping
        Mapping YAML (or loaded :class:`Mapping`) for a researcher extract;
        default: detect the layout from the contents (shipped mappings are
        tried by their ``match_columns``).
    catalogue
        A :class:`~linkage.catalogue.Catalogue` or folder; default: shipped.
    cache_dir
        If given, parsed results are cached as parquet keyed by the file's
        sha256, the catalogue files, the mapping and the package version.
    mapping_dir
        A project's own folder of mappings, tried before the shipped ones.
    names
        Registry names (a :class:`~linkage.names.NameIndex`, or ``etr.csv`` or
        a folder holding it) for extracts keyed by organisation name.

    Returns
    -------
    ReadResult

    Raises
    ------
    InputFileError, UnknownLayoutError
        With file, sheet, column and row of the problem.
    """
    p = Path(path)
    cat = _catalogue(catalogue)
    ftype = sniff(p)
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping, cat)
    return _read(p, ftype, cat, mapping, mapping_dir, cache_dir, names=_names(names))


def _names(names: NameIndex | str | Path | None) -> NameIndex | None:
    if names is None or isinstance(names, NameIndex):
        return names
    return NameIndex.from_ods(names)


def _mapping_digest(mapping: Mapping | None, mapping_dir: str | Path | None, names: NameIndex | None = None) -> str:
    tail = f"|names:{names.digest}" if names is not None else ""
    if mapping is not None:
        return "explicit:" + mapping.digest + tail
    return "auto:" + "+".join(m.digest for m in shipped_mappings(mapping_dir)) + tail


def _read(
    p: Path,
    ftype: str,
    cat: Catalogue,
    mapping: Mapping | None,
    mapping_dir: str | Path | None,
    cache_dir: str | Path | None,
    detected: tuple[str, dict | Mapping, Any] | None = None,
    *,
    names: NameIndex | None = None,
) -> ReadResult:
    key = None
    if cache_dir is not None:
        key = cache_key(p, cat, _mapping_digest(mapping, mapping_dir, names))
        hit = cache_load(Path(cache_dir), key, p.name)
        if hit is not None:
            return hit
    try:
        if mapping is not None:
            result = extract.read(p, ftype, mapping, cat, names=names)
        else:
            lid, spec, opened = detected or _detect(p, ftype, cat, mapping_dir)
            if isinstance(spec, Mapping):
                result = extract.read(p, ftype, spec, cat, names=names, table=opened)
            else:
                result = _FAMILIES[spec["family"]].read(opened, spec, cat)
        result = _finish(result, cat, p.name)
    except LinkageError:
        raise
    except ValueError as err:  # contract violations are reader bugs or odd files; keep them one-line
        raise InputFileError(f"reader output failed the tidy contract: {err}", file=p.name) from err
    except (KeyError, IndexError, TypeError, AttributeError, UnicodeError) as err:  # an odd file, in one line
        raise InputFileError(
            f"could not be read as layout {_layout_name(mapping, detected)} ({type(err).__name__}: {err}); "
            "check the file against docs/data_log.md or docs/mappings.md (linkage --debug read shows the traceback)",
            file=p.name,
        ) from err
    result.files = pd.DataFrame(
        [{"file": p.name, "layout": result.layout, "kind": result.kind, "status": "read", "detail": ""}]
    ).astype("string")
    if cache_dir is not None and key is not None:
        cache_store(Path(cache_dir), key, result)
    return result


def _layout_name(mapping: Mapping | None, detected: tuple | None) -> str:
    if mapping is not None:
        return f"extract:{mapping.id}"
    return detected[0] if detected else "(detected)"


def _candidates(folder: Path) -> list[Path]:
    """The files under ``folder`` (hidden files and Office lock files left out).

    Raises
    ------
    InputFileError
        A symbolic link resolving outside ``folder``, named (its target is
        neither read nor printed).
    """
    out = []
    root = folder.resolve()
    for p in sorted(folder.rglob("*")):
        if p.is_symlink() and not p.resolve().is_relative_to(root):
            raise InputFileError(
                f"{p.relative_to(folder)} is a symbolic link to a file outside the data folder; refused "
                "(nothing outside the folder is read): replace the link with a copy of the file, or remove it",
                file=folder,
            )
        if not p.is_file():
            continue
        rel = p.relative_to(folder).parts
        if any(part.startswith(".") for part in rel) or p.name.startswith("~$"):
            continue
        out.append(p)
    return out


def _resolve_overlaps(parts: list[ReadResult]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Keep one value per (org, year, measure); the rest go to quarantine.

    Preference: a file's own survey year (its main sheet; every row of an
    extract) over a historical restatement in a later file; then the most
    recent file; then file name order.
    """
    frames = []
    for res in parts:
        t = res.tidy.copy()
        own = t["year"] == res.file_year if res.file_year is not None else pd.Series(True, index=t.index)
        t["_primary"] = (own | res.layout.startswith("extract:")).astype(bool)
        t["_file_year"] = res.file_year if res.file_year is not None else -1
        frames.append(t)
    if not frames:
        return coerce_tidy(pd.DataFrame()), empty_quarantine(), empty_orgs()
    allt = pd.concat(frames, ignore_index=True)
    allt = allt.sort_values(
        ["_primary", "_file_year", "source_file"], ascending=[False, False, True], kind="stable"
    )
    key = ["org_code", "year", "measure"]
    dup = allt.duplicated(key, keep="first")
    winners = allt[~dup]
    losers = allt[dup]
    q = empty_quarantine()
    if not losers.empty:
        win_file = winners.set_index(key)["source_file"]
        lk = pd.MultiIndex.from_frame(losers[key])
        q = finish_quarantine(
            pd.DataFrame(
                {
                    "source_file": losers["source_file"].to_numpy(),
                    "source_sheet": losers["source_sheet"].to_numpy(),
                    "row": pd.NA,
                    "org_code": losers["org_code"].to_numpy(),
                    "year": losers["year"].to_numpy(),
                    "column": losers["source_code"].to_numpy(),
                    "raw_value": losers["value"].map(repr).to_numpy(),
                    "reason": ["superseded_by:" + str(f) for f in win_file.reindex(lk).to_numpy()],
                }
            )
        )
    tidy = coerce_tidy(winners.drop(columns=["_primary", "_file_year"]).sort_values(key + ["source_file"]))
    # organisations: prefer the row from a file's own year
    orgs = []
    for res in parts:
        o = res.orgs.copy()
        if res.file_year is None or res.layout.startswith("extract:"):
            o["_primary"] = True
        else:
            o["_primary"] = (o["year"] == res.file_year).fillna(False).astype(bool)
        o["_file_year"] = res.file_year or -1
        orgs.append(o)
    allo = pd.concat(orgs, ignore_index=True).sort_values(
        ["_primary", "_file_year", "source_file"], ascending=[False, False, True], kind="stable"
    )
    allo = allo.drop_duplicates(["org_code", "year"], keep="first").drop(columns=["_primary", "_file_year"])
    return tidy, q, finish_orgs(allo.sort_values(["org_code", "year"]))


def _sides(spec: dict | Mapping, cat: Catalogue) -> set[str]:
    """The ingest sides a layout or mapping feeds."""
    return spec.sides(cat) if isinstance(spec, Mapping) else {spec["kind"]}


def _only_side(res: ReadResult, kind: str, cat: Catalogue) -> ReadResult:
    """``res`` restricted to the measures carried by ``kind`` (for files feeding several roles)."""
    sides = res.tidy["measure"].astype(str).map(lambda m: cat.measure(m).side)
    if (sides == kind).all():
        return res
    keep = (sides == kind).to_numpy()
    return ReadResult(tidy=res.tidy[keep].reset_index(drop=True), quarantine=res.quarantine, rollups=res.rollups,
                      orgs=res.orgs, layout=res.layout, kind=kind, file_year=res.file_year, files=res.files,
                      key=res.key, names=res.names)


def _read_member(p: Path, root: Path, kind: str, cat: Catalogue, mapping_dir: str | Path | None,
                 cache_dir: str | Path | None, names: NameIndex | str | Path | None) -> tuple[dict, ReadResult | None]:
    """One file of a folder: its row of the files table, and its result if it is of ``kind``."""
    rel = str(p.relative_to(root))
    try:
        ftype = sniff(p)
        lid, spec, opened = _detect(p, ftype, cat, mapping_dir)
    except LinkageError as err:
        log.debug("skipping %s: %s", p, err)
        return {"file": rel, "layout": None, "kind": None, "status": "skipped",
                "detail": str(err).splitlines()[0]}, None
    sides = _sides(spec, cat)
    if kind not in sides:
        return {"file": rel, "layout": lid, "kind": "+".join(sorted(sides)), "status": "other kind", "detail": ""}, None
    index = None
    if isinstance(spec, Mapping) and spec.by_name:
        index = _names(names if names is not None else root)
    res = _only_side(_read(p, ftype, cat, None, mapping_dir, cache_dir, (lid, spec, opened), names=index), kind, cat)
    return {"file": rel, "layout": res.layout, "kind": kind, "status": str(res.files["status"].iloc[0]),
            "detail": ""}, res


def read_folder(
    folder: str | Path,
    *,
    kind: Literal["staff", "patient"],
    mapping_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    catalogue: Catalogue | str | Path | None = None,
    names: NameIndex | str | Path | None = None,
) -> ReadResult:
    """Read every file of one kind found (recursively, by content) in ``folder``.

    A researcher extract whose mapping has measures of both sides (e.g. staff
    indices and an outcome) is read for each side, keeping that side's
    measures (a measure's side comes from its role in the catalogue).

    Files that match no layout (e.g. ODS registry CSVs, images) are skipped
    and listed in ``ReadResult.files`` with the reason, and in
    ``ReadResult.unrecognised``.  A symbolic link that resolves outside
    ``folder`` is refused.  When several files
    give the same organisation, year and measure, the file whose own survey
    year it is wins over a historical sheet of a later file; the others are
    quarantined as ``superseded_by:<file>``.

    Parameters
    ----------
    folder
        Folder to search (recursively).
    kind
        ``staff`` or ``patient``.
    mapping_dir
        Extra mappings for researcher extracts (tried before the shipped ones).
    cache_dir
        Parquet cache folder (see :func:`read_file`).
    catalogue
        Default: the shipped catalogue.
    names
        Registry names for extracts keyed by organisation name; default: the
        ``etr.csv`` found under ``folder`` (only looked for when needed).

    Raises
    ------
    InputFileError
        ``folder`` is missing, or holds no file of ``kind``.
    """
    if kind not in KINDS:
        raise LinkageError(f"kind must be 'staff' or 'patient', not {kind!r}")
    root = Path(folder)
    if not root.is_dir():
        raise InputFileError("folder does not exist", file=root)
    cat = _catalogue(catalogue)
    for m in shipped_mappings(mapping_dir):  # a broken mapping is an error, never a silently skipped file
        extract.check_mapping(m, cat, m.source_path or m.id)
    parts: list[ReadResult] = []
    files = []
    skip_under = Path(cache_dir).resolve() if cache_dir is not None else None
    for p in _candidates(root):
        if skip_under is not None and p.resolve().is_relative_to(skip_under):
            continue
        row, res = _read_member(p, root, kind, cat, mapping_dir, cache_dir, names)
        files.append(row)
        if res is not None:
            parts.append(res)
    files_df = pd.DataFrame(files, columns=list(empty_files().columns)).astype("string")
    if not parts:
        looked = "; ".join(f"{f['file']} ({f['status']})" for f in files) or "no files"
        raise InputFileError(f"no {kind} survey files found (looked at: {looked})", file=root)
    fnames = [r.files["file"].iloc[0] for r in parts]
    if len(set(fnames)) < len(fnames):
        dups = sorted({n for n in fnames if fnames.count(n) > 1})
        raise InputFileError(
            f"several files share the name(s) {dups} in different sub-folders; source_file would be ambiguous",
            file=root,
        )
    tidy, sq, orgs = _resolve_overlaps(parts)
    quarantine = finish_quarantine(pd.concat([r.quarantine for r in parts] + [sq], ignore_index=True))
    roll = [r.rollups for r in parts if r.rollups is not None and len(r.rollups)]
    rollups = pd.concat(roll, ignore_index=True) if roll else empty_rollups()
    keys = [r.key for r in parts if len(r.key)]
    validate_tidy(tidy, what=f"{kind} files in {root}")
    return ReadResult(
        tidy=tidy,
        quarantine=quarantine,
        rollups=rollups,
        orgs=orgs,
        layout="+".join(sorted({r.layout for r in parts})),
        kind=kind,
        file_year=None,
        files=files_df,
        key=pd.concat(keys, ignore_index=True).drop_duplicates() if keys else ReadResult.__dataclass_fields__["key"].default_factory(),
        names=pd.concat([r.names for r in parts], ignore_index=True),
        unrecognised=[{"file": str(f["file"]), "reason": str(f["detail"])} for f in files if f["status"] == "skipped"],
    )
