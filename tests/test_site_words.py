"""The site's sentences say what the fitted model did: designs x weights x samples x outcome roles.

Each case fits the real model code (``linkage.models.fit_models``) on a small
synthetic panel, builds the site's inputs from that fit and checks every
sentence of the summary and the methods against the specification actually
fitted: the design (trust effects, year effects as ``time_effects`` says), the
weights, the sample as restricted, the outcome's role, label, units and
direction.  The expected words per design are the table ``DESIGN_WORDS`` below,
written by hand from the model definitions in ``docs/models.md`` - not taken
from the code under test.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from studykit import measures_excerpt

#: family: (what the design compares, year effects with time_effects true, with time_effects false)
DESIGN_WORDS = {
    "twoway_fe": ("compares each trust with itself in other years", True, True),
    "first_difference": ("compares each trust's change from one survey year to the next", True, False),
    "pooled": ("compares all trust-years with each other (pooled)", True, False),
    "between": ("compares trusts' averages over the years with each other", False, False),
    "random_effects": ("pools differences within trusts over time with differences between trusts", True, False),
    "mundlak": ("compares each trust with itself in other years", True, False),
}
WITHIN = {"twoway_fe", "first_difference", "mundlak"}
YEARS_OUT = "what all trusts shared in a year (national events, survey changes) is taken out"
NO_YEARS = "nothing shared by all trusts in a year is taken out (no year effects)"

MEASURES = measures_excerpt("outcome.hsmr", "outcome.study_weight")
"""The worked study's mortality ratio (lower is better) and its weight, as a project measures file."""

#: outcome role: (dependent, words that must appear, words that must not)
OUTCOMES = {
    "patient": ("patient.ip_overall", ["patients", "higher is better"], []),
    "mortality": ("outcome.hsmr", ["lower is better", "Hospital standardised mortality ratio"],
                  ["patient experience", "patients", "Inpatient Survey", "CQC", "Staff wellbeing and patient"]),
}

TYPES = ["acute"] * 18 + ["acute_specialist"] * 4 + ["mental_health"] * 3


def synthetic_panel(seed: int = 3) -> pd.DataFrame:
    """25 trusts x 5 years with trust and year effects and a within-trust link of both outcomes to stress."""
    rng = np.random.default_rng(seed)
    rows = []
    years = range(2019, 2024)
    shock = dict(zip(years, rng.normal(0, 1.0, 5), strict=True))
    for i, ttype in enumerate(TYPES):
        level, base = rng.normal(0, 3), rng.normal(0, 0.2)
        for y in years:
            stress = 40 + level + shock[y] + rng.normal(0, 2.5)
            rows.append({
                "org_code": f"R{i:02d}", "year": y, "org_name": f"Trust {i}", "trust_type": ttype,
                "staff.stress": stress, "staff.stress__n": int(rng.integers(300, 900)),
                "patient.ip_overall": 8 + base - 0.04 * stress + 0.1 * shock[y] + rng.normal(0, 0.05),
                "patient.ip_overall__n": int(rng.integers(200, 600)),
                "outcome.hsmr": 1 + base / 4 + 0.006 * stress + rng.normal(0, 0.01),
                "outcome.study_weight": float(rng.integers(100, 900)),
            })
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=64)
def _fit(family: str, outcome: str, weighted: bool, time_effects: bool, cov_type: str, root: str, checks: bool):
    from linkage.models import fit_models
    from linkage.params import validate_params

    y = OUTCOMES[outcome][0]
    weights = None if not weighted else ("respondents" if outcome == "patient" else "outcome.study_weight")
    params = validate_params({
        "data": {"source": "local", "local_dir": root, "measures_file": str(Path(root) / "measures.yaml")},
        "staff": {"measures": ["staff.stress"]},
        "patient": {"measures": ["patient.ip_overall", "outcome.hsmr", "outcome.study_weight"]},
        "link": {"headline_patient": y},
        "model": {"dependent": y, "exposure": "staff.stress", "covariates": [],
                  "families": [family, "between"] if checks else [family],
                  "headline_family": family, "time_effects": time_effects, "cov_type": cov_type,
                  "weights": weights, "lag": 0, "lags": [0, 1] if checks else [0], "reverse": checks,
                  "placebo_leads": [1] if checks else [],
                  "other_exposures": [], "adjust_contemporaneous": "no", "reliability_measures": None}})
    panel = synthetic_panel()
    return params, panel, fit_models(panel, params.model)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("words")
    (root / "measures.yaml").write_text(MEASURES)
    return root


