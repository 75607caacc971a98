"""The synthetic demo: deterministic, labelled, in the publishers' layouts, planted effect recoverable."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from linkage.demo import (
    simulate_organisations,
    simulate_panel,
    simulate_values,
    write_demo_files,
)
from linkage.params import DemoParams

SMALL = DemoParams(seed=7, n_acute=24, n_non_acute=8, staff_years=[2019, 2020, 2021], patient_years=[2020, 2021],
                 n_mergers=1)


def test_simulation_is_deterministic_for_a_seed():
    a = simulate_panel(seed=3, n_trusts=20, years=(2020, 2021, 2022))
    b = simulate_panel(seed=3, n_trusts=20, years=(2020, 2021, 2022))
    c = simulate_panel(seed=4, n_trusts=20, years=(2020, 2021, 2022))
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["staff.stress"], c["staff.stress"])


def test_everything_is_labelled_synthetic(tmp_path):
    manifest = write_demo_files(tmp_path, SMALL)
    assert manifest["synthetic"] is True
    assert all("DEMO-SYNTHETIC" in f for f in manifest["files"] if f.endswith((".xlsx", ".ods")))
    orgs = simulate_organisations(SMALL)
    assert orgs["org_name"].str.contains("SYNTHETIC DEMO").all()
    assert orgs["org_code"].str.contains("Z").all()
    assert (tmp_path / "README-DEMO-SYNTHETIC.md").exists()
    truth = json.loads((tmp_path / "demo_truth.json").read_text())["truth"]
    assert truth["true_effect"] == SMALL.true_effect
    assert len(truth["mergers"]) == 2  # one merger = two predecessors


def test_nss_workbook_has_the_2019_layout(tmp_path):
    write_demo_files(tmp_path, SMALL)
    wb = CalamineWorkbook.from_path(tmp_path / "nss" / "ST20-Organisation-Data-2020-Only-DEMO-SYNTHETIC.xlsx")
    assert wb.sheet_names[:3] == ["Notes", "Trust Benchmark Groups", "Acute"]
    acute = wb.get_sheet_by_name("Acute").to_python()
    # a title row sits above the header on Acute, as in the published workbook
    assert acute[0][0].startswith("See summary")
    header = acute[1]
    assert header[:8] == ["trust", "trustname", "trtype", "trtname", "sample_type", "org_mode", "responses", "rr_2020"]
    assert "q11c_2020" in header and "q11c_n_2020" in header and "theme_engagement_2020" in header
    assert acute[-2][0] == "count:"  # trailing summary rows like the publisher's
    other = wb.get_sheet_by_name("MH LD").to_python()
    assert other[0][0] == "trust"
    # suppression marks appear where a question base is below 11
    ccg = wb.get_sheet_by_name("CCGs").to_python()
    h = ccg[0]
    stars = [r for r in ccg[1:] if r[h.index("q11c_2020")] == "*"]
    assert all(float(r[h.index("q11c_n_2020")]) < 11 for r in stars)


def test_cqc_file_has_the_2022_layout(tmp_path):
    write_demo_files(tmp_path, SMALL)
    wb = CalamineWorkbook.from_path(tmp_path / "cqc_inpatient" / "Adult-Inpatient-Survey-2021-DEMO-SYNTHETIC.ods")
    assert wb.sheet_names == ["Guidance", "Key", "Trust_Respondents", "Trust_Scores",
                              "Historical_Comparisonsto2020", "Historical_Comparisonsto2019"]
    scores = wb.get_sheet_by_name("Trust_Scores").to_python()
    assert scores[0][:4] == ["TrustCode", "trustname", "n_tpat", "meanQ2"]
    assert "meanQ46" in scores[0] and "meanS01" in scores[0]
    hist = wb.get_sheet_by_name("Historical_Comparisonsto2020").to_python()
    assert hist[0][:5] == ["SurveyYear", "TrustCode", "trustname", "n_tpat_H", "Q2_mean_H"]
    assert {r[0] for r in hist[1:]} == {2020.0}


def test_merged_trusts_appear_under_successor_in_later_history(tmp_path):
    write_demo_files(tmp_path, SMALL)
    orgs = simulate_organisations(SMALL)
    successor = orgs["successor"].dropna().iloc[0]
    wb = CalamineWorkbook.from_path(tmp_path / "cqc_inpatient" / "Adult-Inpatient-Survey-2021-DEMO-SYNTHETIC.ods")
    hist = wb.get_sheet_by_name("Historical_Comparisonsto2020").to_python()
    assert successor in [r[1] for r in hist[1:]]
    etr = (tmp_path / "ods" / "etr.csv").read_text().splitlines()
    assert all(len(line.split('","')) == 27 for line in etr)
    succ = pd.read_csv(tmp_path / "ods" / "trust_successions.csv")
    assert set(succ["new_code"]) == {successor}


def test_planted_effect_recovered_by_two_way_fixed_effects():
    """Direct check of the data generating process with linearmodels, no pipeline."""
    from linearmodels import PanelOLS

    panel = simulate_panel(seed=11, n_trusts=130, years=(2019, 2020, 2021, 2022, 2023), true_effect=-0.03,
                           plant_on="published")
    d = panel.set_index(["org_code", "year"])
    res = PanelOLS(d["patient.ip_overall"], d[["staff.stress"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True)
    lo, hi = res.conf_int().loc["staff.stress"]
    assert lo < -0.03 < hi
    # the cross-sectional slope is steeper than the within one (confounding planted on purpose)
    means = d.groupby(level=0)[["patient.ip_overall", "staff.stress"]].mean()
    between = np.polyfit(means["staff.stress"], means["patient.ip_overall"], 1)[0]
    assert between < -0.05


def test_values_in_realistic_ranges():
    staff, patient = simulate_values(DemoParams(seed=1))
    assert staff["staff.stress"].between(15, 75).all()
    assert patient["patient.ip_overall"].between(6, 10).all()
    assert patient["patient.ip_overall"].mean() == pytest.approx(8.1, abs=0.4)


def test_same_seed_same_bytes(tmp_path):
    """Deterministic to the byte, so DVC sees an unchanged output when the demo is rebuilt."""
    from linkage.acquire import file_inventory

    write_demo_files(tmp_path / "a", SMALL)
    write_demo_files(tmp_path / "b", SMALL)
    a, b = file_inventory(tmp_path / "a"), file_inventory(tmp_path / "b")
    assert a == b and len(a) >= 10
    other = file_inventory(write_demo_files(tmp_path / "c", SMALL.model_copy(update={"seed": 8})) and tmp_path / "c")
    assert {f["sha256"] for f in other} != {f["sha256"] for f in a}


def test_published_values_are_latent_plus_sampling_error_from_the_base_n():
    """Staff stress as published = latent value + binomial sampling error with the base n written in the file."""
    staff, patient = simulate_values(DemoParams(seed=3))
    p = staff["latent_stress"] / 100
    z = (staff["staff.stress"] / 100 - p) / np.sqrt(p * (1 - p) / staff["staff.stress__n"])
    assert abs(z.mean()) < 0.1 and z.std() == pytest.approx(1.0, abs=0.08)
    # and the effect is planted on the latent value: the naive within slope of the published values is attenuated
    panel = simulate_panel(seed=11, n_trusts=130, true_effect=-0.03)
    noisy = simulate_panel(seed=11, n_trusts=130, true_effect=-0.03, plant_on="published")
    assert not np.allclose(panel["patient.ip_overall"], noisy["patient.ip_overall"])
    np.testing.assert_array_equal(panel["staff.stress"], noisy["staff.stress"])


def _openpyxl_sheet_data(tmp_path, rows):
    """The ``sheetData`` XML openpyxl's write-only writer produces for ``rows`` (the reference)."""
    import re
    import zipfile

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("S")
    for r in rows:
        ws.append(r)
    wb.save(tmp_path / "ref.xlsx")
    xml = zipfile.ZipFile(tmp_path / "ref.xlsx").read("xl/worksheets/sheet1.xml").decode()
    return re.search(r"<sheetData>(.*)</sheetData>", xml).group(1)


