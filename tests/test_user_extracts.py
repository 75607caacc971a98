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

STUDY_MEASURES = """\
measures:
  outcome.hsmr:
    role: outcome
    scale: ratio
    label: Hospital standardised mortality ratio (observed / expected)
    higher_is_better: false
  outcome.hsmr_prev:
    role: outcome
    scale: ratio
    label: HSMR in the previous year
    higher_is_better: false
  outcome.study_weight:
    role: outcome
    scale: count
    label: Study weight (beds x occupancy)
    higher_is_better: null
  staff.idx_wellbeing:
    role: staff
    scale: mean1to5
    label: Wellbeing index (mean of 1-5 answers)
    higher_is_better: true
  staff.idx_engagement:
    role: staff
    scale: mean1to5
    label: Engagement index (mean of 1-5 answers)
    higher_is_better: true
  staff.idx_teamwork:
    role: staff
    scale: mean1to5
    label: Teamwork index (mean of 1-5 answers)
    higher_is_better: true
    comparable_from: 2015
"""

STUDY_MAPPING = """\
id: study_extract
description: A study's processed extract, one row per acute trust and year
match_columns: [trust_code, fin_year, hsmr, beds, occupancy]
columns: {org_code: trust_code, year: fin_year}
computed:
  weight: {product: [beds, occupancy]}
measures:
  outcome.hsmr: {value: hsmr, scale: ratio, base: weight}
  outcome.hsmr_prev: {value: hsmr_lag1, scale: ratio}
  outcome.study_weight: {value: weight, scale: count}
  staff.idx_wellbeing: {value: wellbeing, scale: mean1to5}
  staff.idx_engagement: {value: engagement, scale: mean1to5}
  staff.idx_teamwork: {value: teamwork, scale: mean1to5}
"""

STUDY_SECTIONS = {
    "staff": {"measures": ["staff.idx_wellbeing", "staff.idx_engagement", "staff.idx_teamwork"]},
    "patient": {"measures": ["outcome.hsmr", "outcome.hsmr_prev", "outcome.study_weight"]},
    "link": {"successors": "as_published", "restrict_trust_types": False,
             "headline_staff": "staff.idx_wellbeing", "headline_patient": "outcome.hsmr"},
    "model": {"dependent": "outcome.hsmr", "exposure": "staff.idx_wellbeing",
              "covariates": ["staff.idx_engagement", "staff.idx_teamwork", "outcome.hsmr_prev"],
              "families": ["pooled"], "headline_family": "pooled", "time_effects": False,
              "weights": "outcome.study_weight", "lags": [0], "reverse": False, "placebo_leads": [],
              "other_exposures": [], "adjust_contemporaneous": "no", "reliability_measures": None},
}


def _acute_codes(ods: object, n: int) -> list[str]:
    types = pd.read_csv(ods / "trust_types_2022.csv")
    acute = types[types["primary_category"].str.contains("non-specialist", case=False)]["trust_code"]
    return sorted(acute)[:n]


def study_extract(codes: list[str], years: range, seed: int = 7) -> pd.DataFrame:
    """A synthetic study-shaped extract with a known relation of the outcome to the indices."""
    rng = np.random.default_rng(seed)
    rows = []
    for code in codes:
        level = rng.normal(0, 0.05)
        prev = 1.0 + level + rng.normal(0, 0.03)
        for y in years:
            w, e, t = (np.clip(rng.normal(3.6, 0.15), 1, 5) for _ in range(3))
            hsmr = 1.0 + level - 0.08 * (w - 3.6) + 0.03 * (e - 3.6) + 0.4 * (prev - 1) + rng.normal(0, 0.03)
            rows.append({"trust_code": code, "fin_year": y, "hsmr": round(hsmr, 6), "hsmr_lag1": round(prev, 6),
                         "wellbeing": round(w, 6), "engagement": round(e, 6), "teamwork": round(t, 6),
                         "beds": int(rng.integers(200, 1500)), "occupancy": round(rng.uniform(0.7, 0.98), 4)})
            prev = hsmr
    return pd.DataFrame(rows)


def _project(tmp_path, real_data_dir, files: dict[str, object], mapping: str, measures: str):
    """A local_dir with the real ODS files and the user's files; the user's mappings and measures."""
    local = tmp_path / "mydata"
    shutil.copytree(real_data_dir / "ods", local / "ods")
    for name, content in files.items():
        target = local / name
        if isinstance(content, pd.DataFrame):
            content.to_csv(target, index=False)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    (tmp_path / "mappings").mkdir()
    for i, text in enumerate([mapping] if isinstance(mapping, str) else mapping):
        (tmp_path / "mappings" / f"m{i}.yaml").write_text(text)
    (tmp_path / "measures.yaml").write_text(measures)
    return {"source": "local", "local_dir": str(local), "mappings_dir": str(tmp_path / "mappings"),
            "measures_file": str(tmp_path / "measures.yaml")}


@pytest.fixture(scope="module")
def study(tmp_path_factory, real_data_dir):
    tmp = tmp_path_factory.mktemp("study")
    codes = _acute_codes(real_data_dir / "ods", 60)
    df = study_extract(codes, range(2015, 2023))
    data = _project(tmp, real_data_dir, {"study_extract.csv": df}, STUDY_MAPPING, STUDY_MEASURES)
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
    codes = [c for c in _acute_codes(real_data_dir / "ods", 80) if c in open_now][:40]
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
    data = _project(tmp_path, real_data_dir, files, mapping, measures)
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
    codes = _acute_codes(real_data_dir / "ods", 30)
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
    data = _project(tmp_path, real_data_dir, {"dist.xlsx": xlsx.read_bytes(), "mort.csv": euro},
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
def _project_copy(dest) -> None:
    """The project's files (tracked and new, not ignored) copied into ``dest``, a fresh git repository."""
    import subprocess

    from conftest import REPO

    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for rel in listed:
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)


@pytest.mark.slow
def test_study_through_dvc_repro_with_only_user_files(tmp_path, real_data_dir):
    """Only user files (a mapping, a measures file, params) and `dvc repro`: every row kept, WLS equal,
    a second repro a no-op, and an edit in data.local_dir re-runs acquire."""
    import os
    import subprocess
    import sys

    import statsmodels.api as sm

    proj = tmp_path / "proj"
    _project_copy(proj)
    shutil.copytree(real_data_dir / "ods", proj / "mydata" / "ods")
    codes = _acute_codes(real_data_dir / "ods", 60)
    df = study_extract(codes, range(2015, 2023))
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
