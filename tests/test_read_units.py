"""`linkage read` writes the canonical units the pipeline stores, and says which, in its summary."""

from __future__ import annotations

import pandas as pd

from linkage.cli import main
from linkage.contract import TIDY_COLUMNS


def test_read_writes_canonical_units_and_says_so(tmp_path, capsys):
    m = tmp_path / "m.yaml"
    m.write_text("id: t\nkind: staff\ncolumns: {org_code: c, year: y}\nmeasures:\n"
                 "  staff.stress: {value: s, scale: proportion}\n")
    p = tmp_path / "x.csv"
    p.write_text("c,y,s\nRAA,2022,0.4565\nRBB,2022,0.5\n")
    out = tmp_path / "tidy.csv"
    assert main(["read", str(p), "--mapping", str(m), "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == TIDY_COLUMNS
    assert df.set_index("org_code")["value"].to_dict() == {"RAA": 45.65, "RBB": 50.0}  # percent, as ingest stores
    err = capsys.readouterr().err
    assert "canonical units" in err and "staff.stress percent" in err
