"""Readers against the real published files (skipped when ../shared/data/real is absent).

Expected numbers were looked up independently of the readers (openpyxl for
the .xlsx, pandas' odf engine for the .ods, the csv module for the extract).
"""

from __future__ import annotations

import pytest

from linkage.contract import QUARANTINE_COLUMNS, TIDY_COLUMNS, validate_tidy
from linkage.readers import detect_layout, read_file, read_folder

pytestmark = pytest.mark.real


def value(result, org, year, measure):
    t = result.tidy
    rows = t[(t.org_code == org) & (t.year == year) & (t.measure == measure)]
    assert len(rows) == 1, f"expected one {org} {year} {measure} row, got {len(rows)}"
    return rows.iloc[0]


# --------------------------------------------------------------------------- NSS 2019
@pytest.fixture(scope="module")
def nss(nss2019_path):
    return read_file(nss2019_path)


def test_nss_layout_detected_by_content(nss2019_path):
    assert detect_layout(nss2019_path) == "nss_org_workbook_2019"


def test_nss_organisations_per_sheet(nss):
    # organisations per benchmarking-group sheet, counted with openpyxl
    # (sub-codes R1F1..R1F4 sit in Acute, Ambulance, MH LD and Community)
    per_sheet = nss.tidy[nss.tidy.measure == "staff.respondents"].groupby("source_sheet")["org_code"].nunique()
    expected = {
        "Acute": 85 - 1, "Combined Acute & Community": 48, "Acute Specialist": 14, "MH LD": 23 - 1,
        "Combined MH LD and Community": 32, "Community": 16 - 1, "Ambulance": 11 - 1, "CCGs": 66, "CSUs": 1,
        "Social Enterprises - MH": 1, "Social Enterprises - Community": 2, "Community Surgical Services": 1,
    }
    got = {k: v for k, v in per_sheet.items() if "+" not in k}
    assert got == expected
    # 300 organisation rows; four Isle of Wight sub-codes become one R1F
    assert nss.orgs["org_code"].nunique() == 297
    assert set(nss.tidy.year.unique()) == {2019}
    assert nss.file_year == 2019


def test_nss_named_values(nss):
    r = value(nss, "R0A", 2019, "staff.hwb_theme")
    assert r.value == pytest.approx(5.997256164, abs=1e-12)
    assert r.base_n == 6859 and r.source_code == "theme_hwb_2019" and r.scale == "score10"
    r = value(nss, "RRU", 2019, "staff.stress")
    assert r.value == pytest.approx(0.524123831, abs=1e-12)  # a proportion, as published
    assert r.base_n == 4175 and r.source_code == "q11c_2019" and r.source_sheet == "Ambulance"
    assert value(nss, "RRU", 2019, "staff.response_rate").value == pytest.approx(0.714770222, abs=1e-12)
    assert value(nss, "RRU", 2019, "staff.respondents").value == 4215
    assert value(nss, "R0A", 2019, "staff.recommend_care").value == pytest.approx(0.740689892, abs=1e-12)
    assert value(nss, "R0A", 2019, "staff.engagement").value == pytest.approx(7.074535659, abs=1e-12)


def test_nss_isle_of_wight_rolled_up(nss):
    parts = {  # code: (q11c, q11c_n, responses, rr)
        "R1F1": (0.454268951, 835, 848, 0.412050534),
        "R1F2": (0.46058304, 82, 84, 0.413793103),
        "R1F3": (0.407031839, 153, 154, 0.401041667),
        "R1F4": (0.512890266, 192, 200, 0.485436893),
    }
    r = value(nss, "R1F", 2019, "staff.stress")
    expect = sum(v * n for v, n, _, _ in parts.values()) / sum(n for _, n, _, _ in parts.values())
    assert r.value == pytest.approx(expect, rel=1e-12)
    assert r.base_n == 835 + 82 + 153 + 192
    assert value(nss, "R1F", 2019, "staff.respondents").value == 848 + 84 + 154 + 200
    rr = value(nss, "R1F", 2019, "staff.response_rate").value
    distributed = sum(resp / rate for _, _, resp, rate in parts.values())
    assert rr == pytest.approx((848 + 84 + 154 + 200) / distributed, rel=1e-9)
    assert not nss.tidy.org_code.str.match(r"^R1F\d$").any()
    sub = nss.rollups[nss.rollups.measure == "staff.stress"]
    assert set(sub.org_code) == set(parts) and set(sub["into"]) == {"R1F"}
    org = nss.orgs[nss.orgs.org_code == "R1F"].iloc[0]
    assert org.org_name == "Isle of Wight NHS Trust" and org.org_kind == "trust"


def test_nss_non_trusts_kept_and_typed(nss):
    kinds = nss.orgs.set_index("org_code")["org_kind"]
    assert kinds["00C/00D/00J/00K/00M"] == "ccg"
    assert kinds["0CX"] == "csu"
    assert kinds["NQL"] == "social_enterprise"
    assert kinds["NXP"] == "other"
    assert kinds["RRU"] == "trust"
    assert (kinds == "ccg").sum() == 66
    assert (kinds == "trust").sum() == 85 - 1 + 48 + 14 + 23 - 1 + 32 + 16 - 1 + 11 - 1 + 1
    assert value(nss, "00C/00D/00J/00K/00M", 2019, "staff.stress").value == pytest.approx(0.270072993)


