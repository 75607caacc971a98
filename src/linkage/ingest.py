"""Stages ``ingest_staff`` and ``ingest_patient``: raw published files -> tidy contract.

Both stages take the same path: find the files of their kind in the raw folder
by content (:func:`linkage.readers.read_folder`), put every value on its
measure's canonical unit (:func:`linkage.catalogue.harmonise`), keep the
measures chosen in ``params.yaml`` and account for everything else:

* ``<kind>.parquet`` - the kept tidy rows (the contract of :mod:`linkage.contract`);
* ``<kind>_quarantine.csv`` - cells the readers could not use, each with a reason;
* ``<kind>_rollups.parquet`` - sub-organisation rows rolled up by the reader;
* ``<kind>_orgs.parquet`` - organisations seen, with their kind (trust / non-trust);
* ``<kind>_audit.csv`` - counts per file, year and measure of kept and not-selected rows;
* ``metrics/ingest_<kind>.json`` - headline counts for ``dvc metrics show``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .paths import DEMO_TRUTH, MANIFEST, ODS_DIR
from .vocab import Kind

log = logging.getLogger("linkage.ingest")

if TYPE_CHECKING:
    import pandas as pd



@dataclass
class IngestResult:
    """What an ingest stage produced (written to disk by the ingest stage modules)."""

    kind: str
    tidy: pd.DataFrame
    quarantine: pd.DataFrame
    rollups: pd.DataFrame
    orgs: pd.DataFrame
    audit: pd.DataFrame
    metrics: dict[str, Any]


def _unreadable(files: pd.DataFrame) -> list[str]:
    """Files skipped because they are not spreadsheets or text at all (gzip, HTML, PDF, corrupt), with why.

    Files that are readable but match no layout (e.g. the ODS registry CSVs) are not listed.
    """
    skipped = files[(files["status"] == "skipped")
                    & ~files["detail"].fillna("").str.contains("matches none of the known layouts")]
    return [f"{f}: {d}" for f, d in zip(skipped["file"], skipped["detail"], strict=True)]


#: File names the organisation registry reads (see :func:`linkage.registry.build_registry`): recognised,
#: so not listed as unrecognised by the survey ingest stages.
PIPELINE_FILES = (MANIFEST.name, DEMO_TRUTH.name)
"""Files acquire writes beside the raw files (the manifest, the demo's truth)."""
DOC_SUFFIXES = (".md", ".txt", ".rst")
"""Documentation beside the data (a README): not a data file, so never listed as unrecognised."""
CONTEXT_FOLDER = "context"
"""Folder of data/raw holding the trust context files (read by the link stage, not by the survey ingest)."""
REGISTRY_FILES = ("etr.csv", "trust_successions*.csv", "*succ*.csv", "trust_types*.csv", "trusts_*regions*.csv")


def _unrecognised(items: list[dict[str, str]]) -> list[str]:
    """``file: reason`` of each file no reader, mapping or the registry recognises."""
    from fnmatch import fnmatch

    def known(path: Path) -> bool:  # the registry's, the context source's and acquire's own files
        return (any(fnmatch(path.name, pat) for pat in REGISTRY_FILES) or path.name in PIPELINE_FILES
                or path.suffix.lower() in DOC_SUFFIXES
                or bool(set(path.parts[:-1]) & {ODS_DIR.name, CONTEXT_FOLDER}))

    return [f"{u['file']}: {u['reason']}" for u in items if not known(Path(u["file"]))]


def ingest(kind: Kind, raw_dir: str | Path, section: Any, *, cache_dir: str | Path | None = None,
           mapping_dir: str | Path | None = None, measures_file: str | Path | None = None,
           max_uncompressed_mb: float | None = None) -> IngestResult:
    """Read every file of ``kind`` under ``raw_dir`` into the harmonised tidy contract.

    Parameters
    ----------
    kind
        ``"staff"`` or ``"patient"``.
    raw_dir
        Folder filled by the acquire stage (searched recursively, files found by content).
    section
        The ``staff`` or ``patient`` params section.
    cache_dir
        Where parsed files are cached as parquet (keyed by file hash).
    mapping_dir, measures_file
        The project's own mappings folder and measures file
        (``data.mappings_dir``, ``data.measures_file``); None: packaged only.
    max_uncompressed_mb
        ``data.max_uncompressed_mb``: workbooks declaring more unpacked MB are refused (None: the default).
    """
    import pandas as pd

    from .catalogue import harmonise, load_catalogue
    from .contract import validate_tidy
    from .errors import LinkageError
    from .readers import read_folder
    from .readers.common import limits

    cat = load_catalogue(measures_file=measures_file or None)
    with limits(max_uncompressed_mb=max_uncompressed_mb):
        res = read_folder(Path(raw_dir), kind=kind, cache_dir=cache_dir, mapping_dir=mapping_dir or None,
                          catalogue=cat)
    if res.tidy.empty:
        raise LinkageError(
            f"no {kind} survey files found under {raw_dir!s}: expected e.g. "
            + ("NHS Staff Survey organisation workbooks or a mapped extract" if kind == "staff"
               else "CQC Adult Inpatient Survey benchmark files")
        )
    tidy = harmonise(res.tidy, cat)
    keep = tidy["measure"].isin(section.measures)
    reason = pd.Series("kept", index=tidy.index, dtype="object")
    reason[~keep] = "measure_not_selected"
    if section.years:
        in_years = tidy["year"].isin(section.years)
        reason[keep & ~in_years] = "year_not_selected"
        keep &= in_years
    audit = (
        tidy.assign(status=reason)
        .groupby(["source_file", "year", "measure", "status"], dropna=False)
        .size()
        .rename("rows")
        .reset_index()
    )
    kept = validate_tidy(tidy[keep].reset_index(drop=True), what=f"{kind} tidy table")
    missing = sorted(set(section.measures) - set(kept["measure"].unique()))
    by_year = kept.groupby("year")["org_code"].nunique().astype(int)
    metrics = {
        "kind": kind,
        "files": int(tidy["source_file"].nunique()),
        "rows_read": int(len(tidy)),
        "rows_kept": int(len(kept)),
        "rows_not_selected": int((~keep).sum()),
        "cells_quarantined": int(len(res.quarantine)),
        "quarantine_reasons": {str(k): int(v) for k, v in
                               res.quarantine["reason"].astype(str).str.split(":").str[0].value_counts().items()},
        "name_matches": {str(k): int(v) for k, v in res.names["status"].value_counts().items()},
        "rows_rolled_up": int(len(res.rollups)),
        "organisations": int(kept["org_code"].nunique()),
        "organisations_by_year": {str(k): int(v) for k, v in by_year.items()},
        "years": [int(y) for y in sorted(kept["year"].dropna().unique())],
        "measures_requested_but_absent": missing,
        "files_unreadable": _unreadable(res.files),
        "files_unrecognised": _unrecognised(res.unrecognised),
    }
    for line in metrics["files_unreadable"]:
        log.warning("%s files: skipped an unreadable file: %s", kind, line)
    for line in metrics["files_unrecognised"]:
        log.warning("%s files: no reader or mapping recognises %s", kind, line)
    return IngestResult(kind, kept, res.quarantine, res.rollups, res.orgs, audit, metrics)
