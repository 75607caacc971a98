"""The measure catalogue and layouts as data."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from linkage.catalogue import CatalogueError, harmonise, load_catalogue
from linkage.contract import SCALES, coerce_tidy
from linkage.readers.extract import shipped_mappings

REQUIRED = [
    "staff.stress", "staff.burnout", "staff.emotional_exhaustion", "staff.hwb_action", "staff.hwb_theme",
    "staff.engagement", "staff.morale", "staff.recommend_care", "staff.enough_staff", "staff.response_rate",
    "staff.respondents", "patient.ip_overall", "patient.ip_respect_dignity", "patient.ip_respondents",
] + [f"patient.ip_s{i:02d}" for i in range(1, 12)]


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


def test_required_measures_present_and_well_formed(cat):
    assert set(REQUIRED) <= set(cat.measures)
    for m in cat.measures.values():
        assert m.unit in SCALES and m.label and m.description and m.sources


def test_directions_units_and_codes(cat):
    stress = cat.measure("staff.stress")
    assert stress.higher_is_better is False and stress.unit == "percent"
    codes = {(s.layout, s.code, s.scale) for s in stress.sources}
    assert ("nss_org_workbook_2019", "q11c", "proportion") in codes
    assert ("nss_2021_2024_extract", "Stress_rate", "percent") in codes
    assert cat.measure("patient.ip_overall").higher_is_better is True
    assert cat.lookup("cqc_inpatient_benchmark_2022", "Q46", 2022)[0].name == "patient.ip_overall"
    assert cat.lookup("cqc_inpatient_benchmark_2022", "Q45", 2020)[0].name == "patient.ip_respect_dignity"
    assert cat.lookup("cqc_inpatient_benchmark_2022", "S07", 2022)[0].name == "patient.ip_s07"
    assert cat.lookup("nss_org_workbook_2019", "q11b", 2019) is None


def test_series_breaks_and_comparable_from(cat):
    assert all(cat.comparable_from(n) == 2020 for n in cat.measures if n.startswith("patient."))
    assert cat.comparable_from("staff.burnout") == 2021
    hwb = cat.measure("staff.hwb_theme")
    assert hwb.last_year == 2020 and [b.year for b in hwb.series_breaks] == [2021]
    assert any(b.year == 2020 for b in cat.measure("patient.ip_overall").series_breaks)
    d = cat.describe()
    assert set(d.measure) == set(cat.measures) and d.set_index("measure").loc["staff.stress", "label"]


def test_sources_refer_to_known_layouts_and_mappings(cat):
    mappings = {m.id: m for m in shipped_mappings()}
    for m in cat.measures.values():
        for s in m.sources:
            assert s.layout in cat.layouts or s.layout in mappings, (m.name, s.layout)
            if s.layout in mappings:  # documentation agrees with the mapping file
                col = mappings[s.layout].measures[m.name]
                assert (col.value, col.scale, col.base) == (s.code, s.scale, s.base)
    for mp in mappings.values():
        assert set(mp.measures) <= set(cat.measures)


def test_org_kinds(cat):
    assert cat.org_kind("Acute Trusts") == "trust"
    assert cat.org_kind("Mental Health & Learning Disability and Mental Health, Learning Disability & Community Trusts") == "trust"
    assert cat.org_kind("CCGs") == "ccg" and cat.org_kind("ICBs") == "icb" and cat.org_kind("CSUs") == "csu"
    assert cat.org_kind("Social Enterprises - Community") == "social_enterprise"
    assert cat.org_kind("Community Surgical Services") == "other"
    assert cat.org_kind("Acute Trusts", "00C/00D") == "ccg"
    assert cat.rollup_target("R1F3") == "R1F" and cat.rollup_target("R1H") is None


def _tidy(rows):
    return coerce_tidy(pd.DataFrame(rows, columns=["org_code", "year", "measure", "value", "base_n", "scale"]))


def test_harmonise_converts_to_canonical_units(cat):
    t = _tidy([
        ["RAA", 2019, "staff.stress", 0.4, 100, "proportion"],
        ["RAA", 2022, "staff.stress", 41.0, 100, "percent"],
        ["RAA", 2019, "staff.hwb_theme", 6.1, 100, "score10"],
        ["RAA", 2019, "staff.respondents", 900, None, "count"],
    ])
    h = harmonise(t, cat)
    assert h.value.tolist() == pytest.approx([40.0, 41.0, 6.1, 900])
    assert h.scale.tolist() == ["percent", "percent", "score10", "count"]
    assert t.value.iloc[0] == 0.4  # input untouched


def test_harmonise_errors(cat):
    with pytest.raises(CatalogueError, match="unknown measure"):
        harmonise(_tidy([["RAA", 2019, "staff.nope", 1.0, 1, "percent"]]), cat)
    with pytest.raises(CatalogueError, match="cannot convert"):
        harmonise(_tidy([["RAA", 2019, "staff.stress", 5.0, 1, "score10"]]), cat)


def test_harmonise_real_nss(nss2019_path):
    from linkage.readers import read_file

    h = harmonise(read_file(nss2019_path).tidy)
    r = h[(h.org_code == "RRU") & (h.measure == "staff.stress")].iloc[0]
    assert r.value == pytest.approx(52.4123831) and r.scale == "percent"


def test_invalid_catalogue_is_a_clear_error(tmp_path):
    d = tmp_path / "cat"
    shutil.copytree(load_catalogue().folder, d)
    text = (d / "measures.yaml").read_text().replace("unit: percent", "unit: percentage", 1)
    (d / "measures.yaml").write_text(text)
    with pytest.raises(CatalogueError, match="staff.stress"):
        load_catalogue(d)
