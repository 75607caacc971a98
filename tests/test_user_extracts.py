"""Researchers' own extracts through the whole pipeline, with only user files (mappings, measures, params).

Four differently shaped extracts are written at test time:

1. a study extract (acute trusts, 8 years, code-keyed, a ratio-scale outcome,
   three staff indices as 1-5 means, a weight that is the product of two
   columns, the outcome's previous-year value as its own column), whose
   pooled weighted regression must equal statsmodels WLS on the same rows;
2. a name-keyed outcome file per year (year from the file name, '%' signs);
3. a wide response-distribution staff extract (agree + strongly agree summed),
   an XLSX with a title row and no organisation-type column;
4. a European CSV (';' and decimal commas) with a constant year.

The registry comes from the real ODS files (skipped with a reason if absent).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_pipeline_in
from studykit import (
    STUDY_MAPPING,
    STUDY_MEASURES,
    STUDY_SECTIONS,
    acute_codes,
    every_year,
    project_copy,
    study_extract,
    user_project,
)


@pytest.fixture(scope="module")
def study(tmp_path_factory, real_data_dir):
    tmp = tmp_path_factory.mktemp("study")
    codes = acute_codes(real_data_dir / "ods", 60)
    df = study_extract(every_year(codes, range(2015, 2023)))
    data = user_project(tmp, real_data_dir, {"study_extract.csv": df}, STUDY_MAPPING, STUDY_MEASURES)
    out = run_pipeline_in(tmp / "run", data, sections=STUDY_SECTIONS)
    return out, df


def test_study_keeps_every_row_of_its_sample(study):
    out, df = study
    audit = out["link"].audit
    assert (audit["fate"] == "matched").all(), audit[audit["fate"] != "matched"]["reason"].value_counts()
    panel = out["link"].panel
    assert len(panel) == len(df) and panel["org_code"].nunique() == df["trust_code"].nunique()
    assert sorted(panel["year"].unique()) == list(range(2015, 2023))


def test_study_scales_are_kept(study):
    out, df = study
    staff = out["staff"].tidy
    assert set(staff.loc[staff.measure == "staff.idx_wellbeing", "scale"]) == {"mean1to5"}
    pat = out["patient"].tidy
    assert set(pat.loc[pat.measure == "outcome.hsmr", "scale"]) == {"ratio"}
    w = pat[pat.measure == "outcome.study_weight"].set_index(["org_code", "year"])["value"].sort_index()
    expect = df.assign(w=df.beds * df.occupancy).set_index(["trust_code", "fin_year"])["w"].sort_index()
    np.testing.assert_allclose(w.to_numpy(), expect.to_numpy())


def test_study_pooled_weighted_equals_statsmodels_wls(study):
    import statsmodels.api as sm

    out, _ = study
    panel = out["link"].panel
    res = out["model"].results
    head = res[(res["model"] == "pooled") & (res["spec_name"] == res.loc[res["headline"], "spec_name"].iloc[0])]
    xs = ["staff.idx_wellbeing", "staff.idx_engagement", "staff.idx_teamwork", "outcome.hsmr_prev"]
    d = panel.dropna(subset=["outcome.hsmr", "outcome.study_weight", *xs]).sort_values(["org_code", "year"])
    assert len(d) == len(panel) == int(head["n_obs"].iloc[0])
    fit = sm.WLS(d["outcome.hsmr"], sm.add_constant(d[xs]), weights=d["outcome.study_weight"]).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(d["org_code"])[0]})
    got = head.set_index("term")
    for x in xs:
        assert got.loc[x, "estimate"] == pytest.approx(fit.params[x], abs=1e-8)
        assert got.loc[x, "std_error"] == pytest.approx(fit.bse[x], abs=1e-6)


# --------------------------------------------------------------------------- other shapes
NSS_STAFF = {"staff": {"measures": ["staff.stress", "staff.respondents"]}}


def _real_extract_rows(real_data_dir) -> pd.DataFrame:
    return pd.read_csv(real_data_dir / "nss" / "nss_2021_2024_trust_wellbeing_extract.csv", dtype=str,
                       keep_default_na=False)


def test_name_keyed_outcome_files(tmp_path, real_data_dir):
    """Outcome files keyed by trust name only, one per year (year from the file name), with '%' signs."""
    from linkage.registry import read_etr

    etr = read_etr(real_data_dir / "ods" / "etr.csv")
    open_now = set(etr.loc[etr["close_date"].isna(), "code"])
    codes = [c for c in acute_codes(real_data_dir / "ods", 80) if c in open_now][:40]
    names = etr.set_index("code").loc[codes, "name"]
    rng = np.random.default_rng(3)
    files = {"nss.csv": (real_data_dir / "nss" / "nss_2021_2024_trust_wellbeing_extract.csv").read_bytes()}
    for y in (2021, 2022, 2023):
        rows = [{"Trust": n.title().replace(" And ", " & ").replace("Nhs Foundation Trust", "NHS FT"),
                 "FFT recommend": f"{rng.uniform(80, 98):.1f}%"} for n in names]
        rows.append({"Trust": "England", "FFT recommend": "94.0%"})
        rows.append({"Trust": "Nowhere General Hospital", "FFT recommend": "90.0%"})
        files[f"fft_inpatient_{y}.csv"] = pd.DataFrame(rows)
    mapping = """\
