"""The RI-CLPM on the pages: words derived from the fit (or the refusal), the methods panel, the summary sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linkage.catalogue import load_catalogue
from linkage.models.riclpm import fit_riclpm
from linkage.models.riclpm.simulate import Truth, simulate
from linkage.params import ModelParams
from linkage.paths import STAGES
from linkage.site.riclpm import riclpm_section


class _Inputs:
    """The two things the RI-CLPM words read from SiteInputs: the root (for metrics/) and the catalogue."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalogue = load_catalogue()

    def label(self, measure: str) -> str:
        m = self.catalogue.measures.get(measure)
        return m.label if m else measure

    def measure(self, name: str):
        return self.catalogue.measures.get(name)


def _section(tmp_path: Path, panel, params: ModelParams) -> tuple[dict, dict]:
    summary = fit_riclpm(panel, params).summary()
    path = tmp_path / STAGES["model"].path("riclpm")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary))
    return riclpm_section(_Inputs(tmp_path)), summary


def test_fitted_words_come_from_the_fit(tmp_path):
    years = tuple(range(2015, 2023))
    sec, s = _section(tmp_path, simulate(11, 200, years, Truth(cl_xy=0.3, cl_yx=0.25)), ModelParams())
    fwd = next(p for p in s["paths"] if p["key"] == "crosslag_staff_to_patient")
    assert "fitted to 200 trusts over 8 waves (2015, 2016" in sec["sentence"]
    assert f"{fwd['estimate']:.3g}" in sec["sentence"] and f"{fwd['ci_low']:.3g} to {fwd['ci_high']:.3g}" in sec["sentence"]
    assert "Both cross-lags are distinguishable from zero" in sec["sentence"]
    assert "association, not cause" in sec["sentence"]
    assert {r["path"] for r in sec["rows"]} == {"cross-lag, staff to patient", "cross-lag, patient to staff",
                                                 "autoregression, staff", "autoregression, patient"}
    assert f"on {s['wald']['crosslags_joint']['df']} df" in sec["paragraphs"][1]


def test_null_cross_lags_are_said_to_be_indistinguishable_from_zero(tmp_path):
    sec, _ = _section(tmp_path, simulate(12, 80, truth=Truth(cl_xy=0.0, cl_yx=0.0)), ModelParams())
    clear = [p for p in json.loads((tmp_path / STAGES["model"].path("riclpm")).read_text())["paths"]
             if p["key"].startswith("crosslag") and (p["ci_low"] > 0 or p["ci_high"] < 0)]
    if clear:
        pytest.skip("this draw has a cross-lag interval excluding zero by chance")
    assert "Neither cross-lag is distinguishable from zero" in sec["sentence"]


def test_refusal_is_said_plainly(tmp_path):
    panel = simulate(13, 120, (2019, 2021, 2022, 2023, 2024))
    panel.loc[panel["year"] != 2022, "patient.ip_overall"] = float("nan")
    sec, s = _section(tmp_path, panel, ModelParams())
    assert sec["status"] == "refused" and not sec["rows"]
    assert "was not fitted: only 1 year(s) qualify (2022)" in sec["sentence"]
    both = panel[(panel["year"] == 2022) & panel["staff.stress"].notna() & panel["patient.ip_overall"].notna()]
    assert f"2022: {len(both)}" in sec["sentence"] and "2019: 0" in sec["sentence"]


@pytest.mark.slow
def test_site_pages_carry_the_riclpm_panel(small_site):
    """The reduced demo site: the methods page has the RI-CLPM panel, the summary its sentence, both from the json."""
    s = json.loads((small_site["folder"] / STAGES["model"].path("riclpm")).read_text())
    methods = (small_site["reports"] / "methods.html").read_text()
    summary = (small_site["reports"] / "summary.html").read_text()
    assert 'id="riclpm"' in methods and "What the model assumes" in methods and "not evidence that one causes" in methods
    assert 'id="riclpm"' in summary
    if s["status"] == "fitted":
        assert f"fitted to {s['n_trusts']} trusts" in summary
    else:
        assert "was not fitted" in summary and s["reason"].split(" (")[0].split(";")[0][:20] in summary
        assert s["exposure"] not in summary.split('id="riclpm"')[1][:2000]
