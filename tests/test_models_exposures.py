"""Further wellbeing measures fitted in place of the headline exposure."""

from __future__ import annotations

import pytest

from linkage.demo import simulate_panel
from linkage.errors import ParamsError
from linkage.models import ModelParams, fit_models
from linkage.params import validate_params


def test_other_exposures_fitted_or_listed_as_skipped():
    panel = simulate_panel(seed=2, n_trusts=60, years=(2020, 2021, 2022, 2023))
    run = fit_models(panel, ModelParams(families=["twoway_fe"], other_exposures=["staff.engagement", "staff.burnout"]))
    eng = run.results[(run.results["spec_name"] == "exposure_engagement") & (run.results["term"] == "staff.engagement")]
    assert len(eng) == 1 and eng["regressor"].iloc[0] == "staff.engagement"
    assert eng["n_obs"].iloc[0] == run.headline["n_obs"]
    # the demo panel has no burnout measure: skipped with the reason, not silently dropped
    assert any("staff.burnout" in s and "not in the panel" in s for s in run.skipped)
    assert any("staff.burnout" in w for w in run.warnings)
    # the headline is untouched by the extra models
    alone = fit_models(panel, ModelParams(families=["twoway_fe"], other_exposures=[]))
    assert alone.headline["estimate"] == pytest.approx(run.headline["estimate"], abs=1e-12)


def test_other_exposures_must_not_hold_the_dependent():
    with pytest.raises(ParamsError, match="other_exposures must not include the dependent"):
        validate_params({"model": {"other_exposures": ["staff.burnout", "patient.ip_overall"]}})