id: fft_by_name
match_columns: [Trust, FFT recommend]
columns: {org_name: Trust}
year: {from_file_name: 'fft_inpatient_(?P<year>\\d{4})'}
measures:
  outcome.fft_recommend: {value: FFT recommend, scale: percent}
"""
    measures = "measures:\n  outcome.fft_recommend: {role: outcome, scale: percent, label: FFT would recommend (%), higher_is_better: true}\n"
    data = user_project(tmp_path, real_data_dir, files, mapping, measures)
    out = run_pipeline_in(tmp_path / "run", data, model=False, sections={
        **NSS_STAFF, "patient": {"measures": ["outcome.fft_recommend"]},
        "link": {"headline_patient": "outcome.fft_recommend"},
        "model": {"dependent": "outcome.fft_recommend", "other_exposures": []}})
    q = out["patient"].quarantine
    assert (q.reason.str.startswith("name_unmatched") & q.raw_value.eq("Nowhere General Hospital")).sum() == 3
    assert (q.reason.str.startswith("summary_row")).sum() == 3
    tidy = out["patient"].tidy
    assert set(tidy.org_code) == set(codes) and set(tidy.year) == {2021, 2022, 2023}
    assert tidy.value.between(80, 98).all()  # '94.3%' read as 94.3
    panel = out["link"].panel
    assert panel["outcome.fft_recommend"].notna().sum() == 3 * len(codes)


def test_wide_distribution_xlsx_and_european_csv(tmp_path, real_data_dir):
    """A wide agree/strongly-agree XLSX (title row, no org type column) and a ';'/decimal-comma outcome CSV."""
    codes = acute_codes(real_data_dir / "ods", 30)
    rng = np.random.default_rng(5)
    rows = [["Staff survey: 'I am able to make improvements' - response distribution by trust"], []]
    rows.append(["Code", "Survey year", "Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree", "n"])
    for y in (2021, 2022, 2023):
        for c in codes:
            p = rng.dirichlet([1, 2, 3, 6, 3]) * 100
            rows.append([c, y, *np.round(p, 2), int(rng.integers(200, 900))])
    xlsx = tmp_path / "dist.xlsx"
    pd.DataFrame([r + [None] * (8 - len(r)) for r in rows]).to_excel(xlsx, header=False, index=False)
    euro = "Organisation;Mortality index\n" + "".join(
        f"{c};{str(round(rng.uniform(0.8, 1.2), 3)).replace('.', ',')}\n" for c in codes)
    wide = """\
id: improvement_distribution
match_columns: [Code, Survey year, Agree, Strongly agree]
columns: {org_code: Code, year: Survey year}
computed:
  agree_total: {sum: [Agree, Strongly agree]}
measures:
  staff.improve_agree: {value: agree_total, scale: percent, base: n}
"""
    euro_map = """\
id: mortality_2022
match_columns: [Organisation, Mortality index]
columns: {org_code: Organisation}
year: {constant: 2022}
measures:
  outcome.mortality_index: {value: Mortality index, scale: index}
