"""Measurement error in the exposure: its within-trust reliability and a corrected within estimate.

Trust results are survey estimates: the published exposure ``x_it`` is the trust's
latent value plus sampling error with a variance known from the base n (``v_it``,
see :func:`linkage.models._diagnostics.sampling_variance`).  A within-trust design
turns the data into ``T x`` (``T`` removes trust means and year means, or takes
changes between survey years; weights enter as ``sqrt(w)``).  The sampling error
adds ``c = sum_k v_k (T'T)_kk`` to the exposure's sum of squares ``x~'x~`` on
average and nothing to its cross products, so

* the exposure's within reliability is ``1 - c / x~'x~`` (the share of the
  variation the design uses that is not sampling noise; the naive slope is
  attenuated by about this factor), and
* the method-of-moments (Fuller-style) corrected slope is
  ``b_c = (X~'X~ - c e1 e1')^-1 X~'y~`` with ``X~ = T [x, covariates]``.

Its covariance is the cluster-robust sandwich of the corrected estimating
equations: per trust the score ``X~_g' e_g + (sum_{k in g} v_k (T'T)_kk) b_c1 e1``
(the correction term makes the score mean zero), bread ``(X~'X~ - c e1 e1')^-1``,
scaled by the run's small-sample convention for clustering by trust.  The sampling
errors are assumed independent across trust-years and of everything else; the
covariates are taken as measured without error.  See ``docs/models.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import LinkageDataError
from ..estimation import Scaling, codes_of, scaling
from ._data import ModelFrame
from ._fit import family_model, year_dummies

#: Families whose slope the correction applies to (designs that use within-trust variation only).
CORRECTABLE = ("twoway_fe", "entity_fe", "first_difference")


@dataclass(frozen=True)
class Corrected:
    """A naive and an errors-in-variables corrected within slope of the exposure.

    Attributes
    ----------
    estimate_naive, estimate : float
        Slope of the exposure without and with the correction.
    std_error : float
        Standard error of the corrected slope (cluster-robust by trust, convention-scaled).
    df : float or None
        Reference t degrees of freedom (None: normal).
    reliability : float
        ``1 - c / x~'x~``: within reliability of the exposure in the design as fitted.
    noise_share : float
        ``c / x~'x~``.
    n_rows : int
        Rows of the transformed regression.
    n_clusters : int
        Trust clusters.
    """

    estimate_naive: float
    estimate: float
    std_error: float
    df: float | None
    reliability: float
    noise_share: float
    n_rows: int
    n_clusters: int


def _basis(d: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column space of ``d`` (rank-revealing SVD)."""
    if d.shape[1] == 0:
        return np.zeros((d.shape[0], 0))
    u, s, _ = np.linalg.svd(d, full_matrices=False)
    keep = s > s.max() * max(d.shape) * 1e-12 if s.size and s.max() > 0 else np.zeros(0, bool)
    return u[:, keep]


