"""The pipeline outputs the report site reads, loaded once.

The site is built from files only (never from objects in memory), so that a
page can always be traced back to a file a reviewer can open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..paths import MANIFEST, STAGES
from .words import base_measure as _base_measure

#: Files the site reads, relative to the project root: the report stage's declared deps.
INPUT_FILES: dict[str, Path] = {role: STAGES["report"].path(role) for role in (
    "panel", "results", "notes", "headline", "linkage", "ingest_staff", "ingest_patient", "multiverse", "curve")}


@dataclass
class SiteInputs:
    """Everything the site shows, as loaded from the pipeline's output files.

    Attributes
    ----------
    root : Path
        Project root the paths were resolved against.
    panel : pandas.DataFrame
        The linked panel (one row per trust and year).
    results : pandas.DataFrame
        Tidy model results (one row per model and term).
    headline, notes, linkage, ingest : dict
        The headline metrics, the model notes, the link metrics and the ingest
        metrics by kind (``staff``, ``patient``).
    manifest : dict
        The acquire stage's manifest (source and sha256 of every raw file).
    catalogue : linkage.catalogue.Catalogue
        Measure labels, units, directions and series breaks.
    extra : dict
        The multiverse metrics and the curve figure's path.
    params : linkage.params.Params or None
        The run's validated parameters (the report stage's params): what the
        output files do not record themselves (``model.time_effects``,
        ``link.restrict_trust_types``) is read from here.
    """

    root: Path
    panel: pd.DataFrame
    results: pd.DataFrame
    headline: dict[str, Any]
    notes: dict[str, Any]
    linkage: dict[str, Any]
    ingest: dict[str, dict[str, Any]]
    manifest: dict[str, Any]
    catalogue: Any
    extra: dict[str, Any] = field(default_factory=dict)
    params: Any = None

    @property
    def demo(self) -> bool:
        """Whether the run used the synthetic demo data."""
        return self.manifest.get("source") == "demo" or bool(self.headline.get("synthetic_demo"))

    def label(self, measure: str) -> str:
        """Catalogue label of ``measure`` (the name itself if the catalogue lacks it)."""
        m = self.catalogue.measures.get(_base_measure(measure))
        return m.label if m else measure

    def measure(self, name: str) -> Any:
        """Catalogue entry of ``name`` (lag/lead prefixes such as ``L1.`` removed), or None."""
        return self.catalogue.measures.get(_base_measure(name))


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def load_inputs(root: str | Path = ".", params: Any = None) -> SiteInputs:
    """Read the pipeline outputs under ``root``.

    Parameters
    ----------
    root
        Project root (the folder holding ``data/`` and ``metrics/``).
    params
        The run's validated parameters (see :attr:`SiteInputs.params`).

    Returns
    -------
    SiteInputs
    """
    from ..catalogue import load_catalogue

    root = Path(root)
    return SiteInputs(
        root=root,
        panel=pd.read_parquet(root / INPUT_FILES["panel"]),
        results=pd.read_csv(root / INPUT_FILES["results"]),
        headline=_json(root / INPUT_FILES["headline"]),
        notes=_json(root / INPUT_FILES["notes"]),
        linkage=_json(root / INPUT_FILES["linkage"]),
        ingest={k: _json(root / INPUT_FILES[f"ingest_{k}"]) for k in ("staff", "patient")},
        manifest=_json(root / MANIFEST),
        catalogue=load_catalogue(),
        extra={"multiverse": _json(root / INPUT_FILES["multiverse"]),
               "curve": INPUT_FILES["curve"] if (root / INPUT_FILES["curve"]).exists() else None},
        params=params,
    )