def site_inputs(project: Path, family: str, outcome: str, *, weighted: bool = False, time_effects: bool = True,
                restricted: bool = True, cov_type: str = "clustered_entity", checks: bool = False):
    """SiteInputs of one fitted case, as the report stage would read them from the run's files."""
    from linkage.catalogue import load_catalogue, set_project_measures
    from linkage.site.inputs import SiteInputs

    set_project_measures(project / "measures.yaml")
    params, panel, run = _fit(family, outcome, weighted, time_effects, cov_type, str(project), checks)
    link = params.link.model_copy(update={"restrict_trust_types": restricted})
    params = params.model_copy(update={"link": link})
    kept = panel if not restricted else panel[panel["trust_type"].isin(params.link.trust_types)]
    return SiteInputs(root=project, panel=kept, results=run.results.copy(), headline=dict(run.headline),
                      notes={"warnings": run.warnings, "skipped": run.skipped}, linkage={
                          "trust_types": list(params.link.trust_types)}, ingest={}, manifest={"source": "local"},
                      catalogue=load_catalogue(), params=params)


def all_words(inputs) -> str:
    """Every sentence of the summary and the methods list, as one text."""
    from linkage.site.build import methods_text
    from linkage.site.design import site_title
    from linkage.site.summary import caveats, summary_context

    ctx = summary_context(inputs)
    a = ctx["answers"]
    parts = [site_title(inputs.headline, inputs.catalogue), a.question, *(f"{h}: {t}" for h, t in a.points),
             *(f"{f.title}. {f.sentence}" for f in a.findings), ctx["checks_intro"], *caveats(inputs),
             *methods_text(inputs)]
    return "\n".join(parts)


#: every design with each outcome role, each role once weighted and once not (fits are slow on a shared machine)
CASES = [(f, o, w) for f in DESIGN_WORDS for o, w in (("patient", False), ("mortality", True))] + [
    ("twoway_fe", "patient", True), ("pooled", "mortality", False)]


@pytest.mark.parametrize(("family", "outcome", "weighted"), CASES,
                         ids=[f"{f}-{o}-{'weighted' if w else 'unweighted'}" for f, o, w in CASES])
def test_every_sentence_matches_the_fitted_design(project, family, outcome, weighted):
    inputs = site_inputs(project, family, outcome, weighted=weighted)
    text = all_words(inputs)
    compares, years_on, _ = DESIGN_WORDS[family]
    assert f"The model {compares}" in text
    assert (YEARS_OUT in text) == years_on and (NO_YEARS in text) == (not years_on)
    if family in WITHIN:
        assert "is higher than usual for it" in text
    else:
        for phrase in ("Comparing each trust with itself", "than usual", "each trust with itself"):
            assert phrase not in text, phrase
    if weighted:
        who = "the number of patients who answered" if outcome == "patient" else "“Study weight"
        assert f"each trust-year is weighted by {who}" in text
    else:
        assert "each trust-year counts equally (no weights)" in text
    _, present, absent = OUTCOMES[outcome]
    for phrase in present:
        assert phrase in text, phrase
    for phrase in absent:
        assert phrase not in text, phrase
    assert "(+ year effects)" not in text


@pytest.mark.parametrize("family", ["pooled", "random_effects", "first_difference", "mundlak"])
def test_year_effects_are_said_as_fitted(project, family):
    """With ``time_effects: false`` no sentence or label claims year effects."""
    inputs = site_inputs(project, family, "mortality", weighted=True, time_effects=False)
    text = all_words(inputs)
    assert NO_YEARS in text and YEARS_OUT not in text
    assert "+ year effects" not in text and "year fixed effects" not in text
    on = all_words(site_inputs(project, family, "mortality", weighted=True, time_effects=True))
    assert YEARS_OUT in on and ("+ year effects" in on) == (family != "twoway_fe")


def test_sample_is_said_as_restricted(project):
    restricted = all_words(site_inputs(project, "twoway_fe", "patient", restricted=True))
    assert "restricted to acute trusts and acute specialist trusts" in restricted
    assert "not restricted" not in restricted
    free = all_words(site_inputs(project, "twoway_fe", "patient", restricted=False))
    assert "not restricted by trust type" in free and "restricted to" not in free
    assert "mental health trusts" in free  # the types actually in the sample, from the panel


def test_classical_standard_errors_get_no_cluster_convention(project):
    text = all_words(site_inputs(project, "pooled", "mortality", cov_type="unadjusted"))
    assert "classical standard errors" in text
    assert "CR1" not in text and "G-1" not in text and "cr1" not in text


