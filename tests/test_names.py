"""Organisation names -> ODS codes: normalisation and the three audited outcomes."""

from __future__ import annotations

import pandas as pd
import pytest

from linkage.names import NameIndex, normalise_name


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The Newcastle upon Tyne Hospitals NHS Foundation Trust", "NEWCASTLE UPON TYNE HOSPITALS NHS FT"),
        ("Guy's and St Thomas' NHS Foundation Trust", "Guys & St Thomas Foundation Trust"),
        ("Barts Health NHS Trust", "barts health"),
        ("Royal Free London NHS Foundation Trust", "Royal Free London NHS F.T."),
    ],
)
def test_normalisation_ignores_what_publishers_vary(a, b):
    assert normalise_name(a) == normalise_name(b) != ""


def test_matched_ambiguous_unmatched():
    ix = NameIndex.from_frame(pd.DataFrame({
        "code": ["RAA", "RBB", "RCC", "RDD"],
        "name": ["ALPHA HOSPITALS NHS TRUST", "BETA HEALTHCARE NHS FOUNDATION TRUST",
                 "GAMMA NHS TRUST", "GAMMA NHS FOUNDATION TRUST"],
    }))
    assert ix.match("Alpha Hospitals").org_code == "RAA"
    amb = ix.match("Gamma NHS Trust")
    assert amb.status == "ambiguous" and [c for c, _ in amb.candidates] == ["RCC", "RDD"]
    un = ix.match("Beta Health Care")
    assert un.status == "unmatched" and un.candidates[0][0] == "RBB"
    assert "BETA HEALTHCARE NHS FOUNDATION TRUST (RBB)" in un.candidates_text()


def test_missing_etr_is_a_clear_error(tmp_path):
    from linkage.errors import InputFileError

    with pytest.raises(InputFileError, match="no etr.csv"):
        NameIndex.from_ods(tmp_path)
