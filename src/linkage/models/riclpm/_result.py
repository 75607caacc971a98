"""The RI-CLPM result: paths with intervals, Wald tests, standardised paths, fit indices, rows and summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._ml import Fit, independence, saturated
from ._waves import Waves

#: Parameter stem -> (key in model names, direction, source construct, destination construct).
PATHS = {
    "cl_xy": ("crosslag_staff_to_patient", "forward", "x", "y"),
    "cl_yx": ("crosslag_patient_to_staff", "reverse", "y", "x"),
    "ar_x": ("autoregression_staff", "autoregressive", "x", "x"),
    "ar_y": ("autoregression_patient", "autoregressive", "y", "y"),
}
ROLE = {"forward": "estimate", "reverse": "reverse_check", "autoregressive": "stability"}


def fit_indices(fit: Fit, data: np.ndarray) -> dict[str, float]:
    """Chi-square against the saturated model (EM), CFI, TLI, RMSEA and SRMR (Bentler, with means)."""
    p = data.shape[1]
    mu_s, sig_s, ll_s = saturated(data)
    chisq = max(0.0, 2 * (ll_s - fit.loglik))
    df = p + p * (p + 1) // 2 - fit.layout.size
    base = 2 * (ll_s - independence(data))
    df_b = p * (p - 1) // 2
    n = fit.n_cases
    denom = max(chisq - df, base - df_b, 0.0)
    cfi = 1.0 - max(chisq - df, 0.0) / denom if denom > 0 else 1.0
    tli = ((base / df_b) - (chisq / df)) / ((base / df_b) - 1) if df > 0 else float("nan")
    rmsea = float(np.sqrt(max(chisq - df, 0.0) / (df * n))) if df > 0 else float("nan")
    sd = np.sqrt(np.diag(sig_s))
    resid = (sig_s - fit.sigma) / np.outer(sd, sd)
    low = resid[np.tril_indices(p)]
    mean_res = (mu_s - fit.mu) / sd
    srmr = float(np.sqrt((np.sum(low ** 2) + np.sum(mean_res ** 2)) / (len(low) + p)))
    return {"chisq": float(chisq), "df": int(df), "pvalue": float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan"),
            "cfi": float(cfi), "tli": float(tli), "rmsea": rmsea, "srmr": srmr,
            "baseline_chisq": float(base), "baseline_df": int(df_b), "loglik": fit.loglik, "n_parameters": fit.layout.size}


def wald(fit: Fit, stems: tuple[str, ...]) -> dict[str, float]:
    """Wald chi-square that every parameter whose name starts with one of ``stems`` is zero."""
    idx = [k for k, n in enumerate(fit.layout.names) if n.split("[")[0] in stems]
    b = fit.theta[idx]
    v = fit.vcov[np.ix_(idx, idx)]
    w = float(b @ np.linalg.solve(v, b))
    return {"chisq": w, "df": len(idx), "p_value": float(stats.chi2.sf(w, len(idx)))}


def path_table(fit: Fit, waves: Waves, alpha: float) -> pd.DataFrame:
    """One row per lagged path parameter: estimate, SE, interval, z, p and standardised values per wave."""
    t_ = fit.layout.n_waves
    se = np.sqrt(np.diag(fit.vcov))
    q = stats.norm.ppf(1 - alpha / 2)
    sd = np.sqrt(np.diag(fit.sig_within))
    rows = []
    for k, name in enumerate(fit.layout.names):
        stem = name.split("[")[0]
        if stem not in PATHS:
            continue
        key, direction, _, _ = PATHS[stem]
        std = [fit.theta[k] * sd[j] / sd[i] for i, j in fit.layout.cells[k]]
        first = fit.layout.cells[k][0][0] % t_
        rows.append({
            "parameter": name, "key": key, "direction": direction,
            "from_year": waves.years[first - 1] if not fit.layout.equal_paths else waves.years[0],
            "to_year": waves.years[first] if not fit.layout.equal_paths else waves.years[-1],
            "estimate": fit.theta[k], "std_error": se[k], "statistic": fit.theta[k] / se[k],
            "p_value": 2 * stats.norm.sf(abs(fit.theta[k] / se[k])),
            "ci_low": fit.theta[k] - q * se[k], "ci_high": fit.theta[k] + q * se[k],
            "std_mean": float(np.mean(std)), "std_min": float(np.min(std)), "std_max": float(np.max(std)),
        })
    return pd.DataFrame(rows)


@dataclass
class RiclpmResult:
    """What :func:`linkage.models.riclpm.fit_riclpm` returns: a fit, or a refusal with its plain reason."""

    status: str  # fitted | refused | off
    reason: str
    exposure: str
    dependent: str
    waves: Waves | None
    equal_paths: bool
    alpha: float
    n_trusts: int = 0
    n_obs: int = 0
    n_dropped: int = 0
    paths: pd.DataFrame = field(default_factory=pd.DataFrame)
    wald: dict[str, dict[str, float]] = field(default_factory=dict)
    indices: dict[str, float] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Rows in the ``model_results.csv`` schema (none when refused)."""
        if self.status != "fitted":
            return []
        step, years = self.waves.step, self.waves.years
        measure = {"x": self.exposure, "y": self.dependent}
        out = []
        for r in self.paths.itertuples():
            _, direction, src, dst = PATHS[r.parameter.split("[")[0]]
            spec = "riclpm" if self.equal_paths else f"riclpm_{r.from_year}_{r.to_year}"
            label = r.key.replace("_", " ").replace("to ", "-> ")
            out.append({
                "model": f"riclpm_{r.key}", "model_label": f"RI-CLPM within-trust {label}",
                "spec_name": spec, "spec": spec, "direction": direction, "lag": step,
                "dependent": measure[dst], "regressor": measure[src], "term": measure[src], "effect": "within",
                "estimate": r.estimate, "std_error": r.std_error, "ci_low": r.ci_low, "ci_high": r.ci_high,
                "p_value": r.p_value, "statistic": r.statistic, "df": np.nan,
                "n_obs": self.n_obs, "n_entities": self.n_trusts, "n_periods": len(years), "n_trust_years": self.n_obs,
                "n_dropped": self.n_dropped,
                "dropped_detail": f"{self.n_dropped} trusts with neither measure in the waves used" if self.n_dropped else "",
                "cov_type": "observed_information", "small_sample": "none", "cov_factor": 1.0, "weights": "",
                "alpha": self.alpha, "estimate_per_within_sd": r.std_mean, "headline": False,
                "role": ROLE[direction], "pair_gap_years": step,
                "timing": (f"within-trust {measure[src]} at one wave -> {measure[dst]} at the next ({step} year(s) later); "
                           f"waves {', '.join(map(str, years))}; paths {'equal over waves' if self.equal_paths else 'per wave'}"),
            })
        return out

    def with_rows(self, results: pd.DataFrame) -> pd.DataFrame:
        """``results`` (the model stage's table) with these rows appended, in its columns."""
        rows = self.rows()
        if not rows:
            return results
        return pd.concat([results, pd.DataFrame(rows).reindex(columns=results.columns)], ignore_index=True)

    def summary(self) -> dict[str, Any]:
        """A JSON-able account of the fit (or the refusal) for metrics/ and the site."""
        w = self.waves
        out: dict[str, Any] = {
            "status": self.status, "reason": self.reason, "exposure": self.exposure, "dependent": self.dependent,
            "equal_paths": self.equal_paths, "alpha": self.alpha,
            "waves": list(w.years) if w else [], "step_years": w.step if w else 0,
            "eligible_years": list(w.eligible) if w else [],
            "trusts_with_both_by_year": {str(y): n for y, n in w.both_by_year.items()} if w else {},
            "waves_note": w.note if w else "",
        }
        if self.status != "fitted":
            return out
        out.update({"n_trusts": self.n_trusts, "n_obs": self.n_obs, "n_dropped": self.n_dropped,
                    "fit": {k: _num(v) for k, v in self.indices.items()},
                    "wald": {k: {kk: _num(vv) for kk, vv in v.items()} for k, v in self.wald.items()}})
        cols = ["parameter", "key", "direction", "from_year", "to_year", "estimate", "std_error", "ci_low", "ci_high",
                "p_value", "std_mean", "std_min", "std_max"]
        out["paths"] = [{c: _num(v) for c, v in zip(cols, r, strict=True)} for r in self.paths[cols].itertuples(index=False)]
        return out


def _num(v: Any) -> Any:
    """Plain Python numbers for JSON, rounded to 10 significant digits so reruns are byte-identical."""
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(f"{float(v):.10g}") if np.isfinite(v) else None
    return v