def test_direction_follows_the_outcome(project):
    """A mortality ratio that rises with stress is worse; patient experience that falls with stress is worse."""
    from linkage.site.findings import all_findings

    for outcome, sign in (("mortality", 1), ("patient", -1)):
        inputs = site_inputs(project, "twoway_fe", outcome, weighted=outcome == "mortality")
        head = next(f for f in all_findings(inputs) if f.group == "headline")
        assert head.clear and np.sign(head.per_step["estimate"]) == sign
        text = all_words(inputs)
        word = "higher" if sign > 0 else "lower"
        rule = "lower is better" if outcome == "mortality" else "higher is better"
        assert f"{word} (worse, since for this measure {rule})" in text
        assert "better, since" not in text


def test_reverse_same_year_is_not_called_a_direction_check(project):
    """The same-year model with the roles swapped is the forward model's partial correlation, not a direction check.

    The model stage no longer fits it; a results file that has it (an older run) gets it named as what it is.
    """
    import pandas as pd

    from linkage.site.findings import all_findings
    from linkage.site.summary import answers

    inputs = site_inputs(project, "twoway_fe", "patient", checks=True)
    assert not [f for f in all_findings(inputs) if f.group == "reverse" and "same year" in f.title]
    res = inputs.results
    fwd = res[(res["spec_name"] == "forward_lag0") & (res["term"] == "staff.stress")].copy()
    fwd = fwd.assign(spec_name="reverse_lag0", direction="reverse", dependent="staff.stress",
                     regressor="patient.ip_overall", term="patient.ip_overall", headline=False)
    inputs.results = pd.concat([res, fwd], ignore_index=True)
    rev0 = next(f for f in all_findings(inputs) if f.key == "reverse_lag0")
    assert "not a check of which comes first" in rev0.title and "Reverse direction" not in rev0.title
    assert "says nothing about which comes first" in rev0.sentence and not rev0.is_check
    assert "measures swapped" not in dict(answers(inputs).points)["What was found"]


def test_first_differences_across_a_missing_year_are_two_year_changes(project):
    """Drop 2021 from the panel: first differences then compare 2020 -> 2022 changes, never 'one year before'."""
    from linkage.models import fit_models
    from linkage.site.findings import all_findings

    inputs = site_inputs(project, "first_difference", "patient", checks=True)
    panel = synthetic_panel()
    panel = panel[panel["year"] != 2021].reset_index(drop=True)
    run = fit_models(panel, inputs.params.model)
    inputs.panel, inputs.results, inputs.headline = panel, run.results, dict(run.headline)
    lag1 = next(f for f in all_findings(inputs) if f.key == "forward_lag1")
    same = next(f for f in all_findings(inputs) if f.key == "forward_lag0")
    assert "one year before" not in lag1.title and "three years" in lag1.title  # 2020 -> 2023: 2021, 2022 lack a pair
    assert "the 2019 to 2022 change in staff with the 2020 to 2023 change in patients" in lag1.sentence
    assert "a two-year change" in same.sentence and "the 2020 to 2022 change" in same.sentence


def _per_step_ci(inputs) -> tuple[float, float]:
    from linkage.site.findings import all_findings

    ps = next(f for f in all_findings(inputs) if f.group == "headline").per_step
    return ps["ci_low"], ps["ci_high"]


def test_mde_and_equivalence_words(project):
    """Power is 80% at the MDE and about half at 0.7 of it; 'ruled out' only from the equivalence verdict."""
    from linkage.site.findings import all_findings
    from linkage.site.summary import answers
    from linkage.site.words import fixed, interval_places, nice

    inputs = site_inputs(project, "twoway_fe", "patient")
    reported = inputs.headline.pop("equivalence", None)  # absent: no sentence on what is ruled out
    sure = dict(answers(inputs).points)["How sure"]
    assert "would be found 80% of the time" in sure and "(0.7 times that size) only about half the time" in sure
    assert "usually go undetected" not in sure and "ruled out" not in sure
    inputs.headline["equivalence"] = {"sesoi": 0.05, "sesoi_per_unit": 0.025, "p_value": 0.003, "verdict": "ruled_out",
                                      "bound_low": -0.025, "bound_high": 0.025, "typical_change": 2.0}
    sure = dict(answers(inputs).points)["How sure"]
    step = next(f for f in all_findings(inputs) if f.group == "headline").per_step["step"]
    bound = fixed(0.05 / 2.0 * step, interval_places(*_per_step_ci(inputs)))
    assert f"A link larger than {bound} points per {nice(step, 1)} percentage points (the smallest effect of " \
           "interest, model.sesoi: 0.050 points per within-trust standard deviation of 2.0 percentage points)" in sure
    assert "is ruled out, equivalence test, p = 0.003." in sure
    inputs.headline["equivalence"]["verdict"] = "not_ruled_out"
    sure = dict(answers(inputs).points)["How sure"]
    lo, hi = _per_step_ci(inputs)
    beyond = lo > 0.025 * step or hi < -0.025 * step  # the whole interval beyond the bound: said as such
    assert ("cannot be ruled out" in sure) == (not beyond) and ("The whole interval lies beyond" in sure) == beyond
    if reported is not None:  # the model stage's own verdict is the one said
        inputs.headline["equivalence"] = reported
        sure = dict(answers(inputs).points)["How sure"]
        assert ("is ruled out" in sure) == (reported["verdict"] == "ruled_out")
        assert ("cannot be ruled out" in sure or "The whole interval lies beyond" in sure) == (
            reported["verdict"] == "not_ruled_out")


