"""Small-sample conventions of the curve: the same factors and df as ``linkage.models._cov``.

Kept here (vectorised over specifications) because the multiverse is a domain
module that imports only the foundation; ``tests/test_multiverse_engine.py``
checks it against :func:`linkage.models._cov.scaling` on a grid of cases.
"""

from __future__ import annotations

import numpy as np


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
        Small-sample convention (see ``docs/models.md``).
    cov_type : {'clustered_entity', 'robust', 'unadjusted'}
        Covariance of every fit in the batch.
    n, k_cols, entity_effects, time_effects, g_entity, g_time : ndarray
        Per fit: observations, columns of the regression (constant and year
        dummies included), absorbed trust and year effects (levels less one),
        and trust and year clusters.

    Returns
    -------
    factor, df, k : ndarray
        ``NaN`` factor where the fit has no residual degrees of freedom or fewer than
        two clusters (the caller lists those specifications as unsupported).
    """
    n = np.asarray(n, float)
    k_cols = np.asarray(k_cols, float)
    ee = np.asarray(entity_effects, float)
    te = np.asarray(time_effects, float)
    if convention == "none":
        return np.ones_like(n), np.full_like(n, np.inf), k_cols
    if convention == "cr1":
        if cov_type == "clustered_entity":
            k = k_cols + te
            g = np.asarray(g_entity, float)
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = g / (g - 1) * (n - 1) / (n - k)
            factor = np.where((n - k > 0) & (g >= 2), factor, np.nan)
            return factor, g - 1, k
        k = k_cols + ee + te
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(n - k > 0, n / (n - k), np.nan)
        return factor, n - k, k
    if convention == "linearmodels":
        absorbed = ee + te
        nested = (ee > 0) & (te == 0) & (cov_type == "clustered_entity")
        extra = np.where(nested, 0.0, absorbed)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(n - k_cols - absorbed > 0, n / (n - k_cols - extra), np.nan)
        return factor, n - k_cols - absorbed, k_cols + extra
    raise ValueError(f"unknown small-sample convention {convention!r}")
