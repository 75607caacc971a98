"""The headline with standard errors clustered by NHS region, and a wild cluster bootstrap.

There are seven NHS regions: a cluster-robust t with G - 1 = 6 degrees of freedom over-rejects
with so few clusters, so the p-value and interval to read are the restricted wild cluster
bootstrap's (WCR, null imposed, Webb six-point weights, interval by test inversion), computed by
:func:`linkage.multiverse.wild_cluster_bootstrap` - the same code as the curve's trust bootstrap;
its algebra holds because trusts are nested in regions (a region's weight is constant within
each trust). The regression is the headline's (:func:`.sensitivity.design`: trust effects
absorbed, year dummies and covariates as the nuisance columns), CR1 scaling
``G/(G-1) * (n-1)/(n-K)`` with the trust effects (nested in the regions) not counted in K.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..params import ModelParams
from ._sample import headline_sample
from .sensitivity import SUPPORTED, design


@dataclass
class RegionClusterResult:
    """Region-clustered headline (``status`` ``fitted`` or ``skipped`` with ``reason``)."""

    status: str
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    params: ModelParams | None = None

    def summary(self) -> dict[str, Any]:
        return {"status": self.status, **({"reason": self.reason} if self.reason else {}), **self.stats}

    def rows(self) -> pd.DataFrame:
        """The analytic and the bootstrap rows in the model_results.csv schema."""
        from ._run import RESULT_COLUMNS

        if self.status != "fitted" or self.params is None:
            return pd.DataFrame(columns=RESULT_COLUMNS)
        m, s = self.params, self.stats
        base = {"spec_name": "headline", "direction": "forward", "lag": m.lag, "dependent": m.dependent,
                "regressor": m.exposure, "term": m.exposure, "effect": "slope", "estimate": s["estimate"],
                "n_obs": s["n_obs"], "n_entities": s["n_trusts"], "cov_type": "clustered_region",
                "small_sample": "cr1", "weights": "none", "alpha": m.alpha, "headline": False, "role": "region_cluster"}
        return pd.DataFrame([
            {**base, "model": "region_cluster", "model_label": f"{s['family']}, clustered by {s['n_regions']} regions",
             "std_error": s["std_error"], "ci_low": s["ci_low"], "ci_high": s["ci_high"], "p_value": s["p_value"],
             "statistic": s["estimate"] / s["std_error"], "df": s["n_regions"] - 1},
            {**base, "model": "region_wild_bootstrap",
             "model_label": f"{s['family']}, wild cluster bootstrap by region (WCR, {s['weights']}, {s['reps']} draws)",
             "std_error": s["std_error"], "ci_low": s["boot_ci_low"], "ci_high": s["boot_ci_high"],
             "p_value": s["boot_p_value"]},
        ]).reindex(columns=RESULT_COLUMNS)


def partialled(y: np.ndarray, d: np.ndarray, nuisance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``y~``, ``x~`` and an orthonormal basis ``Q`` of the nuisance columns (after any absorbed effects)."""
    if nuisance.shape[1] == 0:
        return y, d, np.zeros((len(y), 0))
    u, sv, _ = np.linalg.svd(nuisance, full_matrices=False)
    q = u[:, sv > sv.max() * 1e-10]
    return y - q @ (q.T @ y), d - q @ (q.T @ d), q


def cluster_sums(z: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-cluster column sums of ``z`` ((n,) or (n, K)) in the order of ``np.unique(codes)``."""
    _, inv = np.unique(codes, return_inverse=True)
    out = np.zeros((inv.max() + 1,) + z.shape[1:])
    np.add.at(out, inv, z)
    return out


def fit_region_cluster(panel: pd.DataFrame, m: ModelParams, *, v: np.ndarray | None = None) -> RegionClusterResult:
    """Region-clustered headline with the WCR bootstrap; ``v`` (draws x regions) overrides the drawn weights."""
    from scipy import stats

    from ..multiverse import draw_weights, wild_cluster_bootstrap

    rc = m.region_cluster
    if not rc.enabled:
        return RegionClusterResult("skipped", "model.region_cluster.enabled is false")
    if m.headline_family not in SUPPORTED or m.weights is not None:
        return RegionClusterResult("skipped", f"supported for unweighted {', '.join(SUPPORTED)} headlines")
    sample = headline_sample(panel, m)
    sample.data = sample.data[sample.data["region"] != ""].reset_index(drop=True)
    n_regions = int(sample.data["region"].nunique())
    if n_regions < 3:
        return RegionClusterResult("skipped", f"{n_regions} NHS regions in the headline sample; clustering needs at least 3")
    des = design(sample, m.headline_family, m.time_effects)
    yt, xt, q = partialled(des.y, des.d, des.x)
    g = sample.data["region"].to_numpy()
    n, k = len(yt), 1 + q.shape[1]
    sxx = float(xt @ xt)
    est = float(xt @ yt) / sxx
    factor = n_regions / (n_regions - 1) * (n - 1) / (n - k)
    score = cluster_sums(xt * (yt - xt * est), g)
    se = float(np.sqrt(factor * (score @ score))) / sxx
    crit = float(stats.t.ppf(1 - m.alpha / 2, n_regions - 1))
    draws = draw_weights("webb", rc.bootstrap_reps, n_regions, rc.seed) if v is None else v
    boot = wild_cluster_bootstrap(
        np.array([est]), np.array([se]), score[:, None], cluster_sums(xt * xt, g)[:, None], cluster_sums(xt * yt, g)[:, None],
        np.array([sxx]), np.array([factor]), draws, "wcr", m.alpha,
        qy=cluster_sums(q * yt[:, None], g)[:, None, :], qx=cluster_sums(q * xt[:, None], g)[:, None, :])
    return RegionClusterResult("fitted", "", {
        "family": m.headline_family, "n_obs": n, "n_trusts": sample.n_trusts, "n_regions": n_regions,
        "estimate": est, "std_error": se, "ci_low": est - crit * se, "ci_high": est + crit * se,
        "p_value": float(2 * stats.t.sf(abs(est / se), n_regions - 1)),
        "boot_p_value": float(boot["p_value"][0]), "boot_ci_low": float(boot["ci_low"][0]),
        "boot_ci_high": float(boot["ci_high"][0]), "reps": int(len(draws)),
        "weights": "Webb six-point" if v is None else "given", "few_clusters": n_regions < rc.few_clusters,
    }, m)
