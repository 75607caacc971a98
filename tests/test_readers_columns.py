"""Readers at column speed: the whole-column functions give exactly what the cell functions give,
the fast CSV parser gives exactly what the ``csv`` module gives, and the new refusals (zip bombs,
encrypted workbooks, symbolic links out of the folder) and audits (missing marks, unrecognised
files) work on files built here."""

from __future__ import annotations

import datetime as dt
import os
import zipfile

import numpy as np
import pandas as pd
import pytest

from linkage.errors import InputFileError
from linkage.readers import columns as C
from linkage.readers import common, extract, read_file, read_folder, tables

AWKWARD = [
    None, "", " ", "  41.5 ", "41.5", "-3", "+2.25", ".5", "5.", "1e3", "1E-2", "1_000", "inf", "-inf", "nan",
    "NaN", "NA", "N/A", "n/a", "#N/A", "<NA>", ".", "NULL", "*", "-", "x", "X", "..", "1,234", "1,234.5", "45%",
    " 45.5% ", "0.455%", "abc", "12abc", "\xa041.5\xa0", "\u2003", "٤٥", "1e999", 41.5, 3, 0, -1, True, False,
    float("nan"), float("inf"), np.float64(2.5), dt.date(2022, 1, 1), "\x1c7\x1f", "4 5", "0x10", "1.2.3",
]
MARKS = [set(extract.DEFAULT_MARKS) | {m.lower() for m in extract.DEFAULT_MARKS}, set(), {"-9", "*"}]


def _arr(values):
    a = np.empty(len(values), dtype=object)
    a[:] = values
    return a


@pytest.mark.parametrize("marks", MARKS, ids=["default", "none", "numeric"])
@pytest.mark.parametrize("scale", [None, "percent", "proportion", "count"])
def test_parse_numbers_is_parse_number(marks, scale):
    cells = AWKWARD + ["-9", " -9 "]
    values, reasons = C.parse_numbers(_arr(cells), marks, scale)
    for v, got, why in zip(cells, values, reasons, strict=True):
        want = common.parse_number(v, marks, scale)
        assert (None if np.isnan(got) else float(got), why) == want, repr(v)


def test_parse_numbers_on_all_text_column_matches_too():
    cells = [c for c in AWKWARD if isinstance(c, str)] * 3
    values, reasons = C.parse_numbers(_arr(cells), MARKS[0], "percent")
    assert [(None if np.isnan(v) else v, r) for v, r in zip(values, reasons, strict=True)] == [
        common.parse_number(c, MARKS[0], "percent") for c in cells]


def test_texts_and_summary_labels_match_cell_functions():
    cells = AWKWARD + ["Median", "england average", "National average", "Royal National Orthopaedic NHS Trust",
                       "Total:", "All trusts", "ſum", "MEAN (all)", "meanwhile"]
    a = _arr(cells)
    assert list(C.texts(a)) == [common.cell_text(v) for v in cells]
    t = C.texts(a)
    got = C.summary_labels(t, t[::-1].copy(), len(cells))
    assert list(got) == [common.summary_row_label(c, n) for c, n in zip(cells, cells[::-1], strict=True)]


@pytest.mark.parametrize("rows", [
    [["41,5", "1.234,5", "x"], ["7", "1.234", "0,25"]],
    [["41.5", "1,234"], ["1,5", "2"]],  # mixed: refused
    [["1,234", "2"], ["Smith, J", "3"]],  # ambiguous only: unchanged
    [[" 0,3125 ", None], [3.5, "12,5%"]],
])
def test_decimal_commas_columns_match_rows(rows):
    ref = [list(r) for r in rows]
    try:
        want = common.normalise_decimal_commas(ref, file="f.csv", columns=[0, 1])
    except InputFileError as err:
        with pytest.raises(InputFileError) as got:
            C.normalise_decimal_commas({j: _arr([r[j] for r in rows]) for j in (0, 1)}, [0, 1], file="f.csv")
        assert str(got.value) == str(err)
        return
    data = {j: _arr([r[j] for r in rows]) for j in (0, 1)}
    assert C.normalise_decimal_commas(data, [0, 1], file="f.csv") == want
    assert [[data[j][i] for j in (0, 1)] for i in range(len(rows))] == [r[:2] for r in ref]


