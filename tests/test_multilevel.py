"""Multilevel hybrid model against R lme4 (fixed effects 1e-6, variance components 1e-4), its
refusal with too few regions, and the region columns the link stage puts on the panel."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest_models import make_panel

from linkage.models._sample import headline_sample
from linkage.models.multilevel import fit_multilevel, hybrid_frame
from linkage.params import ModelParams

FE_TOL, VC_TOL = 1e-6, 1e-4


def _params(**ml) -> ModelParams:
    return ModelParams.model_validate({"families": ["twoway_fe"], "other_exposures": [], "lags": [0], "reverse": False,
                                       "placebo_leads": [], "adjust_contemporaneous": "no", "multilevel": ml})


def regional_panel(seed: int = 5, n_regions: int = 7, n_trusts: int = 70, region_sd: float = 0.25,
                   slope_sd: float = 0.0) -> pd.DataFrame:
    """make_panel's trusts dealt to regions (and two ICBs each), with a planted region effect
    (and a trust-specific within slope of sd ``slope_sd``)."""
    panel = make_panel(seed=seed, n_trusts=n_trusts, drop_share=0.1)
    rng = np.random.default_rng(seed + 100)
    codes = sorted(panel["org_code"].unique())
    region = {c: f"Y{50 + i % n_regions}" for i, c in enumerate(codes)}
    effect = {f"Y{50 + k}": rng.normal(0, region_sd) for k in range(n_regions)}
    panel["region"] = panel["org_code"].map(region)
    panel["region_name"] = "Region " + panel["region"]
    panel["icb"] = panel["org_code"].map(lambda c: region[c] + "ab"[int(c[1:]) // n_regions % 2])
    panel["patient.ip_overall"] += panel["region"].map(effect)
    if slope_sd:
        dev = panel["staff.stress"] - panel.groupby("org_code")["staff.stress"].transform("mean")
        panel["patient.ip_overall"] += dev * panel["org_code"].map(dict(zip(codes, rng.normal(0, slope_sd, len(codes)), strict=True)))
    return panel


R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
fixed <- strsplit(args[3], ",")[[1]]
slope <- args[4] == "1"
reml <- args[5] == "1"
f <- paste("y ~", paste(fixed, collapse = " + "), "+ (1 | grp) + (1 | org_code)")
d$slopegrp <- d$org_code
if (slope) f <- paste(f, "+ (0 + x__within | slopegrp)")
m <- lmer(as.formula(f), data = d, REML = reml,
          control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhobeg = 1e-3, rhoend = 1e-12),
                                check.conv.singular = "ignore"))
vc <- as.data.frame(VarCorr(m))
out <- c(fixef(m), setNames(vc$vcov, paste0("var:", vc$grp, ifelse(is.na(vc$var1) | vc$var1 == "(Intercept)", "", paste0(":", vc$var1)))))
write.csv(data.frame(name = names(out), value = unname(out)), args[2], row.names = FALSE)
"""


