"""Linkage by trust and year: synthetic unit tests and real-data back-tests."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest
from test_registry import _etr_row, write_ods  # tests/ is on sys.path (pytest prepend mode)

from linkage.catalogue import Catalogue, load_catalogue
from linkage.errors import LinkageDataError, LinkageError
from linkage.link import (
    AUDIT_COLUMNS,
    LinkParams,
    audit_summary,
    balance_long,
    check_reconciliation,
    combine,
    fate_table,
    run_link,
)
from linkage.params import validate_params
from linkage.registry import build_registry

SERIES = {"patient.ip_overall": 2020}  # explicit, so tests do not depend on the catalogue


def tidy(rows: list[tuple], file: str = "f.csv") -> pd.DataFrame:
    """Rows of (org_code, year, measure, value, base_n)."""
    df = pd.DataFrame(rows, columns=["org_code", "year", "measure", "value", "base_n"])
    df["source_file"] = file
    df["source_code"] = df["measure"].str.split(".").str[1]
    return df


def orgs_of(*frames: pd.DataFrame, non_trust: dict[str, str] | None = None) -> pd.DataFrame:
    non_trust = non_trust or {}
    parts = [f[["org_code", "year", "source_file"]] for f in frames]
    o = pd.concat(parts).drop_duplicates(["org_code", "year"])
    o["org_name"] = o["org_code"] + " name"
    o["benchmark_group"] = ""
    o["org_kind"] = o["org_code"].map(lambda c: non_trust.get(c, "trust"))
    return o


@pytest.fixture
def registry(tmp_path):
    etr = [
        _etr_row("RAA", "ALPHA NHS TRUST", "19940401"),
        _etr_row("RBB", "BETA NHS FOUNDATION TRUST", "19940401"),
        _etr_row("RCC", "GAMMA NHS TRUST", "19940401", "20220331"),
        _etr_row("RDD", "DELTA MENTAL HEALTH NHS TRUST", "20010401"),
        _etr_row("RS1", "SPLIT ONE NHS TRUST", "19940401"),
        _etr_row("RS2", "SPLIT TWO NHS TRUST", "19940401"),
    ]
    succ = [
        ("RXA", "RXB", "2015-04-01"),  # chain RXA -> RXB -> RAA
        ("RXB", "RAA", "2021-04-01"),
        ("RPP", "RBB", "2021-04-01"),  # merger into RBB
        ("RSP", "RS1", "2021-10-01"),  # split
        ("RSP", "RS2", "2021-10-01"),
    ]
    types = [
        ("RAA", "Acute hospital - NHS non-specialist"),
        ("RBB", "Acute hospital - NHS specialist"),
        ("RCC", "Acute hospital - NHS non-specialist"),
        ("RDD", "Mental health - community & residential - NHS"),
        ("RS1", "Acute hospital - NHS non-specialist"),
        ("RS2", "Acute hospital - NHS non-specialist"),
    ]
    folder = write_ods(tmp_path / "ods", etr=etr, successions=succ, types=types)
    return build_registry(folder, reference_date="2024-04-01", overrides=None, type_overrides=None)


def link(staff, patient, registry, orgs=None, **params):
    p = LinkParams(**params)
    orgs = orgs if orgs is not None else orgs_of(*(f for f in (staff, patient) if f is not None))
    return run_link(staff, patient, orgs, registry, p, series_start=SERIES)


def fate_of(res, code, year=None, measure=None):
    a = res.audit
    sel = a["org_code"] == code
    if year is not None:
        sel &= a["year"] == year
    if measure is not None:
        sel &= a["measure"] == measure
    return a[sel]


# ----------------------------------------------------------------------------- merging
def test_merger_respondent_weighted_exact(registry):
    staff = tidy(
        [("RPP", 2020, "staff.stress", 10.0, 100), ("RBB", 2020, "staff.stress", 20.0, 300)]
    )
    res = link(staff, None, registry)
    row = res.panel_long.query("org_code == 'RBB' and year == 2020").iloc[0]
    assert row["value"] == pytest.approx((10 * 100 + 20 * 300) / 400)
    assert row["base_n"] == 400
    assert row["merged_from"] == "RBB;RPP" and row["weighting"] == "respondents"
    wide = res.panel.set_index(["org_code", "year"])
    assert wide.loc[("RBB", 2020), "staff.stress"] == pytest.approx(17.5)
    assert wide.loc[("RBB", 2020), "staff.stress__n"] == 400
    a = fate_of(res, "RPP").iloc[0]
    assert (a["fate"], a["reason"], a["mapped_to"]) == ("merged", "succession", "RBB")
    assert fate_of(res, "RBB").iloc[0]["fate"] == "matched"


def test_merger_equal_weighting(registry):
    staff = tidy(
        [("RPP", 2020, "staff.stress", 10.0, 100), ("RBB", 2020, "staff.stress", 20.0, 300)]
    )
    res = link(staff, None, registry, merge_weight="equal")
    row = res.panel_long.iloc[0]
    assert (
        row["value"] == pytest.approx(15.0) and row["base_n"] == 400 and row["weighting"] == "equal"
    )


def test_combine_rules():
    assert combine([10, 20], [1, 3], rule="weighted_mean", weight="respondents")[:2] == (17.5, 4.0)
    assert combine([100, 300], [100, 300], rule="sum", weight="respondents")[:2] == (400.0, 400.0)
    # response rate: 50% of 200 surveyed (100 resp.) and 25% of 400 (100 resp.) -> 200 / 600
    v, n, w = combine([50.0, 25.0], [100, 100], rule="ratio", weight="respondents")
    assert v == pytest.approx(100 * 200 / 600) and w == "ratio"
    v, n, w = combine([10, 20], [float("nan"), 3], rule="weighted_mean", weight="respondents")
    assert v == 15.0 and math.isnan(n) and w == "equal_fallback_missing_base"


def test_combine_missing_and_non_positive_bases():
    # one value passes through with its own base
    assert combine([7.5], [0.0], rule="weighted_mean", weight="respondents") == (7.5, 0.0, "single")
    # a zero base: unweighted mean, but the base is still the (known) sum of the bases
    v, n, w = combine([10, 20], [0.0, 3], rule="weighted_mean", weight="respondents")
    assert (v, n, w) == (15.0, 3.0, "equal_fallback_missing_base")
    # ratio with a zero rate: unweighted mean, base the sum of the bases
    v, n, w = combine([0.0, 50.0], [10, 30], rule="ratio", weight="respondents")
    assert (v, n, w) == (25.0, 40.0, "equal_fallback_missing_base")
    # sum: values added whatever the bases; base unknown if one is
    v, n, w = combine([1, 2], [float("nan"), 2], rule="sum", weight="respondents")
    assert v == 3.0 and math.isnan(n) and w == "sum"


def test_combine_is_the_one_used_by_the_reader_rollups():
    from linkage import combine as combine_module
    from linkage.readers import common

    assert combine is combine_module.combine and common.combine is combine_module.combine


def _reference_panel_long(staff, patient, audit, rule_of, weight):
    """panel_long rebuilt from the audit, one plain Python group at a time (dict of lists in input
    order, keys sorted), each group combined with ``combine``: the reference for the column code."""
    tidy_rows = pd.concat([f for f in (staff, patient) if f is not None], ignore_index=True)
    a = audit.iloc[: len(tidy_rows)].reset_index(drop=True)
    assert (a["org_code"] == tidy_rows["org_code"].str.strip().str.upper()).all()
    groups: dict[tuple, list[int]] = {}
    for i in range(len(a)):
        if a.at[i, "fate"] in ("matched", "merged"):
            key = (a.at[i, "mapped_to"], int(a.at[i, "panel_year"]), a.at[i, "source"], a.at[i, "measure"])
            groups.setdefault(key, []).append(i)
    out = []
    for (tgt, py, src, meas) in sorted(groups):
        idx = groups[(tgt, py, src, meas)]
        value, base, weighting = combine([float(tidy_rows.at[i, "value"]) for i in idx],
                                         [float(tidy_rows.at[i, "base_n"]) for i in idx],
                                         rule=rule_of(meas), weight=weight)
        codes = sorted({a.at[i, "org_code"] for i in idx})
        out.append({"org_code": tgt, "year": py, "measure": meas, "value": value, "base_n": base,
                    "source": src, "source_year": int(a.at[idx[0], "year"]),
                    "source_file": ";".join(sorted({str(tidy_rows.at[i, "source_file"]) for i in idx})),
                    "source_code": ";".join(sorted({str(tidy_rows.at[i, "source_code"]) for i in idx})),
                    "merged_from": "" if codes == [tgt] else ";".join(codes), "n_inputs": len(idx),
                    "weighting": weighting})
    return pd.DataFrame(out)


def _assert_same_panel_long(got, want):
    assert len(got) == len(want) and len(want) > 0
    for c in want.columns:
        g, w = got[c].tolist(), want[c].tolist()
        if c in ("value", "base_n"):  # bit for bit, NaN where NaN
            assert all((x == y) or (math.isnan(x) and math.isnan(y)) for x, y in zip(g, w, strict=True)), c
        else:
            assert g == w, c


def test_panel_long_groups_equal_a_per_group_reference(registry):
    """Mergers (respondent-weighted, missing base, sum and ratio rules), chains and single rows:
    panel_long equals the group-by-group reference row for row, in the same order."""
    staff = tidy(
        [("RPP", 2020, "staff.stress", 10.0, 100), ("RBB", 2020, "staff.stress", 20.0, 300),
         ("RXA", 2012, "staff.stress", 30.0, 50), ("RAA", 2012, "staff.stress", 25.0, 70),
         ("RPP", 2020, "staff.respondents", 100.0, 100), ("RBB", 2020, "staff.respondents", 300.0, 300),
         ("RPP", 2020, "staff.response_rate", 50.0, 100), ("rbb ", 2020, "staff.response_rate", 25.0, 100),
         ("RPP", 2019, "staff.stress", 11.0, float("nan")), ("RBB", 2019, "staff.stress", 21.0, 30),
         ("RAA", 2021, "staff.stress", 24.0, 80)],
        file="s.csv",
    )
    staff.loc[staff["measure"] == "staff.response_rate", "source_file"] = ["s1.csv", "s2.csv"]
    patient = tidy([("RPP", 2020, "patient.ip_overall", 8.0, 40), ("RBB", 2020, "patient.ip_overall", 7.0, 60),
                    ("RAA", 2021, "patient.ip_overall", 7.5, 90)], file="p.csv")
    cat = load_catalogue()  # its roll-up rules: respondents are summed, the response rate is a ratio
    assert [cat.measure(m).rollup for m in ("staff.respondents", "staff.response_rate")] == ["sum", "ratio"]
    for weight in ("respondents", "equal"):
        res = run_link(staff, patient, orgs_of(staff, patient), registry, LinkParams(merge_weight=weight),
                       series_start=SERIES, catalogue=cat)
        want = _reference_panel_long(staff, patient, res.audit, lambda m: cat.measure(m).rollup, weight)
        _assert_same_panel_long(res.panel_long, want)
        assert set(res.panel_long["weighting"]) > {"single"}


def test_chain_merges_into_final_successor(registry):
    staff = tidy([("RXA", 2012, "staff.stress", 30.0, 50)])
    res = link(staff, None, registry)
    a = fate_of(res, "RXA").iloc[0]
    assert (a["fate"], a["mapped_to"]) == ("merged", "RAA")
    assert "RXA->RXB->RAA" in a["detail"]
    assert list(res.panel["org_code"]) == ["RAA"]


def test_predecessor_row_after_succession_superseded_when_successor_reports(registry):
    # RPP ceased 2021-04-01; a 2022 RPP row beside RBB's own 2022 row would double count
    staff = tidy(
        [
            ("RPP", 2022, "staff.stress", 10.0, 100),
            ("RBB", 2022, "staff.stress", 20.0, 300),
            ("RPP", 2023, "staff.stress", 12.0, 90),
        ]
    )
    res = link(staff, None, registry)
    assert fate_of(res, "RPP", 2022).iloc[0]["reason"] == "superseded_by_successor"
    assert res.panel_long.query("year == 2022").iloc[0]["value"] == 20.0
    # without a successor row the late predecessor row is still used (merged)
    assert fate_of(res, "RPP", 2023).iloc[0]["fate"] == "merged"


# ----------------------------------------------------------------------------- splits
def _split_data():
    return tidy(
        [
            ("RSP", 2020, "staff.stress", 30.0, 500),
            ("RS1", 2022, "staff.stress", 20.0, 1000),
            ("RS2", 2022, "staff.stress", 25.0, 300),
        ]
    )


def test_split_fail_names_split_and_escape_hatch(registry):
    with pytest.raises(LinkageDataError) as e:
        link(_split_data(), None, registry)
    msg = str(e.value)
    assert "split of RSP into [RS1, RS2] on 2021-10-01 (1 rows of RSP)" in msg
    assert "link.split_rule" in msg and "largest_successor" in msg and "link.split_assign" in msg


def test_split_largest_successor(registry):
    res = link(_split_data(), None, registry, split_rule="largest_successor")
    a = fate_of(res, "RSP").iloc[0]
    assert (a["fate"], a["reason"], a["mapped_to"]) == ("merged", "split_largest_successor", "RS1")


def test_split_drop_is_audited(registry):
    res = link(_split_data(), None, registry, split_rule="drop")
    a = fate_of(res, "RSP").iloc[0]
    assert (a["fate"], a["reason"]) == ("excluded", "split_dropped")
    assert "RS1" in a["detail"] and "RS2" in a["detail"]


def test_split_assign_param(registry):
    res = link(_split_data(), None, registry, split_assign={"RSP": "RS2"})
    a = fate_of(res, "RSP").iloc[0]
    assert (a["fate"], a["reason"], a["mapped_to"]) == ("merged", "split_assigned", "RS2")
    with pytest.raises(LinkageDataError, match="not one of its successors"):
        link(_split_data(), None, registry, split_assign={"RSP": "RAA"})


# ----------------------------------------------------------------------------- exclusions
def test_not_a_trust_and_unknown_code_listed_not_dropped(registry):
    staff = tidy(
        [
            ("RAA", 2021, "staff.stress", 30.0, 500),
            ("QWE", 2021, "staff.stress", 20.0, 50),  # an ICB per the reader
            ("ZZ9", 2021, "staff.stress", 25.0, 40),  # nobody knows this code
        ]
    )
    res = link(staff, None, registry, orgs=orgs_of(staff, non_trust={"QWE": "icb"}))
    assert fate_of(res, "QWE").iloc[0][["fate", "reason"]].tolist() == ["excluded", "not_a_trust"]
    assert fate_of(res, "ZZ9").iloc[0][["fate", "reason"]].tolist() == ["excluded", "unknown_code"]
    assert res.metrics["unknown_codes"] == ["ZZ9"]
    assert set(res.panel["org_code"]) == {"RAA"}


def test_type_not_in_sample(registry):
    staff = tidy(
        [("RDD", 2021, "staff.stress", 30.0, 500), ("RAA", 2021, "staff.stress", 30.0, 500)]
    )
    res = link(staff, None, registry)
    a = fate_of(res, "RDD").iloc[0]
    assert (a["fate"], a["reason"], a["mapped_to"]) == (
        "excluded",
        "type_not_in_sample:mental_health",
        "RDD",
    )
    res2 = link(staff, None, registry, trust_types=["acute", "mental_health"])
    assert fate_of(res2, "RDD").iloc[0]["fate"] == "matched"
    assert set(res2.panel["trust_type"]) == {"acute", "mental_health"}


def test_closed_rows_after_closure_excluded(registry):
    # RCC closed 2022-03-31 with no successor
    staff = tidy(
        [("RCC", 2021, "staff.stress", 30.0, 500), ("RCC", 2022, "staff.stress", 31.0, 500)]
    )
    res = link(staff, None, registry)
    assert fate_of(res, "RCC", 2021).iloc[0]["fate"] == "matched"
    assert fate_of(res, "RCC", 2022).iloc[0]["reason"] == "closed"
    res2 = link(staff, None, registry, closed_rule="exclude")
    assert set(res2.audit["reason"]) == {"closed"}


def test_series_break_respected_or_flagged(registry):
    patient = tidy(
        [
            ("RAA", 2019, "patient.ip_overall", 8.0, 400),
            ("RAA", 2020, "patient.ip_overall", 8.1, 410),
        ]
    )
    res = link(None, patient, registry)
    assert fate_of(res, "RAA", 2019).iloc[0]["reason"] == "series_break"
    assert list(res.panel["year"]) == [2020]
    res2 = link(None, patient, registry, respect_series_breaks=False)
    assert res2.panel_long.set_index("year").loc[2019, "before_series_start"]
    assert not res2.panel_long.set_index("year").loc[2020, "before_series_start"]


def test_series_start_from_params_patterns_without_catalogue(registry):
    patient = tidy([("RAA", 2019, "patient.ip_made_up", 8.0, 400)])
    p = LinkParams()
    no_measures = Catalogue(measures={}, layouts={})  # a catalogue that knows no measure
    res = run_link(None, patient, orgs_of(patient), registry, p, catalogue=no_measures)
    assert fate_of(res, "RAA").iloc[0]["reason"] == "series_break"  # default patient.* -> 2020


def test_duplicates_across_files(registry):
    a = tidy([("RAA", 2021, "staff.stress", 30.0, 500)], file="a.csv")
    b = tidy([("RAA", 2021, "staff.stress", 31.0, 500)], file="b.csv")
    staff = pd.concat([a, b])
    with pytest.raises(LinkageDataError, match="duplicate_rule"):
        link(staff, None, registry)
    res = link(staff, None, registry, duplicate_rule="first")
    assert res.audit.set_index("source_file").loc["b.csv", "reason"] == "duplicate"
    assert res.panel_long.iloc[0]["value"] == 30.0


# ----------------------------------------------------------------------------- alignment
def _two_sources():
    staff = tidy(
        [
            ("RAA", 2019, "staff.stress", 30.0, 500),
            ("RAA", 2020, "staff.stress", 32.0, 500),
            ("RBB", 2021, "staff.stress", 28.0, 700),
        ]
    )
    patient = tidy(
        [
            ("RAA", 2020, "patient.ip_overall", 8.0, 400),
            ("RBB", 2021, "patient.ip_overall", 8.5, 300),
        ],
        file="p.ods",
    )
    return staff, patient


def test_same_year_alignment_and_counterpart_flag(registry):
    staff, patient = _two_sources()
    res = link(staff, patient, registry)
    w = res.panel.set_index(["org_code", "year"])
    assert w.loc[("RAA", 2020), "staff.stress"] == 32.0
    assert bool(fate_of(res, "RAA", 2020, "staff.stress").iloc[0]["counterpart"])
    assert not bool(fate_of(res, "RAA", 2019).iloc[0]["counterpart"])
    assert res.metrics["headline"]["both_same_year"] == {"2020": 1, "2021": 1}
    assert res.metrics["headline"]["lag1_staff_to_patient"] == {"2020": 1}


def test_staff_lag_one(registry):
    staff, patient = _two_sources()
    res = link(staff, patient, registry, staff_lag=1)
    w = res.panel.set_index(["org_code", "year"])
    assert w.loc[("RAA", 2020), "staff.stress"] == 30.0  # staff 2019 at panel year 2020
    pl = res.panel_long.query(
        "measure == 'staff.stress' and org_code == 'RAA' and year == 2020"
    ).iloc[0]
    assert pl["source_year"] == 2019
    assert fate_of(res, "RAA", 2019).iloc[0]["panel_year"] == 2020


def test_require_counterpart(registry):
    staff, patient = _two_sources()
    res = link(staff, patient, registry, require_counterpart=True)
    a = fate_of(res, "RAA", 2019).iloc[0]
    assert (a["fate"], a["reason"]) == ("excluded", "no_counterpart_that_year")
    assert set(zip(res.panel["org_code"], res.panel["year"], strict=True)) == {
        ("RAA", 2020),
        ("RBB", 2021),
    }


# ----------------------------------------------------------------------------- audit
def test_reconciliation_identity_and_audit_columns(registry):
    staff, patient = _two_sources()
    staff = pd.concat(
        [
            staff,
            tidy(
                [
                    ("RDD", 2021, "staff.stress", 1.0, 5),
                    ("ZZ9", 2021, "staff.stress", 1.0, 5),
                    ("RPP", 2020, "staff.stress", 5.0, 10),
                ]
            ),
        ]
    )
    res = link(staff, patient, registry)
    a = res.audit
    assert list(a.columns) == AUDIT_COLUMNS
    assert len(a) == len(staff) + len(patient)
    counts = a["fate"].value_counts().to_dict()
    assert counts == {"matched": 5, "excluded": 2, "merged": 1}
    assert res.metrics["rows"] == {
        "in": 8,
        "matched": 5,
        "merged": 1,
        "excluded": 2,
        "reconciled": True,
    }
    assert fate_table(a)["ok"].all()
    summ = audit_summary(a)
    totals = summ[summ["fate"] == "TOTAL"].set_index("source")["rows"].to_dict()
    assert totals == {"staff": len(staff), "patient": len(patient)}


def test_check_reconciliation_catches_lost_rows():
    audit = pd.DataFrame({"fate": ["matched", "excluded"], "reason": ["", "closed"]})
    assert check_reconciliation(audit, n_in=2) == {
        "in": 2,
        "matched": 1,
        "merged": 0,
        "excluded": 1,
    }
    with pytest.raises(LinkageError, match="does not reconcile: 3 rows in"):
        check_reconciliation(audit, n_in=3)
    with pytest.raises(LinkageError, match="no reason"):
        check_reconciliation(pd.DataFrame({"fate": ["excluded"], "reason": [""]}), n_in=1)


def test_rollups_audited_as_merged(registry):
    staff = tidy(
        [("RAA", 2021, "staff.stress", 25.0, 300), ("RDD", 2021, "staff.stress", 20.0, 10)]
    )
    rollups = tidy(
        [
            ("RAA1", 2021, "staff.stress", 20.0, 100),
            ("RAA2", 2021, "staff.stress", 27.5, 200),
            ("RDD1", 2021, "staff.stress", 20.0, 10),
            ("RZZ1", 2021, "staff.stress", 1.0, 1),
        ]
    )
    rollups["into"] = ["RAA", "RAA", "RDD", "RZZ"]
    res = run_link(
        staff, None, orgs_of(staff), registry, LinkParams(), rollups=rollups, series_start=SERIES
    )
    a = res.audit.set_index("org_code")
    assert a.loc["RAA1", ["fate", "reason", "mapped_to"]].tolist() == ["merged", "rollup", "RAA"]
    assert a.loc["RDD1", ["fate", "reason"]].tolist() == [
        "excluded",
        "type_not_in_sample:mental_health",
    ]
    assert a.loc["RZZ1", "reason"] == "rollup_target_missing"
    assert res.metrics["rows"]["in"] == 6


def test_panel_format_and_balance(registry):
    staff, patient = _two_sources()
    res = link(staff, patient, registry)
    assert list(res.panel.columns) == [
        "org_code",
        "year",
        "org_name",
        "trust_type",
        "region",
        "region_name",
        "icb",
        "staff.stress",
        "staff.stress__n",
        "patient.ip_overall",
        "patient.ip_overall__n",
    ]
    assert not res.panel.duplicated(["org_code", "year"]).any()
    b = res.balance.set_index("org_code")
    assert b.loc["RAA", ["2019", "2020", "2021"]].tolist() == ["staff", "both", "none"]
    assert b.loc["RBB", "gaps"] == "" and b.loc["RAA", "n_years_both"] == 1
    bl = balance_long(res.balance)
    assert len(bl) == 2 * 3


def test_params_section_validates():
    p = validate_params(
        {
            "link": {
                "split_rule": "largest_successor",
                "staff_lag": 1,
                "reference_date": "2023-01-01",
            }
        }
    )
    assert p.link.staff_lag == 1
    with pytest.raises(LinkageError, match="link.merge_weight"):
        validate_params({"link": {"merge_weight": "median"}})
    with pytest.raises(LinkageError, match="survey_dates"):
        validate_params({"link": {"survey_dates": {"staff": "Sept"}}})


# ----------------------------------------------------------------------------- real data
HAVE_READERS = importlib.util.find_spec("linkage.readers") is not None


@pytest.fixture(scope="module")
def real_link_inputs(request, tmp_path_factory):
    if not HAVE_READERS:
        pytest.skip("linkage.readers is not importable yet (readers still being built)")
    real = request.getfixturevalue("real_data_dir")
    from linkage.catalogue import harmonise
    from linkage.readers import read_folder

    cache = tmp_path_factory.mktemp("reader_cache")
    s = read_folder(real, kind="staff", cache_dir=cache)
    p = read_folder(real, kind="patient", cache_dir=cache)
    return {
        "ods": Path(real) / "ods",
        "staff": harmonise(s.tidy),
        "patient": harmonise(p.tidy),
        "orgs": pd.concat([s.orgs, p.orgs], ignore_index=True),
        "rollups": pd.concat([s.rollups, p.rollups], ignore_index=True),
    }


def _real_run(inp, **params):
    p = LinkParams(**params)
    reg = build_registry(inp["ods"], reference_date=p.reference_date)
    return run_link(inp["staff"], inp["patient"], inp["orgs"], reg, p, rollups=inp["rollups"])


@pytest.mark.real
def test_real_link_default_reference_date(real_link_inputs):
    res = _real_run(real_link_inputs)
    m = res.metrics
    # rows in = matched + merged + excluded (also checked inside run_link)
    n_in = sum(len(real_link_inputs[k]) for k in ("staff", "patient", "rollups"))
    assert (
        m["rows"]["in"]
        == n_in
        == m["rows"]["matched"] + m["rows"]["merged"] + m["rows"]["excluded"]
    )
    assert m["unknown_codes"] == []
    # Issue: ~130/132/133 trusts with inpatient data 2020/21/22.  As of 2024-04-01 two inpatient
    # trusts have merged into others (RA4 Yeovil -> RH5 Somerset 2023-04, RVY Southport and
    # Ormskirk -> RBN 2023-07), so two fewer per year; see the 2022 reference date test.
    assert m["n_trusts_by_measure_year"]["patient.ip_overall"] == {
        "2020": 128,
        "2021": 130,
        "2022": 131,
    }
    both = m["headline"]["both_same_year"]
    assert both == {"2021": 130, "2022": 131}  # issue: about 129-130 each, about 259 trust-years
    assert 257 <= m["headline"]["both_same_year_total"] <= 263
    assert (
        m["headline"]["lag1_staff_to_patient"]["2020"] == 128
    )  # issue: about 128 (staff 2019 -> inpatient 2020)
    assert set(res.panel["trust_type"]) == {"acute", "acute_specialist"}
    merged = m["merged_codes"]
    assert (
        merged["RA4"] == "RH5"
        and merged["RVY"] == "RBN"
        and merged["RW6"] == "RM3"
        and merged["R1F1"] == "R1F"
    )


@pytest.mark.real
def test_real_link_reference_date_2022_reproduces_issue_counts(real_link_inputs):
    res = _real_run(real_link_inputs, reference_date="2022-04-01")
    m = res.metrics
    assert m["n_trusts_by_measure_year"]["patient.ip_overall"] == {
        "2020": 130,
        "2021": 132,
        "2022": 133,
    }


@pytest.mark.real
def test_real_panel_long_equals_a_per_group_reference(real_link_inputs):
    inp = real_link_inputs
    res = _real_run(inp)
    cat = load_catalogue()
    want = _reference_panel_long(inp["staff"], inp["patient"], res.audit, lambda m: cat.measure(m).rollup,
                                 "respondents")
    _assert_same_panel_long(res.panel_long, want)
    assert (res.panel_long["merged_from"] != "").any()


@pytest.mark.real
def test_real_link_audit_reasons(real_link_inputs):
    res = _real_run(real_link_inputs)
    a = res.audit
    # CCGs/ICBs/CSUs/social enterprises are excluded as not trusts, never dropped
    assert set(a.loc[a["org_code"].isin(["QWE", "0AR"]), "reason"]) == {"not_a_trust"}
    assert (
        a.loc[a["org_code"] == "RX9", "reason"].str.startswith("type_not_in_sample:ambulance").all()
    )
    # inpatient rows all reach the panel (the file only has acute and specialist trusts)
    pat = a[a["source"] == "patient"]
    assert set(pat["fate"]) <= {"matched", "merged"}
