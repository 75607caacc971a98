"""Multilevel model: trust-years within trusts within NHS regions (or ICBs).

``y_rit = b0 + bW (x_rit - xbar_ri) + bB xbar_ri + year_t + u_r + v_ri [+ s_ri (x_rit - xbar_ri)] + e_rit``

* random intercepts for the region (or ICB) ``u_r`` and for the trust within it ``v_ri``;
* optionally a random slope of the exposure's within-trust deviation by trust ``s_ri``,
  uncorrelated with the intercepts (lme4 ``(0 + x_within | trust)``);
* the within-between (hybrid, Mundlak-style) split of the exposure and of every covariate: the
  trust's mean over its sample years and the year's deviation from it, so ``bW`` is the
  within-trust association (the fixed-effects estimate's estimand) and ``bB`` the association
  between trusts' averages;
* year effects (dummies) when ``model.time_effects``.

Fitted by REML (or ML) with statsmodels ``MixedLM``; ``tests/test_multilevel.py`` checks the fixed
effects (1e-6) and variance components (1e-4) against R lme4. Standard errors are model-based
(they assume the random-effects structure is right). With few regions the region variance is
poorly determined: the model is refused below ``multilevel.min_groups`` groups.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..params import ModelParams
from ._sample import Sample, headline_sample

LEVEL_TEXT = {"region": "NHS region", "icb": "integrated care board (ICB)"}


def hybrid_frame(sample: Sample, time_effects: bool) -> tuple[pd.DataFrame, list[str]]:
    """The sample with the trust mean (``__between``) and deviation (``__within``) of the exposure
    and covariates, year dummies, and the fixed-effect column names in order."""
    df = sample.data.copy()
    fixed = []
    for col, name in [("x", "x"), *[(c, c) for c in sample.covariates]]:
        mean = df.groupby("org_code")[col].transform("mean")
        df[f"{name}__within"] = df[col] - mean
        df[f"{name}__between"] = mean
        fixed += [f"{name}__within", f"{name}__between"]
    if time_effects:
        for y in sample.years[1:]:
            df[f"year_{y}"] = (df["year"] == y).astype(float)
            fixed.append(f"year_{y}")
    return df, fixed


@dataclass
class MultilevelResult:
    """The multilevel fit (``status`` ``fitted`` or ``skipped`` with ``reason``)."""

    status: str
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    fixed: pd.DataFrame | None = None
    params: ModelParams | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-able numbers for ``metrics/`` and the site."""
        return {"status": self.status, **({"reason": self.reason} if self.reason else {}), **self.stats}

    def rows(self) -> pd.DataFrame:
        """The exposure's within and between fixed effects in the model_results.csv schema."""
        from ._run import RESULT_COLUMNS

        if self.status != "fitted" or self.fixed is None or self.params is None:
            return pd.DataFrame(columns=RESULT_COLUMNS)
        m, s = self.params, self.stats
        rows = []
        for term, effect in (("x__within", "within"), ("x__between", "between")):
            r = self.fixed.loc[term]
            rows.append({"model": "multilevel", "model_label": s["label"], "spec_name": "headline",
                         "direction": "forward", "lag": m.lag, "dependent": m.dependent, "regressor": m.exposure,
                         "term": m.exposure if effect == "within" else f"{m.exposure} (trust mean)",
                         "effect": effect, "estimate": r["estimate"], "std_error": r["std_error"],
                         "ci_low": r["ci_low"], "ci_high": r["ci_high"], "p_value": r["p_value"],
                         "statistic": r["estimate"] / r["std_error"], "n_obs": s["n_obs"],
                         "n_entities": s["n_trusts"], "n_periods": s["n_years"], "cov_type": "model_based",
                         "small_sample": "none", "weights": "none", "alpha": m.alpha, "headline": False,
                         "role": "multilevel"})
        return pd.DataFrame(rows).reindex(columns=RESULT_COLUMNS)


def _refusal(sample: Sample, level: str, min_groups: int) -> str:
    col = sample.data[level]
    n_groups = int(col[col != ""].nunique())
    if n_groups < min_groups:
        missing = int(sample.data.loc[col == "", "org_code"].nunique())
        why = f"{n_groups} {LEVEL_TEXT[level]}s in the headline sample"
        why += f" ({missing} trusts without one)" if missing else ""
        return f"{why}; a random effect needs at least multilevel.min_groups = {min_groups}"
    return ""


def _components(df: pd.DataFrame, level: str, random_slope: bool) -> dict[str, dict[Any, np.ndarray]]:
    """MixedLM ``exog_vc``: per group, a trust-dummy block (and the dummies times the within deviation)."""
    vc: dict[str, dict[Any, np.ndarray]] = {"trust": {}, **({"slope": {}} if random_slope else {})}
    for g, rows in df.groupby(level, sort=True).groups.items():
        sub = df.loc[rows]
        dummies = pd.get_dummies(sub["org_code"], dtype=float).to_numpy()
        vc["trust"][g] = dummies
        if random_slope:
            vc["slope"][g] = dummies * sub["x__within"].to_numpy()[:, None]
    return vc


