"""Specification enumerator and params section: every combination listed, unsupported ones with a reason."""

from __future__ import annotations

import pytest
from conftest_multiverse import MERGED, mv_panel, mv_params

from linkage.errors import LinkageDataError, ParamsError
from linkage.multiverse import enumerate_specs, fit_specs, merged_trusts
from linkage.params import Params, load_params, validate_params


def test_every_combination_is_listed_none_dropped():
    panel = mv_panel()
    params = mv_params(staff_measures=["staff.stress", "staff.burnout"])
    specs = enumerate_specs(panel, params, MERGED)
    n_years = panel.loc[panel["patient.ip_overall"].notna(), "year"].nunique()
    n_samples = 4 + n_years
    expected = 2 * 1 * len(params.families) * len(params.lags) * n_samples * len(params.weights) * len(params.cov_types)
    assert len(specs) == expected
    assert specs["spec_id"].tolist() == list(range(expected))
    burnout = specs[specs["exposure"] == "staff.burnout"]
    assert (burnout["status"] == "unsupported").all()
    assert burnout["reason"].str.contains("'staff.burnout' is not a column of the panel").all()
    assert {f"leave_out_{y}" for y in range(2018, 2023)} <= set(specs["sample"])


def test_reasons_for_missing_merge_information_trust_type_and_weights():
    panel = mv_panel().drop(columns=["trust_type", "patient.ip_overall__n"])
    specs = enumerate_specs(panel, mv_params(), merged=None)
    why = specs.groupby("sample_kind")["reason"].first()
    assert "no merger information" in why["no_merged"]
    assert "no trust_type column" in why["no_specialist"]
    weighted = specs[(specs["weights"] == "respondents") & (specs["sample_kind"] == "all")]
    assert weighted["reason"].str.contains("patient.ip_overall__n").all()


def test_engine_reasons_min_obs_and_no_consecutive_years():
    panel = mv_panel(n_trusts=12)
    odd = panel["org_code"].str[-1].astype(int) % 2 == 1
    panel = panel[(panel["year"] % 2 == 0) ^ odd]  # no trust has two consecutive years
    params = mv_params(min_obs=100, lags=[0], samples=["all"], weights=["none"])
    table, _ = fit_specs(panel, enumerate_specs(panel, params), params)
    fd = table[table["family"] == "first_difference"]
    assert (fd["status"] == "unsupported").all() and fd["reason"].str.contains("consecutive").all()
    other = table[table["family"] != "first_difference"]
    assert (other["status"] == "unsupported").all()
    assert other["reason"].str.contains("fewer than multiverse.min_obs=100|year effects not separable").all()
    # trusts observed in alternate years: year effects are confounded with the two groups of trusts
    assert other.loc[other["family"] == "twoway_fe", "reason"].str.contains("not separable").all()


def test_lag_without_previous_year_and_balanced_sample():
    panel = mv_panel(drop_share=0.2)
    params = mv_params(lags=[0, 3], samples=["all", "balanced"], weights=["none"], families=["twoway_fe"])
    table, _ = fit_specs(panel, enumerate_specs(panel, params), params)
    bal = table[(table["sample"] == "balanced") & (table["lag"] == 0)]
    full = table[(table["sample"] == "all") & (table["lag"] == 0)]
    assert (bal["n_obs"] < full["n_obs"].to_numpy()).all()
    assert (bal["n_obs"] % bal["n_periods"] == 0).all()


def test_merged_trusts_from_panel_long():
    import pandas as pd

    long = pd.DataFrame({"org_code": ["A", "B", "C"], "merged_from": ["", "X;Y", None]})
    assert merged_trusts(long) == {"B"}
    with pytest.raises(LinkageDataError, match="merged_from"):
        merged_trusts(long.drop(columns="merged_from"))


def test_params_section_validates_and_is_in_params_yaml():
    params = load_params("params.yaml")
    assert params.multiverse == Params().multiverse
    with pytest.raises(ParamsError, match="multiverse.families"):
        validate_params({"multiverse": {"families": ["between"]}})
    with pytest.raises(ParamsError, match="not kept by staff.measures|unknown measure"):
        validate_params({"multiverse": {"staff_measures": ["staff.nonexistent"]}})
    with pytest.raises(ParamsError, match=r"multiverse\.lags\[1\]: repeats 0"):
        validate_params({"multiverse": {"lags": [0, 0]}})
