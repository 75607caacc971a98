"""Bad input gives a clear error (file, sheet, column, row) or an audited quarantine row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import cqc_sheets, nss_sheet_rows, write_sheets

from linkage.errors import InputFileError, UnknownLayoutError
from linkage.readers import read_file


def test_empty_file(tmp_path):
    p = tmp_path / "empty.xlsx"
    p.write_bytes(b"")
    with pytest.raises(InputFileError, match=r"empty \(0 bytes\)") as e:
        read_file(p)
    assert e.value.file.endswith("empty.xlsx")


def test_png_is_rejected_by_content(tmp_path):
    p = tmp_path / "chart.xlsx"  # misleading extension: content decides
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(InputFileError, match="PNG image"):
        read_file(p)


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_file(tmp_path / "nope.ods")


def test_unknown_csv_lists_known_layouts(tmp_path):
    p = tmp_path / "etr.csv"
    p.write_text("RXX,SOME TRUST,Y56,QMJ,ADDRESS\nRYY,OTHER TRUST,Y56,QMJ,ADDRESS\n")
    with pytest.raises(UnknownLayoutError) as e:
        read_file(p)
    msg = str(e.value)
    for lid in ("nss_org_workbook_2019", "cqc_inpatient_benchmark_2022", "extract:nss_2021_2024_extract"):
        assert lid in msg
    assert "missing columns" in msg and "etr.csv" in msg


def test_unknown_workbook_says_what_differs(tmp_path):
    p = write_sheets(tmp_path / "other.xlsx", {"Data": [["a", "b"], [1, 2]]})
    with pytest.raises(UnknownLayoutError) as e:
        read_file(p)
    assert "no sheet named 'Trust_Scores'; sheets are ['Data']" in str(e.value)
    assert "trust" in str(e.value) and "trustname" in str(e.value)


def test_cqc_missing_main_sheet_named(tmp_path):
    sheets = cqc_sheets(2022, [{"code": "RAA"}])
    sheets["TrustScores"] = sheets.pop("Trust_Scores")  # renamed sheet
    p = write_sheets(tmp_path / "ip.ods", sheets)
    with pytest.raises(UnknownLayoutError, match="no sheet named 'Trust_Scores'"):
        read_file(p)


def test_nss_renamed_measure_column(tmp_path):
    rows = nss_sheet_rows(2019, [{"code": "RAA"}])
    hi = 0
    rows[hi][rows[hi].index("q11c_2019")] = "q11c2019"
    p = write_sheets(tmp_path / "nss.xlsx", {"Acute": rows})
    with pytest.raises(InputFileError) as e:
        read_file(p)
    err = e.value
    assert err.sheet == "Acute" and err.column == "q11c_2019" and err.row == 1
    assert "similar columns" in str(err) and "q11c2019" in str(err)


def test_nss_missing_org_code_column_in_data_sheet(tmp_path):
    good = nss_sheet_rows(2019, [{"code": "RAA"}])
    bad = nss_sheet_rows(2019, [{"code": "RBB"}])
    bad[0][0] = "org"  # header token 'trust' renamed
    p = write_sheets(tmp_path / "nss.xlsx", {"Acute": good, "Community": bad})
    with pytest.raises(InputFileError) as e:
        read_file(p)
    assert e.value.sheet == "Community" and "renamed" in str(e.value)


def test_suppression_marks_and_non_numeric_quarantined(tmp_path):
    orgs = [
        {"code": "RAA", "q11c": "*"},
        {"code": "RBB", "q11c": "-"},
        {"code": "RCC", "q11c": " "},
        {"code": "RDD", "q11c": "abc"},
        {"code": "REE", "q11c": 1.7},  # a proportion above 1
        {"code": "RFF", "q11c": 0.31},
    ]
    p = write_sheets(tmp_path / "nss.xlsx", {"Acute": nss_sheet_rows(2019, orgs)})
    res = read_file(p)
    stress = res.tidy[res.tidy.measure == "staff.stress"]
    assert stress.org_code.tolist() == ["RFF"] and stress.value.tolist() == [0.31]
    assert not res.tidy.value.isna().any()
    q = res.quarantine[res.quarantine.column == "q11c_2019"].set_index("org_code")
    assert q.loc["RAA", "reason"] == "suppressed: mark '*'"
    assert q.loc["RBB", "reason"] == "suppressed: mark '-'"
    assert q.loc["RCC", "reason"].startswith("blank")
    assert q.loc["RDD", "reason"].startswith("non_numeric") and q.loc["RDD", "raw_value"] == "abc"
    assert q.loc["REE", "reason"].startswith("out_of_range")
    # 1-based spreadsheet rows: header row 1, RAA on row 2
    assert q.loc["RAA", "row"] == 2 and q.loc["RDD", "row"] == 5
    assert (q.source_sheet == "Acute").all()


def test_identical_duplicate_row_quarantined(tmp_path):
    p = write_sheets(tmp_path / "nss.xlsx", {"Acute": nss_sheet_rows(2019, [{"code": "RAA"}, {"code": "RAA"}])})
    res = read_file(p)
    assert (res.tidy.org_code == "RAA").sum() == res.tidy.measure.nunique()
    dup = res.quarantine[res.quarantine.reason.str.startswith("duplicate_row")]
    assert len(dup) == 1 and dup.iloc[0]["row"] == 3 and "row 2" in dup.iloc[0]["reason"]


def test_conflicting_duplicate_row_is_an_error(tmp_path):
    rows = nss_sheet_rows(2019, [{"code": "RAA", "q11c": 0.3}, {"code": "RAA", "q11c": 0.5}])
    p = write_sheets(tmp_path / "nss.xlsx", {"Acute": rows})
    with pytest.raises(InputFileError) as e:
        read_file(p)
    assert e.value.row == 3 and e.value.sheet == "Acute" and "appears twice" in str(e.value)


def test_duplicate_across_sheets_is_an_error(tmp_path, make_nss_workbook):
    p = make_nss_workbook(tmp_path / "nss.xlsx", 2019,
                          {"Acute": [{"code": "RAA", "q11c": 0.3}], "Community": [{"code": "RAA", "q11c": 0.4}]})
    with pytest.raises(InputFileError, match="of sheet 'Acute'"):
        read_file(p)


def test_extract_missing_mapped_column(tmp_path):
    df = pd.DataFrame({"ODS code": ["RAA"], "Year": [2022], "Benchmarking group": ["Acute Trusts"],
                       "Stress_rate": [40.0], "Stress_base": [100], "Respondents": [120]})
    p = tmp_path / "x.csv"
    df.to_csv(p, index=False)
    with pytest.raises(InputFileError) as e:  # matches by match_columns, but lacks Burned_out_rate etc.
        read_file(p)
    assert e.value.row == 1 and e.value.column in {"Organisation name", "Burned_out_rate", "Burned_out_base"}


def test_extract_bad_cells(tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "id: tiny\nkind: staff\ncolumns: {org_code: code, year: yr}\n"
        "measures:\n  staff.stress: {value: stress, scale: percent, base: n}\n"
    )
    p = tmp_path / "x.csv"
    p.write_text("code,yr,stress,n\nRAA,2022,41.5,100\nRBB,2022,*,5\nRCC,twenty,30,100\n,2022,20,10\nRDD,2022,140,10\n")
    res = read_file(p, mapping=mapping)
    assert res.tidy[["org_code", "value", "base_n"]].values.tolist() == [["RAA", 41.5, 100.0]]
    reasons = dict(zip(res.quarantine.row, res.quarantine.reason, strict=True))
    assert reasons[3].startswith("suppressed") and reasons[4].startswith("bad_year")
    assert reasons[5].startswith("blank_org_code") and reasons[6].startswith("out_of_range")


def test_mapping_with_unknown_measure(tmp_path):
    from linkage.readers.extract import MappingError

    mapping = tmp_path / "m.yaml"
    mapping.write_text("id: t\nkind: staff\ncolumns: {org_code: c, year: y}\nmeasures:\n  staff.strss: {value: s, scale: percent}\n")
    p = tmp_path / "x.csv"
    p.write_text("c,y,s\nRAA,2022,4\n")
    with pytest.raises(MappingError, match="staff.strss"):
        read_file(p, mapping=mapping)


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(InputFileError, match="is a folder"):
        read_file(Path(tmp_path))
