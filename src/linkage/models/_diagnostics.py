"""Hausman test, Mundlak test and trust-level reliability of measures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..estimation import twoway_demean


def hausman(
    b_fe: pd.Series,
    v_fe: pd.DataFrame,
    b_re: pd.Series,
    v_re: pd.DataFrame,
    terms: list[str],
    *,
    tol: float = 1e-10,
) -> dict[str, Any]:
    """Classic Hausman test of fixed against random effects on the common ``terms``.

    ``H = d' (V_FE - V_RE)^+ d`` with ``d = b_FE - b_RE``, chi-squared with df equal
    to the rank of the variance difference.  The classic test assumes that random
    effects is *efficient* under the null (homoskedastic, serially uncorrelated
    idiosyncratic errors), so both covariances are the classical (unadjusted)
    ones.  If ``V_FE - V_RE`` is not positive definite, only its positive
    eigenvalues are used (a generalised inverse), df is their number, and the
    note says so; if none is positive the statistic is not computed.

    Parameters
    ----------
    b_fe, b_re : pandas.Series
        Coefficients.
    v_fe, v_re : pandas.DataFrame
        Classical covariances.
    terms : list of str
        Coefficients to compare (time-varying regressors only).
    tol : float
        Relative eigenvalue tolerance.

    Returns
    -------
    dict
        ``statistic, df, p_value, note`` (statistic and p_value None if not computable).
    """
    d = (b_fe[terms] - b_re[terms]).to_numpy()
    vd = v_fe.loc[terms, terms].to_numpy() - v_re.loc[terms, terms].to_numpy()
    vals, vecs = np.linalg.eigh((vd + vd.T) / 2)
    scale = max(np.abs(vals).max(), np.abs(np.diag(v_fe.loc[terms, terms].to_numpy())).max())
    pos = vals > tol * scale
    note = (
        "Classic Hausman test (FE vs RE, classical covariances). It assumes random effects is "
        "efficient under the null: homoskedastic, serially uncorrelated errors. With clustered "
        "errors prefer the Mundlak test (mundlak_*), which uses the run's covariance."
    )
    if not pos.any():
        return {
            "statistic": None,
            "df": 0,
            "p_value": None,
            "note": note + " V_FE - V_RE has no positive eigenvalue, so the statistic is not defined here.",
        }
    if not pos.all():
        note += (
            f" V_FE - V_RE is not positive definite ({int((~pos).sum())} non-positive eigenvalue(s)); "
            "a generalised inverse on the positive eigenvalues was used and df reduced accordingly."
        )
    proj = vecs[:, pos].T @ d
    stat = float((proj**2 / vals[pos]).sum())
    df = int(pos.sum())
    return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df)), "note": note}


def wald(b: pd.Series, v: pd.DataFrame, terms: list[str], df_ref: float | None) -> dict[str, Any]:
    """Wald test that ``terms`` are jointly zero (F with (q, df_ref) or chi2 with q df)."""
    bb = b[terms].to_numpy()
    vv = v.loc[terms, terms].to_numpy()
    stat = float(bb @ np.linalg.pinv(vv) @ bb)
    q = len(terms)
    if df_ref is None:
        return {"statistic": stat, "df": q, "p_value": float(stats.chi2.sf(stat, q)), "distribution": "chi2"}
    return {
        "statistic": stat / q,
        "df": q,
        "df_denom": df_ref,
        "p_value": float(stats.f.sf(stat / q, q, df_ref)),
        "distribution": "F",
    }


RELIABILITY_COLUMNS = [
    "measure", "unit", "n_trusts", "n_years", "mean_n", "median_n", "observed_between_var",
    "sampling_var", "reliability", "within_var", "within_reliability", "note",
]


def reliability_table(
    panel: pd.DataFrame,
    measures: list[str],
    *,
    percent_measures: list[str] | None,
    score_sd: float,
) -> pd.DataFrame:
    """Trust-level reliability of each measure from its base n.

    For trust i in year t with base n_it the sampling variance of the published
    value is ``v_it = 100^2 p(1-p)/n_it`` (percent measures, p = value/100) or
    ``sd^2/n_it`` (0-10 scores, sd = ``score_sd``, an assumption).  With
    ``S2_t`` the variance of the values across trusts in year t and ``vbar_t``
    the mean of v_it, the true between-trust variance is ``tau2_t = S2_t - vbar_t``
    and the single-year reliability is ``tau2_t / S2_t`` (the share of the
    observed cross-trust variance that is not sampling noise; the ICC(1)-style
    reliability of a trust mean).  Averaged over years.

    The *within* reliability is the same ratio for the variation that two-way fixed
    effects use: with ``W`` the variance of the values after removing trust and
    year means (dof n - N - T + 1), ``(W - vbar) / W``.  Low within reliability
    means within-trust estimates are attenuated towards zero.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel.
    measures : list of str
        Measures to report (their ``__n`` columns are needed; without one the
        measure is reported with NaN reliability and a note).
    percent_measures : list of str, optional
        Percent-scale measures; None detects them as measures with a value above 10.
    score_sd : float
        Assumed SD of an individual answer on 0-10 scores.

    Returns
    -------
    pandas.DataFrame
        One row per measure: measure, unit, n_trusts, n_years, mean_n, median_n,
        observed_between_var, sampling_var, reliability, within_var,
        within_reliability, note.
    """
    rows = [_reliability_row(panel, m, percent_measures, score_sd) for m in measures]
    return pd.DataFrame(rows).reindex(columns=RELIABILITY_COLUMNS)


def _catalogue_unit(measure: str) -> str | None:
    """The measure's unit in the catalogue (packaged plus the project's own), None if unknown."""
    from ..catalogue import load_catalogue

    m = load_catalogue().measures.get(measure)
    return None if m is None else m.unit


def measure_unit(values: pd.Series, m: str, percent_measures: list[str] | None) -> str:
    """The scale a measure's sampling variance is computed on: ``percent``, ``proportion``, ``score`` or another unit.

    The catalogue's unit decides when it is known (``proportion`` for 0-1 shares,
    ``percent``, ``score10``); otherwise ``percent_measures`` or, if that is None,
    any value above 10 marks a percent measure and the rest are 0-10 scores.
    """
    scale = _catalogue_unit(m)
    if scale == "proportion":
        return "proportion"
    if scale not in (None, "percent", "score10"):
        return str(scale)
    if percent_measures is not None:
        return "percent" if m in percent_measures else "score"
    if scale == "score10":
        return "score"
    if scale == "percent":
        return "percent"
    return "percent" if pd.to_numeric(values, errors="coerce").max() > 10 else "score"


def sampling_variance(values: np.ndarray, n: np.ndarray, unit: str, score_sd: float) -> np.ndarray:
    """Sampling variance of published trust values from their base n.

    ``100^2 p(1-p)/n`` for percent measures (p = value/100), ``p(1-p)/n`` for 0-1
    proportions, ``score_sd^2/n`` for 0-10 scores (``score_sd`` is an assumption:
    the files do not publish the respondents' SD).

    Raises
    ------
    ValueError
        For a unit without a survey sampling model.
    """
    v = np.asarray(values, dtype=float)
    n = np.asarray(n, dtype=float)
    if unit == "percent":
        p = np.clip(v / 100, 0, 1)
        return 100**2 * p * (1 - p) / n
    if unit == "proportion":
        p = np.clip(v, 0, 1)
        return p * (1 - p) / n
    if unit == "score":
        return np.full_like(v, score_sd**2) / n
    raise ValueError(f"no sampling model for a {unit} measure")


def _reliability_row(
    panel: pd.DataFrame, m: str, percent_measures: list[str] | None, score_sd: float
) -> dict[str, Any]:
    """One row of :func:`reliability_table`."""
    ncol = f"{m}__n"
    vals = pd.to_numeric(panel[m], errors="coerce")
    unit = measure_unit(vals, m, percent_measures)
    row: dict[str, Any] = {"measure": m, "unit": unit}
    if unit not in ("percent", "proportion", "score"):
        row.update(note=f"reliability not computed: a {unit} measure has no survey sampling model here")
        return row
    if ncol not in panel.columns:
        row.update(note=f"no base column {ncol!r}; reliability not computed")
        return row
    n = pd.to_numeric(panel[ncol], errors="coerce")
    ok = vals.notna() & n.notna() & (n > 0)
    d = pd.DataFrame({"org": panel["org_code"][ok], "year": panel["year"][ok], "v": vals[ok], "n": n[ok]})
    if d.empty:
        row.update(note=f"no positive base n in {ncol!r}; reliability not computed")
        return row
    d["sv"] = sampling_variance(d["v"].to_numpy(), d["n"].to_numpy(), unit, score_sd)
    by_year = d.groupby("year").agg(s2=("v", "var"), vbar=("sv", "mean"), k=("v", "size"))
    by_year = by_year[by_year["k"] >= 3]
    s2 = float(by_year["s2"].mean()) if len(by_year) else float("nan")
    vbar = float(d["sv"].mean())
    rel = float(((by_year["s2"] - by_year["vbar"]).clip(lower=0) / by_year["s2"]).mean()) if len(by_year) else float("nan")
    within_var, within_rel = _within_reliability(d, vbar)
    row.update(
        n_trusts=int(d["org"].nunique()),
        n_years=int(d["year"].nunique()),
        mean_n=float(d["n"].mean()),
        median_n=float(d["n"].median()),
        observed_between_var=s2,
        sampling_var=vbar,
        reliability=rel,
        within_var=within_var,
        within_reliability=within_rel,
        note=f"score: sampling variance assumes individual SD {score_sd:.2g}" if unit == "score" else "",
    )
    return row


def _within_reliability(d: pd.DataFrame, vbar: float) -> tuple[float, float]:
    """Variance of the values net of trust and year means, and its share that is not sampling noise."""
    ent = pd.factorize(d["org"], sort=True)[0]
    tim = pd.factorize(d["year"], sort=True)[0]
    n_ent, n_tim = ent.max() + 1 if len(d) else 0, tim.max() + 1 if len(d) else 0
    dof = len(d) - n_ent - n_tim + 1
    if dof <= 0:
        return float("nan"), float("nan")
    resid = twoway_demean(d["v"].to_numpy(), ent, tim)
    within_var = float(resid @ resid / dof)
    within_rel = max(0.0, (within_var - vbar) / within_var) if within_var > 0 else float("nan")
    return within_var, within_rel
