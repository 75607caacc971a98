"""Small-sample conventions for the coefficient covariance, made explicit.

Every model is fitted by linearmodels with *no* finite-sample scaling
(``debiased=False``, ``group_debias=False`` and, for ``PanelOLS``,
``auto_df=False, count_effects=False``), which gives the plain sandwich

    V_raw = (X'X)^-1 S (X'X)^-1

(X the transformed regressors; S the sum of outer products of the cluster score
sums, of the squared scores, or the kernel-weighted time sums; for
``unadjusted``, S = (e'e / n) X'X).  The reported covariance is ``c * V_raw`` and
the reference distribution is Student t with ``df`` degrees of freedom (normal
if ``df`` is None), where c and df depend on the convention:

``cr1`` (default; Stata ``xtreg, fe vce(cluster)`` / ``reghdfe`` style)
    clustered by trust:   c = G/(G-1) * (n-1)/(n-K),  df = G-1
    clustered two-way:    G = min(G_trust, G_year), same c, df = G-1
    robust, unadjusted:   c = n/(n-K),                df = n-K
    Driscoll-Kraay:       c = n/(n-K),                df = T-1
    K counts the columns of the transformed regression (slopes, the constant,
    year dummies) plus the absorbed fixed effects that are *not* nested in a
    cluster variable (trust effects are nested in trust clusters; year effects
    in year clusters); with robust/unadjusted/Driscoll-Kraay every absorbed
    effect is counted.
``linearmodels``
    linearmodels' ``debiased=True, auto_df=True, group_debias=False``:
    c = n/(n-K-E), df = n-K-D, where D is the number of absorbed effects and
    E = D except when the model has a single absorbed effect nested in every
    cluster variable (E = 0).  With two-way fixed effects the trust effects are
    counted even when clustering by trust, which inflates clustered SEs in
    short panels (c ~ n/(n-N) ~ T/(T-1)).
``none``
    c = 1, normal reference distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LinkageDataError
from ..vocab import COV_TEXT


@dataclass(frozen=True)
class Scaling:
    """Result of :func:`scaling`: covariance factor, reference df and the K used."""

    factor: float
    df: float | None
    k: int


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
    """Covariance factor ``c`` and reference df for one fitted model.

    Parameters
    ----------
    convention : {'cr1', 'linearmodels', 'none'}
        Small-sample convention.
    cov_type : str
        Covariance actually used (``clustered_entity``, ``clustered_twoway``,
        ``driscoll_kraay``, ``robust``, ``unadjusted``).
    n : int
        Observations of the transformed regression.
    k_cols : int
        Columns of the transformed regression (incl. constant and year dummies).
    entity_effects, time_effects : int
        Number of absorbed trust and year effects (levels less one when the
        model has a constant, as linearmodels counts them); 0 if not absorbed.
    g_entity, g_time : int
        Number of trust and year clusters in the sample.

    Returns
    -------
    Scaling
    """
    absorbed = entity_effects + time_effects
    if convention == "none":
        return Scaling(1.0, None, k_cols)
    if convention == "cr1":
        if cov_type == "clustered_entity":
            k = k_cols + time_effects
            g = g_entity
        elif cov_type == "clustered_twoway":
            k = k_cols
            g = min(g_entity, g_time)
        else:
            k = k_cols + absorbed
            g = None
        if n - k <= 0:
            raise LinkageDataError(f"no residual degrees of freedom: n={n} observations, K={k} parameters")
        if g is not None:
            if g < 2:
                raise LinkageDataError(f"{COV_TEXT[cov_type]} standard errors need at least 2 clusters; the sample has {g}")
            return Scaling(g / (g - 1) * (n - 1) / (n - k), float(g - 1), k)
        df = float(g_time - 1) if cov_type == "driscoll_kraay" else float(n - k)
        return Scaling(n / (n - k), df, k)
    if convention == "linearmodels":
        n_effect_kinds = int(entity_effects > 0) + int(time_effects > 0)
        nested = (
            n_effect_kinds == 1
            and entity_effects > 0
            and cov_type == "clustered_entity"
        )
        extra = 0 if nested else absorbed
        if n - k_cols - absorbed <= 0:
            raise LinkageDataError(f"no residual degrees of freedom: n={n}, K={k_cols}, effects={absorbed}")
        return Scaling(n / (n - k_cols - extra), float(n - k_cols - absorbed), k_cols + extra)
    raise ValueError(f"unknown small-sample convention {convention!r}")