@pytest.mark.parametrize("op", ["product", "sum", "difference", "ratio"])
def test_compute_matches_cell_version(op):
    a = _arr(["2", "", "*", "abc", "3", "4", "1e308", "0"])
    b = _arr(["5", "1", "2", "1", "0", "NA", "1e308", "0"])
    spec = extract.Computed(**{op: ["a", "b"]})
    got = C.compute(op, [a, b], MARKS[0])
    assert list(got) == [extract._compute(spec, [x, y], MARKS[0]) for x, y in zip(a, b, strict=True)]


# --------------------------------------------------------------------------- the fast CSV parser
TRICKY = {
    "plain": "a,b,c\n1,2,3\n4,5,6\n",
    "crlf and blank lines": "a,b\r\n1,2\r\n\r\n3,4\r\n",
    "quoted newline": 'a,b\n"x\ny",2\n"q ""z""",3\n',
    "title line": "Staff extract 2022\n\na,b\n1,2\n",
    "ragged rows": "a,b,c\n1,2\n3,4,5,6\n",
    "whitespace line": "a,b\n1,2\n   \n3,4\n",
    "lone carriage return": "a,b\n1,2\r3,4\n",
    "semicolons": "a;b\n1,5;2\n",
    "no final newline": "a,b\n1,2",
    "header only": "a,b\n",
    "quote inside field": 'a,b\nab"c,2\n',
}


def _reference_cells(path):
    rows = tables._csv_rows(path)
    return rows[1:]


@pytest.mark.parametrize("name", list(TRICKY))
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_csv_table_cells_are_the_csv_modules(tmp_path, name, encoding):
    p = tmp_path / "t.csv"
    text = TRICKY[name].replace("a,b", "a,b\u00e9" if encoding != "utf-8" else "a,b")
    p.write_bytes(text.encode(encoding))
    try:
        ref = tables._csv_rows(p)
    except InputFileError as err:  # the reference refuses it: so does the table, with the same message
        with pytest.raises(InputFileError) as got:
            t = tables.CsvTable.open(p)
            t.columns([0])
        assert str(got.value) == str(err)
        return
    t = tables.CsvTable.open(p)
    assert t.rows == ref[: len(t.rows)]
    t.header_at = next(i for i, r in enumerate(ref) if r[0] in ("a", "a;b") or r[0].startswith("a"))
    width = max(len(r) for r in ref)
    cols, n = t.columns(list(range(width + 1)))
    below = ref[t.header_at + 1:]
    assert n == len(below)
    for j in range(width + 1):
        assert list(C.cells(cols, j)) == [r[j] if j < len(r) else None for r in below]  # cells converted as needed
    assert list(t.blank(np.arange(n))) == [not any(common.cell_text(c) for c in r) for r in below]


def test_row_longer_than_a_parser_block_is_read_by_the_fast_parser_too(tmp_path, monkeypatch):
    seen = []
    from pyarrow import csv as pacsv

    orig = pacsv.read_csv
    monkeypatch.setattr(pacsv, "read_csv", lambda *a, **k: seen.append(k["read_options"].block_size) or orig(*a, **k))
    cell = "7" * 100_000
    p = tmp_path / "long.csv"
    short = "1" + ",2" * 59 + "\n"
    p.write_text("h" + ",h".join(map(str, range(60))) + "\n" + short * 60_000 + ",".join([cell] * 60) + "\n" + short)
    t = tables.CsvTable.open(p)
    cols, n = t.columns(list(range(60)))
    ref = tables._csv_rows(p)[1:]
    assert all(isinstance(cols[j], C.Pending) for j in range(60))  # read by pyarrow, not the csv module
    assert n == 60_002 and all(list(C.cells(cols, j)) == [r[j] for r in ref] for j in range(60))
    assert seen == [tables.CSV_BLOCK_BYTES, tables.CSV_LONG_ROW_BLOCK_BYTES]  # a 6 MB row past the first block: the second try read it