def fit_mixed(df: pd.DataFrame, fixed: list[str], level: str, random_slope: bool, reml: bool):
    """statsmodels MixedLM: group random intercept, trust variance component (and slope)."""
    # the model module alone: ``statsmodels.api`` would also import its time-series and graphics code
    from statsmodels.regression.mixed_linear_model import MixedLM

    df = df.sort_values([level, "org_code", "year"]).reset_index(drop=True)
    exog = pd.DataFrame(df[fixed].to_numpy(dtype=float), columns=fixed)
    exog.insert(0, "intercept", 1.0)
    with warnings.catch_warnings():  # a variance at zero is reported in the summary's "boundary"
        warnings.simplefilter("ignore")  # (and statsmodels calls the dict-of-blocks exog_vc "deprecated")
        model = MixedLM(df["y"].to_numpy(dtype=float), exog, groups=df[level].to_numpy(),
                           exog_re=np.ones((len(df), 1)), exog_vc=_components(df, level, random_slope))
        return model.fit(reml=reml, method=["lbfgs"], gtol=1e-10)


def fit_multilevel(panel: pd.DataFrame, m: ModelParams) -> MultilevelResult:
    """Multilevel hybrid model of the headline specification (see the module notes)."""
    ml = m.multilevel
    if not ml.enabled:
        return MultilevelResult("skipped", "multilevel.enabled is false")
    if m.weights is not None:
        return MultilevelResult("skipped", "the headline is weighted; the multilevel model is fitted unweighted only")
    sample = headline_sample(panel, m)
    if (sample.data[ml.level] == "").all():
        return MultilevelResult("skipped", f"the panel has no {LEVEL_TEXT[ml.level]} for any trust "
                                "(no regions file among the ODS files)")
    reason = _refusal(sample, ml.level, ml.min_groups)
    if reason:
        return MultilevelResult("skipped", reason)
    n_without = int(sample.data.loc[sample.data[ml.level] == "", "org_code"].nunique())
    sample.data = sample.data[sample.data[ml.level] != ""].reset_index(drop=True)
    df, fixed = hybrid_frame(sample, m.time_effects)
    res = fit_mixed(df, fixed, ml.level, ml.random_slope, ml.method == "reml")
    return _result(res, sample, fixed, m, n_without)


def _result(res, sample: Sample, fixed: list[str], m: ModelParams, n_without: int) -> MultilevelResult:
    from scipy import stats

    ml = m.multilevel
    names = ["intercept", *fixed]
    fe = np.asarray(res.fe_params)
    se = np.sqrt(np.diag(np.asarray(res.cov_params()))[: len(fe)])
    z = stats.norm.ppf(1 - m.alpha / 2)
    table = pd.DataFrame({"estimate": fe, "std_error": se, "ci_low": fe - z * se, "ci_high": fe + z * se,
                          "p_value": 2 * stats.norm.sf(np.abs(fe / se))}, index=names)
    vcomp = dict(zip(res.model.exog_vc.names, np.asarray(res.vcomp), strict=True))
    var = {ml.level: float(np.asarray(res.cov_re)[0, 0]), "trust": float(vcomp["trust"]),
           **({"slope": float(vcomp["slope"])} if ml.random_slope else {}), "residual": float(res.scale)}
    intercepts = var[ml.level] + var["trust"] + var["residual"]
    label = (f"multilevel: trust-years in trusts in {LEVEL_TEXT[ml.level]}s, within-between split"
             + (", random slope" if ml.random_slope else "") + (", year effects" if m.time_effects else ""))
    st = {
        "label": label, "level": ml.level, "method": ml.method, "random_slope": ml.random_slope,
        "n_obs": len(sample.data), "n_trusts": sample.n_trusts, "n_years": len(sample.years),
        "n_groups": int(sample.data[ml.level].nunique()), "trusts_without_group": n_without,
        "within": float(table.at["x__within", "estimate"]), "within_se": float(table.at["x__within", "std_error"]),
        "between": float(table.at["x__between", "estimate"]), "between_se": float(table.at["x__between", "std_error"]),
        "variance": var, "share": {k: var[k] / intercepts for k in (ml.level, "trust", "residual")},
        "converged": bool(res.converged), "log_likelihood": float(res.llf),
        "boundary": [k for k, v in var.items() if k != "residual" and v < 1e-8 * var["residual"]],
    }
    return MultilevelResult("fitted", "", st, table, m)
