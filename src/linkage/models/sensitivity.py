"""Sensitivity of the headline to an unmeasured confounder (Cinelli and Hazlett 2020).

Omitted-variable bias in partial-R-squared terms, on the headline design's own regression:

* ``r2yd_x`` - partial R-squared of the exposure with the outcome, ``t^2 / (t^2 + dof)``;
* ``rv_q`` - robustness value: the share of the residual variance of *both* the exposure
  and the outcome a confounder would have to explain to move the estimate by ``q`` times
  itself (``q = 1``: to zero);
* ``rv_qa`` - the same for moving it to where its ``1 - alpha`` interval just reaches zero;
* bounds: the bias-adjusted estimate for a confounder ``kd`` times as strongly related to the
  exposure (and to the outcome, ``ky = kd``) as an observed benchmark - the strongest covariate
  when the model has covariates, otherwise the year effects as one group.

Fixed effects are absorbed: the exposure, outcome, covariates and year dummies are demeaned
within trusts (two-way and entity fixed effects) and the degrees of freedom are
``n - trusts - rank(demeaned regressors)``, which is the residual df of the same regression with
trust dummies (``df_resid`` of the LSDV fit sensemakr reads). The t statistic is the classical
(homoskedastic) one the partial-R-squared algebra rests on, not the clustered headline interval.
``tests/test_sensitivity.py`` checks every number against PySensemakr on the LSDV regression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..params import ModelParams
from ._sample import Sample, headline_sample

#: Headline families the sensitivity analysis supports (a linear regression with absorbed effects).
SUPPORTED = ("pooled", "entity_fe", "twoway_fe")


def _demean(z: np.ndarray, codes: np.ndarray) -> np.ndarray:
    _, inv = np.unique(codes, return_inverse=True)
    sums = np.zeros((inv.max() + 1, z.shape[1]))
    np.add.at(sums, inv, z)
    counts = np.bincount(inv).astype(float)
    return z - (sums / counts[:, None])[inv]


def _rss(y: np.ndarray, x: np.ndarray) -> float:
    if x.shape[1] == 0:
        return float(y @ y)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ beta
    return float(r @ r)


@dataclass
class Design:
    """The absorbed regression: outcome ``y``, exposure ``d``, other regressors ``x`` (named),
    the benchmark column groups, residual df and what was absorbed."""

    y: np.ndarray
    d: np.ndarray
    x: np.ndarray
    names: list[str]
    groups: dict[str, list[int]]
    dof: int
    absorbed: str


def design(sample: Sample, family: str, time_effects: bool) -> Design:
    """The headline family's regression with its fixed effects absorbed (see the module notes)."""
    df = sample.data
    years = sorted(df["year"].unique())
    use_years = family == "twoway_fe" or (family == "pooled" and time_effects)
    dummies = [(df["year"] == yr).to_numpy(dtype=float) for yr in years[1:]] if use_years else []
    cols = [df[c].to_numpy(dtype=float) for c in sample.covariates] + dummies
    names = list(sample.covariates) + [f"year_{y}" for y in years[1:]] * bool(use_years)
    z = np.column_stack([df["y"], df["x"], *cols]).astype(float)
    if family == "pooled":
        z = np.column_stack([z, np.ones(len(z))])
        names.append("intercept")
        absorbed, n_absorbed = "nothing (an intercept)", 0
    else:
        z = _demean(z, df["org_code"].to_numpy())
        n_absorbed = sample.n_trusts
        absorbed = "trust effects" + (" and year effects" if family == "twoway_fe" else "")
    y, d, x = z[:, 0], z[:, 1], z[:, 2:]
    groups = {c: [i] for i, c in enumerate(sample.covariates)}
    if dummies:
        groups["year effects"] = list(range(len(sample.covariates), len(sample.covariates) + len(dummies)))
    dof = len(y) - n_absorbed - int(np.linalg.matrix_rank(np.column_stack([d, x])))
    return Design(y=y, d=d, x=x, names=names, groups=groups, dof=dof, absorbed=absorbed)


