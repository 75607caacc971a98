"""The curve's bootstraps against pyfixest's ``wildboottest`` and ``rwolf``, at Monte Carlo noise level.

Different random draws, so agreement is statistical: each p-value within four Monte Carlo
standard errors (both sides' draws) plus the grid step, and Romano-Wolf not below
pyfixest's on average.  The twelve Romano-Wolf specifications share their rows, so every
small-sample factor is the same across them (Romano-Wolf is not invariant to rescaling one
specification's t statistics, and pyfixest's wild bootstrap counts the absorbed trust
effects in K where the curve's CR1 does not).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest_multiverse import mv_panel, mv_params

from linkage.multiverse import draw_weights, null_t_draws, romano_wolf, run_multiverse, spec_frame

pf = pytest.importorskip("pyfixest", reason="pyfixest not installed (dev dependency)")
pytest.importorskip("wildboottest", reason="wildboottest (pyfixest's wild bootstrap backend) not installed")

DRAWS = 4999


def _mc_tol(p: np.ndarray, draws: int) -> np.ndarray:
    return 4 * np.sqrt(np.clip(p * (1 - p), 1e-4, None) * 2 / draws) + 2 / draws


def _panel_with_exposures(n_exposures: int):
    panel = mv_panel(seed=21, n_trusts=40)
    rng = np.random.default_rng(0)
    names = ["staff.stress", "staff.engagement"]
    for i in range(n_exposures - 2):
        name = f"staff.synthetic_{i}"
        mix = rng.uniform(-1, 1)
        panel[name] = mix * panel["staff.stress"] + rng.normal(0, 2 + i % 3, len(panel))
        names.append(name)
    return panel, names


def _pyfixest_fit(panel, spec):
    frame = spec_frame(panel, spec).reset_index()
    frame["cl"] = np.searchsorted(np.unique(panel["org_code"]), frame["org_code"]).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols("y ~ x | cl + year", data=frame, vcov={"CRV1": "cl"}, fixef_rm="none")


def test_romano_wolf_matches_pyfixest_rwolf_not_lower():
    panel, names = _panel_with_exposures(12)
    params = mv_params(staff_measures=names, families=["twoway_fe"], samples=["all"], weights=["none"], lags=[0],
                       bootstrap_draws=DRAWS, bootstrap_specs=0, falsification_reverse=False)
    run = run_multiverse(panel, params)
    table = run.table
    ok = table[table["status"] == "ok"]
    assert len(ok) == 12 and ok["n_obs"].nunique() == 1
    fits = [_pyfixest_fit(panel, spec) for _, spec in ok.iterrows()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.rwolf(fits, "x", reps=DRAWS, seed=7).loc["RW Pr(>|t|)"].to_numpy(dtype=float)
    ours = ok["p_romano_wolf"].to_numpy(dtype=float)
    np.testing.assert_array_less(np.abs(ours - ref), _mc_tol(ref, DRAWS))
    # not systematically lower.  The adjusted p-values are strongly dependent (a step-down
    # shares its maxima), so the mean difference is judged against the Monte Carlo SD of one
    # p-value, not of an average of twelve independent ones.
    sd_one = np.sqrt(np.mean(np.clip(ref * (1 - ref), 1e-4, None)) * 2 / DRAWS)
    assert np.mean(ours - ref) > -2 * sd_one
    assert (ours < ref - 2 / DRAWS).sum() < len(ref)
    # the criterion can fail: holding each specification's SE fixed (the old shortcut) is caught
    v = draw_weights("rademacher", DRAWS, len(run.scores.codes), params.seed)
    rows = np.flatnonzero((table["status"] == "ok").to_numpy())
    sub = run.scores.subset(rows)
    est, se = ok["estimate"].to_numpy(dtype=float), ok["std_error"].to_numpy(dtype=float)
    _, t_fixed = null_t_draws(v, sub["b"], sub["sxx"], se)
    fixed = romano_wolf(est / se, t_fixed)
    assert np.mean(fixed - ref) < -2 * sd_one


@pytest.mark.parametrize("weights", ["rademacher", "webb"])
def test_headline_bootstrap_matches_pyfixest_wildboottest(weights):
    panel, names = _panel_with_exposures(2)
    params = mv_params(staff_measures=names, families=["twoway_fe"], samples=["all"], weights=["none"], lags=[0, 1],
                       bootstrap_draws=DRAWS, bootstrap_specs=4, bootstrap_weights=[weights],
                       bootstrap_kinds=["wcr", "wcu"], falsification_reverse=False)
    run = run_multiverse(panel, params)
    boot = run.bootstrap
    for spec_id in boot["spec_id"].unique():
        spec = run.table.set_index("spec_id").loc[spec_id]
        fit = _pyfixest_fit(panel, spec)
        for kind, null in (("wcr", True), ("wcu", False)):
            ours = float(boot.loc[(boot["spec_id"] == spec_id) & (boot["boot_kind"] == kind), "p_value_boot"].iloc[0])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = float(fit.wildboottest(param="x", reps=DRAWS, seed=11, weights_type=weights,
                                             impose_null=null)["Pr(>|t|)"])
            assert abs(ours - ref) < _mc_tol(np.array(ref), DRAWS), (spec_id, kind, ours, ref)