def test_fast_and_reference_csv_paths_read_identically(tmp_path, extract_path, monkeypatch):
    """The real extract, with awkward cells added, read through pyarrow and through the csv module."""
    df = pd.read_csv(extract_path, dtype=str, keep_default_na=False)
    df.loc[3, "Stress_rate"] = "NA"
    df.loc[4, "Stress_rate"] = " 41,5 "  # ambiguous? no: unambiguous decimal comma -> refused as mixed
    df.loc[4, "Stress_rate"] = "*"
    df.loc[5, "ODS code"] = ""
    df.loc[6, "ODS code"] = "Median"
    df = pd.concat([df, df.iloc[[7]]], ignore_index=True)  # an identical repeat
    p = tmp_path / "x.csv"
    df.to_csv(p, index=False)
    fast = read_file(p)
    monkeypatch.setattr(tables, "_arrow_csv", lambda *a, **k: None)
    slow = read_file(p)
    for name in ("tidy", "quarantine", "orgs", "names"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(slow, name))
    reasons = fast.quarantine["reason"].str.split(":").str[0].value_counts()
    assert {"missing", "suppressed", "blank_org_code", "summary_row", "duplicate_row"} <= set(reasons.index)


# --------------------------------------------------------------------------- missing is not suppressed
def test_r_na_is_missing_not_suppressed(tmp_path):
    m = tmp_path / "m.yaml"
    m.write_text("id: tiny\nkind: staff\ncolumns: {org_code: code, year: yr}\n"
                 "measures:\n  staff.stress: {value: stress, scale: percent}\n")
    p = tmp_path / "x.csv"
    p.write_text("code,yr,stress\nRAA,2022,41.5\nRBB,2022,NA\nRCC,2022,#N/A\nRDD,2022,*\nREE,2022,.\nRFF,2022,\n")
    q = read_file(p, mapping=m).quarantine.set_index("org_code")["reason"]
    assert q["RBB"] == "missing: mark 'NA'" and q["RCC"] == "missing: mark '#N/A'" and q["REE"] == "missing: mark '.'"
    assert q["RDD"] == "suppressed: mark '*'" and q["RFF"].startswith("blank")


# --------------------------------------------------------------------------- refusals
def _fake_xlsx(path, payload_mb):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            block = b"\0" * (1 << 20)
            for _ in range(payload_mb):
                fh.write(block)
    return path


def test_zip_bomb_refused_before_parsing(tmp_path):
    p = _fake_xlsx(tmp_path / "bomb.xlsx", 40)
    assert p.stat().st_size < 1e6
    with common.limits(max_uncompressed_mb=10), pytest.raises(InputFileError, match="max_uncompressed_mb") as e:
        read_file(p)
    assert "bomb.xlsx" in str(e.value) and "declares 42 MB" in str(e.value)
    with common.limits(max_uncompressed_mb=100), pytest.raises(InputFileError) as e:
        read_file(p)  # under the limit: parsed, and refused for what it is (not a real workbook)
    assert "max_uncompressed_mb" not in str(e.value)


def test_max_uncompressed_mb_is_a_validated_param():
    from linkage.params import validate_params
    from linkage.params.data import DataParams

    assert DataParams().max_uncompressed_mb == common.DEFAULT_MAX_UNCOMPRESSED_MB
    with pytest.raises(Exception, match="max_uncompressed_mb"):
        validate_params({"data": {"max_uncompressed_mb": -1}})


def _ole2(body: bytes) -> bytes:
    """A compound-file header (magic + padding to one 512-byte sector) followed by ``body``."""
    return (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504) + body


def test_encrypted_xlsx_named(tmp_path):
    p = tmp_path / "secret.xlsx"
    p.write_bytes(_ole2("\x06DataSpaces".encode("utf-16-le") + b"\0" * 64 + "EncryptionInfo".encode("utf-16-le")
                        + b"\0" * 600))
    with pytest.raises(InputFileError, match="remove the password and save again") as e:
        read_file(p)
    assert "encrypted" in str(e.value) and "secret.xlsx" in str(e.value)