def test_nss_summary_rows_quarantined_not_dropped(nss):
    q = nss.quarantine
    assert list(q.columns) == QUARANTINE_COLUMNS
    summary = q[q.reason.str.startswith("summary_row")]
    # Acute: 'count:', '(combined)', blank; Combined Acute & Community: blank, 'count:'
    assert sorted(zip(summary.source_sheet, summary.row, strict=True)) == [
        ("Acute", 88), ("Acute", 89), ("Acute", 90),
        ("Combined Acute & Community", 50), ("Combined Acute & Community", 51),
    ]
    validate_tidy(nss.tidy)


# --------------------------------------------------------------------------- CQC 2022
@pytest.fixture(scope="module")
def cqc(cqc2022_path):
    return read_file(cqc2022_path)


def test_cqc_counts_per_year(cqc):
    assert cqc.layout == "cqc_inpatient_benchmark_2022" and cqc.kind == "patient"
    assert cqc.file_year == 2022
    n = cqc.tidy[cqc.tidy.measure == "patient.ip_overall"].groupby("year")["org_code"].nunique().to_dict()
    assert n == {2022: 133, 2021: 132, 2020: 130}
    # sections only for the survey year; S02 blank for 7 trusts
    s02 = cqc.tidy[cqc.tidy.measure == "patient.ip_s02"]
    assert set(s02.year) == {2022} and len(s02) == 126
    blanks = cqc.quarantine[cqc.quarantine.column == "meanS02"]
    assert sorted(blanks.org_code) == ["RAN", "REN", "REP", "RL1", "RPC", "RQ3", "RRJ"]
    assert blanks.reason.str.startswith("blank").all()


def test_cqc_named_values(cqc):
    r = value(cqc, "R0B", 2022, "patient.ip_overall")
    assert r.value == pytest.approx(8.01876116724482, abs=1e-12)
    assert r.base_n == 490  # Q46_tres from Trust_Respondents, not n_tpat (501)
    assert r.source_code == "meanQ46" and r.source_sheet == "Trust_Scores"
    assert value(cqc, "R0B", 2022, "patient.ip_respect_dignity").value == pytest.approx(9.10991371771569, abs=1e-12)
    assert value(cqc, "R0B", 2022, "patient.ip_respondents").value == 501
    assert value(cqc, "R0B", 2022, "patient.ip_s01").base_n == 501
    r = value(cqc, "R0D", 2020, "patient.ip_overall")
    assert r.value == pytest.approx(8.4464863009232, abs=1e-12)
    assert r.base_n == 540 and r.source_code == "Q46_mean_H2"
    assert r.source_sheet == "Historical_Comparisonsto2020"
    assert value(cqc, "R0D", 2021, "patient.ip_overall").value == pytest.approx(8.01026432034521, abs=1e-12)
    assert value(cqc, "R0D", 2020, "patient.ip_respondents").value == 553


def test_cqc_key_sheet_read(cqc):
    key = cqc.key.set_index(["sheet", "variable"])["description"]
    assert key[("Trust_Scores", "meanQx")] == "Mean trust score for question x"


# --------------------------------------------------------------------------- extract
@pytest.fixture(scope="module")
def ext(extract_path):
    return read_file(extract_path)


def test_extract_auto_mapping_and_values(ext):
    assert ext.layout == "extract:nss_2021_2024_extract"
    r = value(ext, "RRU", 2022, "staff.stress")
    assert r.value == pytest.approx(56.1268055564038, abs=1e-12) and r.base_n == 4385
    assert r.scale == "percent" and r.source_code == "Stress_rate"
    assert value(ext, "RRU", 2022, "staff.burnout").value == pytest.approx(46.4093703032121, abs=1e-12)
    assert value(ext, "RRU", 2022, "staff.respondents").value == 4386
    # organisation rows per year (1,075 rows; Isle of Wight's 4/4/4/2 sub-codes become R1F)
    per_year = ext.orgs.groupby("year").size().to_dict()
    assert per_year == {2021: 277, 2022: 261, 2023: 265, 2024: 262}
    kinds = ext.orgs.groupby(["year", "org_kind"]).size()
    assert kinds[(2021, "ccg")] == 52 and kinds[(2022, "icb")] == 37 and (2021, "icb") not in kinds


def test_extract_isle_of_wight(ext):
    parts = [(43.6451386124835, 1346), (31.6982349449275, 144), (43.0496488242033, 294), (39.433720292306, 406)]
    r = value(ext, "R1F", 2023, "staff.stress")
    assert r.value == pytest.approx(sum(v * n for v, n in parts) / sum(n for _, n in parts), rel=1e-12)
    assert r.base_n == sum(n for _, n in parts)


# --------------------------------------------------------------------------- folder
def test_read_folder_real(real_data_dir, tmp_path):
    staff = read_folder(real_data_dir, kind="staff", cache_dir=tmp_path / "cache")
    assert set(staff.tidy.year.unique()) == {2019, 2021, 2022, 2023, 2024}
    assert staff.layout == "extract:nss_2021_2024_extract+nss_org_workbook_2019"
    skipped = staff.files[staff.files.status == "skipped"]["file"].tolist()
    assert "ods/etr.csv" in skipped  # ODS files belong to other stages
    assert list(staff.tidy.columns[:7]) == TIDY_COLUMNS
    patient = read_folder(real_data_dir, kind="patient", cache_dir=tmp_path / "cache")
    assert sorted(patient.tidy.year.unique()) == [2020, 2021, 2022]
    # the cache gives identical results
    again = read_folder(real_data_dir, kind="patient", cache_dir=tmp_path / "cache")
    assert (again.files.status == "read (cache)").sum() == 1
    assert again.tidy.equals(patient.tidy)