def _annihilate(z: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``z`` less its projection on the orthonormal columns ``q``."""
    return z - q @ (q.T @ z)


def _dummies(codes: np.ndarray) -> np.ndarray:
    out = np.zeros((len(codes), int(codes.max()) + 1))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def _difference_operator(index: pd.MultiIndex) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``x_t - x_s`` for a trust's consecutive years in the sample's year list, as linearmodels takes them.

    Returns the (m, n) operator and the trust code of each of its rows.
    """
    ent, tim = codes_of(index)
    pos = {(e, t): k for k, (e, t) in enumerate(zip(ent, tim, strict=True))}
    rows, owners = [], []
    for (e, t), k in sorted(pos.items()):
        prev = pos.get((e, t - 1))
        if prev is not None:
            r = np.zeros(len(ent))
            r[k], r[prev] = 1.0, -1.0
            rows.append(r)
            owners.append(e)
    if not rows:
        raise LinkageDataError("no trust has two consecutive years in the sample")
    return np.vstack(rows), np.asarray(owners)


def transformation(family: str, frame: ModelFrame, time_effects: bool) -> tuple[np.ndarray, np.ndarray]:
    """The linear map ``T`` (m x n) a within family applies to the data, and the trust of each row.

    ``T`` includes the square roots of the weights and the projection off the
    absorbed trust and year effects (or off the year dummies of first differences),
    so that ``T x`` are the exposure values the slope is estimated from.
    """
    data = frame.data
    n = len(data)
    w = data["w"].to_numpy(dtype=float) if "w" in data else np.ones(n)
    ent, tim = codes_of(data.index)
    if family in ("twoway_fe", "entity_fe"):
        d = _dummies(ent) if family == "entity_fe" else np.hstack([_dummies(ent), _dummies(tim)])
        sw = np.sqrt(w)
        q = _basis(sw[:, None] * d)
        return _annihilate(np.diag(sw), q), ent
    if family == "first_difference":
        a, owners = _difference_operator(data.index)
        # linearmodels weights a difference by 1 / (1/w_t + 1/w_s)
        wd = 1.0 / (np.abs(a) @ (1.0 / w))
        a = np.sqrt(wd)[:, None] * a
        if time_effects and family_model(family).year_dummies:
            q = _basis(a @ year_dummies(data.index).to_numpy(dtype=float))
            a = _annihilate(a, q)
        return a, owners
    raise ValueError(f"no errors-in-variables correction for family {family!r} (only {CORRECTABLE})")


def corrected_slope(
    family: str,
    frame: ModelFrame,
    variance: np.ndarray,
    *,
    time_effects: bool,
    small_sample: str,
) -> Corrected:
    """Naive and corrected slope of the frame's first term (the exposure).

    Parameters
    ----------
    family : str
        One of :data:`CORRECTABLE`.
    frame : ModelFrame
        Estimation sample (the exposure is ``frame.terms[0]``).
    variance : ndarray
        (n,) sampling variance of each row's published exposure, aligned with ``frame.data``.
    time_effects : bool
        Year effects as the run fitted them (first differences).
    small_sample : str
        Small-sample convention (``cr1``, ``linearmodels`` or ``none``), applied as for
        standard errors clustered by trust.

    Returns
    -------
    Corrected

    Raises
    ------
    LinkageDataError
        If the exposure has no variation left after the transformation, or the
        sampling noise is as large as that variation (the correction is undefined).
    """
    data = frame.data
    t_map, owners = transformation(family, frame, time_effects)
    xt = t_map @ data[frame.terms].to_numpy(dtype=float)
    yt = t_map @ data["y"].to_numpy(dtype=float)
    s = xt.T @ xt
    c = float(np.asarray(variance, dtype=float) @ (t_map**2).sum(axis=0))
    sxx = float(s[0, 0])
    if sxx <= 0:
        raise LinkageDataError("the exposure has no variation left after the design's transformation")
    if c >= sxx:
        raise LinkageDataError(
            f"sampling noise ({c:.4g}) is at least the exposure's within variation ({sxx:.4g}): "
            "its within reliability is zero and no corrected estimate exists"
        )
    sc = s.copy()
    sc[0, 0] -= c
    b_naive = np.linalg.solve(s, xt.T @ yt)
    b = np.linalg.solve(sc, xt.T @ yt)
    resid = yt - xt @ b
    per_row = np.asarray(variance, dtype=float) * (t_map**2).sum(axis=0)
    raw_owner = codes_of(data.index)[0]
    g = int(max(owners.max(), raw_owner.max())) + 1
    scores = np.zeros((g, xt.shape[1]))
    np.add.at(scores, owners, xt * resid[:, None])
    scores[:, 0] += np.bincount(raw_owner, weights=per_row, minlength=g) * b[0]
    used = np.unique(owners)
    bread = np.linalg.inv(sc)
    meat = scores[used].T @ scores[used]
    sc_ = _convention(family, frame, small_sample, n_rows=len(yt), k_cols=xt.shape[1], g=len(used),
                      time_effects=time_effects)
    var = float((bread @ meat @ bread)[0, 0] * sc_.factor)
    return Corrected(
        estimate_naive=float(b_naive[0]),
        estimate=float(b[0]),
        std_error=float(np.sqrt(max(var, 0.0))),
        df=sc_.df,
        reliability=1.0 - c / sxx,
        noise_share=c / sxx,
        n_rows=len(yt),
        n_clusters=len(used),
    )


def _convention(
    family: str, frame: ModelFrame, small_sample: str, *, n_rows: int, k_cols: int, g: int, time_effects: bool
) -> Scaling:
    """The small-sample scaling of the corrected slope, counted as linearmodels counts the naive fit."""
    idx = frame.data.index
    n_ent = idx.get_level_values(0).nunique()
    n_per = idx.get_level_values(1).nunique()
    model = family_model(family)
    k = k_cols + (1 if model.constant else 0)
    if family == "first_difference" and time_effects:
        k += n_per - 1
    entity_effects = n_ent - (1 if model.constant else 0) if model.absorbs_entity else 0
    time_fx = n_per - 1 if model.absorbs_time else 0
    return scaling(small_sample, "clustered_entity", n=n_rows, k_cols=k, entity_effects=entity_effects,
                   time_effects=time_fx, g_entity=g, g_time=n_per)