def robustness_value(t: float, dof: int, q: float = 1.0, alpha: float | None = None) -> float:
    """Cinelli-Hazlett robustness value RV_q (``alpha=None``) or RV_{q,alpha}."""
    fq = q * abs(t) / np.sqrt(dof)
    if alpha is None:
        return float(0.5 * (np.sqrt(fq**4 + 4 * fq**2) - fq**2))
    from scipy import stats

    f_crit = abs(stats.t.ppf(alpha / 2, dof - 1)) / np.sqrt(dof - 1)
    fqa = fq - f_crit
    if fqa < 0:
        return 0.0
    if fq > 1 / f_crit:
        return float((fq**2 - f_crit**2) / (1 + fq**2))
    return float(0.5 * (np.sqrt(fqa**4 + 4 * fqa**2) - fqa**2))


def benchmark_r2(des: Design, cols: list[int]) -> tuple[float, float]:
    """Partial R-squared of a benchmark group with the exposure (given the other regressors) and
    with the outcome (given the exposure and the other regressors)."""
    others = np.delete(des.x, cols, axis=1)
    r2d = 1 - _rss(des.d, des.x) / _rss(des.d, others)
    full = np.column_stack([des.d, des.x])
    r2y = 1 - _rss(des.y, full) / _rss(des.y, np.column_stack([des.d, others]))
    return float(r2d), float(r2y)


def bound(kd: float, r2dxj: float, r2yxj: float, est: float, se: float, dof: int, alpha: float) -> dict[str, Any]:
    """Bias-adjusted estimate for a confounder ``kd`` times the benchmark (``ky = kd``), reduced toward zero."""
    from scipy import stats

    r2dz = kd * r2dxj / (1 - r2dxj)
    r2zxj = kd * r2dxj**2 / ((1 - kd * r2dxj) * (1 - r2dxj)) if kd * r2dxj < 1 else np.inf
    if r2dz >= 1 or r2zxj >= 1:
        return {"kd": kd, "admissible": False, "r2dz_x": float(r2dz)}
    r2yz_raw = ((np.sqrt(kd) + np.sqrt(r2zxj)) / np.sqrt(1 - r2zxj)) ** 2 * r2yxj / (1 - r2yxj)
    r2yz = min(1.0, float(r2yz_raw))  # capped as sensemakr does: such a confounder explains all of the outcome
    bias = se * np.sqrt(r2yz * r2dz / (1 - r2dz)) * np.sqrt(dof)
    adj = float(np.sign(est) * (abs(est) - bias))
    adj_se = float(np.sqrt((1 - r2yz) / (1 - r2dz)) * se * np.sqrt(dof / (dof - 1)))
    crit = float(stats.t.ppf(1 - alpha / 2, dof - 1))
    return {"kd": kd, "admissible": True, "r2dz_x": float(r2dz), "r2yz_dx": float(r2yz),
            "adjusted_estimate": adj, "adjusted_se": adj_se, "adjusted_t": adj / adj_se if adj_se > 0 else None,
            "r2yz_capped": bool(r2yz_raw > 1),
            "ci_low": adj - crit * adj_se, "ci_high": adj + crit * adj_se,
            "crosses_zero": bool(np.sign(adj) != np.sign(est) or adj - crit * adj_se <= 0 <= adj + crit * adj_se)}


