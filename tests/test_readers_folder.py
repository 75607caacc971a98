"""read_folder: discovery by content, overlaps between files, layouts for other years, the demo."""

from __future__ import annotations

import pytest

from linkage.catalogue import load_catalogue
from linkage.errors import InputFileError
from linkage.params import DemoParams
from linkage.readers import detect_layout, read_file, read_folder


def test_overlap_prefers_the_files_own_year(tmp_path, make_cqc_file):
    d = tmp_path / "raw"
    # the 2021 file gives 2021 on its main sheet; the 2022 file restates 2021 in a historical sheet
    make_cqc_file(d / "cqc" / "ip_2021.ods", 2021, [{"code": "RAA", "Q46": 7.1}, {"code": "RBB", "Q46": 7.2}],
                  history={2020: [{"code": "RAA", "Q46": 6.9}]})
    make_cqc_file(d / "cqc" / "ip_2022.xlsx", 2022, [{"code": "RAA", "Q46": 8.0}],
                  history={2021: [{"code": "RAA", "Q46": 7.15}, {"code": "RBB", "Q46": 7.25}],
                           2020: [{"code": "RAA", "Q46": 6.95}]})
    (d / "ods").mkdir()
    (d / "ods" / "etr.csv").write_text("RAA,A TRUST,Y1\n")
    res = read_folder(d, kind="patient")
    t = res.tidy[res.tidy.measure == "patient.ip_overall"].set_index(["org_code", "year"])
    assert t.loc[("RAA", 2021), "value"] == 7.1 and t.loc[("RAA", 2021), "source_file"] == "ip_2021.ods"
    assert t.loc[("RBB", 2021), "value"] == 7.2
    assert t.loc[("RAA", 2022), "value"] == 8.0
    # 2020 comes from two historical sheets: the most recent publication wins
    assert t.loc[("RAA", 2020), "value"] == 6.95 and t.loc[("RAA", 2020), "source_file"] == "ip_2022.xlsx"
    q = res.quarantine[res.quarantine.reason.str.startswith("superseded_by")]
    lost = q[(q.org_code == "RAA") & (q.year == 2021) & (q.column == "Q46_mean_H")]
    assert lost.reason.tolist() == ["superseded_by:ip_2021.ods"]
    assert len(res.tidy.drop_duplicates(["org_code", "year", "measure"])) == len(res.tidy)
    assert res.files.set_index("file").loc["ods/etr.csv", "status"] == "skipped"
    assert res.file_year is None and res.kind == "patient"


def test_folder_without_files_of_kind(tmp_path, make_cqc_file):
    make_cqc_file(tmp_path / "ip.ods", 2022, [{"code": "RAA"}])
    with pytest.raises(InputFileError, match="no staff survey files found"):
        read_folder(tmp_path, kind="staff")


def test_same_layout_other_years_without_code_change(tmp_path, make_nss_workbook):
    """The 2019 layout written for 2017 and 2023 reads by year suffix (no hard-coded 2019)."""
    for y in (2017, 2023):
        make_nss_workbook(tmp_path / f"ST{y % 100}.xlsx", y,
                          {"Acute": [{"code": "RAA", "q11c": 0.2 + (y - 2017) / 100}],
                           "Ambulance": [{"code": "RBB", "group": "Ambulance Trusts"}]})
    assert detect_layout(tmp_path / "ST17.xlsx") == "nss_org_workbook_2019"
    res = read_folder(tmp_path, kind="staff")
    s = res.tidy[(res.tidy.measure == "staff.stress") & (res.tidy.org_code == "RAA")].set_index("year")
    assert s.loc[2017, "value"] == pytest.approx(0.2) and s.loc[2023, "value"] == pytest.approx(0.26)
    assert s.loc[2017, "source_code"] == "q11c_2017"
    assert set(res.orgs.year) == {2017, 2023}


def test_catalogue_year_window_is_data(tmp_path, make_nss_workbook):
    """Restricting a source to some years in measures.yaml changes what is read: no code involved."""
    import shutil

    cat_dir = tmp_path / "cat"
    shutil.copytree(load_catalogue().folder, cat_dir)
    text = (cat_dir / "measures.yaml").read_text()
    text = text.replace("code: q11c, scale: proportion,", "code: q11c, scale: proportion, years: [2015, 2020],")
    (cat_dir / "measures.yaml").write_text(text)
    p = make_nss_workbook(tmp_path / "ST23.xlsx", 2023)
    assert "staff.stress" in set(read_file(p).tidy.measure)
    assert "staff.stress" not in set(read_file(p, catalogue=cat_dir).tidy.measure)


def test_cache_reuses_parsed_result(tmp_path, make_nss_workbook):
    p = make_nss_workbook(tmp_path / "data" / "nss.xlsx")
    cache = tmp_path / "cache"
    first = read_file(p, cache_dir=cache)
    entries = list(cache.iterdir())
    assert len(entries) == 1 and (entries[0] / "tidy.parquet").exists()
    second = read_file(p, cache_dir=cache)
    assert second.files.status.iloc[0] == "read (cache)"
    assert second.tidy.equals(first.tidy) and second.orgs.equals(first.orgs)
    # changed bytes -> new key
    make_nss_workbook(p, 2019, {"Acute": [{"code": "RZZ"}]})
    assert set(read_file(p, cache_dir=cache).tidy.org_code) == {"RZZ"}


def test_demo_files_pass_through_the_readers(tmp_path):
    demo = pytest.importorskip("linkage.demo")
    if not hasattr(demo, "write_demo_files"):
        pytest.skip("linkage.demo.write_demo_files not written yet")
    spec = DemoParams(n_acute=12, n_non_acute=4, staff_years=[2019, 2020], patient_years=[2021, 2022])
    demo.write_demo_files(tmp_path, spec)
    staff = read_folder(tmp_path, kind="staff")
    patient = read_folder(tmp_path, kind="patient")
    assert staff.layout == "nss_org_workbook_2019"
    assert patient.layout == "cqc_inpatient_benchmark_2022"
    assert set(staff.tidy.year) == {2019, 2020} and {2021, 2022} <= set(patient.tidy.year)
    assert {"staff.stress", "staff.respondents"} <= set(staff.tidy.measure)
    assert {"patient.ip_overall", "patient.ip_s01"} <= set(patient.tidy.measure)
    trusts = staff.orgs[staff.orgs.org_kind == "trust"]
    assert len(trusts) and trusts.org_code.str.startswith("Z").all()  # the demo's synthetic trust codes
    assert staff.quarantine.reason.str.startswith("summary_row").any()