def test_corrected_estimate_and_reliability_are_said_when_reported(project):
    from linkage.site.summary import answers

    inputs = site_inputs(project, "twoway_fe", "patient")
    h = inputs.headline
    fitted = {k: h.pop(k, None) for k in ("exposure_reliability", "estimate_corrected", "ci_low_corrected",
                                          "ci_high_corrected", "correction")}
    assert "Measurement error" not in dict(answers(inputs).points)  # not reported: nothing invented
    h.update(exposure_reliability=0.62, estimate_corrected=h["estimate"] / 0.62, ci_low_corrected=h["ci_low"] / 0.62,
             ci_high_corrected=h["ci_high"] / 0.62, correction={"method": "errors-in-variables",
                                                                "why": "sampling variances known from base n"})
    text = dict(answers(inputs).points)["Measurement error"]
    assert "within-trust reliability 0.62" in text and "about 38% sampling noise" in text
    assert "Corrected for that noise (errors-in-variables; see the methods page)" in text
    if fitted["estimate_corrected"] is not None:  # the model stage's own correction is the one said
        h.update(fitted)
        text = dict(answers(inputs).points)["Measurement error"]
        assert f"within-trust reliability {fitted['exposure_reliability']:.2f}" in text
        assert "Corrected for that noise" in text and "uncorrected" in text


def test_between_gap_names_attenuation(project):
    from linkage.site.findings import all_findings
    from linkage.site.summary import _between, _headline

    inputs = site_inputs(project, "twoway_fe", "patient", checks=True)
    res = inputs.results
    between = (res["model"] == "between") & (res["term"] == inputs.headline["term"])
    res.loc[between, ["estimate", "ci_low", "ci_high"]] = [-0.5, -0.6, -0.4]  # far from the within estimate
    text = _between(inputs, _headline(all_findings(inputs)))
    assert "lasting differences" in text and "sampling noise" in text and "towards zero" in text
    assert "cannot tell the two readings apart" in text


def test_reliability_on_a_scale_without_known_noise_is_not_shown(project):
    from linkage.site.summary import warnings_in_words

    inputs = site_inputs(project, "pooled", "mortality")
    inputs.notes["warnings"] = ["outcome.hsmr: within-trust reliability 0.00 (sampling noise ...); attenuated.",
                                "staff.stress: within-trust reliability 0.41 (sampling noise ...); attenuated."]
    out = warnings_in_words(inputs)
    assert len(out) == 1 and "0.41" in out[0] and "0.00" not in " ".join(out)
    assert re.search(r"“Unwell from work-related stress.*”: within-trust reliability 0\.41", out[0])


def test_real_panel_lag_across_a_missing_year_is_named_as_such(real_pipeline):
    """On the real files the lag-1 sample pairs 2019->2021 staff changes with 2020->2022 patient changes."""
    from linkage.site.findings import all_findings
    from linkage.site.inputs import load_inputs

    inputs = load_inputs(real_pipeline["folder"], real_pipeline["params"])
    lag1 = next(f for f in all_findings(inputs) if f.key == "forward_lag1")
    assert "one year before" not in lag1.title and "over two years" in lag1.title
    assert "the 2019 to 2021 change in staff with the 2020 to 2022 change in patients" in lag1.sentence
    assert "a two-year change" in lag1.sentence


def test_year_effect_rule_matches_the_model_definitions():
    """The site's rule for which families take out year effects is the estimation code's."""
    from linkage.models._fit import FAMILY_MODELS
    from linkage.site.design import _year_terms

    for family, fm in FAMILY_MODELS.items():
        for te in (True, False):
            assert _year_terms(family, te) == bool(fm.absorbs_time or (te and fm.year_dummies)), (family, te)
