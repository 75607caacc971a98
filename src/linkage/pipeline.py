"""Stage glue: read a stage's declared inputs, call its module, write its declared outputs.

The paths here are the ones declared in ``dvc.yaml``; a test checks that the
two agree.  Notebooks call these functions and then draw figures, so the
notebooks stay narrative.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import LinkageError

INTERIM = Path("data/interim")
PROCESSED = Path("data/processed")
METRICS = Path("metrics")
PLOTS = Path("plots")

PATHS = {
    "staff": INTERIM / "staff.parquet",
    "staff_orgs": INTERIM / "staff_orgs.parquet",
    "staff_rollups": INTERIM / "staff_rollups.parquet",
    "patient": INTERIM / "patient.parquet",
    "patient_orgs": INTERIM / "patient_orgs.parquet",
    "patient_rollups": INTERIM / "patient_rollups.parquet",
    "panel": PROCESSED / "panel.parquet",
    "panel_long": PROCESSED / "panel_long.parquet",
    "audit": PROCESSED / "linkage_audit.csv",
    "balance": PLOTS / "balance.csv",
    "link_metrics": METRICS / "linkage.json",
    "results": PROCESSED / "model_results.csv",
    "model_notes": PROCESSED / "model_notes.json",
    "headline": METRICS / "headline.json",
    "coefficients": PLOTS / "coefficients.csv",
}


def _read(name: str) -> pd.DataFrame:
    path = PATHS[name]
    if not path.exists():
        raise LinkageError(f"{path} not found: run the stage that writes it first (`dvc repro`).")
    return pd.read_parquet(path)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become null (DVC metrics must be valid JSON)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(obj), indent=2, default=_json_default) + "\n")


# --------------------------------------------------------------------------- link
def link_stage(params: Any):
    """Stage ``link``: registry + linkage + audit, outputs written."""
    from .link import build_registry_for, run_link

    staff, patient = _read("staff"), _read("patient")
    orgs = pd.concat([_read("staff_orgs"), _read("patient_orgs")], ignore_index=True)
    rollups = pd.concat([_read("staff_rollups"), _read("patient_rollups")], ignore_index=True)
    registry = build_registry_for(Path(params.data.raw_dir) / "ods", params.link)
    res = run_link(staff, patient, orgs, registry, params.link, rollups=rollups)
    PROCESSED.mkdir(parents=True, exist_ok=True)
    res.panel.to_parquet(PATHS["panel"], index=False)
    res.panel_long.to_parquet(PATHS["panel_long"], index=False)
    res.audit.to_csv(PATHS["audit"], index=False)
    PLOTS.mkdir(parents=True, exist_ok=True)
    balance_by_year(res.balance).to_csv(PATHS["balance"], index=False)
    write_json(PATHS["link_metrics"], res.metrics)
    return res


def balance_by_year(balance: pd.DataFrame) -> pd.DataFrame:
    """Trusts per survey year by sources present (``both``, ``staff``, ``patient``): DVC plot data."""
    from .link import balance_long

    long = balance_long(balance)
    counts = long[long["status"] != "none"].groupby(["year", "status"]).size().unstack("status", fill_value=0)
    for col in ("both", "staff", "patient"):
        if col not in counts:
            counts[col] = 0
    return counts[["both", "staff", "patient"]].reset_index()


# --------------------------------------------------------------------------- model
def model_stage(params: Any):
    """Stage ``model``: fit the panel models, write results, headline metrics and plot data."""
    from .models import fit_models

    panel = _read("panel")
    run = fit_models(panel, params.model)
    PROCESSED.mkdir(parents=True, exist_ok=True)
    run.results.to_csv(PATHS["results"], index=False)
    headline = dict(run.headline)
    headline["synthetic_demo"] = _is_demo(params)
    if headline["synthetic_demo"]:
        truth = _demo_truth(params)
        if truth is not None:
            headline["true_effect"] = truth
            headline["covers_true_effect"] = bool(headline["ci_low"] <= truth <= headline["ci_high"])
    write_json(PATHS["headline"], headline)
    write_json(PATHS["model_notes"], {"convention": run.convention, "warnings": run.warnings,
                                      "skipped": run.skipped, "hausman": run.hausman})
    coef = run.results[run.results["term"] == _exposure_term(run)].copy()
    PLOTS.mkdir(parents=True, exist_ok=True)
    coef.assign(label=coef["model"] + " | " + coef["spec_name"].astype(str))[
        ["label", "model", "spec_name", "direction", "lag", "estimate", "ci_low", "ci_high", "p_value", "n_obs"]
    ].to_csv(PATHS["coefficients"], index=False)
    return run


def _exposure_term(run: Any) -> str:
    return str(run.headline.get("term", run.params.exposure))


def _is_demo(params: Any) -> bool:
    manifest = Path(params.data.raw_dir) / "manifest.json"
    return manifest.exists() and json.loads(manifest.read_text()).get("source") == "demo"


def _demo_truth(params: Any) -> float | None:
    truth = Path(params.data.raw_dir) / "demo_truth.json"
    if not truth.exists():
        return None
    info = json.loads(truth.read_text())["truth"]
    m = params.model
    if info["exposure"] == m.exposure and info["dependent"] == m.dependent and m.lag == 0:
        return float(info["true_effect"])
    return None
