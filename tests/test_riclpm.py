"""RI-CLPM: wave choice and refusals, study extracts with eight annual waves, params, recovery of known paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from linkage.errors import ParamsError
from linkage.models.riclpm import choose_waves, fit_riclpm
from linkage.models.riclpm.simulate import Truth, simulate
from linkage.params import ModelParams, validate_params

X, Y = "staff.stress", "patient.ip_overall"


def _shipped_layout(n: int = 120) -> pd.DataFrame:
    """The shape of the shipped real data: staff 2019 and 2021-2024, patients 2022 only (values simulated)."""
    rng = np.random.default_rng(0)
    rows = [{"org_code": f"R{i:03d}", "year": y, X: rng.normal(40, 5), Y: rng.normal(8, 0.3) if y == 2022 else np.nan}
            for i in range(n) for y in (2019, 2021, 2022, 2023, 2024)]
    return pd.DataFrame(rows)


def test_shipped_real_layout_is_refused_with_a_plain_reason():
    res = fit_riclpm(_shipped_layout(), ModelParams())
    assert res.status == "refused"
    assert "only 1 year(s) qualify (2022)" in res.reason and "at least 3 equally spaced waves" in res.reason
    assert res.rows() == []
    s = res.summary()
    assert s["status"] == "refused" and s["reason"] == res.reason
    assert s["trusts_with_both_by_year"] == {"2019": 0, "2021": 0, "2022": 120, "2023": 0, "2024": 0}


def test_study_extract_with_eight_annual_waves_is_fitted():
    years = tuple(range(2015, 2023))
    res = fit_riclpm(simulate(3, 150, years), ModelParams())
    assert res.status == "fitted", res.reason
    assert res.waves.years == years and res.waves.step == 1
    s = res.summary()
    assert s["n_trusts"] == 150 and len(s["waves"]) == 8
    assert s["fit"]["df"] == 16 + 16 * 17 // 2 - (16 + 3 + 3 * 8 + 4)
    rows = pd.DataFrame(res.rows())
    assert set(rows["direction"]) == {"forward", "reverse", "autoregressive"}
    assert (rows["n_periods"] == 8).all() and (rows["lag"] == 1).all()
    # the interval of each cross-lag is the estimate +/- z * SE, and the Wald test of one path is its z squared
    fwd = rows[rows["model"] == "riclpm_crosslag_staff_to_patient"].iloc[0]
    assert s["wald"]["staff_to_patient"]["chisq"] == pytest.approx(fwd["statistic"] ** 2, rel=1e-8)


def test_unequal_gaps_use_the_longest_equally_spaced_run_or_refuse():
    years = (2012, 2013, 2014, 2016, 2017, 2018, 2019)
    panel = simulate(4, 120, years)
    res = fit_riclpm(panel, ModelParams())
    assert res.status == "fitted"
    assert res.waves.years == (2016, 2017, 2018, 2019)
    assert "2012, 2013, 2014" in res.waves.note
    refused = fit_riclpm(panel, ModelParams(riclpm_unequal_gaps="refuse"))
    assert refused.status == "refused" and "unequally spaced" in refused.reason


def test_biennial_waves_have_a_two_year_step():
    res = fit_riclpm(simulate(5, 120, (2015, 2017, 2019, 2021)), ModelParams())
    assert res.status == "fitted" and res.waves.step == 2
    assert all(r["lag"] == 2 for r in res.rows())


def test_a_year_with_too_few_trusts_is_not_a_wave():
    panel = simulate(6, 120, (2016, 2017, 2018, 2019))
    thin = (panel["year"] == 2019) & (panel["org_code"] >= "Z030")
    panel.loc[thin, Y] = np.nan
    waves = choose_waves(panel, X, Y, min_waves=3, min_trusts=50, unequal_gaps="longest_run")
    assert waves.years == (2016, 2017, 2018) and waves.both_by_year[2019] < 50
    res = fit_riclpm(panel, ModelParams(riclpm_min_waves=4))
    assert res.status == "refused" and "3 waves" not in res.reason and "only 3 year(s) qualify" in res.reason


def test_switched_off_and_missing_columns():
    assert fit_riclpm(simulate(1, 60), ModelParams(riclpm=False)).status == "off"
    res = fit_riclpm(simulate(1, 60).drop(columns=[Y]), ModelParams())
    assert res.status == "refused" and repr(Y) in res.reason


def test_free_paths_have_one_parameter_per_wave():
    res = fit_riclpm(simulate(7, 150, (2016, 2017, 2018, 2019)), ModelParams(riclpm_equal_paths=False))
    assert res.status == "fitted"
    rows = pd.DataFrame(res.rows())
    fwd = rows[rows["model"] == "riclpm_crosslag_staff_to_patient"]
    assert list(fwd["spec_name"]) == ["riclpm_2016_2017", "riclpm_2017_2018", "riclpm_2018_2019"]
    assert res.summary()["wald"]["crosslags_joint"]["df"] == 6


@pytest.mark.parametrize(("key", "value"), [("riclpm_min_waves", 2), ("riclpm_min_trusts_per_wave", 5),
                                            ("riclpm_unequal_gaps", "nearest"), ("riclpm_equal_paths", "yes")])
def test_invalid_riclpm_params_are_refused_by_dotted_key(key, value):
    with pytest.raises(ParamsError) as err:
        validate_params({"model": {key: value}})
    assert f"model.{key}" in str(err.value)


@pytest.mark.slow
def test_known_reciprocal_effects_are_recovered():
    """A smaller honest version of benchmarks/bench_riclpm.py: 30 replications, bias under 10% of each cross-lag."""
    truth = Truth()
    est = []
    for seed in range(30):
        s = fit_riclpm(simulate(1000 + seed, 200, truth=truth), ModelParams()).summary()
        est.append({p["key"]: p["estimate"] for p in s["paths"]})
    est = pd.DataFrame(est)
    for key, true in (("crosslag_staff_to_patient", truth.cl_xy), ("crosslag_patient_to_staff", truth.cl_yx),
                      ("autoregression_staff", truth.ar_x), ("autoregression_patient", truth.ar_y)):
        assert abs(est[key].mean() - true) < 0.1 * abs(true), (key, est[key].mean(), true)


@pytest.mark.real
@pytest.mark.slow
def test_shipped_real_data_refuses_the_riclpm(real_pipeline):
    """On the published files the model stage refuses the RI-CLPM and says why (too few years with both measures)."""
    import json

    s = json.loads((real_pipeline["folder"] / "metrics" / "riclpm.json").read_text())
    assert s["status"] == "refused"
    assert "qualify" in s["reason"] and len(s["eligible_years"]) < 3
    res = pd.read_csv(real_pipeline["folder"] / "data" / "processed" / "model_results.csv")
    assert not res["model"].astype(str).str.startswith("riclpm_").any()
