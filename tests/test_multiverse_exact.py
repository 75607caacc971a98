"""The curve's wild cluster bootstrap against a literal dummy-variable refit of every draw.

The reference builds the full design of each family (exposure, trust dummies, year
dummies, constant, differences, as the family has them) from the specification's own
estimation sample, draws y* from the restricted or unrestricted fit plus the residual
times one weight per trust, solves the whole least-squares problem again for every draw
(numpy ``lstsq`` with all draws as right-hand sides) and takes the clustered sandwich
element of the exposure from the full design (no partialling out).  Nothing of the
engine's algebra is reused.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest_multiverse import dummy_design, mv_panel, mv_params, refit_draws

from linkage.multiverse import (
    boot_t,
    draw_weights,
    enumerate_specs,
    fit_specs,
    spec_frame,
    wild_cluster_bootstrap,
)


def _fitted(family: str, weights: str, seed: int = 11):
    panel = mv_panel(seed=seed, n_trusts=20)
    params = mv_params(families=[family], samples=["all", "no_specialist"], weights=[weights], lags=[0, 1])
    table, scores = fit_specs(panel, enumerate_specs(panel, params), params)
    rows = np.flatnonzero((table["status"] == "ok").to_numpy())
    assert len(rows) >= 4
    return panel, table, scores, rows


@pytest.mark.parametrize("weights", ["none", "respondents"])
@pytest.mark.parametrize("family", ["twoway_fe", "entity_fe", "pooled", "first_difference"])
@pytest.mark.parametrize("kind", ["wcu", "wcr"])
def test_bootstrap_t_equals_full_dummy_refit(family, weights, kind):
    panel, table, scores, rows = _fitted(family, weights)
    v = draw_weights("webb" if kind == "wcu" else "rademacher", 99, len(scores.codes), seed=5)
    sub = scores.subset(rows)
    est, se = table["estimate"].to_numpy()[rows], table["std_error"].to_numpy()[rows]
    factor = table["cov_factor"].to_numpy()[rows]
    out = wild_cluster_bootstrap(est, se, sub["a"], sub["h"], sub["b"], sub["sxx"], factor, v, kind, 0.05,
                                 sub["qy"], sub["qx"])
    for j, r in enumerate(rows):
        design, y, sw, trust = dummy_design(spec_frame(panel, table.iloc[r]), family)
        t_ref, t_obs = refit_draws(design, y, sw, trust, scores.codes, v, factor[j], kind)
        assert est[j] / se[j] == pytest.approx(t_obs, rel=1e-10)
        np.testing.assert_allclose(out["t_draws"][:, j], t_ref, rtol=1e-10, atol=1e-10)


def test_restricted_interval_ends_where_the_full_refit_starts_to_reject():
    panel, table, scores, rows = _fitted("twoway_fe", "none")
    rows = rows[:2]
    v = draw_weights("rademacher", 199, len(scores.codes), seed=9)
    sub = scores.subset(rows)
    est, se = table["estimate"].to_numpy()[rows], table["std_error"].to_numpy()[rows]
    factor = table["cov_factor"].to_numpy()[rows]
    out = wild_cluster_bootstrap(est, se, sub["a"], sub["h"], sub["b"], sub["sxx"], factor, v, "wcr", 0.05,
                                 sub["qy"], sub["qx"])
    for j, r in enumerate(rows):
        design, y, sw, trust = dummy_design(spec_frame(panel, table.iloc[r]), "twoway_fe")

        def p_ref(beta0, design=design, y=y, sw=sw, trust=trust, f=factor[j]):
            t_star, t0 = refit_draws(design, y, sw, trust, scores.codes, v, f, "wcr", beta0)
            return float(np.mean(np.abs(t_star) >= abs(t0) - 1e-12))

        lo, hi = out["ci_low"][j], out["ci_high"][j]
        step = 1e-3 * se[j]
        assert p_ref(lo + step) > 0.05 >= p_ref(lo - step)
        assert p_ref(hi - step) > 0.05 >= p_ref(hi + step)


def test_year_effects_make_the_shortcut_wrong():
    """Without the nuisance-basis correction the two-way t* differ from the refit: the test can fail."""
    panel, table, scores, rows = _fitted("twoway_fe", "none")
    v = draw_weights("rademacher", 99, len(scores.codes), seed=5)
    sub = scores.subset(rows[:1])
    factor = table["cov_factor"].to_numpy()[rows[:1]]
    qa = sub["qy"] - table["estimate"].to_numpy()[rows[:1]][None, :, None] * sub["qx"]
    _, t_exact = boot_t(v, sub["a"], sub["h"], sub["sxx"], factor, qa, sub["qx"])
    _, t_short = boot_t(v, sub["a"], sub["h"], sub["sxx"], factor)
    design, y, sw, trust = dummy_design(spec_frame(panel, table.iloc[rows[0]]), "twoway_fe")
    t_ref, _ = refit_draws(design, y, sw, trust, scores.codes, v, factor[0], "wcu")
    np.testing.assert_allclose(t_exact[:, 0], t_ref, rtol=1e-10, atol=1e-10)
    assert np.max(np.abs(t_short[:, 0] - t_ref)) > 1e-4