"""
    measures = textwrap.dedent("""\
        measures:
          staff.improve_agree: {role: staff, scale: percent, label: Able to make improvements (% agree), higher_is_better: true}
          outcome.mortality_index: {role: outcome, scale: index, label: Mortality index, higher_is_better: false}
        """)
    data = user_project(tmp_path, real_data_dir, {"dist.xlsx": xlsx.read_bytes(), "mort.csv": euro},
                    [wide, euro_map], measures)
    out = run_pipeline_in(tmp_path / "run", data, model=False, sections={
        "staff": {"measures": ["staff.improve_agree"]}, "patient": {"measures": ["outcome.mortality_index"]},
        "link": {"headline_staff": "staff.improve_agree", "headline_patient": "outcome.mortality_index"},
        "model": {"dependent": "outcome.mortality_index", "exposure": "staff.improve_agree", "other_exposures": []}})
    staff = out["staff"].tidy
    assert len(staff) == 90 and staff.value.between(0, 100).all() and staff.base_n.notna().all()
    mort = out["patient"].tidy
    assert len(mort) == 30 and set(mort.year) == {2022} and mort.value.between(0.8, 1.2).all()
    audit = out["link"].audit
    assert not audit["reason"].astype(str).str.startswith("not_a_trust").any()  # type from the registry


# --------------------------------------------------------------------------- the "done when" check, through DVC
@pytest.mark.slow
def test_study_through_dvc_repro_with_only_user_files(tmp_path, real_data_dir):
    """Only user files (a mapping, a measures file, params) and `dvc repro`: every row kept, WLS equal,
    a second repro a no-op, and an edit in data.local_dir re-runs acquire."""
    import os
    import subprocess
    import sys

    import statsmodels.api as sm

    proj = tmp_path / "proj"
    project_copy(proj)
    shutil.copytree(real_data_dir / "ods", proj / "mydata" / "ods")
    codes = acute_codes(real_data_dir / "ods", 60)
    df = study_extract(every_year(codes, range(2015, 2023)))
    df.to_csv(proj / "mydata" / "study_extract.csv", index=False)
    (proj / "mappings" / "study.yaml").write_text(STUDY_MAPPING)
    (proj / "measures.yaml").write_text(STUDY_MEASURES)
    raw = yaml.safe_load((proj / "params.yaml").read_text())
    raw["data"].update({"source": "local", "local_dir": "mydata"})
    for name, values in STUDY_SECTIONS.items():
        raw[name].update(values)
    (proj / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(proj / "src"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    def repro() -> str:
        out = subprocess.run(["dvc", "repro"], cwd=proj, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        return out.stdout

    repro()
    audit = pd.read_csv(proj / "data/processed/linkage_audit.csv")
    assert (audit["fate"] == "matched").all()
    panel = pd.read_parquet(proj / "data/processed/panel.parquet")
    assert len(panel) == len(df)
    res = pd.read_csv(proj / "data/processed/model_results.csv")
    spec = res.loc[res["headline"].astype(str) == "True", "spec_name"].iloc[0]
    got = res[(res["model"] == "pooled") & (res["spec_name"] == spec)].set_index("term")
    xs = ["staff.idx_wellbeing", "staff.idx_engagement", "staff.idx_teamwork", "outcome.hsmr_prev"]
    d = panel.sort_values(["org_code", "year"])
    fit = sm.WLS(d["outcome.hsmr"], sm.add_constant(d[xs]), weights=d["outcome.study_weight"]).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(d["org_code"])[0]})
    for x in xs:
        assert got.loc[x, "estimate"] == pytest.approx(fit.params[x], abs=1e-8)
        assert got.loc[x, "std_error"] == pytest.approx(fit.bse[x], abs=1e-6)
    again = repro()  # nothing re-runs but the params check (always run: it fingerprints the user's files)
    assert "Running stage" not in again.replace("Running stage 'params'", "") and "didn't change" in again, again
    df.assign(hsmr=df["hsmr"] + 0.001).to_csv(proj / "mydata" / "study_extract.csv", index=False)
    assert "Running stage 'acquire'" in repro()