@dataclass
class SensitivityResult:
    """The sensitivity analysis of the headline (``status`` ``fitted`` or ``skipped`` with ``reason``)."""

    status: str
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    bounds: list[dict[str, Any]] = field(default_factory=list)
    params: ModelParams | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-able numbers for ``metrics/`` and the site."""
        out: dict[str, Any] = {"status": self.status}
        if self.reason:
            out["reason"] = self.reason
        return {**out, **self.stats, "bounds": list(self.bounds)}

    def rows(self) -> pd.DataFrame:
        """The unadjusted estimate and each admissible bound, in the model_results.csv schema."""
        from ._run import RESULT_COLUMNS

        if self.status != "fitted" or self.params is None:
            return pd.DataFrame(columns=RESULT_COLUMNS)
        m, s = self.params, self.stats
        base = {"spec_name": "headline", "direction": "forward", "lag": m.lag, "dependent": m.dependent,
                "regressor": m.exposure, "term": m.exposure, "effect": "slope", "n_obs": s["n_obs"],
                "n_entities": s["n_trusts"], "cov_type": "unadjusted", "small_sample": "none",
                "weights": "none", "alpha": m.alpha, "headline": False, "role": "sensitivity"}
        rows = [{**base, "model": "sensitivity", "model_label": f"{s['family']}, classical OLS (sensitivity base)",
                 "estimate": s["estimate"], "std_error": s["std_error"], "statistic": s["t"], "df": s["dof"],
                 "ci_low": s["ci_low"], "ci_high": s["ci_high"]}]
        for b in self.bounds:
            # a bound whose confounder would explain all of the outcome's residual variance has no standard
            # error (zero residual variance): it is said in words (model_notes.json, summary), not given a row
            if b["admissible"] and not b.get("r2yz_capped") and (b["adjusted_se"] or 0) > 0:
                rows.append({**base, "model": f"sensitivity_kd{b['kd']:g}",
                             "model_label": f"adjusted for a confounder {b['kd']:g}x {s['benchmark']}",
                             "estimate": b["adjusted_estimate"], "std_error": b["adjusted_se"],
                             "statistic": b["adjusted_t"], "df": s["dof"] - 1,
                             "ci_low": b["ci_low"], "ci_high": b["ci_high"]})
        return pd.DataFrame(rows).reindex(columns=RESULT_COLUMNS)


def _strongest(des: Design, est: float, se: float) -> tuple[str, float, float] | None:
    """The benchmark with the largest bias at kd = 1: each covariate, else the year effects group."""
    names = [c for c in des.groups if c != "year effects"] or [c for c in des.groups]
    best = None
    for name in names:
        r2d, r2y = benchmark_r2(des, des.groups[name])
        b = bound(1, r2d, r2y, est, se, des.dof, 0.05)
        size = abs(est - b["adjusted_estimate"]) if b["admissible"] else np.inf
        if best is None or size > best[0]:
            best = (size, name, r2d, r2y)
    return None if best is None else best[1:]


def fit_sensitivity(panel: pd.DataFrame, m: ModelParams) -> SensitivityResult:
    """Cinelli-Hazlett sensitivity of the headline design (see the module notes)."""
    if not m.sensitivity.enabled:
        return SensitivityResult("skipped", "model.sensitivity.enabled is false")
    if m.headline_family not in SUPPORTED:
        return SensitivityResult("skipped", f"the headline family {m.headline_family} is not a single linear regression "
                                 f"(the analysis supports {', '.join(SUPPORTED)})")
    if m.weights is not None:
        return SensitivityResult("skipped", "the headline is weighted; the partial R-squared bounds are for unweighted OLS")
    sample = headline_sample(panel, m)
    des = design(sample, m.headline_family, m.time_effects)
    if des.dof < 3:
        return SensitivityResult("skipped", f"{des.dof} residual degrees of freedom")
    full = np.column_stack([des.d, des.x])
    beta, *_ = np.linalg.lstsq(full, des.y, rcond=None)
    resid = des.y - full @ beta
    sigma2 = float(resid @ resid) / des.dof
    xtx_inv = np.linalg.pinv(full.T @ full)
    est, se = float(beta[0]), float(np.sqrt(sigma2 * xtx_inv[0, 0]))
    t = est / se
    from scipy import stats

    crit = float(stats.t.ppf(1 - m.alpha / 2, des.dof))
    st: dict[str, Any] = {
        "family": m.headline_family, "absorbed": des.absorbed, "n_obs": len(des.y), "n_trusts": sample.n_trusts,
        "estimate": est, "std_error": se, "t": t, "dof": des.dof, "ci_low": est - crit * se, "ci_high": est + crit * se,
        "alpha": m.alpha, "r2yd_x": t**2 / (t**2 + des.dof), "rv_q1": robustness_value(t, des.dof),
        "rv_q1_alpha": robustness_value(t, des.dof, alpha=m.alpha),
    }
    strongest = _strongest(des, est, se)
    if strongest is None:
        return SensitivityResult("fitted", "no observed covariate or year effects to benchmark against",
                                 {**st, "benchmark": None}, [], m)
    name, r2d, r2y = strongest
    st.update(benchmark=name, benchmark_kind="year_effects" if name == "year effects" else "covariate",
              r2dxj_x=r2d, r2yxj_dx=r2y)
    return SensitivityResult("fitted", "", st, [bound(k, r2d, r2y, est, se, des.dof, m.alpha) for k in m.sensitivity.kd], m)
