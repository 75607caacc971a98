"""Every value the schema allows runs: each numeric key at each of its bounds.

The bounds are read from the schema itself (pydantic's ``ge``/``le``/``gt``/``lt``),
so a bound added or widened later is tested without touching this file.  A
value "runs" when the stage that reads it finishes, or refuses the data in
one paragraph (a :class:`LinkageError`, e.g. too few trust-years for a lag of 5
years on a 4-year panel) - never an unexpected exception.
"""

from __future__ import annotations

import math
from typing import Any

import annotated_types as at
import pytest
from pydantic import BaseModel

from linkage.errors import LinkageError
from linkage.params import DemoParams, LinkParams, ModelParams, Params, validate_params


def bounds(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) for each bound of each numeric field, nested sections included."""
    out: list[tuple[str, Any]] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += bounds(ann, f"{prefix}{name}.")
            continue
        integer = ann is int or ann == (int | None)
        for m in field.metadata:
            if isinstance(m, at.Ge):
                out.append((prefix + name, m.ge))
            elif isinstance(m, at.Le):
                out.append((prefix + name, m.le))
            elif isinstance(m, at.Gt):
                out.append((prefix + name, m.gt + (1 if integer else 1e-6)))
            elif isinstance(m, at.Lt):
                out.append((prefix + name, m.lt - (1 if integer else 1e-6)))
    return out


def _nested(key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


ALL_BOUNDS = bounds(Params)


def test_the_schema_has_bounds_to_test():
    keys = {k for k, _ in ALL_BOUNDS}
    assert {"data.demo.n_acute", "data.demo.seed", "model.lag", "model.alpha", "link.staff_lag"} <= keys


@pytest.mark.parametrize(("key", "value"), ALL_BOUNDS, ids=[f"{k}={v}" for k, v in ALL_BOUNDS])
def test_every_bound_validates(key, value):
    raw = _nested(key, value)
    if key == "data.demo.n_mergers":
        raw["data"]["demo"]["n_acute"] = DemoParams.model_fields["n_acute"].metadata[-1].le
    if key == "model.dk_bandwidth":
        raw["model"]["cov_type"] = "driscoll_kraay"
    if key == "model.lag":  # the headline lag must be one of the lags examined
        raw["model"]["lags"] = [value]
    validate_params(raw)


DEMO_CORNERS = [
    {"n_acute": 10, "n_non_acute": 0, "n_mergers": 2, "seed": 0, "true_effect": -1.0},
    {"n_acute": 400, "n_non_acute": 200, "n_mergers": 10, "seed": 2**32 - 1, "true_effect": 1.0},
]


@pytest.mark.slow
@pytest.mark.parametrize("corner", DEMO_CORNERS, ids=["smallest", "largest"])
def test_demo_corners_write_files_the_readers_read(tmp_path, corner):
    from linkage.demo import write_demo_files
    from linkage.readers import read_folder

    spec = DemoParams(**corner)
    write_demo_files(tmp_path, spec)
    staff = read_folder(tmp_path, kind="staff")
    codes = staff.tidy["org_code"].unique()
    assert len(codes) >= spec.n_acute  # unique codes: acute, merged and non-acute organisations all present


MODEL_BOUNDS = [(k.split(".", 1)[1], v) for k, v in ALL_BOUNDS if k.startswith("model.")]


@pytest.mark.slow
@pytest.mark.parametrize(("key", "value"), MODEL_BOUNDS, ids=[f"{k}={v}" for k, v in MODEL_BOUNDS])
def test_every_model_bound_runs_or_refuses_in_one_paragraph(demo_pipeline, key, value):
    from linkage.models import fit_models

    extra = {"cov_type": "driscoll_kraay"} if key == "dk_bandwidth" else {"lags": [value]} if key == "lag" else {}
    if "." in key:  # a key of a nested block (model.multilevel, model.sensitivity, model.region_cluster)
        from linkage.models.multilevel import fit_multilevel
        from linkage.models.region_cluster import fit_region_cluster
        from linkage.models.sensitivity import fit_sensitivity

        block, sub = key.split(".", 1)
        params = ModelParams(**{block: {sub: value}})
        for fit in (fit_multilevel, fit_sensitivity, fit_region_cluster):
            res = fit(demo_pipeline["link"].panel, params)
            assert res.status in ("fitted", "skipped") and (res.status == "fitted" or res.reason)
        return
    params = ModelParams(**{key: value, **extra})
    try:
        run = fit_models(demo_pipeline["link"].panel, params)
    except LinkageError as err:
        assert str(err) and "\n\n" not in str(err)
        return
    assert math.isfinite(run.headline["estimate"])


LINK_BOUNDS = [(k.split(".", 1)[1], v) for k, v in ALL_BOUNDS if k.startswith("link.")]


@pytest.mark.slow
@pytest.mark.parametrize(("key", "value"), LINK_BOUNDS, ids=[f"{k}={v}" for k, v in LINK_BOUNDS])
def test_every_link_bound_runs(demo_pipeline, key, value):
    from linkage.link import build_registry_for, run_link
    from linkage.paths import ODS_DIR

    params = LinkParams(**{key: value})
    folder = demo_pipeline["folder"]
    staff, patient = demo_pipeline["staff"], demo_pipeline["patient"]
    registry = build_registry_for(folder / ODS_DIR, params)
    import pandas as pd

    res = run_link(staff.tidy, patient.tidy, pd.concat([staff.orgs, patient.orgs]), registry, params,
                   rollups=pd.concat([staff.rollups, patient.rollups]))
    assert len(res.panel) and res.metrics["rows"]["reconciled"]