def test_bulk_sheet_rows_are_what_openpyxl_writes(tmp_path):
    from linkage.demo import _xlsx_rows_xml

    rng = np.random.default_rng(3)
    rows = [["title"], ["a", "b c", "", "*", "x (SYNTHETIC DEMO)", "count:"] + [f"col{j}" for j in range(40)]]
    rows += [[float(v) if j % 5 else None for j, v in enumerate(rng.normal(0, 10 ** (i % 12), 46))] for i in range(30)]
    rows += [[1, 2.0, 1e-300, 123456789012345678.0, 0.1 + 0.2, -0.0, 5e15 + 0.5, None, "Mental Health / LD"]]
    assert _xlsx_rows_xml(rows) == _openpyxl_sheet_data(tmp_path, rows)
    for odd in ("=SUM(A1:A2)", "#N/A", " padded", "café", "a&b", "a<b", True, float("inf"), np.float64(1.5)):
        assert _xlsx_rows_xml([["ok", odd]]) is None, odd  # left to openpyxl
    assert _xlsx_rows_xml([["ok"], [None, None]]) is None


def test_nss_workbook_bytes_same_as_openpyxl_writing_every_row(tmp_path, monkeypatch):
    """The bulk rows change nothing: the workbook is byte for byte the one openpyxl writes row by row."""
    import linkage.demo as demo

    orgs = simulate_organisations(SMALL)
    staff, _ = simulate_values(SMALL, orgs)
    fast = demo.write_nss_workbook(tmp_path / "fast.xlsx", 2020, staff, orgs, SMALL.seed).read_bytes()
    monkeypatch.setattr(demo, "_xlsx_rows_xml", lambda rows: None)
    slow = demo.write_nss_workbook(tmp_path / "slow.xlsx", 2020, staff, orgs, SMALL.seed).read_bytes()
    assert fast == slow


def test_ods_rows_are_the_cells_as_ods_cell_writes_them():
    from linkage.demo import _ods_cell, _ods_row

    row = [1.5, float("nan"), float("inf"), -0.0, 3, np.int64(4), np.float64(2.25), None, "a<b & 'c'", "", True, 1e-300]
    assert _ods_row(row) == "<table:table-row>" + "".join(_ods_cell(v) for v in row) + "</table:table-row>"
