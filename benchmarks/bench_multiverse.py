"""Benchmark: the multiverse engine vs looping pyfixest ``feols`` vs looping linearmodels ``PanelOLS``.

Run from the project root (after ``dvc repro link``, or it simulates a demo-sized panel)::

    python benchmarks/bench_multiverse.py [--panel data/processed/panel.parquet] [--loop-limit N]

All three fit the *same* specifications (families pyfixest fits directly: pooled with
year dummies, trust FE, trust and year FE; sample x lag x weights x measures from the
params ``multiverse`` section; standard errors clustered by trust) in one process.
The loops get each specification's estimation frame ready-made (outside the timing),
so only model building and fitting are timed for them; the engine is timed from the
specification table to the filled results.  Standard errors are compared under the
cr1 convention: PanelOLS's raw sandwich times the factor of ``linkage.estimation.conventions``
(an independent implementation), pyfixest's default CRV1 (the same convention;
singletons kept).
It also times the whole default curve (all six families), the 999-draw wild
cluster bootstrap of 20 headline specifications (exact: full refit per draw, see
``docs/multiverse.md``) and the whole ``run_multiverse`` (curve, studentised
Romano-Wolf and joint tests, headline bootstrap), and prints targets met or not.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from linkage.estimation import scaling
from linkage.multiverse import (
    enumerate_specs,
    fit_specs,
    headline_bootstrap,
    headline_rows,
    run_multiverse,
    spec_frame,
)
from linkage.multiverse._io import load_merged
from linkage.params import Params, load_params

BENCH_FAMILIES = ["pooled", "entity_fe", "twoway_fe"]


def _panel(path: str | None) -> tuple[pd.DataFrame, str]:
    if path and Path(path).exists():
        return pd.read_parquet(path), path
    from linkage.demo import simulate_panel

    return simulate_panel(seed=1, n_trusts=130, years=(2018, 2019, 2020, 2021, 2022, 2023)), "simulated 130 trusts x 6 years"


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _frames(panel: pd.DataFrame, specs: pd.DataFrame, merged) -> list[pd.DataFrame]:
    cache: dict[tuple, pd.DataFrame] = {}
    out = []
    for _, s in specs.iterrows():
        key = (s.dependent, s.exposure, s.lag, s["sample"], s.weights)
        if key not in cache:
            cache[key] = spec_frame(panel, s, merged)
        out.append(cache[key])
    return out


def _year_dummies(idx: pd.MultiIndex) -> pd.DataFrame:
    years = idx.get_level_values(1)
    return pd.DataFrame({f"y{y}": (years == y).astype(float) for y in sorted(set(years))[1:]}, index=idx)


def loop_panelols(specs: pd.DataFrame, frames: list[pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    """Fit each specification with linearmodels and scale its raw clustered SE by the cr1 factor."""
    from linearmodels import PanelOLS, PooledOLS

    est, se = np.empty(len(specs)), np.empty(len(specs))
    for i, (fam, wt, fr) in enumerate(zip(specs["family"], specs["weights"], frames, strict=True)):
        exog = pd.DataFrame({"const": 1.0, "x": fr["x"]}, index=fr.index)
        kw = {"weights": fr["w"]} if wt == "respondents" else {}
        g, t = fr.index.get_level_values(0).nunique(), fr.index.get_level_values(1).nunique()
        if fam == "pooled":
            exog = exog.join(_year_dummies(fr.index))
            res = PooledOLS(fr["y"], exog, **kw).fit(cov_type="clustered", cluster_entity=True, debiased=False)
            ee = te = 0
        else:
            two = fam == "twoway_fe"
            res = PanelOLS(fr["y"], exog, entity_effects=True, time_effects=two, **kw).fit(
                cov_type="clustered", cluster_entity=True, debiased=False, auto_df=False, count_effects=False)
            ee, te = g - 1, (t - 1 if two else 0)
        sc = scaling("cr1", "clustered_entity", n=int(res.nobs), k_cols=len(res.params), entity_effects=ee,
                     time_effects=te, g_entity=g, g_time=t)
        est[i] = res.params["x"]
        se[i] = np.sqrt(res.cov.loc["x", "x"] * sc.factor)
    return est, se


def loop_pyfixest(specs: pd.DataFrame, frames: list[pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    """Fit each specification with pyfixest feols (CRV1 by trust, default small-sample correction).

    ``fixef_rm='none'`` keeps trusts observed once, as linearmodels and the engine do (pyfixest's
    default drops these singletons, which changes n in the small-sample factor, not the estimate).
    """
    import pyfixest as pf

    fml = {"twoway_fe": "y ~ x | org_code + year", "entity_fe": "y ~ x | org_code", "pooled": "y ~ x + C(year)"}
    est, se = np.empty(len(specs)), np.empty(len(specs))
    for i, (fam, wt, fr) in enumerate(zip(specs["family"], specs["weights"], frames, strict=True)):
        m = pf.feols(fml[fam], data=fr.reset_index(), vcov={"CRV1": "org_code"}, fixef_rm="none",
                     weights="w" if wt == "respondents" else None)
        est[i], se[i] = m.coef()["x"], m.se()["x"]
    return est, se


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--panel", default="data/processed/panel.parquet")
    ap.add_argument("--params", default=None, help="params.yaml whose multiverse section is used (default: schema defaults)")
    ap.add_argument("--loop-limit", type=int, default=0, help="loop over only the first N specifications (0 = all)")
    ap.add_argument("--repeat", type=int, default=3, help="engine timings: best of this many runs")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    panel, source = _panel(args.panel)
    params = load_params(args.params).multiverse if args.params else Params().multiverse
    merged = load_merged(args.panel, params.panel_long) if Path(args.panel).exists() else None
    print(f"panel: {source}: {len(panel)} trust-years, {panel['org_code'].nunique()} trusts, "
          f"{panel['year'].nunique()} years")

    bench = params.model_copy(update={"families": BENCH_FAMILIES, "cov_types": ["clustered_entity"]})
    specs = enumerate_specs(panel, bench, merged)
    t_engine, (tab, _) = _best(lambda: fit_specs(panel, enumerate_specs(panel, bench, merged), bench, merged), args.repeat)
    ok = tab[tab["status"] == "ok"].reset_index(drop=True)
    loop = ok if not args.loop_limit else ok.iloc[: args.loop_limit]
    print(f"benchmark specifications: {len(specs)} enumerated, {len(ok)} fitted "
          f"({', '.join(BENCH_FAMILIES)}; clustered by trust, cr1); loops over {len(loop)}")

    full = params.model_copy(update={"cov_types": ["clustered_entity"]})
    t_full, (tab_full, scores_full) = _best(lambda: fit_specs(panel, enumerate_specs(panel, full, merged), full, merged), args.repeat)
    rows = headline_rows(tab_full, full)[:20]
    boot = full.model_copy(update={"bootstrap_draws": 999})
    t_boot, _ = _best(lambda: headline_bootstrap(tab_full, scores_full, boot, rows), args.repeat)
    forward_only = full.model_copy(update={"falsification_reverse": False})
    t_run, _ = _best(lambda: run_multiverse(panel, forward_only, merged), 1)
    t_run_rev, run_rev = _best(lambda: run_multiverse(panel, full, merged), 1)

    frames = _frames(panel, loop, merged)
    t_lm, (e_lm, s_lm) = _best(lambda: loop_panelols(loop, frames), 1)
    try:
        t_pf, (e_pf, s_pf) = _best(lambda: loop_pyfixest(loop, frames), 1)
    except ModuleNotFoundError:
        t_pf, e_pf, s_pf = np.nan, np.full(len(loop), np.nan), np.full(len(loop), np.nan)
    scale = len(ok) / len(loop)
    e, s = loop["estimate"].to_numpy(), loop["std_error"].to_numpy()
    n_full = int((tab_full["status"] == "ok").sum())
    print("\n| what | specs | seconds | per spec (ms) |\n|---|---:|---:|---:|")
    print(f"| engine (same specs as the loops) | {len(ok)} | {t_engine:.3f} | {1e3 * t_engine / len(ok):.3f} |")
    print(f"| engine, whole default curve (6 families) | {n_full} | {t_full:.3f} | {1e3 * t_full / n_full:.3f} |")
    print(f"| looping PanelOLS | {len(loop)} | {t_lm:.2f} | {1e3 * t_lm / len(loop):.1f} |")
    print(f"| looping pyfixest feols | {len(loop)} | {t_pf:.2f} | {1e3 * t_pf / len(loop):.1f} |")
    print(f"| wild cluster bootstrap, {len(rows)} specs x 999 draws x {len(boot.bootstrap_weights)} weights x "
          f"{len(boot.bootstrap_kinds)} kinds | {len(rows)} | {t_boot:.3f} | |")
    n_rev = len(getattr(run_rev, "reverse", []))
    print(f"| run_multiverse: curve + Romano-Wolf/joint tests ({full.bootstrap_draws} draws) + headline bootstrap, "
          f"forward only | {n_full} | {t_run:.2f} | |")
    print(f"| run_multiverse as configured (with {n_rev} reverse models when falsification_reverse) | "
          f"{n_full + n_rev} | {t_run_rev:.2f} | |")
    r_lm, r_pf = t_lm * scale / t_engine, t_pf * scale / t_engine
    print(f"\nspeed-up vs looping PanelOLS: {r_lm:.0f}x (target >= 40x); vs looping pyfixest: {r_pf:.0f}x (target >= 30x)")
    print(f"max |estimate - PanelOLS| = {np.abs(e - e_lm).max():.2e} (target 1e-10); "
          f"max |SE - PanelOLS x cr1| = {np.abs(s - s_lm).max():.2e} (target 1e-8)")
    print(f"max |estimate - pyfixest| = {np.nanmax(np.abs(e - e_pf)):.2e}; max |SE - pyfixest CRV1| = {np.nanmax(np.abs(s - s_pf)):.2e}")
    checks = {
        ">=1,000 specs in <=1 s": len(ok) >= 1000 and t_engine <= 1.0,
        "whole curve >=1,000 specs in <=1 s": n_full >= 1000 and t_full <= 1.0,
        ">=40x PanelOLS": r_lm >= 40, ">=30x pyfixest": r_pf >= 30,
        "estimates to 1e-10": np.abs(e - e_lm).max() <= 1e-10, "SEs to 1e-8": np.abs(s - s_lm).max() <= 1e-8,
        "bootstrap <=2 s": t_boot <= 2.0,
    }
    print("targets: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in checks.items()))


if __name__ == "__main__":
    main()
