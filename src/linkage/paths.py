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
FIGURE_CACHE = Path(os.environ.get("LINKAGE_FIGURE_CACHE", "data/cache/figures"))
"""Report figures drawn before, keyed by what they draw and the code drawing them (not a DVC output;
``$LINKAGE_FIGURE_CACHE`` moves it)."""
PARAMS_FILE = Path("params.yaml")
PARAMS_CHECKED = Path(".linkage/params_checked.txt")
"""Written by the ``params`` stage once params.yaml is valid; every other stage runs after it."""
USER_INPUTS = Path(".linkage/inputs")
"""Per stage, the fingerprint of the user's files it reads (paths named in params), written by ``params``."""
CODE_PRINTS = Path(".linkage/code")
"""Per stage, the fingerprint of the source files its results depend on (:mod:`linkage.codeprint`), written by ``params``."""
CODE_CACHE = Path(".linkage/code_cache.json")
"""The derived import closures, remembered under the hash of all source files (not a DVC output)."""
PARAM_PRINTS = Path(".linkage/params")
"""Per stage, the validated values of the params it reads, written by ``params`` (see :func:`param_print`)."""
PARAMS_LAST = Path(".linkage/params_last.json")
"""The values of the last run's param fingerprints, to name what changed (not a DVC output)."""
HASH_CACHE = Path(".linkage/hash_cache.json")
"""Remembered sha256 of user files by size and modification time (not a DVC output)."""


def user_inputs(stage: str) -> Path:
    """The fingerprint file of stage ``stage``: a DVC dependency standing for the user paths it reads.

    ``dvc.yaml`` holds no ``${...}`` templating of params (DVC would then parse params.yaml before
    the workbench can refuse it); the ``params`` stage writes this file instead (:mod:`linkage.fingerprint`).
    """
    return USER_INPUTS / f"{stage}.json"


def param_print(stage: str) -> Path:
    """The params fingerprint of stage ``stage``: a DVC dependency standing for the params it reads.

    DVC would otherwise copy each stage's params sections into ``dvc.lock`` (about half of its
    lines) and read and rewrite them at every lock update; ``dvc exp show`` and ``dvc params diff``
    read params.yaml itself either way.
    """
    return PARAM_PRINTS / f"{stage}.json"


def code_print(stage: str) -> Path:
    """The code fingerprint of stage ``stage``: its one DVC dependency standing for its derived source files."""
    return CODE_PRINTS / f"{stage}.json"


SRC = "src/linkage"
_USER_STAGES = ("acquire", "ingest_staff", "ingest_patient", "link", "model", "multiverse", "report")


@dataclass(frozen=True)
class Stage:
    """One DVC stage.

    Attributes
    ----------
    name
        Stage name in ``dvc.yaml`` and for ``linkage stage NAME``.
    section
        The params section it reads (DVC re-runs it when that section changes, through :func:`param_print`).
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
    params
        Further dotted params keys it reads outside its own section.
    code_of
        Other stages whose code (and notebooks) this stage's outputs also depend on (the report
        shows every step's source version). A stage's own code is derived from its imports.
    """

    name: str
    section: str
    notebook: str | None
    deps: dict[str, Path]
    outs: dict[str, Path]
    metrics: dict[str, Path] = field(default_factory=dict)
    plots: dict[str, tuple[Path, dict[str, str]]] = field(default_factory=dict)
    params: tuple[str, ...] = ()
    code_of: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The stage module (its import closure is the stage's code dependency, see ``tools/build_dvc.py``)."""
        return f"linkage.stages.{self.name}"

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

    @property
    def param_keys(self) -> tuple[str, ...]:
        """The params it reads: its section, then the further dotted keys (what its params fingerprint holds)."""
        return tuple(dict.fromkeys((self.section, *self.params)))

    @property
    def written(self) -> tuple[Path, ...]:
        """Every file or folder the stage writes: outs, metrics, plot data, and a notebook stage's
        executed notebook, step page and figure (the outputs ``tools/build_dvc.py`` declares)."""
        made = [*self.outs.values(), *self.metrics.values(), *(p for p, _ in self.plots.values())]
        if self.notebook:
            made += [self.executed, self.html, self.figure]
        return tuple(made)

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
        deps={"raw": RAW_DIR, "user_inputs": user_inputs(f"ingest_{kind}")},
        outs={
            "tidy": INTERIM / f"{kind}.parquet",
            "quarantine": INTERIM / f"{kind}_quarantine.csv",
            "rollups": INTERIM / f"{kind}_rollups.parquet",
            "orgs": INTERIM / f"{kind}_orgs.parquet",
            "audit": INTERIM / f"{kind}_audit.csv",
        },
        metrics={"metrics": METRICS / f"ingest_{kind}.json"},
        params=("data.max_uncompressed_mb",),
    )