def _lme4(df: pd.DataFrame, fixed: list[str], level: str, slope: bool, reml: bool, tmp) -> dict[str, float]:
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript is not installed: no lme4 cross-check")
    if subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True).returncode != 0:
        pytest.skip("the R package lme4 is not installed: no lme4 cross-check")
    data, script, out = tmp / "ml.csv", tmp / "ml.R", tmp / "ml_out.csv"
    df.assign(grp=df[level])[["y", "org_code", "grp", *fixed]].to_csv(data, index=False)
    script.write_text(R_SCRIPT)
    run = subprocess.run(["Rscript", str(script), str(data), str(out), ",".join(fixed), str(int(slope)), str(int(reml))],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    res = pd.read_csv(out)
    return dict(zip(res["name"], res["value"], strict=True))


@pytest.mark.parametrize(("level", "slope", "method"), [("region", False, "reml"), ("region", False, "ml"),
                                                         ("icb", True, "reml")])
def test_matches_lme4(tmp_path, level, slope, method):
    panel = regional_panel(slope_sd=0.03 if slope else 0.0)
    m = _params(level=level, random_slope=slope, method=method)
    res = fit_multilevel(panel, m)
    assert res.status == "fitted", res.reason
    s = res.summary()
    df, fixed = hybrid_frame(headline_sample(panel, m), m.time_effects)
    ref = _lme4(df, fixed, level, slope, method == "reml", tmp_path)
    ours = res.fixed["estimate"]
    assert ours["intercept"] == pytest.approx(ref["(Intercept)"], abs=FE_TOL)
    for name in fixed:
        assert ours[name] == pytest.approx(ref[name], abs=FE_TOL), name
    assert s["variance"][level] == pytest.approx(ref["var:grp"], abs=VC_TOL)
    assert s["variance"]["trust"] == pytest.approx(ref["var:org_code"], abs=VC_TOL)
    assert s["variance"]["residual"] == pytest.approx(ref["var:Residual"], abs=VC_TOL)
    if slope:
        assert s["variance"]["slope"] == pytest.approx(ref["var:slopegrp:x__within"], abs=VC_TOL)
    assert sum(s["share"].values()) == pytest.approx(1.0)
    json.dumps(s)  # JSON-able for metrics/


def test_within_estimate_is_the_fixed_effects_estimand():
    """The hybrid within coefficient equals the entity-FE slope without year effects, by construction."""
    panel = regional_panel()
    m = _params()
    m = m.model_copy(update={"time_effects": False})
    res = fit_multilevel(panel, m)
    from linkage.models import fit_models

    fe = fit_models(panel, m.model_copy(update={"families": ["entity_fe"], "headline_family": "entity_fe"})).headline
    assert res.summary()["within"] == pytest.approx(fe["estimate"], abs=1e-8)
    rows = res.rows()
    assert list(rows["effect"]) == ["within", "between"] and (rows["model"] == "multilevel").all()


def test_refuses_with_too_few_regions():
    res = fit_multilevel(regional_panel(n_regions=3), _params())
    assert res.status == "skipped"
    assert "3 NHS regions" in res.reason and "min_groups = 5" in res.reason
    assert res.rows().empty
    no_region = make_panel(seed=1)
    res = fit_multilevel(no_region, _params())
    assert res.status == "skipped" and "no NHS region" in res.reason


def test_params_refused_by_dotted_key():
    from linkage.errors import ParamsError
    from linkage.params import validate_params

    for bad, key in (({"multilevel": {"level": "county"}}, "model.multilevel.level"),
                     ({"multilevel": {"min_groups": 1}}, "model.multilevel.min_groups"),
                     ({"sensitivity": {"kd": [1.0, 1.0]}}, "model.sensitivity.kd[1]")):
        with pytest.raises(ParamsError) as err:
            validate_params({"model": bad})
        assert key in str(err.value)


def test_registry_regions_from_the_published_files(real_data_dir):
    from linkage.registry import build_registry

    ods = real_data_dir / "ods"
    if not (ods / "trusts_2022_regions.csv").exists():
        pytest.skip(f"no trusts_2022_regions.csv in {ods}")
    reg = build_registry(ods, reference_date="2024-03-31")
    regions = pd.read_csv(ods / "trusts_2022_regions.csv", dtype=str)
    first = regions.iloc[0]
    got = reg.region(first["nhs_trust22_code"])
    assert (got["region_code"], got["region_name"], got["region_source"]) == (
        first["nhs_region21_nhs_code"], first["nhs_region21_name"], "regions")
    etr = pd.read_csv(ods / "etr.csv", header=None, dtype=str, keep_default_na=False)
    row = etr[etr[0] == first["nhs_trust22_code"]]
    if len(row):
        assert got["icb_code"] == row.iloc[0, 3]
    assert reg.region("NOT1") == {"region_code": "", "region_name": "", "region_source": "", "icb_code": ""}


def test_demo_writes_regions_in_the_published_layout(tmp_path, real_data_dir):
    from linkage.demo import write_demo_files
    from linkage.registry import build_registry

    write_demo_files(tmp_path)
    files = sorted((tmp_path / "ods").glob("trusts_*regions*.csv"))
    assert len(files) == 1
    real = real_data_dir / "ods" / "trusts_2022_regions.csv"
    if real.exists():
        assert list(pd.read_csv(files[0]).columns) == list(pd.read_csv(real, nrows=1).columns)
    reg = build_registry(tmp_path / "ods", reference_date="2024-03-31")
    open_now = reg.orgs[reg.orgs["in_etr"] & reg.orgs["close_date"].isna()]
    assert (open_now["region_source"] == "regions").all()
    assert open_now["region_name"].nunique() == 7 and (open_now["icb_code"] != "").all()
