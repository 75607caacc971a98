"""Organisations of any year, overrides that add to the packaged ones, and names that find renamed trusts."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from test_registry import _etr_row, write_ods

from linkage.errors import InputFileError
from linkage.link import run_link
from linkage.names import NameIndex, read_aliases
from linkage.params import LinkParams
from linkage.registry import DEFAULT_ODS_OVERRIDES, DEFAULT_TYPE_OVERRIDES, build_registry


def _dissolved(tmp_path):
    """RAA and RBB are current; RQ1 (dissolved 2013) and RQ2 (2014) are only predecessors in the successions."""
    return write_ods(tmp_path / "ods", successions=[("RQ1", "RAA", "2013-04-01"), ("RQ2", "RBB", "2014-10-01"),
                                                   ("RXA", "RXB", "2015-04-01")])


def test_codes_only_in_the_successions_are_known_with_their_dates(tmp_path):
    reg = build_registry(_dissolved(tmp_path), reference_date="2024-04-01", overrides=None, type_overrides=None)
    orgs = reg.orgs.set_index("code")
    for code, closed in (("RQ1", date(2013, 4, 1)), ("RQ2", date(2014, 10, 1)), ("RXA", date(2015, 4, 1))):
        assert reg.is_known(code)
        assert orgs.at[code, "close_date"] == closed and orgs.at[code, "listed_in"] == "successions"
        assert reg.close_date(code) == closed
    # a code seen only as a successor is known too, opened by its succession
    assert reg.is_known("RXB") and orgs.at["RXB", "open_date"] == date(2015, 4, 1)
    assert reg.trust_type("RQ1") == "unknown"  # known, but no type
    assert not reg.is_known("RZZ")


def _rows(codes_years):
    staff = pd.DataFrame([{"org_code": c, "year": y, "measure": "staff.stress", "value": 40.0 + i, "base_n": 100.0,
                           "source_file": "x.csv", "source_code": "q"} for i, (c, y) in enumerate(codes_years)])
    return staff


def test_as_published_study_keeps_dissolved_trusts_without_types(tmp_path):
    reg = build_registry(_dissolved(tmp_path), reference_date="2024-04-01", overrides=None, type_overrides=None)
    staff = _rows([("RQ1", 2012), ("RQ2", 2012), ("RQ2", 2013), ("RAA", 2012), ("RAA", 2016)])
    p = LinkParams(successors="as_published", restrict_trust_types=False, headline_patient="patient.ip_overall")
    res = run_link(staff, None, None, reg, p)
    assert (res.audit["fate"] == "matched").all(), res.audit[["org_code", "reason", "detail"]]
    assert set(res.panel["org_code"]) == {"RQ1", "RQ2", "RAA"}


def test_missing_type_is_an_audited_reason_naming_the_code_and_the_fix(tmp_path):
    reg = build_registry(_dissolved(tmp_path), reference_date="2024-04-01", overrides=None, type_overrides=None)
    staff = _rows([("RQ1", 2012), ("RAA", 2016)])
    res = run_link(staff, None, None, reg, LinkParams(successors="as_published"))
    a = res.audit.set_index("org_code")
    assert a.at["RQ1", "reason"] == "type_unknown"
    assert "RQ1" in a.at["RQ1", "detail"] and "link.type_overrides" in a.at["RQ1", "detail"]
    assert "restrict_trust_types" in a.at["RQ1", "detail"]
    assert a.at["RAA", "fate"] == "matched"


def test_user_type_overrides_add_to_the_packaged_ones(tmp_path):
    folder = _dissolved(tmp_path)
    packaged = pd.read_csv(DEFAULT_TYPE_OVERRIDES, dtype=str, keep_default_na=False)
    first = packaged.iloc[0]
    mine = tmp_path / "my_types.csv"
    pd.DataFrame([{"trust_code": "RQ1", "trust_type": "acute", "note": "dissolved 2013", "source": "study"},
                  {"trust_code": first.trust_code, "trust_type": "community", "note": "corrected", "source": "me"}]
                 ).to_csv(mine, index=False)
    reg = build_registry(folder, reference_date="2024-04-01", overrides=None, type_overrides=str(mine))
    assert reg.trust_type("RQ1") == "acute"
    assert reg.trust_type(first.trust_code) == "community"  # a user row corrects the packaged one
    others = packaged.iloc[1:]
    assert all(reg.trust_type(c) == t for c, t in zip(others.trust_code, others.trust_type, strict=True))
    assert str(mine) in reg.files["type_overrides"] and str(DEFAULT_TYPE_OVERRIDES) in reg.files["type_overrides"]


def test_user_succession_overrides_add_to_the_packaged_ones(tmp_path):
    folder = write_ods(tmp_path / "ods")
    mine = tmp_path / "my_succ.csv"
    pd.DataFrame([{"old_code": "RCC", "new_code": "RAA", "date": "2023-04-01", "action": "add", "note": "n",
                   "source": "s"}]).to_csv(mine, index=False)
    packaged = pd.read_csv(DEFAULT_ODS_OVERRIDES, dtype=str, keep_default_na=False)
    adds = packaged[packaged["action"] == "add"]
    # the packaged 'ignore' rows name real ODS pairs, which the small fixture lacks: keep only its 'add' rows
    pk = tmp_path / "packaged.csv"
    adds.to_csv(pk, index=False)
    import linkage.registry as registry

    orig = registry.DEFAULT_ODS_OVERRIDES
    registry.DEFAULT_ODS_OVERRIDES = pk
    try:
        reg = build_registry(folder, reference_date="2024-04-01", overrides=str(mine), type_overrides=None)
    finally:
        registry.DEFAULT_ODS_OVERRIDES = orig
    assert reg.resolve("RCC").target == "RAA"
    pairs = set(zip(reg.successions["old_code"], reg.successions["new_code"], strict=True)) | set(
        zip(reg.pending["old_code"], reg.pending["new_code"], strict=True))
    assert set(zip(adds["old_code"], adds["new_code"], strict=True)) <= pairs


def test_aliases_from_the_regions_file_and_the_users_file(tmp_path):
    folder = write_ods(tmp_path / "ods", etr=[_etr_row("RAA", "NEW NAME HOSPITALS NHS TRUST", "19940401"),
                                               _etr_row("RBB", "BETA NHS FOUNDATION TRUST", "19940401")])
    pd.DataFrame({"nhs_trust22_code": ["RAA"], "nhs_trust22_name": ["Old Name Hospitals NHS Trust"]}).to_csv(
        folder / "trusts_2022_regions.csv", index=False)
    assert NameIndex.from_ods(folder).match("Old Name Hospitals NHS Trust").org_code == "RAA"
    assert NameIndex.from_ods(folder).match("Older Still NHS Trust").status == "unmatched"
    pd.DataFrame({"name": ["Older Still NHS Trust", "", "Beta Hospital"], "org_code": ["RAA", "", "rbb"]}).to_csv(
        folder / "name_aliases.csv", index=False)
    idx = NameIndex.from_ods(folder)
    assert idx.match("Older Still NHS Trust").org_code == "RAA"
    assert idx.match("Beta Hospital").org_code == "RBB"
    assert idx.match("New Name Hospitals NHS Trust").org_code == "RAA"


@pytest.mark.parametrize("blank", ["", "   ", None, float("nan")])
def test_blank_rows_are_not_names(tmp_path, blank):
    idx = NameIndex.from_ods(write_ods(tmp_path / "ods"))
    assert idx.match(blank).status == "blank"


def test_bad_alias_file_names_the_row(tmp_path):
    bad = tmp_path / "a.csv"
    pd.DataFrame({"name": ["X Trust", "Y Trust"], "org_code": ["RAA", "not a code"]}).to_csv(bad, index=False)
    with pytest.raises(InputFileError, match="row 3"):
        read_aliases(bad)
    (tmp_path / "b.csv").write_text("trust,code\nX,RAA\n")
    with pytest.raises(InputFileError, match="name"):
        read_aliases(tmp_path / "b.csv")
