"""Every file a stage reads or writes, declared once.

:data:`STAGES` is the pipeline: for each DVC stage its params section, its
notebook, the files it reads and writes and the source it depends on.
``tools/build_dvc.py`` writes ``dvc.yaml`` from it, the stage modules
(:mod:`linkage.stages`) read and write exactly these paths, and the notebooks
get them through their stage module.  All paths are relative to the project
root (the working directory of ``dvc repro``).

This module is part of the foundation: it imports nothing from the package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

RAW_DIR = Path("data/raw")
"""The acquire stage's output: the raw files analysed (+ ``manifest.json``)."""
MANIFEST = RAW_DIR / "manifest.json"
DEMO_TRUTH = RAW_DIR / "demo_truth.json"
ODS_DIR = RAW_DIR / "ods"
INTERIM = Path("data/interim")
PROCESSED = Path("data/processed")
METRICS = Path("metrics")
PLOTS = Path("plots")
REPORTS = Path("reports")
FIGURES = REPORTS / "figures"
NOTEBOOKS = Path("notebooks")
READER_CACHE = Path(os.environ.get("LINKAGE_READER_CACHE", "data/cache"))
"""Parsed-file cache of the readers (keyed by file hash and reader version; not a DVC output).
``$LINKAGE_READER_CACHE`` moves it, e.g. to share one cache between test runs in temporary folders."""
PARAMS_FILE = Path("params.yaml")
PARAMS_CHECKED = Path(".linkage/params_checked.txt")
"""Written by the ``params`` stage once params.yaml is valid; every other stage runs after it."""
LOCAL_DIR = Path("${data.local_dir}")
"""``data.local_dir`` as a DVC-templated dependency of ``acquire``: editing, adding or removing a file
there re-runs acquire (and what depends on its output); an unchanged folder leaves it a no-op."""
USER_MAPPINGS = Path("${data.mappings_dir}")
"""The project's own mappings folder (``data.mappings_dir``): a DVC dependency of the ingest stages."""
USER_MEASURES = Path("${data.measures_file}")
"""The project's own measures file (``data.measures_file``): a DVC dependency of every stage reading measures."""

SRC = "src/linkage"


@dataclass(frozen=True)
class Stage:
    """One DVC stage.

    Attributes
    ----------
    name
        Stage name in ``dvc.yaml`` and for ``linkage stage NAME``.
    section
        The params section it reads (DVC re-runs it when that section changes).
    notebook
        Notebook stem under ``notebooks/`` (``None`` for a command stage).
    deps
        Files it reads, by role.
    outs
        Files it writes, by role (DVC-cached outputs).
    metrics
        Metrics files it writes, by role (small JSON committed to git).
    plots
        Plot data it writes, by role, with the DVC plot properties.
    code
        Source paths its results depend on (DVC deps, so a code change re-runs it).
    params
        Further dotted params keys it reads outside its own section.
    """

    name: str
    section: str
    notebook: str | None
    deps: dict[str, Path]
    outs: dict[str, Path]
    code: tuple[str, ...]
    metrics: dict[str, Path] = field(default_factory=dict)
    plots: dict[str, tuple[Path, dict[str, str]]] = field(default_factory=dict)
    params: tuple[str, ...] = ()

    @property
    def executed(self) -> Path:
        """The executed notebook (outputs kept) written by the stage runner."""
        return REPORTS / f"{self.notebook}.ipynb"

    @property
    def html(self) -> Path:
        """The notebook rendered to HTML without code."""
        return REPORTS / f"{self.notebook}.html"

    @property
    def figure(self) -> Path:
        """The stage's main figure."""
        return FIGURES / f"{self.notebook}.png"

    def path(self, role: str) -> Path:
        """The path of ``role`` among the stage's deps, outs, metrics and plots."""
        for table in (self.outs, self.metrics, self.deps):
            if role in table:
                return table[role]
        if role in self.plots:
            return self.plots[role][0]
        raise KeyError(f"stage {self.name!r} declares no path {role!r}")


def _ingest(kind: str, number: int) -> Stage:
    return Stage(
        name=f"ingest_{kind}",
        section=kind,
        notebook=f"{number:02d}_ingest_{kind}",
        deps={"raw": RAW_DIR, "user_mappings": USER_MAPPINGS, "user_measures": USER_MEASURES},
        outs={
            "tidy": INTERIM / f"{kind}.parquet",
            "quarantine": INTERIM / f"{kind}_quarantine.csv",
            "rollups": INTERIM / f"{kind}_rollups.parquet",
            "orgs": INTERIM / f"{kind}_orgs.parquet",
            "audit": INTERIM / f"{kind}_audit.csv",
        },
        metrics={"metrics": METRICS / f"ingest_{kind}.json"},
        code=(f"{SRC}/readers", f"{SRC}/catalogue.py", f"{SRC}/catalogue", f"{SRC}/mappings", f"{SRC}/ingest.py",
              f"{SRC}/stages/ingest_{kind}.py", f"{SRC}/stages/_ingest.py"),
    )


