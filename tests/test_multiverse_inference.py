"""Inference across the curve and the wild cluster bootstrap, against straightforward references."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest_multiverse import dummy_design, mv_panel, mv_params, refit_draws
from statsmodels.stats.multitest import multipletests

from linkage.multiverse import (
    benjamini_hochberg,
    draw_weights,
    enumerate_specs,
    fit_specs,
    headline_rows,
    joint_test,
    null_t_draws,
    romano_wolf,
    run_multiverse,
    spec_frame,
    wild_cluster_bootstrap,
)


def test_benjamini_hochberg_equals_statsmodels():
    rng = np.random.default_rng(0)
    p = np.r_[rng.uniform(size=200) ** 3, np.nan, 0.0, 1.0, 0.5, 0.5]
    ours = benjamini_hochberg(p)
    ok = np.isfinite(p)
    ref = multipletests(p[ok], method="fdr_bh")[1]
    np.testing.assert_allclose(ours[ok], ref, rtol=0, atol=1e-15)
    assert np.isnan(ours[~ok]).all()


def _romano_wolf_loop(t_obs, t_null):
    """Step-down as written in Romano and Wolf (2005): one pass per rejection step."""
    order = list(np.argsort(-np.abs(t_obs), kind="mergesort"))
    adj, prev = np.empty(len(t_obs)), 0.0
    for k, j in enumerate(order):
        rest = order[k:]
        maxes = np.abs(t_null[:, rest]).max(axis=1)
        prev = max(prev, float(np.mean(maxes >= abs(t_obs[j]))))
        adj[j] = prev
    return adj


def test_romano_wolf_equals_loop_and_bounds():
    rng = np.random.default_rng(1)
    cov = 0.6 + 0.4 * np.eye(12)
    t_null = rng.multivariate_normal(np.zeros(12), cov, size=999)
    t_obs = np.r_[4.0, 3.1, 2.5, 2.0, 1.5, -2.2, 0.3, 0.1, -1.0, 2.9, 0.0, 5.0]
    adj = romano_wolf(t_obs, t_null)
    np.testing.assert_allclose(adj, _romano_wolf_loop(t_obs, t_null), atol=0)
    single = 2 * (1 - __import__("scipy").stats.norm.cdf(np.abs(t_obs)))
    assert np.all(adj >= single - 0.02)  # never (materially) below the unadjusted p


def test_joint_test_counts_and_null_calibration():
    rng = np.random.default_rng(2)
    v = draw_weights("rademacher", 999, 60, seed=3)
    a = rng.normal(size=(60, 40))
    sxx = np.full(40, 10.0)
    se = np.sqrt((a**2).sum(0)) / sxx
    d, t = null_t_draws(v, a, sxx, se)
    assert abs(float(np.mean(np.abs(t) > 1.96)) - 0.05) < 0.01
    est = np.r_[np.full(30, 0.5), np.full(10, -0.01)]
    p = np.r_[np.full(30, 0.001), np.full(10, 0.8)]
    out = joint_test(est, p, np.full(40, np.inf), d, t, 0.05)
    assert out["n_significant"] == 30 and out["n_significant_dominant"] == 30
    assert out["dominant_sign"] == "positive" and out["p_significant"] < 0.01


def _reference_bootstrap(frame: pd.DataFrame, codes: np.ndarray, v: np.ndarray, factor: float, kind: str,
                         beta0: float = 0.0):
    """Wild cluster bootstrap the long way: the full dummy regression refitted for every draw."""
    design, y, sw, trust = dummy_design(frame, "twoway_fe")
    t, t_obs = refit_draws(design, y, sw, trust, codes, v, factor, kind, beta0)
    return t, float(np.mean(np.abs(t) >= abs(t_obs) - 1e-12))


@pytest.mark.parametrize("weights", ["rademacher", "webb"])
@pytest.mark.parametrize("kind", ["wcr", "wcu"])
def test_wild_cluster_bootstrap_equals_reference(kind, weights):
    panel = mv_panel(seed=11, n_trusts=24)
    params = mv_params(families=["twoway_fe"], samples=["all"], weights=["none"], lags=[0])
    table, scores = fit_specs(panel, enumerate_specs(panel, params), params)
    rows = headline_rows(table, params)
    v = draw_weights(weights, 199, len(scores.codes), seed=5)
    est, se = table["estimate"].to_numpy()[rows], table["std_error"].to_numpy()[rows]
    factor = table["cov_factor"].to_numpy()[rows]
    sub = scores.subset(rows)
    out = wild_cluster_bootstrap(est, se, sub["a"], sub["h"], sub["b"], sub["sxx"], factor, v, kind, 0.05,
                                 sub["qy"], sub["qx"])
    for j, r in enumerate(rows):
        frame = spec_frame(panel, table.iloc[r])
        t_ref, p_ref = _reference_bootstrap(frame, scores.codes, v, factor[j], kind)
        np.testing.assert_allclose(out["t_draws"][:, j], t_ref, rtol=1e-9, atol=1e-9)
        assert out["p_value"][j] == pytest.approx(p_ref, abs=1e-12)
        if kind == "wcr":  # the interval ends where the restricted test starts to reject
            lo, hi = out["ci_low"][j], out["ci_high"][j]
            assert lo < est[j] < hi
            step = 1e-3 * se[j]
            assert _reference_bootstrap(frame, scores.codes, v, factor[j], kind, lo + step)[1] > 0.05
            assert _reference_bootstrap(frame, scores.codes, v, factor[j], kind, lo - step)[1] <= 0.05
        else:
            assert out["ci_low"][j] < est[j] < out["ci_high"][j]


def test_run_multiverse_adds_adjusted_p_values_and_bootstrap():
    panel = mv_panel(seed=4)
    params = mv_params(samples=["all", "balanced"], bootstrap_specs=3)
    run = run_multiverse(panel, params, higher_is_better={"staff.stress": False, "staff.engagement": True})
    ok = run.table[run.table["status"] == "ok"]
    assert (ok["p_bh"] >= ok["p_value"] - 1e-15).all()
    assert (ok["p_romano_wolf"] >= ok["p_bh"] - 0.2).all()
    assert ok["p_romano_wolf"].between(0, 1).all()
    assert run.table["headline"].sum() == 3
    assert len(run.bootstrap) == 3 * 2 * 2
    assert set(run.bootstrap["boot_kind"]) == {"wcr", "wcu"}
    stress = ok[ok["exposure"] == "staff.stress"]
    assert (stress["estimate_oriented"] == -stress["estimate"]).all()
    json.dumps(run.joint)


def test_cli_writes_specification_table(tmp_path):
    from linkage.cli import main

    panel = mv_panel(seed=6)
    path = tmp_path / "panel.parquet"
    panel.to_parquet(path)
    params = tmp_path / "params.yaml"
    params.write_text(
        "multiverse:\n  staff_measures: [staff.stress, staff.engagement]\n  patient_measures: [patient.ip_overall]\n"
        "  samples: [all, no_merged]\n  bootstrap_draws: 199\n  bootstrap_specs: 2\n"
    )
    out = tmp_path / "specs.parquet"
    rc = main(["multiverse", str(path), "--out", str(out), "--params", str(params),
               "--bootstrap-out", str(tmp_path / "boot.csv"), "--joint-out", str(tmp_path / "joint.json")])
    assert rc == 0
    table = pd.read_parquet(out)
    for col in ("estimate", "std_error", "ci_low", "ci_high", "p_value", "n_obs", "n_entities", "status", "reason",
                "p_bh", "p_romano_wolf"):
        assert col in table.columns
    # no panel_long beside the file: no_merged is listed as unsupported, with the reason
    assert table.loc[table["sample"] == "no_merged", "reason"].str.contains("no merger information").all()
    assert len(pd.read_csv(tmp_path / "boot.csv")) == 2 * 2 * 2
    assert main(["multiverse", str(tmp_path / "missing.parquet"), "--out", str(out), "--params", str(params)]) == 2


def test_dask_local_cluster_gives_the_same_result():
    distributed = pytest.importorskip("distributed", reason="dask.distributed not installed")
    panel = mv_panel(seed=8)
    params = mv_params(samples=["all", "no_specialist"], bootstrap_specs=3, bootstrap_draws=199, chunks=3)
    local = run_multiverse(panel, params)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = run_multiverse(panel, params.model_copy(update={"scheduler": cluster.scheduler_address}))
    # chunks group the pairs differently, so sums may differ in the last bits
    pd.testing.assert_frame_equal(local.table, remote.table, check_exact=False, rtol=1e-9, atol=1e-12)
    pd.testing.assert_frame_equal(local.bootstrap, remote.bootstrap, check_exact=False, rtol=1e-9, atol=1e-12)
    for key, value in local.joint.items():
        assert value == (remote.joint[key] if isinstance(value, str) else pytest.approx(remote.joint[key], rel=1e-9))