def test_password_protected_xls_named(tmp_path):
    bof = common._BIFF_BOF_GLOBALS + b"\0" * 12  # BOF record: type, length 16, 16 bytes of content
    filepass = b"\x2f\x00\x06\x00" + b"\x01\x00\x01\x00\x01\x00"
    p = tmp_path / "old.xls"
    p.write_bytes(_ole2(bof + b"\xe1\x00\x02\x00\xb0\x04" + filepass + b"\0" * 600))
    with pytest.raises(InputFileError, match="password-protected Excel 97-2003") as e:
        read_file(p)
    assert "remove the password and save again" in str(e.value)
    plain = tmp_path / "plain.xls"
    plain.write_bytes(_ole2(bof + b"\x85\x00\x02\x00\x00\x00" + b"\0" * 600))
    with pytest.raises(InputFileError) as e:
        read_file(plain)
    assert "password" not in str(e.value)


def test_decimal_comma_text_in_nss_workbook(tmp_path, make_nss_workbook):
    p = make_nss_workbook(tmp_path / "nss.xlsx", 2019, {"Acute": [
        {"code": "RAA", "q11c": "0,41", "theme_hwb": "6,2"}, {"code": "RBB", "q11c": "0,375", "theme_hwb": "5,9"}]})
    res = read_file(p)
    got = res.tidy.set_index(["org_code", "source_code"])["value"]
    assert got[("RAA", "q11c_2019")] == pytest.approx(0.41) and got[("RBB", "theme_hwb_2019")] == pytest.approx(5.9)
    assert not res.quarantine["reason"].str.startswith("summary_row").any() or set(
        res.quarantine.loc[res.quarantine["reason"].str.startswith("summary_row"), "org_code"].dropna()) == set()


def test_symlink_out_of_folder_refused_by_name(tmp_path, make_nss_workbook):
    folder = tmp_path / "raw"
    make_nss_workbook(folder / "nss" / "nss.xlsx")
    outside = tmp_path / "secret.csv"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    os.symlink(outside, folder / "nss" / "passwd.csv")
    with pytest.raises(InputFileError, match="passwd.csv is a symbolic link") as e:
        read_folder(folder, kind="staff")
    assert "root:x" not in str(e.value) and "secret.csv" not in str(e.value)
    (folder / "nss" / "passwd.csv").unlink()
    os.symlink(folder / "nss" / "nss.xlsx", folder / "inside.xlsx")  # a link within the folder is fine
    assert len(read_folder(folder, kind="staff").tidy)


def test_unrecognised_files_listed(tmp_path, make_nss_workbook):
    from linkage.ingest import _unrecognised

    folder = tmp_path / "raw"
    make_nss_workbook(folder / "nss" / "nss.xlsx")
    (folder / "notes.csv").write_text("what,ever\n1,2\n")
    (folder / "ods").mkdir()
    (folder / "ods" / "etr.csv").write_text("RAA,A NHS TRUST\n")
    res = read_folder(folder, kind="staff")
    files = {u["file"]: u["reason"] for u in res.unrecognised}
    assert set(files) == {"notes.csv", os.path.join("ods", "etr.csv")}
    assert "none of the known layouts" in files["notes.csv"]
    assert [x.split(":")[0] for x in _unrecognised(res.unrecognised)] == ["notes.csv"]


# --------------------------------------------------------------------------- long columns (the pyarrow paths)
SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())


def _long(cells, n=1200):
    return _arr([cells[i % len(cells)] for i in range(n)])


def test_long_text_columns_strip_and_upper_as_python_does():
    words = ["z00", " r1f ", "\u2003trust\u2003", "\x1cab\x1f", "", "  ", "Median", "x" + SPACES + "y", SPACES + "k"]
    for cells in (words, words + ["straße", "ſum", "ǆ"]):  # ASCII only, then with letters pyarrow upper-cases otherwise
        a = _long(cells)
        t = C.texts(a)
        assert list(t) == [common.cell_text(v) for v in a]
        assert list(C.upper(t)) == [v.upper() for v in t]
        assert list(C.texts(_long(cells + [None, 4.0, 2.5]))) == [common.cell_text(v) for v in _long(cells + [None, 4.0, 2.5])]


