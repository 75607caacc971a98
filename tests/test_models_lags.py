"""Lag, reverse and placebo specifications, with and without the same-year measure."""

from __future__ import annotations

import numpy as np
import pytest

from linkage.demo import simulate_panel
from linkage.models import ModelParams, fit_models


@pytest.fixture(scope="module")
def run():
    # the demo process has a same-year effect only: stress shocks are independent across years; planted on
    # the published value, so the naive estimators target it exactly (the lag mechanics are what is tested)
    panel = simulate_panel(seed=21, n_trusts=130, years=(2019, 2020, 2021, 2022, 2023), true_effect=-0.03,
                           plant_on="published")
    return fit_models(panel, ModelParams(adjust_contemporaneous="both", lags=[0, 1], placebo_leads=[1]))


def _row(run, spec_name, term):
    r = run.results
    return r[(r["spec_name"] == spec_name) & (r["term"] == term)].iloc[0]


def test_adjusted_twins_are_fitted_and_labelled(run):
    names = set(run.results["spec_name"])
    assert {"forward_lag1", "forward_lag1_adj", "reverse_lag1", "reverse_lag1_adj",
            "placebo_lead1", "placebo_lead1_adj"} <= names
    adj = run.results[run.results["spec_name"] == "forward_lag1_adj"]
    assert adj["spec"].iloc[0] == "patient.ip_overall(t) ~ staff.stress(t-1) + staff.stress(t)"
    assert set(adj["term"]) == {"L1.staff.stress", "staff.stress"}


def test_unadjusted_lag_absorbs_part_of_the_same_year_effect(run):
    """With trust effects, demeaned x(t-1) and x(t) correlate by about -1/(T-1): the unadjusted
    lag coefficient is pushed towards -beta/(T-1) although the process has no lagged effect."""
    unadj = _row(run, "forward_lag1", "L1.staff.stress")
    adj = _row(run, "forward_lag1_adj", "L1.staff.stress")
    assert unadj["estimate"] > 0  # opposite sign to the planted -0.03
    assert adj["ci_low"] < 0 < adj["ci_high"]
    assert abs(adj["estimate"]) < abs(unadj["estimate"])
    same_year = _row(run, "forward_lag1_adj", "staff.stress")
    assert same_year["ci_low"] < -0.03 < same_year["ci_high"]


def test_adjusted_placebo_lead_is_null(run):
    adj = _row(run, "placebo_lead1_adj", "F1.staff.stress")
    assert adj["ci_low"] < 0 < adj["ci_high"]
    assert np.isfinite(adj["std_error"]) and adj["std_error"] > 0


def test_no_and_yes_options():
    panel = simulate_panel(seed=5, n_trusts=40, years=(2020, 2021, 2022))
    no = fit_models(panel, ModelParams(adjust_contemporaneous="no", families=["twoway_fe"]))
    yes = fit_models(panel, ModelParams(adjust_contemporaneous="yes", families=["twoway_fe"]))
    assert not no.results["spec_name"].str.endswith("_adj").any()
    shifted = yes.results[yes.results["lag"] != 0]
    assert shifted["spec_name"].str.endswith("_adj").all()
    # the headline (same-year) model is the same either way
    assert no.headline["estimate"] == pytest.approx(yes.headline["estimate"], abs=1e-12)
