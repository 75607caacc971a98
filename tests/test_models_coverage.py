"""Simulation: the 95% CI of two-way FE with trust-clustered SEs covers the planted effect."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.demo import simulate_panel
from linkage.models._data import Spec, build_frame
from linkage.models._fit import fit_family
from linkage.models._run import _quantiles

TRUE = -0.03
SPEC = Spec("h", "forward", 0, "patient.ip_overall", "staff.stress")


def _panel(seed: int):
    return simulate_panel(seed=seed, n_trusts=130, years=(2019, 2020, 2021, 2022, 2023), true_effect=TRUE)


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
