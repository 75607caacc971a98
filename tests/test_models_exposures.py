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
    with pytest.raises(ParamsError, match=r"model\.other_exposures\[1\]: must not include the dependent"):
        validate_params({"model": {"other_exposures": ["staff.burnout", "patient.ip_overall"]}})


def test_an_other_exposure_that_is_also_a_covariate_is_fitted_without_itself_as_covariate():
    """Covariate engagement in the headline; engagement's own model holds it once, as the exposure."""
    panel = simulate_panel(seed=2, n_trusts=60, years=(2020, 2021, 2022, 2023))
    both = fit_models(panel, ModelParams(families=["twoway_fe"], covariates=["staff.engagement"],
                                         other_exposures=["staff.engagement"]))
    alone = fit_models(panel, ModelParams(families=["twoway_fe"], covariates=[], other_exposures=["staff.engagement"]))
    pick = lambda r: r.results[(r.results["spec_name"] == "exposure_engagement")]  # noqa: E731
    assert set(pick(both)["term"]) == {"staff.engagement"} == set(pick(alone)["term"])
    assert pick(both)["estimate"].iloc[0] == pytest.approx(pick(alone)["estimate"].iloc[0], abs=1e-12)
    # the headline does hold engagement as a covariate
    assert "staff.engagement" in set(both.results[both.results["spec_name"] == "headline"]["term"]) or \
        both.headline["estimate"] != pytest.approx(alone.headline["estimate"], abs=1e-12)
