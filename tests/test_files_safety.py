"""What the workbench writes and reads is safe: CSV cells a spreadsheet would run are neutralised,
links out of the data folder are refused, and errors never quote arbitrary file contents."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from linkage.cli import main
from linkage.errors import LinkageError
from linkage.files import OutsideFolderError, files_inside, neutralise_cell, write_csv

SRC = Path(__file__).resolve().parents[1] / "src" / "linkage"


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1:A3)", "-2+3", "@cmd", "\tx", "\rx", '=HYPERLINK("http://x","y")',
                                  "-", "=", "-x"])
def test_formula_like_text_gets_a_leading_apostrophe(cell):
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-3.5", "+2", "-0.25e-3", "12", ".5", "RX1", "a=b", "", "staff.stress"])
def test_numbers_and_plain_text_are_left_alone(cell):
    assert neutralise_cell(cell) == cell


def test_write_csv_keeps_numbers_numbers_and_neutralises_text(tmp_path):
    df = pd.DataFrame({"org_code": ["=cmd|' /C calc'!A0", "RX1", None], "value": [-1.5, 2.0, float("nan")],
                       "n": [-3, 4, 5], "note": ["-4.25", "@SUM(1)", "ok"]})
    out = write_csv(df, tmp_path / "x.csv")
    rows = list(csv.reader(io.StringIO(Path(out).read_text())))
    assert rows[1] == ["'=cmd|' /C calc'!A0", "-1.5", "-3", "-4.25"]
    assert rows[2] == ["RX1", "2.0", "4", "'@SUM(1)"]
    assert rows[3][0] == "" and rows[3][3] == "ok"
    back = pd.read_csv(out)
    assert back["value"].iloc[0] == -1.5 and back["n"].tolist() == [-3, 4, 5]


def test_every_csv_writer_goes_through_write_csv():
    """No module writes CSV with pandas directly, except files.py itself and the demo's synthetic input files."""
    allowed = {"files.py", "demo.py", "demo_context.py"}  # the demo writers write the publishers' layouts with codes it generates
    offenders = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py") if p.name not in allowed
                 for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\.to_csv\(", line)]
    assert not offenders, offenders


def _extract(tmp_path: Path) -> Path:
    f = tmp_path / "extract.csv"
    measures = "Stress,Burned_out,Emotionally_exhausting,Enough_staff".split(",")
    head = ["ODS code", "Organisation name", "Year", "Benchmarking group",
            *[f"{m}_{k}" for m in measures for k in ("rate", "base")], "Respondents"]
    rows = [["RX1", '=HYPERLINK("http://evil")', "2022", "Acute", *["41.0", "500"] * 4, "500"],
            ["@RX2", "+Trust", "2022", "Acute", "=1+1", "400", *["40.0", "400"] * 3, "400"]]
    f.write_text("\n".join(",".join(r) for r in [head, *rows]) + "\n")
    return f


def test_linkage_read_outputs_are_spreadsheet_safe(tmp_path, capsys):
    src = _extract(tmp_path)
    out, quarantine = tmp_path / "tidy.csv", tmp_path / "q.csv"
    code = main(["read", str(src), "--out", str(out), "--quarantine", str(quarantine)])
    capsys.readouterr()
    assert code == 0
    assert "'@RX2" in out.read_text() and "'=1+1" in quarantine.read_text()
    for written in (out, quarantine):
        for row in csv.reader(io.StringIO(written.read_text())):
            assert not any(c.startswith(("=", "+", "@")) for c in row), (written.name, row)


def test_linkage_read_on_a_non_data_file_does_not_print_its_contents(tmp_path, capsys):
    secret = "root:x:0:0:root:/root:/bin/bash"
    f = tmp_path / "passwd.csv"
    f.write_text(secret + "\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    code = main(["read", str(f)])
    captured = capsys.readouterr()
    assert code != 0
    assert "root:x" not in captured.err + captured.out and "daemon" not in captured.err + captured.out


# --------------------------------------------------------------------------- the data folder
def test_links_leading_outside_the_folder_are_refused_by_name(tmp_path):
    folder = tmp_path / "local"
    (folder / "nss").mkdir(parents=True)
    (folder / "nss" / "real.csv").write_text("a\n1\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret line\n")
    (folder / "nss" / "passwd.csv").symlink_to(outside)
    (folder / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(OutsideFolderError) as err:
        files_inside(folder)
    msg = str(err.value)
    assert "passwd.csv" in msg and "elsewhere" in msg and "top secret" not in msg


def test_links_inside_the_folder_are_allowed(tmp_path):
    folder = tmp_path / "local"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "f.csv").write_text("x\n")
    (folder / "link.csv").symlink_to(folder / "a" / "f.csv")
    (folder / "b").symlink_to(folder / "a", target_is_directory=True)
    assert [p.relative_to(folder).as_posix() for p in files_inside(folder)] == ["a/f.csv", "link.csv"]


def test_acquire_refuses_a_link_out_and_copies_nothing(tmp_path):
    from linkage.acquire import acquire
    from linkage.params import DataParams

    local = tmp_path / "local"
    (local / "nss").mkdir(parents=True)
    (local / "nss" / "ok.csv").write_text("a\n1\n")
    (local / "nss" / "passwd.csv").symlink_to("/etc/passwd")
    data = DataParams(source="local", local_dir=str(local))
    with pytest.raises(LinkageError, match=r"passwd.csv -> /etc/passwd"):
        acquire(data, raw_dir="raw", root=tmp_path)
    raw = tmp_path / "raw"
    assert not [p for p in raw.rglob("*") if p.is_file()]


def test_a_context_folder_link_out_is_refused_and_nothing_is_copied(tmp_path):
    """The context folder (data.context_dir) goes through the same link check as the data folder."""
    from linkage.context import copy_context

    context = tmp_path / "context"
    context.mkdir()
    (context / "catchment.csv").write_text("a\n1\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("not for copying\n")
    (context / "imd.csv").symlink_to(secret)
    dest = tmp_path / "raw" / "context"
    with pytest.raises(LinkageError, match=r"imd.csv -> .*secret.csv") as err:
        copy_context(context, dest, named="context")
    assert "not for copying" not in str(err.value)
    assert not dest.exists() or not [p for p in dest.rglob("*") if p.is_file()]


def test_a_context_folder_keeps_only_context_files(tmp_path):
    from linkage.context import copy_context

    context = tmp_path / "context"
    (context / "sub").mkdir(parents=True)
    for name in ("catchment.csv", "sub/layout.yaml", "README.md", ".hidden.csv"):
        (context / name).write_text("a\n1\n")
    copied = copy_context(context, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in copied) == ["catchment.csv", "sub/layout.yaml"]
