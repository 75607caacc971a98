"""Fitting one model family on one model frame with linearmodels."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from linearmodels import BetweenOLS, FirstDifferenceOLS, PanelOLS, PooledOLS, RandomEffects

from ..errors import LinkageDataError
from ..vocab import COV_TEXT, FAMILY_TEXT
from ._cov import Scaling, scaling
from ._data import ModelFrame
from ._within import check_full_rank, group_demean, twoway_demean


@dataclass
class Fitted:
    """One fitted model, with the covariance already scaled by the convention.

    Attributes
    ----------
    family : str
    params : pandas.Series
        All coefficients (incl. constant and year dummies).
    cov : pandas.DataFrame
        Scaled covariance ``c * V_raw``.
    cov_raw : pandas.DataFrame
        Unscaled sandwich from linearmodels.
    scale : Scaling
        Factor, reference df and K.
    cov_type : str
        Covariance actually used (may differ from the requested one; see ``notes``).
    n_obs, n_entities, n_periods : int
        Size of the regression as fitted (first differences: differences;
        between: trust means).
    notes : list of str
    extras : dict
        E.g. RE variance components and theta.
    """

    family: str
    params: pd.Series
    cov: pd.DataFrame
    cov_raw: pd.DataFrame
    scale: Scaling
    cov_type: str
    n_obs: int
    n_entities: int
    n_periods: int
    notes: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


def year_dummies(index: pd.MultiIndex, *, drop_first: bool = True) -> pd.DataFrame:
    """Year indicator columns ``year=YYYY`` for the years of ``index`` (first year dropped)."""
    years = index.get_level_values("year")
    levels = sorted(set(years.tolist()))
    if drop_first:
        levels = levels[1:]
    return pd.DataFrame(
        {f"year={y}": (years == y).astype(float) for y in levels}, index=index
    )


def _codes(index: pd.MultiIndex) -> tuple[np.ndarray, np.ndarray]:
    ent = pd.factorize(index.get_level_values(0), sort=True)[0]
    tim = pd.factorize(index.get_level_values(1), sort=True)[0]
    return ent, tim


def _lm_cov_args(cov_type: str, dk_bandwidth: int | None) -> tuple[str, dict[str, Any]]:
    if cov_type == "clustered_entity":
        return "clustered", {"cluster_entity": True}
    if cov_type == "clustered_twoway":
        return "clustered", {"cluster_entity": True, "cluster_time": True}
    if cov_type == "driscoll_kraay":
        kw: dict[str, Any] = {"kernel": "bartlett"}
        if dk_bandwidth is not None:
            kw["bandwidth"] = float(dk_bandwidth)
        return "kernel", kw
    return cov_type, {}


def mundlak_means(frame: ModelFrame) -> pd.DataFrame:
    """Trust means (weighted if the frame has weights) of the regressor terms, named ``mean(term)``."""
    data = frame.data
    ent = _codes(data.index)[0]
    w = data["w"].to_numpy() if "w" in data else None
    out = {}
    for t in frame.terms:
        x = data[t].to_numpy()
        out[f"mean({t})"] = x - group_demean(x, ent, w)
    return pd.DataFrame(out, index=data.index)


def design(family: str, frame: ModelFrame, time_effects: bool) -> pd.DataFrame:
    """Regressors handed to linearmodels for ``family`` (before its own transformation)."""
    data = frame.data
    x = data[frame.terms].copy()
    if family == "first_difference":
        if time_effects:
            x = x.join(year_dummies(data.index))
        return x
    parts = [pd.DataFrame({"const": 1.0}, index=data.index), x]
    if time_effects and family in ("pooled", "random_effects", "mundlak"):
        parts.append(year_dummies(data.index))
    if family == "mundlak":
        parts.append(mundlak_means(frame))
    return pd.concat(parts, axis=1)


def _transformed(family: str, exog: pd.DataFrame, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Regressors as the family's estimator sees them, for the rank check."""
    names = list(exog.columns)
    z = exog.to_numpy(dtype=float)
    ent, tim = _codes(exog.index)
    if family in ("entity_fe", "twoway_fe"):
        keep = [j for j, n in enumerate(names) if n != "const"]
        z = z[:, keep]
        names = [names[j] for j in keep]
        zt = group_demean(z, ent, w) if family == "entity_fe" else twoway_demean(z, ent, tim, w)
        return zt, z, names
    if family == "between":
        n_groups = ent.max() + 1
        sums = np.zeros((n_groups, z.shape[1]))
        np.add.at(sums, ent, z)
        means = sums / np.bincount(ent)[:, None]
        return means, means, names
    if family == "first_difference":
        # linearmodels differences consecutive periods of the panel's time index, so a
        # gap year of a trust leaves no difference across the gap
        df = exog.sort_index()
        ents = df.index.get_level_values(0).unique()
        pers = sorted(df.index.get_level_values(1).unique())
        full = df.reindex(pd.MultiIndex.from_product([ents, pers], names=df.index.names))
        d = full.groupby(level=0).diff().dropna(how="any")
        return d.to_numpy(), df.to_numpy(), names
    return z, z, names


