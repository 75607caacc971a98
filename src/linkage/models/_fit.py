"""Fitting one model family on one model frame with linearmodels.

Each family is one :class:`FamilyModel` in :data:`FAMILY_MODELS`: how its design
is built, which linearmodels estimator fits it and with which arguments, which
effects it absorbs (they enter K of the small-sample convention), how its
estimator transforms the regressors (for the rank check) and what sample its
clusters are counted on.  :func:`fit_family` runs the same steps for every
family: design, covariance, checks, fit, scaling.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from linearmodels import BetweenOLS, FirstDifferenceOLS, PanelOLS, PooledOLS, RandomEffects

from ..errors import LinkageDataError
from ..estimation import Scaling, check_full_rank, codes_of, group_demean, scaling, twoway_demean
from ..vocab import COV_TEXT, FAMILY_TEXT, attach_fitters, family_entry
from ._data import ModelFrame


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


# --------------------------------------------------------------------------- design pieces
def year_dummies(index: pd.MultiIndex, *, drop_first: bool = True) -> pd.DataFrame:
    """Year indicator columns ``year=YYYY`` for the years of ``index`` (first year dropped)."""
    years = index.get_level_values("year")
    levels = sorted(set(years.tolist()))
    if drop_first:
        levels = levels[1:]
    return pd.DataFrame(
        {f"year={y}": (years == y).astype(float) for y in levels}, index=index
    )


def mundlak_means(frame: ModelFrame) -> pd.DataFrame:
    """Trust means (weighted if the frame has weights) of the regressor terms, named ``mean(term)``."""
    data = frame.data
    ent = codes_of(data.index)[0]
    w = data["w"].to_numpy() if "w" in data else None
    out = {}
    for t in frame.terms:
        x = data[t].to_numpy()
        out[f"mean({t})"] = x - group_demean(x, ent, w)
    return pd.DataFrame(out, index=data.index)


# --------------------------------------------------------------------------- transformations
# Each returns (regressors as the estimator sees them, the same before the
# transformation, column names); check_full_rank uses the pair.
Transformed = tuple[np.ndarray, np.ndarray, list[str]]


def _untransformed(exog: pd.DataFrame, w: np.ndarray | None, where: str) -> Transformed:
    z = exog.to_numpy(dtype=float)
    return z, z, list(exog.columns)


def _without_const(exog: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    keep = [j for j, n in enumerate(exog.columns) if n != "const"]
    return exog.to_numpy(dtype=float)[:, keep], [exog.columns[j] for j in keep]


def _within_trust(exog: pd.DataFrame, w: np.ndarray | None, where: str) -> Transformed:
    z, names = _without_const(exog)
    return group_demean(z, codes_of(exog.index)[0], w), z, names


def _within_trust_and_year(exog: pd.DataFrame, w: np.ndarray | None, where: str) -> Transformed:
    z, names = _without_const(exog)
    ent, tim = codes_of(exog.index)
    return twoway_demean(z, ent, tim, w), z, names


def _trust_means(exog: pd.DataFrame, w: np.ndarray | None, where: str) -> Transformed:
    z = exog.to_numpy(dtype=float)
    ent = codes_of(exog.index)[0]
    sums = np.zeros((ent.max() + 1, z.shape[1]))
    np.add.at(sums, ent, z)
    means = sums / np.bincount(ent)[:, None]
    return means, means, list(exog.columns)


def _differences(exog: pd.DataFrame, w: np.ndarray | None, where: str) -> Transformed:
    # linearmodels differences consecutive periods of the panel's time index, so a
    # gap year of a trust leaves no difference across the gap
    df = exog.sort_index()
    ents = df.index.get_level_values(0).unique()
    pers = sorted(df.index.get_level_values(1).unique())
    full = df.reindex(pd.MultiIndex.from_product([ents, pers], names=df.index.names))
    d = full.groupby(level=0).diff().dropna(how="any")
    if len(d) == 0:
        raise LinkageDataError(f"{where}: no trust has two consecutive years in the sample")
    return d.to_numpy(), df.to_numpy(), list(exog.columns)


# --------------------------------------------------------------------------- cluster counts
# Each returns (trust clusters, year clusters) of the regression as fitted, from
# the linearmodels result and the trust and year counts of the frame.
ClusterCounts = Callable[[Any, int, int], tuple[int, int]]


def _frame_clusters(res: Any, n_ent: int, n_per: int) -> tuple[int, int]:
    return n_ent, n_per


def _trust_mean_clusters(res: Any, n_ent: int, n_per: int) -> tuple[int, int]:
    return int(res.nobs), n_per


def _difference_clusters(res: Any, n_ent: int, n_per: int) -> tuple[int, int]:
    idx = res.resids.index
    return idx.get_level_values(0).nunique(), idx.get_level_values(1).nunique()


# --------------------------------------------------------------------------- the table
_NO_ARGS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class FamilyModel:
    """How one model family is built, fitted and counted.

    Attributes
    ----------
    family : str
        Key in :data:`linkage.vocab.FAMILIES`.
    estimator : callable
        linearmodels class, called as ``estimator(y, exog, weights=..., **estimator_args)``.
    estimator_args : mapping
        Effects the estimator absorbs (``entity_effects``, ``time_effects``).
    fit_args : mapping
        Extra arguments of ``.fit`` besides the covariance.
    constant : bool
        The design has a ``const`` column.
    year_dummies : bool
        With ``time_effects``, year dummies enter the design.
    trust_means : bool
        The trust means of the terms enter the design (Mundlak).
    absorbs_entity, absorbs_time : bool
        Trust / year effects absorbed by the estimator; they count in the K of the
        small-sample convention unless nested in a cluster variable (see :func:`scaling`).
    transform : callable
        ``(exog, weights, where) -> (z_transformed, z_original, names)``: the
        regressors as the estimator sees them, for the rank check.
    clusters : callable
        ``(result, n_trusts, n_years) -> (trust clusters, year clusters)``.
    cov_fallback : mapping
        Requested covariance -> covariance used instead, for the covariances this
        estimator cannot provide.
    fallback_note : str
        Note added when a fallback is used; ``{requested}`` is the requested covariance's label.
    variance_components : bool
        Report the random-effects variance components and theta.
    extra_design : callable, optional
        ``frame -> DataFrame`` of further design columns of the family (e.g. a trend), added
        after the terms.
    """

    family: str
    estimator: Callable[..., Any]
    transform: Callable[[pd.DataFrame, np.ndarray | None, str], Transformed]
    clusters: ClusterCounts = _frame_clusters
    estimator_args: Mapping[str, Any] = field(default_factory=lambda: _NO_ARGS)
    fit_args: Mapping[str, Any] = field(default_factory=lambda: _NO_ARGS)
    constant: bool = True
    year_dummies: bool = False
    trust_means: bool = False
    absorbs_entity: bool = False
    absorbs_time: bool = False
    cov_fallback: Mapping[str, str] = field(default_factory=lambda: _NO_ARGS)
    fallback_note: str = ""
    variance_components: bool = False
    extra_design: Callable[[ModelFrame], pd.DataFrame] | None = None

    def design(self, frame: ModelFrame, time_effects: bool) -> pd.DataFrame:
        """Regressors handed to the estimator (before its own transformation)."""
        index = frame.data.index
        parts = [pd.DataFrame({"const": 1.0}, index=index)] if self.constant else []
        parts.append(frame.data[frame.terms].copy())
        if time_effects and self.year_dummies:
            parts.append(year_dummies(index))
        if self.trust_means:
            parts.append(mundlak_means(frame))
        if self.extra_design is not None:
            parts.append(self.extra_design(frame))
        return pd.concat(parts, axis=1)

    def covariance(self, requested: str) -> tuple[str, list[str]]:
        """The covariance this estimator uses for ``requested``, and a note if it differs."""
        used = self.cov_fallback.get(requested, requested)
        notes = [self.fallback_note.format(requested=COV_TEXT[requested])] if used != requested else []
        return used, notes

    def effect_counts(self, exog: pd.DataFrame, n_ent: int, n_per: int) -> tuple[int, int]:
        """Absorbed trust and year effects as linearmodels counts them (levels less one with a constant)."""
        entity = n_ent - (1 if "const" in exog.columns else 0) if self.absorbs_entity else 0
        time = n_per - 1 if self.absorbs_time else 0
        return entity, time


_NOT_COUNTED = MappingProxyType({"auto_df": False, "count_effects": False})

FAMILY_MODELS: Mapping[str, FamilyModel] = MappingProxyType(
    {
        m.family: m
        for m in (
            FamilyModel("pooled", PooledOLS, _untransformed, year_dummies=True),
            FamilyModel(
                "between",
                BetweenOLS,
                _trust_means,
                clusters=_trust_mean_clusters,
                cov_fallback=MappingProxyType(
                    {c: "robust" for c in ("clustered_entity", "clustered_twoway", "driscoll_kraay")}
                ),
                fallback_note=(
                    "between: one observation per trust, so {requested} standard errors are "
                    "heteroskedasticity-robust standard errors of the trust means"
                ),
            ),
            FamilyModel(
                "entity_fe",
                PanelOLS,
                _within_trust,
                estimator_args=MappingProxyType({"entity_effects": True}),
                fit_args=_NOT_COUNTED,
                absorbs_entity=True,
            ),
            FamilyModel(
                "twoway_fe",
                PanelOLS,
                _within_trust_and_year,
                estimator_args=MappingProxyType({"entity_effects": True, "time_effects": True}),
                fit_args=_NOT_COUNTED,
                absorbs_entity=True,
                absorbs_time=True,
            ),
            FamilyModel("random_effects", RandomEffects, _untransformed, year_dummies=True, variance_components=True),
            FamilyModel(
                "first_difference",
                FirstDifferenceOLS,
                _differences,
                clusters=_difference_clusters,
                constant=False,
                year_dummies=True,
                cov_fallback=MappingProxyType({"clustered_twoway": "clustered_entity"}),
                fallback_note=(
                    "first_difference: linearmodels clusters differences by trust only; two-way clustering not available"
                ),
            ),
            FamilyModel(
                "mundlak", RandomEffects, _untransformed, year_dummies=True, trust_means=True, variance_components=True
            ),
        )
    }
)
"""One :class:`FamilyModel` per built-in family (attached to its entry in the family registry)."""

for _m in FAMILY_MODELS.values():
    attach_fitters(_m.family, fit=_m)


def family_model(family: str) -> FamilyModel:
    """The one-specification fitter of ``family`` (from its registry entry, so registered families work)."""
    model = family_entry(family).fit
    if not isinstance(model, FamilyModel):
        raise TypeError(f"model family {family!r} has no FamilyModel fitter (its entry's fit is {model!r})")
    return model


def design(family: str, frame: ModelFrame, time_effects: bool) -> pd.DataFrame:
    """Regressors handed to linearmodels for ``family`` (before its own transformation)."""
    return family_model(family).design(frame, time_effects)


# --------------------------------------------------------------------------- fitting steps
def _lm_cov_args(cov_type: str, dk_bandwidth: int | None) -> dict[str, Any]:
    """linearmodels ``.fit`` arguments of a covariance, unscaled (``debiased=False``)."""
    if cov_type == "clustered_entity":
        return {"cov_type": "clustered", "cluster_entity": True}
    if cov_type == "clustered_twoway":
        return {"cov_type": "clustered", "cluster_entity": True, "cluster_time": True}
    if cov_type == "driscoll_kraay":
        kw: dict[str, Any] = {"cov_type": "kernel", "kernel": "bartlett"}
        if dk_bandwidth is not None:
            kw["bandwidth"] = float(dk_bandwidth)
        return kw
    return {"cov_type": cov_type}


def _check_driscoll_kraay(cov_type: str, n_periods: int, where: str) -> None:
    # Driscoll-Kraay works on the year sums of the scores.  With trust effects and
    # two years those sums are identically zero, so the "standard error" is
    # rounding noise; fewer than three years are refused for every family.
    if cov_type == "driscoll_kraay" and n_periods < 3:
        raise LinkageDataError(
            f"{where}: Driscoll-Kraay standard errors need at least 3 years (sample has {n_periods}); "
            "set model.cov_type to clustered_entity for a short panel"
        )


def _fit_lm(model: FamilyModel, frame: ModelFrame, exog: pd.DataFrame, fit_args: dict[str, Any], where: str) -> Any:
    """The linearmodels result, with its covariance computed (unscaled)."""
    data = frame.data
    weights = {"weights": data["w"]} if "w" in data else {}
    estimator = model.estimator(data["y"], exog, **weights, **model.estimator_args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = estimator.fit(**fit_args, debiased=False, **model.fit_args)
            res.cov  # noqa: B018 - linearmodels computes the covariance on first access
    except (ValueError, np.linalg.LinAlgError) as err:
        raise LinkageDataError(f"{where}: linearmodels could not fit the model: {err}") from None
    return res


def _scaling(
    model: FamilyModel, res: Any, exog: pd.DataFrame, small_sample: str, cov_type: str
) -> tuple[Scaling, int, int]:
    """The convention's scaling of the fitted model, its trust clusters and the frame's years."""
    ent, tim = codes_of(exog.index)
    n_ent, n_per = int(ent.max()) + 1, int(tim.max()) + 1
    entity_effects, time_effects = model.effect_counts(exog, n_ent, n_per)
    g_ent, g_tim = model.clusters(res, n_ent, n_per)
    sc = scaling(
        small_sample,
        cov_type,
        n=int(res.nobs),
        k_cols=len(res.params),
        entity_effects=entity_effects,
        time_effects=time_effects,
        g_entity=g_ent,
        g_time=g_tim,
    )
    return sc, g_ent, n_per


def _repair_psd(cov: pd.DataFrame, where: str) -> tuple[pd.DataFrame, list[str]]:
    """Clip negative eigenvalues of the reported regressors' block of a two-way clustered covariance.

    Only the block of the reported regressors (not the constant or year dummies)
    is checked and, if needed, repaired: eigenvalue clipping depends on the basis.
    """
    sub = [c for c in cov.index if c != "const" and not str(c).startswith("year=")]
    vals, vecs = np.linalg.eigh(cov.loc[sub, sub].to_numpy())
    if vals.min() >= 0:
        return cov, []
    cov = cov.copy()
    cov.loc[sub, sub] = (vecs * np.clip(vals, 0, None)) @ vecs.T
    return cov, [
        f"{where}: the two-way clustered covariance was not positive semi-definite "
        "(few year clusters); negative eigenvalues were set to zero (Cameron, Gelbach and Miller 2011)"
    ]


def _variance_components(res: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    extras = {
        "sigma2_effects": float(res.variance_decomposition["Effects"]),
        "sigma2_eps": float(res.variance_decomposition["Residual"]),
        "theta": res.theta,
    }
    notes = []
    if extras["sigma2_effects"] == 0:
        notes.append(f"{where}: estimated trust-effect variance is zero, so random effects equal pooled OLS")
    return extras, notes


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
        One of the ``ModelParams.families`` values (a registered family, see :func:`family_model`).
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
    model = family_model(family)
    data = frame.data
    where = f"{FAMILY_TEXT[family]} [{context}]" if context else FAMILY_TEXT[family]
    exog = model.design(frame, time_effects)
    used, notes = model.covariance(cov_type)
    _check_driscoll_kraay(used, data.index.get_level_values(1).nunique(), where)
    zt, zo, names = model.transform(exog, data["w"].to_numpy() if "w" in data else None, where)
    check_full_rank(zt, names, zo, where)

    res = _fit_lm(model, frame, exog, _lm_cov_args(used, dk_bandwidth), where)
    sc, g_ent, n_per = _scaling(model, res, exog, small_sample, used)
    cov = res.cov * sc.factor
    if used == "clustered_twoway":
        cov, psd_notes = _repair_psd(cov, where)
        notes += psd_notes
    extras: dict[str, Any] = {}
    if model.variance_components:
        extras, re_notes = _variance_components(res, where)
        notes += re_notes
    return Fitted(
        family=family,
        params=res.params,
        cov=cov,
        cov_raw=res.cov,
        scale=sc,
        cov_type=used,
        n_obs=int(res.nobs),
        n_entities=int(g_ent),
        n_periods=n_per,
        notes=notes,
        extras=extras,
    )
