"""The fast engine: one transformation per (sample, family), batched slopes and sandwiches.

Specifications are grouped by the rows they use (same dependent/exposure
missingness, lag, sample and weights give the same rows).  For each group the
dependent and exposure columns of all its (dependent, exposure) pairs are
transformed together, once per family (see :mod:`._families`), and the
slopes, residuals and cluster score sums of all pairs are computed with array
operations.  Python work is per group and family, never per specification.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..estimation import run_starts, scaling_arrays, within_sd
from ..estimation.distributions import norm_ppf, norm_sf, t_ppf, t_sf
from ..params.multiverse import MultiverseParams
from ..vocab import MODERATOR_COLUMN, family_entry
from ._families import Block, FamilyFit, moderated_fits
from ._specs import DATA_KEY

DEPRIVATION = "context.imd2019_score"
"""Panel column splitting the most / least deprived half samples (:mod:`linkage.context`)."""

RESULT_COLUMNS = [
    "estimate", "std_error", "statistic", "df", "p_value", "ci_low", "ci_high",
    "n_obs", "n_entities", "n_periods", "cov_factor", "sd_exposure", "sd_dependent",
    "sd_exposure_within", "sd_dependent_within", "moderator_centre", "moderator_sd", "interaction_estimate", "interaction_std_error",
]


class PanelArrays:
    """The panel as arrays, sorted by trust and year, with calendar-year shifts by lookup.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel.
    """

    def __init__(self, panel: pd.DataFrame) -> None:
        df = panel.sort_values(["org_code", "year"]).reset_index(drop=True)
        self.df = df
        self.codes, self.ent = np.unique(df["org_code"].astype(str).to_numpy(), return_inverse=True)
        self.year = df["year"].astype(int).to_numpy()
        self.y0 = int(self.year.min())
        span = int(self.year.max()) - self.y0 + 1
        self.grid = np.full((len(self.codes), span + 12), -1, dtype=np.int64)
        self.grid[self.ent, self.year - self.y0 + 6] = np.arange(len(df))
        self._cache: dict[tuple[str, int], np.ndarray] = {}
        self._samples: dict[tuple[str, str], np.ndarray] = {}

    def column(self, name: str, lag: int = 0) -> np.ndarray:
        """Values of ``name`` at calendar year t - lag of each row's trust (NaN if absent)."""
        key = (name, lag)
        if key not in self._cache:
            base = pd.to_numeric(self.df[name], errors="coerce").to_numpy(dtype=float)
            if lag == 0:
                self._cache[key] = base
            else:
                src = self.grid[self.ent, self.year - self.y0 + 6 - lag]
                self._cache[key] = np.where(src >= 0, base[np.maximum(src, 0)], np.nan)
        return self._cache[key]

    def sample_rows(self, label: str, kind: str, merged: set[str] | None) -> np.ndarray:
        """Boolean mask of the rows a sample keeps (before missing values; ``balanced`` is applied later).

        Computed once per sample and kept (``merged`` is the same for every call on one panel).
        """
        key = (label, kind)
        if key not in self._samples:
            self._samples[key] = self._sample_rows(label, kind, merged)
        return self._samples[key]

    def _sample_rows(self, label: str, kind: str, merged: set[str] | None) -> np.ndarray:
        if kind == "no_merged":
            return ~np.isin(self.codes[self.ent], sorted(merged or ()))
        if kind == "no_specialist":
            return self.df["trust_type"].astype(str).to_numpy() != "acute_specialist"
        if kind == "leave_one_year_out":
            return self.year != int(label.rsplit("_", 1)[1])
        if kind in ("most_deprived_half", "least_deprived_half"):
            score = pd.to_numeric(self.df[DEPRIVATION], errors="coerce").to_numpy(dtype=float)
            median = float(pd.Series(score).groupby(self.ent).first().median())
            return score > median if kind == "most_deprived_half" else score <= median
        return np.ones(len(self.df), dtype=bool)


def _key_mask(pa: PanelArrays, key: tuple, kind: str, merged: set[str] | None) -> tuple[np.ndarray, str | None]:
    """Rows and weight column of one data key (dependent, exposure, lag, sample, weights, moderator)."""
    dependent, exposure, lag, sample, weights, moderator = key
    ok = np.isfinite(pa.column(dependent)) & np.isfinite(pa.column(exposure, lag)) & pa.sample_rows(sample, kind, merged)
    if moderator != "none":
        ok &= np.isfinite(pa.column(MODERATOR_COLUMN[moderator]))
    wcol = f"{dependent}__n" if weights == "respondents" else None
    if wcol is not None:
        w = pa.column(wcol)
        ok &= np.isfinite(w) & (w > 0)
    if kind == "balanced" and ok.any():
        n_years = len(np.unique(pa.year[ok]))
        per = np.bincount(pa.ent[ok], minlength=len(pa.codes))
        ok &= per[pa.ent] == n_years
    return ok, wcol