_STAGE_LIST: tuple[Stage, ...] = (
    Stage(
        name="params",
        section="",
        notebook=None,
        deps={},
        outs={"checked": PARAMS_CHECKED, **{f"inputs_{n}": user_inputs(n) for n in _USER_STAGES},
              **{f"params_{n}": param_print(n) for n in _USER_STAGES},
              **{f"code_{n}": code_print(n) for n in _USER_STAGES}},
    ),
    Stage(
        name="acquire",
        section="data",
        notebook=None,
        deps={"checked": PARAMS_CHECKED, "user_inputs": user_inputs("acquire")},
        outs={"raw": RAW_DIR},
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
            "user_inputs": user_inputs("link"),
        },
        outs={
            "panel": PROCESSED / "panel.parquet",
            "panel_long": PROCESSED / "panel_long.parquet",
            "audit": PROCESSED / "linkage_audit.csv",
            "context_audit": PROCESSED / "context_audit.csv",
        },
        metrics={"metrics": METRICS / "linkage.json"},
        plots={"balance": (PLOTS / "balance.csv", {"x": "year", "y": "both", "template": "linear"})},
    ),
    Stage(
        name="model",
        section="model",
        notebook="04_model",
        deps={"panel": PROCESSED / "panel.parquet", "raw": RAW_DIR, "user_inputs": user_inputs("model")},
        outs={"results": PROCESSED / "model_results.csv", "notes": PROCESSED / "model_notes.json",
              "context": PROCESSED / "context_models.json"},
        metrics={"headline": METRICS / "headline.json", "riclpm": METRICS / "riclpm.json"},
        plots={"coefficients": (PLOTS / "coefficients.csv",
                                {"x": "estimate", "y": "label", "template": "bar_horizontal"})},
    ),
    Stage(
        name="multiverse",
        section="multiverse",
        notebook="06_multiverse",
        deps={"panel": PROCESSED / "panel.parquet", "panel_long": PROCESSED / "panel_long.parquet",
              "user_inputs": user_inputs("multiverse")},
        outs={"specs": PROCESSED / "multiverse_specs.parquet", "bootstrap": PROCESSED / "multiverse_bootstrap.csv"},
        metrics={"summary": METRICS / "multiverse.json"},
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
            "riclpm": METRICS / "riclpm.json",
            "linkage": METRICS / "linkage.json",
            "ingest_staff": METRICS / "ingest_staff.json",
            "ingest_patient": METRICS / "ingest_patient.json",
            "multiverse": METRICS / "multiverse.json",
            "curve": FIGURES / "06_multiverse.png",
            "context_models": PROCESSED / "context_models.json",
            "context_audit": PROCESSED / "context_audit.csv",
            "raw": RAW_DIR,
            "user_inputs": user_inputs("report"),
        },
        outs={
            "index": REPORTS / "index.html",
            "summary": REPORTS / "summary.html",
            "board": REPORTS / "board.html",
            "methods": REPORTS / "methods.html",
            "trusts": REPORTS / "trusts",
            "coverage_figure": FIGURES / "summary_coverage.png",
            "deprivation_figure": FIGURES / "summary_deprivation.png",
        },
        # the methods page shows every step's source version (params too), so any step's code change re-renders it
        code_of=("params", *_USER_STAGES),
        # the methods page lists every parameter that applies, so any change re-renders it
        params=("data", "staff", "patient", "link", "model", "multiverse"),
    ),

)

STAGES: dict[str, Stage] = {s.name: s for s in _STAGE_LIST}
"""The pipeline's stages in run order."""

COMMAND_MODULES: tuple[str, ...] = ("linkage.runner",)
"""Modules that run every stage (``linkage stage NAME``): part of each stage's code dependencies."""


def consumers(name: str) -> tuple[str, ...]:
    """The stages that read something stage ``name`` writes (its direct dependents in the DVC graph), in run order."""
    made = STAGES[name].written

    def reads(stage: Stage) -> bool:
        return any(dep == out or out in dep.parents or dep in out.parents
                   for dep in stage.deps.values() for out in made)

    return tuple(s.name for s in STAGES.values() if s.name != name and reads(s))


def downstream(name: str) -> frozenset[str]:
    """Every stage that reads, directly or through other stages, what stage ``name`` writes."""
    direct = consumers(name)
    return frozenset(direct).union(*(downstream(c) for c in direct))


def next_stages(name: str) -> tuple[str, ...]:
    """The consumers of stage ``name`` that no other consumer of it feeds: the stages that can run
    right after it (the transitive reduction of :func:`consumers`), in run order."""
    direct = consumers(name)
    return tuple(c for c in direct if not any(c in downstream(other) for other in direct if other != c))


def dotted(values: object, key: str) -> object:
    """The value at dotted ``key`` (``data.demo.seed``) in nested mappings, or None where there is none."""
    for part in key.split("."):
        values = values.get(part) if isinstance(values, dict) else None
    return values
