"""Does the staff-patient link differ with catchment deprivation? (issue 16; numpy/scipy only).

Three analyses of the panel with ``context.*`` columns (:mod:`linkage.context`), written by the
model stage to ``data/processed/context_models.json`` and read by the summary's deprivation section:

* **gradients**: between trusts, the trust means (over the panel years) of the dependent and the
  exposure regressed on catchment deprivation (OLS, HC1 robust SE), per standard deviation of it;
* **interaction**: the headline within design (trust and year effects, the exposure at t-lag, SE
  clustered by trust with the CR1 convention: G/(G-1)(n-1)/(n-K), t with G-1 df) with an exposure x
  deprivation term, deprivation centred at the trusts' mean and scaled by their SD;
* **thirds**: the same design fitted separately in each third of trusts by deprivation, the
  difference most minus least deprived with its SE (disjoint trusts, so independent) and its MDE;
  plus base n and reliability of the dependent by third.

Everything is an association between trusts or within trusts over time, never a cause.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .estimation import twoway_demean
from .models._diagnostics import reliability_table
from .params import ModelParams

THIRD_NAMES = ("least deprived third", "middle third", "most deprived third")


def model_frame(panel: pd.DataFrame, y: str, x: str, moderator: str, lag: int = 0) -> pd.DataFrame:
    """``org_code, year, y, x, d`` with x taken at year t-lag (calendar years); incomplete rows dropped."""
    base = panel[["org_code", "year", y]].rename(columns={y: "y"})
    xs = panel[["org_code", "year", x]].rename(columns={x: "x"}).assign(year=lambda f: f["year"] + lag)
    d = panel.groupby("org_code")[moderator].first().rename("d")
    df = base.merge(xs, on=["org_code", "year"], how="inner").merge(d, left_on="org_code", right_index=True)
    return df.dropna().sort_values(["org_code", "year"]).reset_index(drop=True)


def _codes(s: pd.Series) -> np.ndarray:
    return pd.factorize(s, sort=True)[0]


def within_fit(df: pd.DataFrame, regressors: list[str], alpha: float, power: float) -> dict[str, Any]:
    """Two-way within OLS of ``y`` on ``regressors`` with CR1 trust-clustered SE.

    K counts the regressors, the constant and the T-1 year effects (the trust effects are nested in the
    clusters), as the headline's CR1 convention and reghdfe do.
    Returns per regressor: estimate, se, t, p, CI, MDE; and n, G (trusts), T (years), df.
    """
    ent, tim = _codes(df["org_code"]), _codes(df["year"])
    z = twoway_demean(df[["y", *regressors]].to_numpy(dtype=float), ent, tim)
    yv, xm = z[:, 0], z[:, 1:]
    xtx_inv = np.linalg.pinv(xm.T @ xm)
    b = xtx_inv @ xm.T @ yv
    u = yv - xm @ b
    n, g, t = len(df), int(ent.max()) + 1, int(tim.max()) + 1
    k = len(regressors) + t
    if g < 3 or n - k <= 0:
        return {"ok": False, "reason": f"too few trusts or observations (n={n}, trusts={g})"}
    scores = np.zeros((g, len(regressors)))
    np.add.at(scores, ent, xm * u[:, None])
    v = xtx_inv @ (scores.T @ scores) @ xtx_inv * (g / (g - 1) * (n - 1) / (n - k))
    se = np.sqrt(np.diag(v))
    q, qp = stats.t.ppf(1 - alpha / 2, g - 1), stats.t.ppf(power, g - 1)
    out: dict[str, Any] = {"ok": True, "n_obs": n, "n_trusts": g, "n_years": t, "df": g - 1, "terms": {}}
    for i, name in enumerate(regressors):
        tval = b[i] / se[i] if se[i] > 0 else float("nan")
        out["terms"][name] = {"estimate": float(b[i]), "se": float(se[i]), "t": float(tval),
                              "p_value": float(2 * stats.t.sf(abs(tval), g - 1)),
                              "ci_low": float(b[i] - q * se[i]), "ci_high": float(b[i] + q * se[i]),
                              "mde": float((q + qp) * se[i])}
    return out


def interaction(df: pd.DataFrame, alpha: float, power: float) -> dict[str, Any]:
    """The within design with ``x * (d - mean)/sd`` (trust-level mean and SD of d over the sample's trusts)."""
    d_tr = df.groupby("org_code")["d"].first()
    mean, sd = float(d_tr.mean()), float(d_tr.std(ddof=1))
    f = df.assign(xd=df["x"] * (df["d"] - mean) / sd)
    res = within_fit(f, ["x", "xd"], alpha, power)
    return {**res, "d_mean": mean, "d_sd": sd}


def thirds_of(df: pd.DataFrame) -> pd.Series:
    """Third of each trust by deprivation among the trusts in ``df`` (0 least, 2 most deprived)."""
    d_tr = df.groupby("org_code")["d"].first()
    return pd.Series(pd.qcut(d_tr.rank(method="first"), 3, labels=False).astype(int), index=d_tr.index)


def by_thirds(df: pd.DataFrame, alpha: float, power: float) -> dict[str, Any]:
    """The within design in each third; the most minus least deprived difference, its SE, CI and MDE."""
    third = thirds_of(df)
    fits = []
    for k in range(3):
        part = df[df["org_code"].map(third) == k]
        d_tr = part.groupby("org_code")["d"].first()
        fit = within_fit(part, ["x"], alpha, power)
        fits.append({"third": k, "name": THIRD_NAMES[k], "d_min": float(d_tr.min()), "d_max": float(d_tr.max()),
                     **({"n_obs": fit["n_obs"], "n_trusts": fit["n_trusts"], **fit["terms"]["x"]} if fit["ok"]
                        else {"n_obs": len(part), "n_trusts": len(d_tr), "reason": fit["reason"]})})
    diff: dict[str, Any] = {}
    lo, hi = fits[0], fits[2]
    if "estimate" in lo and "estimate" in hi:
        est, se = hi["estimate"] - lo["estimate"], float(np.hypot(hi["se"], lo["se"]))
        z, zp = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
        diff = {"estimate": est, "se": se, "ci_low": est - z * se, "ci_high": est + z * se,
                "p_value": float(2 * stats.norm.sf(abs(est / se))), "mde": float((z + zp) * se)}
    return {"thirds": fits, "difference": diff}


def gradients(panel: pd.DataFrame, measures: list[str], moderator: str, alpha: float) -> list[dict[str, Any]]:
    """Between trusts: each measure's trust mean on deprivation (per SD), OLS with HC1 SE."""
    out = []
    d = panel.groupby("org_code")[moderator].first()
    for m in measures:
        tm = pd.concat([panel.groupby("org_code")[m].mean().rename("m"), d.rename("d")], axis=1).dropna()
        if len(tm) < 5:
            out.append({"measure": m, "n_trusts": len(tm), "reason": "fewer than 5 trusts with both"})
            continue
        sd = float(tm["d"].std(ddof=1))
        xz = np.column_stack([np.ones(len(tm)), (tm["d"] - tm["d"].mean()) / sd])
        b, *_ = np.linalg.lstsq(xz, tm["m"].to_numpy(), rcond=None)
        u = tm["m"].to_numpy() - xz @ b
        inv = np.linalg.inv(xz.T @ xz)
        n = len(tm)
        v = inv @ (xz.T * u**2) @ xz @ inv * n / (n - 2)
        se = float(np.sqrt(v[1, 1]))
        q = stats.t.ppf(1 - alpha / 2, n - 2)
        out.append({"measure": m, "n_trusts": n, "slope_per_sd": float(b[1]), "se": se,
                    "ci_low": float(b[1] - q * se), "ci_high": float(b[1] + q * se),
                    "p_value": float(2 * stats.t.sf(abs(b[1] / se), n - 2)), "d_sd": sd,
                    "correlation": float(np.corrcoef(tm["d"], tm["m"])[0, 1]), "mean": float(tm["m"].mean())})
    return out


def bases_by_third(panel: pd.DataFrame, y: str, moderator: str, p: ModelParams) -> list[dict[str, Any]]:
    """Base n of the dependent and its reliability in each third of trusts by deprivation."""
    ncol = f"{y}__n"
    d = panel.groupby("org_code")[moderator].first().dropna()
    third = thirds_of(pd.DataFrame({"org_code": d.index, "d": d.to_numpy()}))
    rows = []
    for k in range(3):
        part = panel[panel["org_code"].map(third) == k]
        row: dict[str, Any] = {"third": k, "name": THIRD_NAMES[k], "n_trusts": int(part["org_code"].nunique())}
        if ncol in part and part[ncol].notna().any():
            row |= {"median_n": float(part[ncol].median()), "mean_n": float(part[ncol].mean()),
                    "min_n": float(part[ncol].min())}
            rel = reliability_table(part, [y], percent_measures=p.percent_measures, score_sd=p.score_individual_sd)
            row["reliability"] = float(rel["reliability"].iloc[0]) if len(rel) else float("nan")
        rows.append(row)
    return rows


def run_context_models(panel: pd.DataFrame, p: ModelParams, moderator: str = "context.imd2019_score") -> dict[str, Any]:
    """All three analyses for ``moderator`` (a ``context.*`` column); a panel without it gives the reason."""
    if moderator not in panel or panel[moderator].notna().sum() == 0:
        return {"available": False, "reason": f"the panel has no {moderator} values (no context files)"}
    y, x = p.dependent, p.exposure
    df = model_frame(panel, y, x, moderator, p.lag)
    with_d = panel.drop_duplicates("org_code")
    return {"available": True, "moderator": moderator, "dependent": y, "exposure": x, "lag": p.lag,
            "design": "trust and year effects, unweighted, SE clustered by trust (CR1), t with G-1 df",
            "alpha": p.alpha, "power": p.power,
            "n_trusts_panel": int(with_d["org_code"].nunique()),
            "n_trusts_with_context": int(with_d[moderator].notna().sum()),
            "gradients": gradients(panel, [y, x], moderator, p.alpha),
            "interaction": interaction(df, p.alpha, p.power) if len(df) else {"ok": False, "reason": "no rows"},
            **(by_thirds(df, p.alpha, p.power) if len(df) else {"thirds": [], "difference": {}}),
            "bases": bases_by_third(panel, y, moderator, p)}