@dataclass
class Scores:
    """Per-specification cluster sums by trust (columns: the panel's trusts), for the bootstraps.

    ``a`` = sum of regressor x residual, ``h`` = sum of regressor squared, ``b`` = sum of
    regressor x dependent, all after the family's transformation (and weighting); ``sxx``
    is their regressor's sum of squares.  ``qy`` and ``qx`` (specs x trusts x K) are the
    trust sums of the dependent and of the regressor times each column of the orthonormal
    basis Q of the nuisance columns a bootstrap draw must still be projected on (year
    effects after the trust demeaning, the constant and year dummies of pooled OLS, ...;
    zero-padded to K columns), so ``M (e v)`` of every draw is exact (see
    :mod:`._bootstrap`).  Rows follow ``spec_id``.
    """

    spec_id: np.ndarray
    a: np.ndarray
    h: np.ndarray
    b: np.ndarray
    sxx: np.ndarray
    codes: np.ndarray
    qy: np.ndarray | None = None
    qx: np.ndarray | None = None

    def subset(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Bootstrap inputs of the specifications at positions ``rows``, trusts first: a, h, b (G, S); qy, qx (G, S, K)."""
        k = 0 if self.qy is None else self.qy.shape[2]
        empty = np.zeros((self.a.shape[1], len(rows), k))
        qy = empty if self.qy is None else np.moveaxis(self.qy[rows], 0, 1)
        qx = empty if self.qx is None else np.moveaxis(self.qx[rows], 0, 1)
        return {"a": self.a[rows].T, "h": self.h[rows].T, "b": self.b[rows].T, "sxx": self.sxx[rows], "qy": qy, "qx": qx}




def _slopes(fit: FamilyFit, sx2: np.ndarray) -> dict[str, np.ndarray]:
    """Slope, raw variances and cluster sums of every pair of one family fit."""
    rx, ry = fit.rx, fit.ry
    sxx = (rx**2).sum(0)
    flat = ~(sxx > sx2 * 1e-18)
    beta = (rx * ry).sum(0) / np.where(flat, 1.0, sxx)
    e = ry - beta * rx
    u = rx * e
    n = max(fit.n_obs, 1)
    if fit.n_obs:
        starts = run_starts(fit.cl)
        a = np.add.reduceat(u, starts, axis=0)
        h = np.add.reduceat(rx**2, starts, axis=0)
        bsum = np.add.reduceat(rx * ry, starts, axis=0)
        gidx = fit.cl[starts]
    else:
        a = h = bsum = np.zeros((0, rx.shape[1]))
        gidx = np.zeros(0, dtype=np.int64)
    qy, qx = _basis_sums(fit, starts if fit.n_obs else None)
    den = np.where(flat, 1.0, sxx)
    var = {
        "clustered_entity": (a**2).sum(0) / den**2,
        "robust": (u**2).sum(0) / den**2,
        "unadjusted": (e**2).sum(0) / n / den,
    }
    return {"beta": beta, "flat": flat, "var": var, "a": a, "h": h, "b": bsum, "gidx": gidx, "sxx": sxx,
            "qy": qy, "qx": qx}


def _basis_sums(fit: FamilyFit, starts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(G_fit, p, k) trust sums of the dependent and the regressor times each nuisance basis column."""
    p = fit.rx.shape[1]
    q = fit.q
    if starts is None or q is None or q.shape[1] == 0:
        z = np.zeros((0 if starts is None else len(starts), p, 0))
        return z, z
    qq = q[:, None, :] if q.ndim == 2 else np.moveaxis(q, 2, 1)
    qy = np.add.reduceat(fit.ry[:, :, None] * qq, starts, axis=0)
    qx = np.add.reduceat(fit.rx[:, :, None] * qq, starts, axis=0)
    return qy, qx


def _block_reasons(fit: FamilyFit, res: dict, exposures: list[str], family: str) -> np.ndarray:
    """Per-pair reason ('' = fitted) for one family fit."""
    p = len(exposures)
    out = np.full(p, fit.reason, dtype=object)
    pair = fit.extras.get("pair_reason")
    if pair is not None:
        out = np.where(out == "", pair, out)
    for j in np.flatnonzero(res["flat"] & (out == "")):
        out[j] = f"{exposures[j]} has no variation left after the {family} transformation"
    return out


def _fill(out: dict, rows: np.ndarray, fit: FamilyFit, res: dict, pair: np.ndarray, cov: str,
          reasons: np.ndarray, params: MultiverseParams) -> None:
    """Write estimates, standard errors and sizes of the specifications ``rows`` (pairs ``pair``)."""
    m = len(rows)
    factor, df, _ = scaling_arrays(
        params.small_sample, cov, n=np.full(m, fit.n_obs), k_cols=np.full(m, fit.k_cols),
        entity_effects=np.full(m, fit.entity_effects), time_effects=np.full(m, fit.time_effects),
        g_entity=np.full(m, fit.g_entity), g_time=np.full(m, fit.g_time),
    )
    why = reasons[pair].copy()
    why[(why == "") & ~np.isfinite(factor)] = (
        f"no residual degrees of freedom or fewer than 2 clusters (n={fit.n_obs}, K={fit.k_cols}, trusts={fit.g_entity})"
    )
    why[(why == "") & (fit.n_obs < params.min_obs)] = f"{fit.n_obs} observations, fewer than multiverse.min_obs={params.min_obs}"
    out["reason"][rows] = why
    out["estimate"][rows] = res["beta"][pair]
    out["std_error"][rows] = np.sqrt(res["var"][cov][pair] * factor)
    out["df"][rows] = df
    out["cov_factor"][rows] = factor
    out["n_obs"][rows] = fit.n_obs
    out["n_entities"][rows] = fit.g_entity
    out["n_periods"][rows] = fit.g_time
    out["sd_exposure"][rows] = res["sdx"][pair]
    out["sd_dependent"][rows] = res["sdy"][pair]
    out["sd_exposure_within"][rows] = res["sdxw"][pair]
    out["sd_dependent_within"][rows] = res["sdyw"][pair]


def _store_scores(scores: dict, rows: np.ndarray, res: dict, pair: np.ndarray) -> None:
    gidx = res["gidx"]
    for name in ("a", "h", "b"):
        scores[name][np.ix_(rows, gidx)] = res[name][:, pair].T
    scores["sxx"][rows] = res["sxx"][pair]
    k = res["qy"].shape[2]
    if len(gidx) and k:
        for name in ("qy", "qx"):
            scores[name][np.ix_(rows, gidx, np.arange(k))] = np.moveaxis(res[name][:, pair, :], 0, 1)


def _group_blocks(pa: PanelArrays, sub: pd.DataFrame, merged: set[str] | None, out: dict) -> dict:
    """Data keys grouped by identical rows, weights and moderator: {(mask bytes, weight column, moderator): [(key, spec rows, mask)]}."""
    blocks: dict[tuple[bytes, str | None, str], list] = {}
    positions = sub.index.to_numpy()
    for key, pos in sub.groupby(DATA_KEY, sort=False).indices.items():
        mask, wcol = _key_mask(pa, key, sub["sample_kind"].iat[pos[0]], merged)
        n_rows, n_tr = int(mask.sum()), len(np.unique(pa.ent[mask]))
        n_yr = len(np.unique(pa.year[mask]))
        if n_rows < 3 or n_tr < 2 or n_yr < 2:
            out["reason"][positions[pos]] = (
                f"sample has {n_rows} trust-years ({n_tr} trusts, {n_yr} years) with dependent, exposure"
                f"{' and weight' if wcol else ''} present; at least 2 trusts and 2 years are needed"
            )
            continue
        blocks.setdefault((np.packbits(mask).tobytes(), wcol, key[5]), []).append((key, positions[pos], mask))
    return blocks


def _family_fit(block: Block, fam: str, time_effects: bool, z: np.ndarray | None) -> tuple[FamilyFit, FamilyFit | None]:
    """The family's fit of every pair, and (moderated blocks) the fit of the interaction beside it.

    With a moderator ``z`` (one value per row) the fitter transforms the exposure and
    exposure x z together; :func:`~._families.moderated_fits` centres z on the fitted
    trusts' mean and partials each regressor on the other (Frisch-Waugh-Lovell).
    """
    batch = family_entry(fam).batch
    if z is None:
        return batch(block, time_effects), None
    p = block.X.shape[1]
    both = Block(ent=block.ent, tim=block.tim, years=block.years, w=block.w, Y=np.hstack([block.Y, block.Y]),
                 X=np.hstack([block.X, block.X * z[:, None]]))
    return moderated_fits(batch(both, time_effects), p, block.ent, z)


def _fill_interaction(out: dict, rows: np.ndarray, inter: FamilyFit, res: dict, pair: np.ndarray, cov: str,
                      params: MultiverseParams) -> None:
    """Interaction estimate and SE (same covariance and small-sample factor as the main effect) of ``rows``."""
    m = len(rows)
    factor, _, _ = scaling_arrays(
        params.small_sample, cov, n=np.full(m, inter.n_obs), k_cols=np.full(m, inter.k_cols),
        entity_effects=np.full(m, inter.entity_effects), time_effects=np.full(m, inter.time_effects),
        g_entity=np.full(m, inter.g_entity), g_time=np.full(m, inter.g_time),
    )
    out["interaction_estimate"][rows] = res["beta"][pair]
    out["interaction_std_error"][rows] = np.sqrt(res["var"][cov][pair] * factor)
    out["moderator_centre"][rows] = inter.extras["centre"]
    out["moderator_sd"][rows] = inter.extras["sd"]


def _fit_block(pa: PanelArrays, members: list, wcol: str | None, specs: pd.DataFrame, out: dict,
               scores: dict, params: MultiverseParams) -> None:
    """Fit every specification of one block: each family once, over all its pairs."""
    mask = members[0][2]
    pairs: dict[tuple, int] = {}
    spec_rows, spec_pair = [], []
    for key, rows, _ in members:
        j = pairs.setdefault((key[0], key[1], key[2]), len(pairs))
        spec_rows.append(rows)
        spec_pair.append(np.full(len(rows), j))
    spec_rows, spec_pair = np.concatenate(spec_rows), np.concatenate(spec_pair)
    plist = list(pairs)
    years = np.unique(pa.year[mask])
    w = None
    if wcol is not None:
        w = pa.column(wcol)[mask]
        w = w / w.mean()
    block = Block(
        ent=pa.ent[mask], tim=np.searchsorted(years, pa.year[mask]), years=years, w=w,
        Y=np.column_stack([pa.column(d)[mask] for d, _, _ in plist]),
        X=np.column_stack([pa.column(x, k)[mask] for _, x, k in plist]),
    )
    moderator = members[0][0][5]
    z = None if moderator == "none" else pa.column(MODERATOR_COLUMN[moderator])[mask]
    sx2 = (block.X**2 * (1.0 if w is None else w[:, None])).sum(0)
    fams = specs["family"].to_numpy()[spec_rows]
    covs = specs["cov_type"].to_numpy()[spec_rows]
    sds = {"sdx": block.X.std(0, ddof=1), "sdy": block.Y.std(0, ddof=1),  # the sample's, whatever the family
           "sdxw": within_sd(block.X, block.ent), "sdyw": within_sd(block.Y, block.ent)}
    for fam in np.unique(fams):
        fit, inter = _family_fit(block, fam, params.time_effects, z)
        res = {**_slopes(fit, sx2), **sds}
        reasons = _block_reasons(fit, res, [x for _, x, _ in plist], fam)
        if inter is not None:
            res_i = _slopes(inter, (block.X**2 * z[:, None] ** 2 * (1.0 if w is None else w[:, None])).sum(0))
            flat_i = res_i["flat"] & (reasons == "")
            reasons[flat_i] = [f"{x} x {moderator} has no variation left after the {fam} transformation"
                               for (_, x, _), f in zip(plist, flat_i, strict=True) if f]
        in_fam = fams == fam
        for cov in np.unique(covs[in_fam]):
            sel = in_fam & (covs == cov)
            _fill(out, spec_rows[sel], fit, res, spec_pair[sel], cov, reasons, params)
            if inter is not None:
                _fill_interaction(out, spec_rows[sel], inter, res_i, spec_pair[sel], cov, params)
        _store_scores(scores, spec_rows[in_fam], res, spec_pair[in_fam])


def fit_specs(panel: pd.DataFrame, specs: pd.DataFrame, params: MultiverseParams,
              merged: set[str] | None = None) -> tuple[pd.DataFrame, Scores]:
    """Fit every pending specification of ``specs`` on ``panel``.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel.
    specs : pandas.DataFrame
        From :func:`~linkage.multiverse.enumerate_specs` (any subset of its rows).
    params : MultiverseParams
        Conventions (small sample, alpha, min_obs, time effects).
    merged : set of str, optional
        Merged trust codes, for the ``no_merged`` sample.

    Returns
    -------
    table : pandas.DataFrame
        ``specs`` with :data:`RESULT_COLUMNS`, ``status`` (``ok`` or ``unsupported``) and ``reason``.
    scores : Scores
        Cluster sums by trust of every specification (zero rows for unsupported ones).
    """
    specs = specs.reset_index(drop=True)
    pa = PanelArrays(panel)
    n, g_all = len(specs), len(pa.codes)
    out = {c: np.full(n, np.nan) for c in RESULT_COLUMNS}
    out["reason"] = specs["reason"].to_numpy(dtype=object).copy()
    scores = {k: np.zeros((n, g_all)) for k in ("a", "h", "b")}
    scores["sxx"] = np.zeros(n)
    k_max = len(np.unique(pa.year)) + 2  # constant, year dummies and a Mundlak mean at most
    scores["qy"], scores["qx"] = np.zeros((n, g_all, k_max)), np.zeros((n, g_all, k_max))
    sub = specs[specs["status"] == "pending"]
    for (_, wcol, _), members in _group_blocks(pa, sub, merged, out).items():
        _fit_block(pa, members, wcol, specs, out, scores, params)
    table = specs.copy()
    table["reason"] = out.pop("reason")
    for c in RESULT_COLUMNS:
        table[c] = out[c]
    ok = (table["reason"] == "") & np.isfinite(table["std_error"])
    table.loc[~ok & (table["reason"] == ""), "reason"] = "standard error not finite"
    table["status"] = np.where(ok, "ok", "unsupported")
    _inference_columns(table, params.alpha)
    for c in ("n_obs", "n_entities", "n_periods"):
        table[c] = table[c].astype("Int64")
    for k in ("a", "h", "b", "qy", "qx"):
        scores[k][~ok.to_numpy()] = 0.0
    return table, Scores(table["spec_id"].to_numpy(), scores["a"], scores["h"], scores["b"], scores["sxx"], pa.codes,
                         scores["qy"], scores["qx"])


def _inference_columns(table: pd.DataFrame, alpha: float) -> None:
    """t statistic, two-sided p-value and interval from estimate, std_error and df (in place)."""
    est, se, df = (table[c].to_numpy(dtype=float) for c in ("estimate", "std_error", "df"))
    ok = (table["status"] == "ok").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(ok, est / se, np.nan)
    normal = ~np.isfinite(df)
    dfs = np.where(normal | ~ok, 1.0, df)
    p = np.where(normal, 2 * norm_sf(np.abs(stat)), 2 * t_sf(np.abs(stat), dfs))
    q = np.where(normal, norm_ppf(1 - alpha / 2), t_ppf(1 - alpha / 2, dfs))
    table["statistic"] = stat
    table["p_value"] = np.where(ok, p, np.nan)
    table["ci_low"] = np.where(ok, est - q * se, np.nan)
    table["ci_high"] = np.where(ok, est + q * se, np.nan)
    ie, ise = table["interaction_estimate"].to_numpy(dtype=float), table["interaction_std_error"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        istat = np.abs(ie / ise)
    ip = np.where(normal, 2 * norm_sf(istat), 2 * t_sf(istat, dfs))
    table["interaction_p_value"] = np.where(ok & np.isfinite(istat), ip, np.nan)
    for c in ("estimate", "std_error", "df", "cov_factor", "sd_exposure", "sd_dependent", "sd_exposure_within",
              "sd_dependent_within", "moderator_centre", "moderator_sd", "interaction_estimate", "interaction_std_error"):
        table.loc[~ok, c] = np.nan


def spec_frame(panel: pd.DataFrame, spec: pd.Series | dict, merged: set[str] | None = None) -> pd.DataFrame:
    """Estimation sample of one specification as a frame, for refitting it with another library.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel.
    spec : pandas.Series or dict
        One row of the specification table (``dependent, exposure, lag, sample, sample_kind, weights``).
    merged : set of str, optional
        Merged trust codes (``no_merged`` sample).

    Returns
    -------
    pandas.DataFrame
        Indexed by (org_code, year), columns ``y``, ``x`` and ``w`` (weights, 1 if unweighted), sorted.
    """
    pa = PanelArrays(panel)
    key = tuple(spec[c] for c in DATA_KEY)
    mask, wcol = _key_mask(pa, key, spec["sample_kind"], merged)
    w = pa.column(wcol)[mask] if wcol else np.ones(int(mask.sum()))
    idx = pd.MultiIndex.from_arrays([pa.codes[pa.ent[mask]], pa.year[mask]], names=["org_code", "year"])
    return pd.DataFrame(
        {"y": pa.column(key[0])[mask], "x": pa.column(key[1], key[2])[mask], "w": w}, index=idx
    )