_STAGE_LIST: tuple[Stage, ...] = (
    Stage(
        name="params",
        section="",
        notebook=None,
        deps={},
        outs={"checked": PARAMS_CHECKED},
        code=(f"{SRC}/params", f"{SRC}/catalogue/measures.yaml"),
    ),
    Stage(
        name="acquire",
        section="data",
        notebook=None,
        deps={"checked": PARAMS_CHECKED, "local_dir": LOCAL_DIR},
        outs={"raw": RAW_DIR},
        code=(f"{SRC}/acquire.py", f"{SRC}/demo.py", f"{SRC}/download.py", f"{SRC}/catalogue/sources.yaml",
              f"{SRC}/stages/acquire.py"),
    ),
    _ingest("staff", 1),
    _ingest("patient", 2),
    Stage(
        name="link",
        section="link",
        notebook="03_link",
        deps={
            "staff": INTERIM / "staff.parquet",
            "patient": INTERIM / "patient.parquet",
            "staff_orgs": INTERIM / "staff_orgs.parquet",
            "patient_orgs": INTERIM / "patient_orgs.parquet",
            "staff_rollups": INTERIM / "staff_rollups.parquet",
            "patient_rollups": INTERIM / "patient_rollups.parquet",
            "raw": RAW_DIR,
            "user_measures": USER_MEASURES,
        },
        outs={
            "panel": PROCESSED / "panel.parquet",
            "panel_long": PROCESSED / "panel_long.parquet",
            "audit": PROCESSED / "linkage_audit.csv",
        },
        metrics={"metrics": METRICS / "linkage.json"},
        plots={"balance": (PLOTS / "balance.csv", {"x": "year", "y": "both", "template": "linear"})},
        code=(f"{SRC}/link.py", f"{SRC}/registry.py", f"{SRC}/orgdata", f"{SRC}/stages/link.py"),
    ),
    Stage(
        name="model",
        section="model",
        notebook="04_model",
        deps={"panel": PROCESSED / "panel.parquet", "raw": RAW_DIR, "user_measures": USER_MEASURES},
        outs={"results": PROCESSED / "model_results.csv", "notes": PROCESSED / "model_notes.json"},
        metrics={"headline": METRICS / "headline.json"},
        plots={"coefficients": (PLOTS / "coefficients.csv",
                                {"x": "estimate", "y": "label", "template": "bar_horizontal"})},
        code=(f"{SRC}/models", f"{SRC}/figures.py", f"{SRC}/stages/model.py"),
    ),
    Stage(
        name="multiverse",
        section="multiverse",
        notebook="06_multiverse",
        deps={"panel": PROCESSED / "panel.parquet", "panel_long": PROCESSED / "panel_long.parquet",
              "user_measures": USER_MEASURES},
        outs={"specs": PROCESSED / "multiverse_specs.parquet", "bootstrap": PROCESSED / "multiverse_bootstrap.csv"},
        metrics={"summary": METRICS / "multiverse.json"},
        code=(f"{SRC}/multiverse", f"{SRC}/figures.py", f"{SRC}/catalogue/measures.yaml", f"{SRC}/stages/multiverse.py"),
    ),
    Stage(
        name="report",
        section="report",
        notebook="05_report",
        deps={
            "panel": PROCESSED / "panel.parquet",
            "panel_long": PROCESSED / "panel_long.parquet",
            "results": PROCESSED / "model_results.csv",
            "notes": PROCESSED / "model_notes.json",
            "headline": METRICS / "headline.json",
            "linkage": METRICS / "linkage.json",
            "ingest_staff": METRICS / "ingest_staff.json",
            "ingest_patient": METRICS / "ingest_patient.json",
            "multiverse": METRICS / "multiverse.json",
            "curve": FIGURES / "06_multiverse.png",
            "raw": RAW_DIR,
            "user_measures": USER_MEASURES,
        },
        outs={
            "index": REPORTS / "index.html",
            "summary": REPORTS / "summary.html",
            "board": REPORTS / "board.html",
            "methods": REPORTS / "methods.html",
            "trusts": REPORTS / "trusts",
            "coverage_figure": FIGURES / "summary_coverage.png",
        },
        # all the pipeline's code: the methods page shows every step's source version, so any code change re-renders it
        code=(SRC, NOTEBOOKS.as_posix()),
        # the methods page lists every parameter that applies, so any change re-renders it
        params=("data", "staff", "patient", "link", "model", "multiverse"),
    ),

)

STAGES: dict[str, Stage] = {s.name: s for s in _STAGE_LIST}
"""The pipeline's stages in run order."""

COMMON_CODE: tuple[str, ...] = (f"{SRC}/vocab.py", f"{SRC}/paths.py", f"{SRC}/files.py", f"{SRC}/notebook.py",
                                f"{SRC}/provenance.py", f"{SRC}/runner.py", f"{SRC}/site")
"""Source every notebook stage depends on (parameters, paths, runner, provenance, the site layout of its HTML)."""
