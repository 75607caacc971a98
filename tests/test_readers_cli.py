"""`linkage read` writes exactly the 7 contract columns; bad input exits non-zero with one clear line."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd

from linkage.cli import main
from linkage.contract import TIDY_COLUMNS


def test_read_writes_contract_columns(tmp_path, make_cqc_file):
    p = make_cqc_file(tmp_path / "ip.ods", 2022, [{"code": "RAA", "Q46": 8.25}], history={2021: [{"code": "RAA"}]})
    out = tmp_path / "out" / "tidy.csv"
    assert main(["read", str(p), "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == TIDY_COLUMNS
    row = df[(df.measure == "patient.ip_overall") & (df.year == 2022)].iloc[0]
    assert row.value == 8.25 and row.source_file == "ip.ods" and row.source_code == "meanQ46"


def test_read_with_mapping(tmp_path, capsys):
    m = tmp_path / "m.yaml"
    m.write_text("id: t\nkind: staff\ncolumns: {org_code: c, year: y}\nmeasures:\n  staff.stress: {value: s, scale: percent}\n")
    p = tmp_path / "x.csv"
    p.write_text("c,y,s\nRAA,2022,41\n")
    assert main(["read", str(p), "--mapping", str(m)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == ",".join(TIDY_COLUMNS)
    assert lines[1].startswith("RAA,2022,staff.stress,41.0,,x.csv,s")


def test_unreadable_file_exits_nonzero_without_traceback(tmp_path):
    p = tmp_path / "picture.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    proc = subprocess.run([sys.executable, "-m", "linkage.cli", "read", str(p)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "picture.png" in proc.stderr and "PNG image" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unknown_layout_is_one_line(tmp_path, capsys):
    p = tmp_path / "etr.csv"
    p.write_text("RXX,SOME TRUST,Y56\n")
    assert main(["read", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "etr.csv" in err and "nss_org_workbook_2019" in err and "cqc_inpatient_benchmark_2022" in err
