"""Organisation registry: synthetic ODS files (no data needed) and back-tests on the real files."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from linkage.errors import InputFileError
from linkage.registry import (
    DEFAULT_ODS_OVERRIDES,
    DEFAULT_TYPE_OVERRIDES,
    RegistryError,
    build_registry,
    classify_category,
    read_overrides,
)

ETR_WIDTH = 27


def _etr_row(code: str, name: str, open_date: str, close_date: str = "") -> list[str]:
    row = [""] * ETR_WIDTH
    row[0], row[1], row[2], row[3] = code, name, "Y56", "QMJ"
    row[4], row[7], row[9] = "1 HIGH STREET", "TOWN", "AB1 2CD"
    row[10], row[11] = open_date, close_date
    row[21] = "0"
    return row


def write_ods(
    folder: Path,
    *,
    etr: list[list[str]] | None = None,
    successions: list[tuple[str, str, str]] | None = None,
    types: list[tuple[str, str]] | None = None,
) -> Path:
    """Write a small ODS folder in the published layouts."""
    folder.mkdir(parents=True, exist_ok=True)
    etr = (
        etr
        if etr is not None
        else [
            _etr_row("RAA", "ALPHA NHS TRUST", "19940401"),
            _etr_row("RBB", "BETA NHS FOUNDATION TRUST", "19940401"),
            _etr_row("RCC", "GAMMA NHS TRUST", "19940401", "20230331"),
            _etr_row("RDD", "DELTA MENTAL HEALTH NHS TRUST", "20010401"),
            _etr_row("REE", "EPSILON AMBULANCE NHS TRUST", "20060701"),
        ]
    )
    with open(folder / "etr.csv", "w", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL).writerows(etr)
    succ = (
        successions
        if successions is not None
        else [
            ("RXA", "RXB", "2015-04-01"),
            ("RXB", "RAA", "2019-04-01"),
            ("RXC", "RBB", "2023-06-01"),
        ]
    )
    pd.DataFrame(succ, columns=["old_code", "new_code", "date"]).to_csv(
        folder / "trust_successions.csv", index=False
    )
    typ = (
        types
        if types is not None
        else [
            ("RAA", "Acute hospital - NHS non-specialist"),
            ("RBB", "Acute hospital - NHS specialist"),
            ("RCC", ""),
            ("RDD", "Mental health - community & residential - NHS"),
            ("REE", "Ambulance service"),
        ]
    )
    pd.DataFrame(typ, columns=["trust_code", "primary_category"]).to_csv(
        folder / "trust_types_2022.csv", index=False
    )
    return folder


def build(folder: Path, ref: str = "2022-04-01", **kw):
    kw.setdefault("overrides", None)
    kw.setdefault("type_overrides", None)
    return build_registry(folder, reference_date=ref, **kw)


# ----------------------------------------------------------------------------- synthetic
def test_chain_followed_to_final_successor(tmp_path):
    reg = build(write_ods(tmp_path))
    r = reg.resolve("RXA")
    assert (r.status, r.target, r.chain) == ("succession", "RAA", ("RXA", "RXB", "RAA"))
    assert r.ceased == date(2015, 4, 1)  # the date RXA itself stopped existing
    assert reg.resolve("RAA").status == "self"
    assert reg.resolve("rxb").target == "RAA"  # case-insensitive


def test_succession_after_reference_date_not_applied_but_listed(tmp_path):
    folder = write_ods(tmp_path)
    before = build(folder, ref="2022-04-01")
    assert before.resolve("RXC").status == "self" or before.resolve("RXC").target == "RXC"
    assert list(before.pending["old_code"]) == ["RXC"]
    after = build(folder, ref="2024-04-01")
    assert after.resolve("RXC").target == "RBB"
    assert after.pending.empty


def test_cycle_is_a_clear_error(tmp_path):
    folder = write_ods(
        tmp_path, successions=[("RAA", "RBB", "2019-04-01"), ("RBB", "RAA", "2020-04-01")]
    )
    with pytest.raises(
        RegistryError, match=r"cycle RAA -> RBB -> RAA|cycle RBB -> RAA -> RBB"
    ) as e:
        build(folder)
    assert "ods_overrides.csv" in str(e.value)


def test_ignore_override_breaks_cycle(tmp_path):
    folder = write_ods(
        tmp_path, successions=[("RAA", "RBB", "2019-04-01"), ("RBB", "RAA", "2020-04-01")]
    )
    ov = pd.DataFrame(
        [
            {
                "old_code": "RBB",
                "new_code": "RAA",
                "date": "2020-04-01",
                "action": "ignore",
                "note": "wrong row",
                "source": "test",
            }
        ]
    )
    reg = build(folder, overrides=ov)
    assert reg.resolve("RAA").target == "RBB"
    assert "ignored_by_override" in set(reg.anomalies["kind"])


def test_ignore_override_matching_nothing_is_an_error(tmp_path):
    ov = pd.DataFrame(
        [
            {
                "old_code": "RZZ",
                "new_code": "RAA",
                "date": "2020-04-01",
                "action": "ignore",
                "note": "n",
                "source": "s",
            }
        ]
    )
    with pytest.raises(RegistryError, match="matches no ODS succession"):
        build(write_ods(tmp_path), overrides=ov)


def test_split_detected_and_assignable(tmp_path):
    folder = write_ods(
        tmp_path, successions=[("RSP", "RAA", "2021-10-01"), ("RSP", "RBB", "2021-10-01")]
    )
    r = build(folder).resolve("RSP")
    assert r.status == "split" and r.target is None
    assert r.candidates == ("RAA", "RBB") and r.split_date == date(2021, 10, 1)
    assert "splits on 2021-10-01 into [RAA, RBB]" in r.detail
    ov = pd.DataFrame(
        [
            {
                "old_code": "RSP",
                "new_code": "RBB",
                "date": "2021-10-01",
                "action": "split_assign",
                "note": "n",
                "source": "s",
            }
        ]
    )
    r2 = build(folder, overrides=ov).resolve("RSP")
    assert (r2.status, r2.target, r2.assigned_by) == ("succession", "RBB", "override")


def test_split_assign_to_non_successor_is_an_error(tmp_path):
    folder = write_ods(
        tmp_path, successions=[("RSP", "RAA", "2021-10-01"), ("RSP", "RBB", "2021-10-01")]
    )
    ov = pd.DataFrame(
        [
            {
                "old_code": "RSP",
                "new_code": "RDD",
                "date": "2021-10-01",
                "action": "split_assign",
                "note": "n",
                "source": "s",
            }
        ]
    )
    with pytest.raises(RegistryError, match="not one of its successors"):
        build(folder, overrides=ov).resolve("RSP")


def test_odd_rows_listed_not_silent(tmp_path):
    folder = write_ods(
        tmp_path,
        successions=[
            ("RXA", "RXA", "2010-04-01"),
            ("RXA", "RAA", "2012-04-01"),
            ("RXA", "RAA", "2011-04-01"),
        ],
    )
    reg = build(folder)
    kinds = reg.anomalies["kind"].value_counts().to_dict()
    assert kinds == {"self_succession_ignored": 1, "duplicate_pair_later_date_dropped": 1}
    r = reg.resolve("RXA")
    assert r.target == "RAA" and r.ceased == date(2011, 4, 1)  # earliest date kept


def test_add_override_extends_successions(tmp_path):
    ov = pd.DataFrame(
        [
            {
                "old_code": "RCC",
                "new_code": "RAA",
                "date": "2023-04-01",
                "action": "add",
                "note": "merger",
                "source": "etr",
            }
        ]
    )
    folder = write_ods(tmp_path)
    assert build(folder, ref="2024-04-01", overrides=ov).resolve("RCC").target == "RAA"
    assert build(folder, ref="2023-03-31", overrides=ov).resolve("RCC").target == "RCC"


def test_override_rows_must_document_evidence(tmp_path):
    ov = pd.DataFrame(
        [
            {
                "old_code": "RCC",
                "new_code": "RAA",
                "date": "2023-04-01",
                "action": "add",
                "note": "",
                "source": "",
            }
        ]
    )
    with pytest.raises(InputFileError, match="lack a note or source"):
        read_overrides(ov)


def test_trust_types_and_overrides(tmp_path):
    folder = write_ods(tmp_path)
    reg = build(folder)
    assert [reg.trust_type(c) for c in ("RAA", "RBB", "RCC", "RDD", "REE")] == [
        "acute",
        "acute_specialist",
        "unknown",
        "mental_health",
        "ambulance",
    ]
    assert reg.trust_type("QWE") == "non_trust"
    to = pd.DataFrame(
        [{"trust_code": "RCC", "trust_type": "community", "note": "n", "source": "s"}]
    )
    assert build(folder, type_overrides=to).trust_type("RCC") == "community"
    bad = pd.DataFrame(
        [{"trust_code": "RCC", "trust_type": "hospital", "note": "n", "source": "s"}]
    )
    with pytest.raises(InputFileError, match="unknown trust_type"):
        build(folder, type_overrides=bad)


def test_unrecognised_category_names_escape_hatch(tmp_path):
    folder = write_ods(tmp_path, types=[("RAA", "Dental practice")])
    with pytest.raises(RegistryError, match=r"1 trust\(s\).*type_overrides.csv"):
        build(folder)


def test_classify_category():
    assert classify_category("Community health - NHS & Independent") == "community"
    assert classify_category(None) == "unknown"
    with pytest.raises(ValueError):
        classify_category("Hospice")


def test_closed_and_open_trusts(tmp_path):
    reg = build(write_ods(tmp_path))
    assert reg.close_date("RCC") == date(2023, 3, 31)
    assert set(reg.open_trusts("2022-01-01")["code"]) == {"RAA", "RBB", "RCC", "RDD", "REE"}
    assert "RCC" not in set(reg.open_trusts("2024-01-01")["code"])
    assert set(reg.open_trusts("2022-01-01", types=["acute", "acute_specialist"])["code"]) == {
        "RAA",
        "RBB",
    }


def test_unknown_code(tmp_path):
    reg = build(write_ods(tmp_path))
    assert not reg.is_known("ZZZ")
    assert reg.resolve("ZZZ").status == "unknown"


def test_etr_with_header_row_rejected(tmp_path):
    folder = write_ods(tmp_path)
    header = ["Organisation Code", "Name"] + [""] * (ETR_WIDTH - 2)
    rows = [header, _etr_row("RAA", "ALPHA", "19940401")]
    with open(folder / "etr.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(InputFileError, match="without a header row"):
        build(folder)


def test_etr_too_few_columns_rejected(tmp_path):
    folder = write_ods(tmp_path)
    (folder / "etr.csv").write_text('"RAA","ALPHA","Y56"\n')
    with pytest.raises(InputFileError, match="at least 12 columns"):
        build(folder)


def test_etr_bad_date_names_row(tmp_path):
    folder = write_ods(tmp_path, etr=[_etr_row("RAA", "ALPHA", "1994-04-01")])
    with pytest.raises(InputFileError, match=r"row 1.*YYYYMMDD"):
        build(folder)


def test_packaged_override_files_are_valid():
    ov = read_overrides(DEFAULT_ODS_OVERRIDES)
    assert len(ov) >= 5 and ov["note"].str.len().min() > 20
    to = pd.read_csv(DEFAULT_TYPE_OVERRIDES)
    assert to["trust_code"].is_unique


# ----------------------------------------------------------------------------- real files
@pytest.fixture(scope="module")
def real_ods(request) -> Path:
    real = request.getfixturevalue("real_data_dir")
    ods = real / "ods"
    if not (ods / "etr.csv").is_file():
        pytest.skip(f"real ODS files not found in {ods}")
    return ods


@pytest.mark.real
def test_real_etr_shape_and_open_trusts(real_ods):
    reg = build_registry(real_ods, reference_date="2024-04-01")
    etr = reg.orgs[reg.orgs["in_etr"]]
    assert len(etr) == 210
    assert len(reg.open_trusts()) == 209  # G6V2S opens 2024-11-01
    # closed by March 2025: R1C, RAP, RRP, RY9, RYK
    assert len(reg.open_trusts("2025-03-01")) == 205
    assert len(reg.open_trusts(types=["acute", "acute_specialist"])) == 136


def _same_value(a, b) -> bool:
    return type(a) is type(b) and (a == b or (isinstance(a, float) and a != a and b != b))


def _assert_index_is_the_records(reg) -> None:
    """Every registry query reads ``Registry.orgs`` as pandas' own ``to_dict("records")`` gives it:
    same codes, same keys, same values of the same Python types (NaN where missing)."""
    want = {r["code"]: r for r in reg.orgs.to_dict("records")}
    got = reg._org_index
    assert list(got) == list(want) and len(want) == len(reg.orgs)
    for code, rec in want.items():
        assert got[code].keys() == rec.keys()
        assert all(_same_value(got[code][k], v) for k, v in rec.items()), code


def test_org_index_equals_the_records_of_the_org_table(tmp_path):
    reg = build(write_ods(tmp_path))
    assert reg.orgs["in_etr"].any() and not reg.orgs["in_etr"].all()  # etr codes and successions-only codes
    _assert_index_is_the_records(reg)


@pytest.mark.real
def test_real_org_index_equals_the_records_of_the_org_table(real_ods):
    _assert_index_is_the_records(build_registry(real_ods, reference_date="2024-04-01"))


@pytest.mark.real
def test_real_named_successions(real_ods):
    reg = build_registry(real_ods, reference_date="2024-04-01")
    # 2020 merger of Poole and Royal Bournemouth into University Hospitals Dorset
    for old in ("RD3", "RDZ"):
        r = reg.resolve(old)
        assert (r.target, r.ceased) == ("R0D", date(2020, 10, 1))
    # 2021 merger of Western Sussex into University Hospitals Sussex
    assert reg.resolve("RXH").target == "RYR"
    # 2022 merger (last date in the ODS file): Northern Devon into Royal Devon
    assert reg.resolve("RBZ").target == "RH8"
    # Pennine Acute split, resolved by the documented override
    rw6 = reg.resolve("RW6")
    assert (
        rw6.candidates == ("R0A", "RM3") and rw6.target == "RM3" and rw6.assigned_by == "override"
    )
    # 2023 mergers from the overrides file
    assert reg.resolve("RA4").target == "RH5"
    assert reg.resolve("RVY").target == "RBN"
    # a 2025 merger is after the reference date: listed, not applied
    assert reg.resolve("RAP").target == "RAP"
    assert "RAP" in set(reg.pending["old_code"])


@pytest.mark.real
def test_real_reference_date_moves_mergers(real_ods):
    early = build_registry(real_ods, reference_date="2022-04-01")
    assert early.resolve("RA4").target == "RA4"
    late = build_registry(real_ods, reference_date="2025-03-01")
    assert late.resolve("RAP").target == "RAL"
    assert late.resolve("RRP").target == late.resolve("TAF").target == "G6V2S"


@pytest.mark.real
def test_real_without_overrides_split_stays_a_split(real_ods):
    reg = build_registry(real_ods, reference_date="2024-04-01", overrides=None)
    assert reg.resolve("RW6").status == "split"
    assert reg.resolve("RA4").target == "RA4"
    assert reg.resolve("RA3").status == "unknown"  # Weston: in ST19, missing from the ODS files


@pytest.mark.real
def test_real_trust_types(real_ods):
    reg = build_registry(real_ods, reference_date="2024-04-01")
    expected = {
        "RRK": "acute",  # University Hospitals Birmingham
        "RP4": "acute_specialist",  # Great Ormond Street
        "RBV": "acute_specialist",  # The Christie
        "RXT": "mental_health",  # Birmingham and Solihull MH
        "RYX": "community",  # Central London Community Healthcare
        "RX9": "ambulance",  # East Midlands Ambulance
        "R0D": "acute",  # blank CQC category: type override
        "TAF": "mental_health",  # care-trust code: type override
    }
    assert {c: reg.trust_type(c) for c in expected} == expected
    counts = reg.orgs["trust_type"].value_counts().to_dict()
    assert counts["acute"] == 124 and counts["acute_specialist"] == 16
