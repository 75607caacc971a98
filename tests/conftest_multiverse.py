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


def dummy_design(frame: pd.DataFrame, family: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Full design (exposure first), dependent, sqrt weights and trust of each regression row."""
    trust = frame.index.get_level_values(0).to_numpy()
    year = frame.index.get_level_values(1).to_numpy()
    years = np.unique(year)
    tdum = (trust[:, None] == np.unique(trust)[None, :]).astype(float)
    ydum = (year[:, None] == years[None, 1:]).astype(float)
    x, y, w = frame["x"].to_numpy(), frame["y"].to_numpy(), frame["w"].to_numpy(dtype=float)
    w = w / w.mean()
    if family == "first_difference":
        pos = np.searchsorted(years, year)
        later = np.flatnonzero((trust[1:] == trust[:-1]) & (pos[1:] - pos[:-1] == 1)) + 1
        diff = lambda z: z[later] - z[later - 1]  # noqa: E731
        wd = 1.0 / (1.0 / w[later] + 1.0 / w[later - 1])
        design = np.column_stack([diff(x), diff(ydum)])
        return design, diff(y), np.sqrt(wd / wd.mean()), trust[later]
    cols = {
        "twoway_fe": [x[:, None], tdum, ydum],
        "entity_fe": [x[:, None], tdum],
        "pooled": [x[:, None], np.ones((len(x), 1)), ydum],
    }[family]
    return np.hstack(cols), y, np.sqrt(w), trust


def refit_draws(design, y, sw, trust, codes, v, factor, kind, beta0=0.0):
    """Bootstrap t statistics by refitting the full weighted regression once per draw."""
    xs, ys = design * sw[:, None], y * sw
    coef = np.linalg.lstsq(xs, ys, rcond=None)[0]
    if kind == "wcu":
        fitted, centre = xs @ coef, coef[0]
    else:  # restricted: the exposure's coefficient fixed at beta0, the rest refitted
        gamma = np.linalg.lstsq(xs[:, 1:], ys - xs[:, 0] * beta0, rcond=None)[0]
        fitted, centre = xs[:, 0] * beta0 + xs[:, 1:] @ gamma, beta0
    resid = ys - fitted
    cl = np.searchsorted(codes, trust)
    ystar = fitted[:, None] + resid[:, None] * v[:, cl].T            # (n, B)
    cstar = np.linalg.lstsq(xs, ystar, rcond=None)[0]               # every draw refitted
    estar = ystar - xs @ cstar
    row = np.linalg.pinv(xs)[0]                                      # exposure row of (X'X)^-1 X'
    groups = np.unique(cl)
    meat = sum(((row[cl == g, None] * estar[cl == g]).sum(0)) ** 2 for g in groups)
    t_star = (cstar[0] - centre) / np.sqrt(factor * meat)
    b = coef[0]
    e = ys - xs @ coef
    se = np.sqrt(factor * sum(float((row[cl == g] * e[cl == g]).sum()) ** 2 for g in groups))
    return t_star, (b - beta0) / se
