"""Simulation: 95% intervals of two-way FE with trust-clustered SEs cover the planted effect.

With the effect planted on the *published* exposure the naive interval must cover;
with the demo's effect on the *latent* value (published with sampling error) the
errors-in-variables corrected interval must (see docs/models.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from linkage.demo import simulate_panel
from linkage.models._data import Spec, build_frame
from linkage.models._eiv import corrected_slope
from linkage.models._fit import fit_family
from linkage.models._run import _quantiles, exposure_variance
from linkage.params import ModelParams

TRUE = -0.03
SPEC = Spec("h", "forward", 0, "patient.ip_overall", "staff.stress")


def _panel(seed: int, plant_on: str = "published"):
    return simulate_panel(seed=seed, n_trusts=130, years=(2019, 2020, 2021, 2022, 2023), true_effect=TRUE,
                          plant_on=plant_on)


@pytest.mark.slow
def test_twfe_clustered_ci_covers_planted_effect():
    reps = 200
    hits = []
    for seed in range(1000, 1000 + reps):
        frame = build_frame(_panel(seed), SPEC)
        fit = fit_family("twoway_fe", frame, cov_type="clustered_entity", small_sample="cr1")
        b = fit.params["staff.stress"]
        se = float(np.sqrt(fit.cov.loc["staff.stress", "staff.stress"]))
        q = _quantiles(fit.scale.df, 0.05, 0.8)[0]
        hits.append(b - q * se <= TRUE <= b + q * se)
    coverage = float(np.mean(hits))
    print(f"\ncoverage of 95% CI (twoway_fe, clustered by trust, cr1) over {reps} demo panels: {coverage:.3f}")
    assert 0.91 <= coverage <= 0.98, coverage


@pytest.mark.slow
def test_corrected_ci_covers_effect_planted_on_latent_values():
    reps = 200
    hits, naive_hits = [], []
    for seed in range(2000, 2000 + reps):
        panel = _panel(seed, plant_on="latent")
        frame = build_frame(panel, SPEC)
        var, _ = exposure_variance(panel, SPEC, frame, ModelParams())
        c = corrected_slope("twoway_fe", frame, var, time_effects=True, small_sample="cr1")
        q = _quantiles(c.df, 0.05, 0.8)[0]
        hits.append(abs(c.estimate - TRUE) <= q * c.std_error)
        fit = fit_family("twoway_fe", frame, cov_type="clustered_entity", small_sample="cr1")
        se = float(np.sqrt(fit.cov.loc["staff.stress", "staff.stress"]))
        naive_hits.append(abs(float(fit.params["staff.stress"]) - TRUE) <= _quantiles(fit.scale.df, 0.05, 0.8)[0] * se)
    coverage, naive = float(np.mean(hits)), float(np.mean(naive_hits))
    print(f"\ncoverage over {reps} demo panels (effect on latent values): corrected {coverage:.3f}, naive {naive:.3f}")
    assert 0.93 <= coverage <= 0.97, coverage
    assert naive < coverage
