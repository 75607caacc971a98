"""Small panels and helpers for tests/test_multiverse*.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest_models import make_panel

from linkage.models._data import ModelFrame
from linkage.models._fit import fit_family
from linkage.multiverse import spec_frame
from linkage.params import Params

MERGED = {"R001", "R007"}


def mv_panel(seed: int = 3, n_trusts: int = 36, drop_share: float = 0.08) -> pd.DataFrame:
    """Unbalanced demo-like panel with two staff measures, specialist trusts and a gap pattern."""
    panel = make_panel(seed=seed, n_trusts=n_trusts, years=(2018, 2019, 2020, 2021, 2022), drop_share=drop_share)
    codes = sorted(panel["org_code"].unique())
    panel.loc[panel["org_code"].isin(codes[-5:]), "trust_type"] = "acute_specialist"
    return panel


def mv_params(**update):
    """The schema's multiverse section for the test panel's measures, with ``update`` applied."""
    base = {
        "staff_measures": ["staff.stress", "staff.engagement"],
        "patient_measures": ["patient.ip_overall"],
        "bootstrap_draws": 199,
        "bootstrap_specs": 4,
    }
    return Params().multiverse.model_copy(update={**base, **update})


def refit(panel: pd.DataFrame, spec: pd.Series, small_sample: str = "cr1", merged=None):
    """Estimate and SE of one specification refitted by linearmodels through ``linkage.models.fit_family``."""
    frame = spec_frame(panel, spec, merged).rename(columns={"x": "xv"})
    if spec["weights"] == "none":
        frame = frame.drop(columns="w")
    mf = ModelFrame(data=frame, terms=["xv"], n_candidate=len(frame))
    fit = fit_family(spec["family"], mf, cov_type=spec["cov_type"], small_sample=small_sample, time_effects=True)
    return float(fit.params["xv"]), float(np.sqrt(fit.cov.loc["xv", "xv"])), fit
