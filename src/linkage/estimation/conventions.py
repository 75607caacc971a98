"""Small-sample conventions for the coefficient covariance, written once.

Every model is fitted with *no* finite-sample scaling (linearmodels with ``debiased=False``,
``group_debias=False`` and, for ``PanelOLS``, ``auto_df=False, count_effects=False``; the
curve's engine computes the same raw sandwich), which gives

    V_raw = (X'X)^-1 S (X'X)^-1

(X the transformed regressors; S the sum of outer products of the cluster score sums, of the
squared scores, or the kernel-weighted time sums; for ``unadjusted``, S = (e'e / n) X'X).  The
reported covariance is ``c * V_raw`` and the reference distribution is Student t with ``df``
degrees of freedom (normal if ``df`` is None / infinite), where c and df depend on the convention:

``cr1`` (default; Stata ``xtreg, fe vce(cluster)`` / ``reghdfe`` style)
    clustered by trust:   c = G/(G-1) * (n-1)/(n-K),  df = G-1
    clustered two-way:    G = min(G_trust, G_year), same c, df = G-1
    robust, unadjusted:   c = n/(n-K),                df = n-K
    Driscoll-Kraay:       c = n/(n-K),                df = T-1
    K counts the columns of the transformed regression (slopes, the constant, year dummies)
    plus the absorbed fixed effects that are *not* nested in a cluster variable (trust effects
    are nested in trust clusters; year effects in year clusters); with robust, unadjusted and
    Driscoll-Kraay every absorbed effect is counted.
``linearmodels``
    linearmodels' ``debiased=True, auto_df=True, group_debias=False``: c = n/(n-K-E),
    df = n-K-D, where D is the number of absorbed effects and E = D except when the model has a
    single absorbed effect nested in every cluster variable (E = 0).  With two-way fixed effects
    the trust effects are counted even when clustering by trust, which inflates clustered SEs in
    short panels (c ~ n/(n-N) ~ T/(T-1)).
``none``
    c = 1, normal reference distribution.

:func:`scaling_arrays` is the implementation (vectorised over fits, as the curve needs it);
:func:`scaling` applies it to one fit and turns an impossible case into a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LinkageDataError
from ..vocab import COV_TEXT


@dataclass(frozen=True)
class Scaling:
    """Result of :func:`scaling`: covariance factor, reference df (None = normal) and the K used."""

    factor: float
    df: float | None
    k: int


def scaling_arrays(
    convention: str,
    cov_type: str,
    *,
    n: np.ndarray,
    k_cols: np.ndarray,
    entity_effects: np.ndarray,
    time_effects: np.ndarray,
    g_entity: np.ndarray,
    g_time: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Covariance factor ``c``, reference df (``inf`` = normal) and K for many fits at once.

    Parameters
    ----------
    convention : {'cr1', 'linearmodels', 'none'}
        Small-sample convention.
    cov_type : {'clustered_entity', 'clustered_twoway', 'driscoll_kraay', 'robust', 'unadjusted'}
        Covariance of every fit in the batch.
    n, k_cols, entity_effects, time_effects, g_entity, g_time : array_like
        Per fit: observations of the regression as fitted, its columns (constant and year dummies
        included), absorbed trust and year effects (levels less one when the model has a constant,
        as linearmodels counts them; 0 if not absorbed), and trust and year clusters.

    Returns
    -------
    factor, df, k : ndarray
        ``NaN`` factor where the fit has no residual degrees of freedom or fewer than two clusters
        (the curve lists those specifications as unsupported; :func:`scaling` raises).
    """
    n = np.asarray(n, float)
    k_cols = np.asarray(k_cols, float)
    ee = np.asarray(entity_effects, float)
    te = np.asarray(time_effects, float)
    if convention == "none":
        return np.ones_like(n), np.full_like(n, np.inf), k_cols
    if convention == "cr1":
        g = None
        if cov_type == "clustered_entity":
            k, g = k_cols + te, np.asarray(g_entity, float)
        elif cov_type == "clustered_twoway":
            k, g = k_cols, np.minimum(np.asarray(g_entity, float), np.asarray(g_time, float))
        else:
            k = k_cols + ee + te
        with np.errstate(divide="ignore", invalid="ignore"):
            if g is not None:
                factor = np.where((n - k > 0) & (g >= 2), g / (g - 1) * (n - 1) / (n - k), np.nan)
                return factor, g - 1, k
            factor = np.where(n - k > 0, n / (n - k), np.nan)
        df = np.asarray(g_time, float) - 1 if cov_type == "driscoll_kraay" else n - k
        return factor, df, k
    if convention == "linearmodels":
        absorbed = ee + te
        nested = (ee > 0) & (te == 0) & (cov_type == "clustered_entity")
        extra = np.where(nested, 0.0, absorbed)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(n - k_cols - absorbed > 0, n / (n - k_cols - extra), np.nan)
        return factor, n - k_cols - absorbed, k_cols + extra
    raise ValueError(f"unknown small-sample convention {convention!r}")


def scaling(
    convention: str,
    cov_type: str,
    *,
    n: int,
    k_cols: int,
    entity_effects: int,
    time_effects: int,
    g_entity: int,
    g_time: int,
) -> Scaling:
    """Covariance factor ``c`` and reference df for one fitted model (arguments as :func:`scaling_arrays`).

    Raises
    ------
    LinkageDataError
        When the fit has no residual degrees of freedom, or a clustered covariance has fewer
        than two clusters.
    """
    factor, df, k = (float(a[0]) for a in scaling_arrays(
        convention, cov_type, n=[n], k_cols=[k_cols], entity_effects=[entity_effects],
        time_effects=[time_effects], g_entity=[g_entity], g_time=[g_time]))
    if np.isnan(factor):
        if convention == "linearmodels":
            raise LinkageDataError(f"no residual degrees of freedom: n={n}, K={k_cols}, "
                                   f"effects={entity_effects + time_effects}")
        if n - k <= 0:
            raise LinkageDataError(f"no residual degrees of freedom: n={n} observations, K={int(k)} parameters")
        g = g_entity if cov_type == "clustered_entity" else min(g_entity, g_time)
        raise LinkageDataError(f"{COV_TEXT[cov_type]} standard errors need at least 2 clusters; the sample has {g}")
    return Scaling(factor, None if np.isinf(df) else df, int(k))