def test_long_columns_of_plain_numbers_parse_as_float_does():
    rng = np.random.default_rng(7)
    tricky = ["1.", ".5", "+2.25", "-0", " 41.5 ", "\t3\t", "1e-400", "1e308", "1e309", "4.9e-324", "00012", "1E5",
              "0.1000000000000000055511151231257827", "9007199254740993", "2.2250738585072011e-308", "123456789" * 5]
    cells = tricky + [repr(float(x)) for x in rng.normal(0, 1e3, 400)] + [f"{x:.3f}" for x in rng.uniform(0, 100, 400)]
    for marks in MARKS:
        for scale in (None, "percent"):
            a = _long(cells, 1500)
            values, reasons = C.parse_numbers(a, marks, scale)
            got = [(None if np.isnan(v) else float(v), r) for v, r in zip(values, reasons, strict=True)]
            assert got == [common.parse_number(v, marks, scale) for v in a]


def test_columns_of_bare_numbers_cast_whole_parse_as_float_does():
    """A column whose every cell pyarrow's cast reads (no spaces, no marks): the one-cast path, including the
    cells it reads as non-finite (nan, inf, too big), which go to the reference function."""
    rng = np.random.default_rng(11)
    bare = ["1.", ".5", "+2.25", "-0", "1e-400", "1e308", "1e309", "4.9e-324", "00012", "1E5", "-.5e-3",
            "0.1000000000000000055511151231257827", "9007199254740993", "123456789" * 5, "nan", "NaN", "inf", "-inf",
            "Infinity", "-INFINITY", "1e400"]
    cells = bare + [repr(float(x)) for x in rng.normal(0, 1e3, 300)] + [f"{x:.3f}" for x in rng.uniform(0, 120, 300)]
    assert C._cast_all(C._to_arrow(_arr(cells))) is not None  # the path under test is taken
    for marks in MARKS + [{"nan", "inf"}]:
        for scale in (None, "percent", "proportion"):
            a = _long(cells, 1500)
            values, reasons = C.parse_numbers(a, marks, scale)
            got = [(None if np.isnan(v) else float(v), r) for v, r in zip(values, reasons, strict=True)]
            assert got == [common.parse_number(v, marks, scale) for v in a]


def test_byte_screens_of_text_columns_agree_with_the_cells():
    import pyarrow as pa

    for cells, ascii_, comma in ((["a", "b,c"], True, True), (["é", "x"], False, False), (["", ""], True, False),
                                 ([], True, False)):
        a = pa.array(cells, type=pa.string())
        assert C.surely_ascii(a) is ascii_ and C.surely_without(a, ",") is not comma
    sliced = pa.array(["é,", "ab"], type=pa.string()).slice(1)  # the buffer holds bytes outside the slice:
    assert not C.surely_ascii(sliced) and not C.surely_without(sliced, ",")  # "not known", never a wrong yes
    arr = _long(["1,5", "2", "3,25"], 1500)  # decimal commas in an ASCII column are still found
    data = {0: arr}
    assert C.normalise_decimal_commas(data, [0], file="f.csv")
    assert list(data[0][:3]) == ["1.5", "2", "3.25"]


def test_pyarrow_built_string_columns_are_pandas_string_arrays():
    values = ["a", None, "Z00", "", "ſ"]
    pos = np.array([0, 2, 2, 1, 4, 3, 0], dtype=np.int32)
    want = pd.array(np.array(values, dtype=object)[pos], dtype="string")
    got = C.strings_at(pos, values)
    assert got.dtype == want.dtype and list(pd.isna(got)) == list(pd.isna(want))
    pd.testing.assert_extension_array_equal(got, want)
    pd.testing.assert_extension_array_equal(C.as_strings(_arr(values)), pd.array(_arr(values), dtype="string"))


def test_catalogue_lookups_by_distinct_code_match_one_by_one():
    from linkage.catalogue import load_catalogue

    cat = load_catalogue()
    codes = ["R1F1", "R1F", "00C/1", "RXX", "R1F9", "r1f2", "", "Q99"] * 200
    groups = ["Acute Trusts", "CCGs", "", "Social enterprise", "community surgical", "ICB", "x", "Ambulance trust"] * 200
    assert list(cat.org_kinds_for(groups, codes)) == [cat.org_kind(g, c) for g, c in zip(groups, codes, strict=True)]
    for given in (pd.Series(codes), pd.Series(codes, dtype="string"), pd.Series(codes + [None], dtype=object)):
        got = cat.rollup_targets(given)
        assert got.tolist() == [cat.rollup_target(str(c)) for c in given]
