"""Bad variants of the real published files: each is read right or refused with a clear error.

Every variant is built at test time in ``tmp_path`` from the real layouts
(never committed): percent signs, decimal commas, columns on another scale,
renamed historical columns, empty files, financial-year text, summary rows,
content that contradicts the extension, a title line above a CSV header.
"""

from __future__ import annotations

import gzip
import subprocess
import sys

import pandas as pd
import pytest

from linkage.errors import InputFileError
from linkage.readers import read_file


@pytest.fixture(scope="module")
def extract_df(extract_path) -> pd.DataFrame:
    """The real 2021-2024 extract as text cells (as a user's editor would re-save them)."""
    return pd.read_csv(extract_path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def extract_good(extract_path):
    return read_file(extract_path)


def _stress(res) -> pd.Series:
    t = res.tidy[res.tidy.measure == "staff.stress"]
    return t.set_index(["org_code", "year"])["value"].sort_index()


def _write(df: pd.DataFrame, path, **kw):
    df.to_csv(path, index=False, **kw)
    return path


# --------------------------------------------------------------------------- silent wrong values
def test_percent_suffix_read_as_percent(tmp_path, extract_df, extract_good):
    df = extract_df.copy()
    filled = df["Stress_rate"] != ""
    df.loc[filled, "Stress_rate"] = df.loc[filled, "Stress_rate"] + "%"
    res = read_file(_write(df, tmp_path / "pct.csv"))
    pd.testing.assert_series_equal(_stress(res), _stress(extract_good))  # 50.29% is 50.29, never 0.5029


def test_percent_suffix_on_proportion_column_is_divided(tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("id: t\ncolumns: {org_code: c, year: y}\nmeasures:\n  staff.stress: {value: s, scale: proportion}\n")
    p = tmp_path / "x.csv"
    p.write_text("c,y,s\nRAA,2022,50.29%\nRBB,2022,0.4\n")
    assert read_file(p, mapping=m).tidy["value"].tolist() == pytest.approx([0.5029, 0.4])


def test_percent_suffix_on_a_score_is_refused(tmp_path):
    from linkage.readers.common import parse_number

    v, why = parse_number("7.5%", set(), "score10")
    assert v is None and "percent sign" in why


def test_decimal_comma_csv_read_right(tmp_path, extract_df, extract_good):
    df = extract_df.copy()
    for c in df.columns:
        if c.endswith("_rate"):
            df[c] = df[c].str.replace(".", ",", regex=False)
    big = df["Respondents"].str.fullmatch(r"\d{4,6}")
    assert big.any()
    df.loc[big, "Respondents"] = df.loc[big, "Respondents"].map(lambda v: f"{int(v):,}".replace(",", "."))
    res = read_file(_write(df, tmp_path / "eu.csv", sep=";"))
    pd.testing.assert_series_equal(_stress(res), _stress(extract_good))
    resp = lambda r: r.tidy[r.tidy.measure == "staff.respondents"].set_index(["org_code", "year"])["value"]  # noqa: E731
    pd.testing.assert_series_equal(resp(res).sort_index(), resp(extract_good).sort_index())  # "1.234" is 1234
    assert not res.quarantine["reason"].str.startswith("non_numeric").any()


# --------------------------------------------------------------------------- silent loss / wrong scale
def test_proportions_in_a_percent_column_refused(tmp_path, extract_df):
    df = extract_df.copy()
    filled = df["Stress_rate"] != ""
    df.loc[filled, "Stress_rate"] = (df.loc[filled, "Stress_rate"].astype(float) / 100).astype(str)
    with pytest.raises(InputFileError, match="looks like proportions") as e:
        read_file(_write(df, tmp_path / "prop.csv"))
    assert e.value.column == "Stress_rate" and e.value.file == "prop.csv"


def test_percentages_in_a_proportion_column_refused(tmp_path, nss2019_path):
    import openpyxl

    wb = openpyxl.load_workbook(nss2019_path)
    ws = wb["Acute"]
    header_row = next(r for r in ws.iter_rows(min_row=1, max_row=15) if any(c.value == "q11c_2019" for c in r))
    col = next(c.column for c in header_row if c.value == "q11c_2019")
    for row in ws.iter_rows(min_row=header_row[0].row + 1, min_col=col, max_col=col):
        if isinstance(row[0].value, float):
            row[0].value = row[0].value * 100
    p = tmp_path / "st19_pct.xlsx"
    wb.save(p)
    with pytest.raises(InputFileError) as e:
        read_file(p)
    msg = str(e.value)
    assert e.value.sheet == "Acute" and e.value.column == "q11c_2019"
    assert "looks like percentages (0-100), expected proportions (0-1)" in msg


def _cqc_as_xlsx(cqc_path, out, edit=None):
    sheets = pd.read_excel(cqc_path, sheet_name=None, header=None, engine="calamine")
    if edit:
        edit(sheets)
    with pd.ExcelWriter(out, engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, header=False, index=False)
    return out


def test_renamed_history_column_is_an_audited_loss(tmp_path, cqc2022_path):
    def rename(sheets):
        df = sheets["Historical_Comparisonsto2021"]
        hdr = df.iloc[0].tolist()
        df.iloc[0, hdr.index("Q46_mean_H")] = "Q46mean_H"

    res = read_file(_cqc_as_xlsx(cqc2022_path, tmp_path / "ip.xlsx", rename))
    lost = res.quarantine[res.quarantine.reason.str.startswith("missing_column")]
    assert len(lost) == 1 and lost.iloc[0]["year"] == 2021
    assert "patient.ip_overall" in lost.iloc[0]["reason"] and "Q46mean_H" in lost.iloc[0]["reason"]
    overall = res.tidy[res.tidy.measure == "patient.ip_overall"]
    assert set(overall.year) == {2020, 2022}


def test_history_sheet_without_any_expected_column_is_an_error(tmp_path, cqc2022_path):
    def rename(sheets):
        df = sheets["Historical_Comparisonsto2020"]
        df.iloc[0] = [str(c).replace("_mean_H2", "_avg") for c in df.iloc[0]]

    with pytest.raises(InputFileError, match="none of the expected value columns") as e:
        read_file(_cqc_as_xlsx(cqc2022_path, tmp_path / "ip.xlsx", rename))
    assert e.value.sheet == "Historical_Comparisonsto2020"


# --------------------------------------------------------------------------- success on nothing
def test_header_only_file_is_an_error(tmp_path, extract_df):
    with pytest.raises(InputFileError, match="no data rows"):
        read_file(_write(extract_df.iloc[:0], tmp_path / "empty.csv"))


def test_financial_year_text_is_an_error(tmp_path, extract_df):
    df = extract_df.copy()
    df["Year"] = df["Year"].map(lambda y: f"{y}/{int(y[2:]) + 1}")
    with pytest.raises(InputFileError, match=r"financial or academic years \('2021/22'\)") as e:
        read_file(_write(df, tmp_path / "fy.csv"))
    assert e.value.column == "Year"


# --------------------------------------------------------------------------- summary rows
def test_summary_rows_are_not_organisations(tmp_path, extract_df, extract_good):
    df = extract_df.copy()
    extra = []
    for label in ("Median", "England average", "Total"):
        row = df.iloc[0].copy()
        row["ODS code"], row["Organisation name"] = label, label
        extra.append(row)
    row = df.iloc[0].copy()
    row["ODS code"], row["Organisation name"] = "", "National average"
    extra.append(row)
    res = read_file(_write(pd.concat([df, pd.DataFrame(extra)]), tmp_path / "summ.csv"))
    assert set(res.tidy.org_code) == set(extract_good.tidy.org_code)
    summ = res.quarantine[res.quarantine.reason.str.startswith("summary_row")]
    assert len(summ) == 4


# --------------------------------------------------------------------------- content beats extension
def test_xlsx_named_xls_is_read(tmp_path, nss2019_path):
    p = tmp_path / "ST19.xls"
    p.write_bytes(nss2019_path.read_bytes())
    assert read_file(p).layout == "nss_org_workbook_2019"


def test_utf16_csv_is_read(tmp_path, extract_path, extract_good):
    p = tmp_path / "u16.csv"
    p.write_bytes(extract_path.read_text(encoding="utf-8-sig").encode("utf-16"))
    pd.testing.assert_series_equal(_stress(read_file(p)), _stress(extract_good))


@pytest.mark.parametrize(
    ("name", "make", "what"),
    [
        ("data.csv", lambda raw: gzip.compress(raw), r"gzip-compressed file .*decompress it first"),
        ("data.xls", lambda raw: b"<html><body><table><tr><td>ODS code</td></tr></table></body></html>",
         "an HTML page"),
        ("data.xls", lambda raw: b'<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
         b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>', "XML Spreadsheet 2003"),
    ],
)
def test_other_formats_named_for_what_they_are(tmp_path, extract_path, name, make, what):
    p = tmp_path / name
    p.write_bytes(make(extract_path.read_bytes()))
    with pytest.raises(InputFileError, match=what):
        read_file(p)


# --------------------------------------------------------------------------- layout oddities
def test_title_line_above_csv_header(tmp_path, extract_path, extract_good):
    p = tmp_path / "titled.csv"
    p.write_text("NHS Staff Survey 2021-2024: trust well-being extract (produced for research)\n\n"
                 + extract_path.read_text(encoding="utf-8-sig"))
    pd.testing.assert_series_equal(_stress(read_file(p)), _stress(extract_good))


def test_mapping_kind_contradicting_measures(tmp_path):
    from linkage.readers.extract import MappingError

    m = tmp_path / "m.yaml"
    m.write_text("id: t\nkind: staff\ncolumns: {org_code: c, year: y}\n"
                 "measures:\n  patient.ip_overall: {value: s, scale: score10}\n")
    p = tmp_path / "x.csv"
    p.write_text("c,y,s\nRAA,2022,8\n")
    with pytest.raises(MappingError, match="declares kind: staff but measure 'patient.ip_overall' has role 'patient'"):
        read_file(p, mapping=m)


def test_mapping_scale_that_cannot_convert(tmp_path):
    from linkage.readers.extract import MappingError

    m = tmp_path / "m.yaml"
    m.write_text("id: t\ncolumns: {org_code: c, year: y}\nmeasures:\n  patient.ip_overall: {value: s, scale: mean1to5}\n")
    p = tmp_path / "x.csv"
    p.write_text("c,y,s\nRAA,2022,4\n")
    with pytest.raises(MappingError, match="no conversion"):
        read_file(p, mapping=m)


# --------------------------------------------------------------------------- the command line
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "linkage.cli", *map(str, args)], capture_output=True, text=True)


def test_cli_bad_file_exit_2_one_paragraph(tmp_path, extract_df):
    df = extract_df.copy()
    df["Year"] = df["Year"].map(lambda y: f"{y}/{int(y[2:]) + 1}")
    p = _write(df, tmp_path / "fy.csv")
    proc = _cli("read", p, "--out", tmp_path / "o.csv")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "fy.csv" in proc.stderr and "'Year'" in proc.stderr


def test_cli_prints_quarantine_summary(tmp_path, cqc2022_path):
    proc = _cli("read", cqc2022_path, "--out", tmp_path / "o.csv")
    assert proc.returncode == 0, proc.stderr
    assert "quarantined: " in proc.stderr and "blank" in proc.stderr


def test_cli_name_keyed_file_with_match_audit(tmp_path, real_data_dir):
    m = tmp_path / "m.yaml"
    m.write_text("id: byname\ncolumns: {org_name: Trust}\nyear: {constant: 2022}\n"
                 "measures:\n  staff.stress: {value: Stress, scale: percent}\n")
    p = tmp_path / "x.csv"
    p.write_text("Trust,Stress\nThe Leeds Teaching Hospitals NHS Trust,31.5\nLeeds Teaching Hospital,30\n"
                 "Guy's & St Thomas' NHS FT,29\nEngland,30.1\n")
    audit = tmp_path / "names.csv"
    proc = _cli("read", p, "--mapping", m, "--ods-dir", real_data_dir / "ods", "--out", tmp_path / "o.csv",
                "--names-audit", audit)
    assert proc.returncode == 0, proc.stderr
    assert "name matches: matched 2, unmatched 1" in proc.stderr and "summary_row 1" in proc.stderr
    a = pd.read_csv(audit)
    assert a.set_index("name").loc["Leeds Teaching Hospital", "candidates"].startswith("LEEDS TEACHING HOSPITALS NHS TRUST (RR8)")
    assert sorted(pd.read_csv(tmp_path / "o.csv")["org_code"]) == ["RJ1", "RR8"]
    proc = _cli("read", p, "--mapping", m)
    assert proc.returncode == 2 and "etr.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_mapping_rules_year_from_file_name_and_computed(tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("id: t\ncolumns: {org_code: c}\nyear: {from_file_name: 'y(?P<year>\\d{4})'}\n"
                 "computed:\n  tot: {sum: [a, b]}\n  diff: {difference: [a, b]}\n  rate: {ratio: [b, a]}\n"
                 "measures:\n  staff.stress: {value: tot, scale: percent, base: n}\n"
                 "  staff.burnout: {value: diff, scale: percent}\n  staff.enough_staff: {value: rate, scale: proportion}\n")
    p = tmp_path / "data_y2023.csv"
    p.write_text("c,a,b,n\nRAA,30,10,100\nRBB,*,10,90\n")
    res = read_file(p, mapping=m)
    got = res.tidy.set_index(["org_code", "measure"])["value"].to_dict()
    assert got == {("RAA", "staff.stress"): 40.0, ("RAA", "staff.burnout"): 20.0,
                   ("RAA", "staff.enough_staff"): pytest.approx(1 / 3)}
    assert set(res.tidy.year) == {2023}
    assert res.quarantine.reason.str.startswith("blank").sum() == 3  # RBB: an input suppressed -> no value
    bad = tmp_path / "data.csv"
    bad.write_text(p.read_text())
    with pytest.raises(InputFileError, match="does not match this name"):
        read_file(bad, mapping=m)