def fit_family(
    family: str,
    frame: ModelFrame,
    *,
    cov_type: str,
    small_sample: str,
    time_effects: bool = True,
    dk_bandwidth: int | None = None,
    context: str = "",
) -> Fitted:
    """Fit one family on one frame and scale its covariance by the convention.

    Parameters
    ----------
    family : str
        One of the ``ModelParams.families`` values.
    frame : ModelFrame
        Estimation sample.
    cov_type : str
        Requested covariance (``ModelParams.cov_type``).
    small_sample : str
        Convention (``ModelParams.small_sample``), see :mod:`linkage.models._cov`.
    time_effects : bool
        Year effects (dummies, or absorbed in ``twoway_fe``).
    dk_bandwidth : int, optional
        Driscoll-Kraay bandwidth.
    context : str
        Specification label used in error messages.

    Returns
    -------
    Fitted

    Raises
    ------
    LinkageDataError
        On a collinear or degenerate design, or if linearmodels cannot fit it.
    """
    data = frame.data
    where = f"{FAMILY_TEXT[family]} [{context}]" if context else FAMILY_TEXT[family]
    exog = design(family, frame, time_effects)
    w = data["w"].to_numpy() if "w" in data else None
    notes: list[str] = []
    used = cov_type
    if family == "between" and cov_type != "robust" and cov_type != "unadjusted":
        used = "robust"
        notes.append(
            f"between: one observation per trust, so {COV_TEXT[cov_type]} standard errors are "
            "heteroskedasticity-robust standard errors of the trust means"
        )
    if family == "first_difference" and cov_type == "clustered_twoway":
        used = "clustered_entity"
        notes.append("first_difference: linearmodels clusters differences by trust only; two-way clustering not available")

    n_periods = data.index.get_level_values(1).nunique()
    if used == "driscoll_kraay" and family != "between" and n_periods < 3:
        # With trust effects the period sums of the scores add to zero, so with two
        # years they are identically zero and the Driscoll-Kraay "standard error"
        # is rounding noise; with fewer than three years it is not estimable.
        raise LinkageDataError(
            f"{where}: Driscoll-Kraay standard errors need at least 3 years (sample has {n_periods}); "
            "set model.cov_type to clustered_entity for a short panel"
        )

    zt, zo, names = _transformed(family, exog, w)
    if family == "first_difference" and len(zt) == 0:
        raise LinkageDataError(f"{where}: no trust has two consecutive years in the sample")
    check_full_rank(zt, names, zo, where)

    y = data["y"]
    kw: dict[str, Any] = {}
    if w is not None:
        kw["weights"] = data["w"]
    if family == "pooled":
        model = PooledOLS(y, exog, **kw)
    elif family == "between":
        model = BetweenOLS(y, exog, **kw)
    elif family == "entity_fe":
        model = PanelOLS(y, exog, entity_effects=True, **kw)
    elif family == "twoway_fe":
        model = PanelOLS(y, exog, entity_effects=True, time_effects=True, **kw)
    elif family in ("random_effects", "mundlak"):
        model = RandomEffects(y, exog, **kw)
    elif family == "first_difference":
        model = FirstDifferenceOLS(y, exog, **kw)
    else:  # pragma: no cover - guarded by the Literal type
        raise ValueError(family)

    lm_cov, cov_kw = _lm_cov_args(used, dk_bandwidth)
    fit_kw: dict[str, Any] = {"cov_type": lm_cov, "debiased": False, **cov_kw}
    if family in ("entity_fe", "twoway_fe"):
        fit_kw.update(auto_df=False, count_effects=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit(**fit_kw)
            cov_raw = res.cov
    except (ValueError, np.linalg.LinAlgError) as err:
        raise LinkageDataError(f"{where}: linearmodels could not fit the model: {err}") from None

    ent, tim = _codes(data.index)
    n_ent_all = int(ent.max()) + 1
    n_per_all = int(tim.max()) + 1
    has_const = "const" in exog.columns
    entity_eff = time_eff = 0
    if family in ("entity_fe", "twoway_fe"):
        entity_eff = n_ent_all - (1 if has_const else 0)
    if family == "twoway_fe":
        time_eff = n_per_all - 1
    n_obs = int(res.nobs)
    if family == "first_difference":
        fd_index = res.resids.index
        g_ent = fd_index.get_level_values(0).nunique()
        g_tim = fd_index.get_level_values(1).nunique()
    elif family == "between":
        g_ent, g_tim = n_obs, n_per_all
    else:
        g_ent, g_tim = n_ent_all, n_per_all
    sc = scaling(
        small_sample,
        used,
        n=n_obs,
        k_cols=len(res.params),
        entity_effects=entity_eff,
        time_effects=time_eff,
        g_entity=g_ent,
        g_time=g_tim,
    )
    cov = cov_raw * sc.factor
    if used == "clustered_twoway":
        # Only the block of the reported regressors (not the constant or year dummies)
        # is checked and, if needed, repaired: eigenvalue clipping depends on the basis.
        sub = [c for c in cov.index if c != "const" and not str(c).startswith("year=")]
        block = cov.loc[sub, sub].to_numpy()
        vals, vecs = np.linalg.eigh(block)
        if vals.min() < 0:
            cov = cov.copy()
            cov.loc[sub, sub] = (vecs * np.clip(vals, 0, None)) @ vecs.T
            notes.append(
                f"{where}: the two-way clustered covariance was not positive semi-definite "
                "(few year clusters); negative eigenvalues were set to zero (Cameron, Gelbach and Miller 2011)"
            )
    extras: dict[str, Any] = {}
    if family in ("random_effects", "mundlak"):
        extras = {
            "sigma2_effects": float(res.variance_decomposition["Effects"]),
            "sigma2_eps": float(res.variance_decomposition["Residual"]),
            "theta": res.theta,
        }
        if extras["sigma2_effects"] == 0:
            notes.append(f"{where}: estimated trust-effect variance is zero, so random effects equal pooled OLS")
    n_entities = g_ent if family != "between" else n_obs
    n_periods = n_per_all
    return Fitted(
        family=family,
        params=res.params,
        cov=cov,
        cov_raw=cov_raw,
        scale=sc,
        cov_type=used,
        n_obs=n_obs,
        n_entities=int(n_entities),
        n_periods=int(n_periods),
        notes=notes,
        extras=extras,
    )
