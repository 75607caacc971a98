"""End to end: a study's pooled, weighted mortality-ratio model, brought with mapping files only, gets true words.

The study extract of ``tests/test_user_extracts.py`` (acute trusts, a ratio-scale
outcome lower-is-better, staff indices on a 1-5 scale, a study weight, no trust or
year effects, classical standard errors, an unrestricted sample) runs through the
pipeline and the report site is built from its files.  Every sentence of the
summary, the methods page and a trust page is then checked against that model.
"""

from __future__ import annotations

import contextlib
import html
import re

import pytest
from conftest import run_pipeline_in
from studykit import (
    STUDY_MAPPING,
    STUDY_MEASURES,
    STUDY_SECTIONS,
    acute_codes,
    every_year,
    study_extract,
    user_project,
)

#: The study's model, with classical standard errors as a study would report them.
SECTIONS = {**STUDY_SECTIONS, "model": {**STUDY_SECTIONS["model"], "cov_type": "unadjusted"}}

FORBIDDEN = (
    "Comparing each trust with itself", "each trust with itself", "higher than usual", "what all trusts shared",
    "patient experience", "patients", "CQC", "Inpatient Survey", "NHS Staff Survey",
    "acute trusts and acute specialist trusts", "(+ year effects)", "+ year effects", "cr1", "CR1",
    "Each check, in words:", "within-trust reliability 0.00",
)


def _text(page: str) -> str:
    body = page[page.index("<body>"):]
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture(scope="module")
def study_site(tmp_path_factory, real_data_dir):
    from linkage.site import build_site

    tmp = tmp_path_factory.mktemp("study_site")
    codes = acute_codes(real_data_dir / "ods", 60)
    data = user_project(tmp, real_data_dir, {"study_extract.csv": study_extract(every_year(codes, range(2015, 2023)))},
                    STUDY_MAPPING, STUDY_MEASURES)
    out = run_pipeline_in(tmp / "run", data, sections=SECTIONS)
    with contextlib.chdir(out["folder"]):
        build_site(out["params"], ".", "reports", render_steps=False)
    out["reports"] = out["folder"] / "reports"
    return out


def test_study_summary_is_true_of_the_pooled_weighted_mortality_model(study_site):
    text = _text((study_site["reports"] / "summary.html").read_text())
    for phrase in FORBIDDEN:
        assert phrase not in text, f"summary says {phrase!r}"
    head = study_site["model"].headline
    assert f"{head['n_trusts']} NHS trusts in England (every organisation in the files read, not restricted by " \
           "trust type; by registry type they are acute trusts)" in text
    assert "The model compares all trust-years with each other (pooled), so lasting differences between trusts " \
           "are not taken out; nothing shared by all trusts in a year is taken out (no year effects)" in text
    assert "each trust-year is weighted by “Study weight”" in text
    assert "Staff wellbeing and hospital standardised mortality ratio" in text  # the header
    assert "the project's own data" in text and "Hospital standardised mortality ratio" in text
    # the planted link: better wellbeing, lower (better) mortality ratio
    assert head["estimate"] < 0 and head["ci_high"] < 0
    assert "lower (better, since for this measure lower is better)" in text
    assert "No timing, reverse, placebo or other-measure results were fitted in this run" in text


def test_study_methods_say_the_model_fitted(study_site):
    page = _text((study_site["reports"] / "methods.html").read_text())
    text = page[page.index("Methods in brief"):page.index("Known series breaks")]  # the parameter table quotes docs
    for phrase in ("(+ year effects)", "+ year effects", "year fixed effects", "CR1", "cr1 (", "Inpatient Survey",
                   "patient experience"):
        assert phrase not in text, f"methods say {phrase!r}"
    assert "The headline model (pooled OLS) compares all trust-years with each other (pooled)" in text
    assert "classical standard errors, with the n/(n-K) degrees-of-freedom correction" in text
    assert "ratio units; lower is better" in text
    assert "kept under the code it was published with" in text and "to their successors" not in text


def test_study_trust_page_names_its_sources(study_site):
    page = next((study_site["reports"] / "trusts").glob("*.html"))
    text = _text(page.read_text())
    assert "CQC Adult Inpatient Survey" not in text and "NHS Staff Survey" not in text
    assert "Source: the project's own data" in text