def test_broken_user_mapping_stops_the_folder_read(tmp_path):
    from linkage.readers import read_folder
    from linkage.readers.extract import MappingError

    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "m.yaml").write_text("id: t\ncolumns: {org_code: c, year: y}\nmeasures:\n  staff.strss: {value: s, scale: percent}\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv").write_text("c,y,s\nRAA,2022,4\n")
    with pytest.raises(MappingError, match="staff.strss"):
        read_folder(data, kind="staff", mapping_dir=maps)


def test_unreadable_file_in_the_data_folder_is_listed_by_ingest(tmp_path, extract_path):
    from linkage.ingest import ingest
    from linkage.params import StaffParams

    (tmp_path / "nss.csv").write_bytes(extract_path.read_bytes())
    (tmp_path / "old.xls").write_bytes(b"<html><body><table></table></body></html>")
    res = ingest("staff", tmp_path, StaffParams(measures=["staff.stress"]))
    assert res.metrics["files_unreadable"] == [
        "old.xls: file '" + str(tmp_path / "old.xls") + "': is an HTML page (a web page or report saved with a "
        "spreadsheet extension), not a spreadsheet (starts with bytes b'<html><b'); expected an .xlsx/.ods/.xls "
        "workbook or a CSV"]


def test_mixed_decimal_commas_and_points_refused(tmp_path, extract_df):
    df = extract_df.copy()
    filled = df.index[df["Stress_rate"].str.contains(r"\.\d{1,2}$")]
    df.loc[filled[:5], "Stress_rate"] = df.loc[filled[:5], "Stress_rate"].str.replace(".", ",", regex=False)
    with pytest.raises(InputFileError, match="mixes decimal commas .* and decimal points"):
        read_file(_write(df, tmp_path / "mixed.csv"))


def test_0_100_scores_in_a_0_10_column_refused(tmp_path, cqc2022_path):
    def rescale(sheets):
        df = sheets["Trust_Scores"]
        j = df.iloc[0].tolist().index("meanQ46")
        df.iloc[1:, j] = pd.to_numeric(df.iloc[1:, j], errors="coerce") * 10

    with pytest.raises(InputFileError, match=r"looks like percentages \(0-100\), expected 0-10 scores") as e:
        read_file(_cqc_as_xlsx(cqc2022_path, tmp_path / "ip.xlsx", rescale))
    assert e.value.sheet == "Trust_Scores" and e.value.column == "meanQ46"
