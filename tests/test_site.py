"""The report site: plain sentences, disclosure control, provenance, byte-identical rebuilds, no external requests."""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

from linkage.site.findings import all_findings
from linkage.site.inputs import load_inputs
from linkage.site.provenance import applies, parameter_rows
from linkage.site.steps import stable_ids
from linkage.site.words import interval, nice, places_for, signed, typical_step, year_list

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".ipynb"}


def test_words_round_and_phrase():
    assert nice(0.0204) == "0.020" and nice(131.4) == "131"
    assert typical_step(1.91) == 2 and typical_step(4.2) == 5 and typical_step(0.13) == 0.1
    assert places_for(-0.042, 0.030) == 2
    assert signed(-0.04, 2, "points") == "0.04 points lower" and signed(0.001, 2) == "about the same"
    assert interval(-0.06, -0.02, 2, "points") == "0.02 to 0.06 points lower"
    assert interval(-0.04, 0.03, 2, "points") == "0.04 points lower to 0.03 points higher"
    assert year_list([2019, 2020, 2021]) == "2019 to 2021" and year_list([2021, 2023]) == "2021 and 2023"


def test_styler_ids_become_stable():
    a = stable_ids('<style>#T_1a2b3_row0 {}</style><table id="T_1a2b3">')
    b = stable_ids('<style>#T_ffff0_row0 {}</style><table id="T_ffff0">')
    assert a == b and "T_s0000" in a


@pytest.mark.slow
def test_site_pages_exist_and_are_offline(small_site):
    rep = small_site["reports"]
    for name in ("index.html", "summary.html", "methods.html"):
        assert (rep / name).is_file(), name
    panel = pd.read_parquet(small_site["folder"] / "data/processed/panel.parquet")
    assert {p.stem for p in (rep / "trusts").glob("*.html")} == set(panel["org_code"])
    for page in rep.rglob("*.html"):
        text = page.read_text()
        assert not EXTERNAL.search(text), f"{page} refers to an external resource"
        body = text[text.index("<body>"):]
        assert "Synthetic demo data." in body[:400], f"{page}: demo banner not at the top"
        assert "No description has been provided" not in text


@pytest.mark.slow
def test_summary_speaks_plainly(small_site):
    html = (small_site["reports"] / "summary.html").read_text()
    body = re.sub(r"<[^>]+>", " ", html[html.index("<body>"):])
    assert "staff.stress" not in body and "patient.ip_overall" not in body, "measure codes on the summary"
    assert "~" not in body and "(t-1)" not in body, "formula notation on the summary"
    assert not re.search(r"\d\.\d{4,}", body) and "e-0" not in body, "unrounded numbers on the summary"
    assert "Unwell from work-related stress" in body
    for phrase in ("What was found", "How big", "How sure", "Which trusts and years", "What it cannot show",
                   "not a cause", "trusts, not people", "Placebo check"):
        assert phrase in body, phrase
    assert "It pairs" in body


@pytest.mark.slow
def test_rebuild_is_byte_identical(small_site):
    from linkage.site import build_site

    rep = small_site["reports"]
    before = _digest(rep)
    with contextlib.chdir(small_site["folder"]):
        build_site(small_site["params"], ".", "reports")
    assert _digest(rep) == before


@pytest.mark.slow
def test_values_under_the_disclosure_threshold_are_never_shown(small_site, tmp_path):
    from linkage.site import build_site

    folder = small_site["folder"]
    panel = pd.read_parquet(folder / "data/processed/panel.parquet")
    code = sorted(panel["org_code"])[0]
    row = panel.index[(panel["org_code"] == code) & panel["staff.stress"].notna()][0]
    secret = 99.9
    panel.loc[row, "staff.stress"] = secret
    panel.loc[row, "staff.stress__n"] = 10  # under the Staff Survey threshold of 11
    (tmp_path / "data/processed").mkdir(parents=True)
    for rel in ("data/processed/model_results.csv", "data/processed/model_notes.json", "data/raw/manifest.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes((folder / rel).read_bytes())
    (tmp_path / "metrics").mkdir()
    for p in (folder / "metrics").glob("*.json"):
        (tmp_path / "metrics" / p.name).write_bytes(p.read_bytes())
    panel.to_parquet(tmp_path / "data/processed/panel.parquet", index=False)
    with contextlib.chdir(tmp_path):
        build_site(small_site["params"], ".", "out")
    page = (tmp_path / "out/trusts" / f"{code}.html").read_text()
    words = re.sub(r"<(rect|line|circle)[^>]*>", "", page)  # drawing coordinates are not values
    assert "99.9" not in words and "not shown: too few responses" in page


@pytest.mark.slow
def test_results_against_the_expected_direction_carry_a_warning(small_site):
    inputs = load_inputs(small_site["folder"])
    res = inputs.results.copy()
    lag = (res["spec_name"] == "forward_lag1") & (res["term"] == res["regressor"])
    res.loc[lag, ["estimate", "ci_low", "ci_high"]] = [0.02, 0.01, 0.03]  # more stress, better experience
    inputs.results = res
    text = next(f.sentence for f in all_findings(inputs) if f.key == "forward_lag1")
    assert "Warning: this runs against the expected direction" in text


def test_parameters_apply_to_the_data_source():
    from linkage.params import validate_params

    real = validate_params({"data": {"source": "local"}})
    assert not applies("data.demo.seed", real) and applies("data.local_dir", real)
    rows = {r.key: r for r in parameter_rows(real)}
    assert "data.demo.true_effect" not in rows and rows["data.source"].changed
    assert rows["model.lag"].description and not rows["model.lag"].changed


def test_executed_notebooks_are_made_byte_stable():
    import nbformat

    from linkage.site import stable_outputs

    def run(addr: str, uid: str, cid: str):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("display_data", data={
            "text/html": f'<table id="T_{uid}">', "text/plain": f"<pandas.io.formats.style.Styler at {addr}>"})])
        cell.metadata["tags"] = ["injected-parameters"]
        cell["id"] = cid
        nb.cells = [cell]
        return nbformat.writes(stable_outputs(nb))

    assert run("0x7ff48e137050", "1a2b3", "426a1c55") == run("0x7f7c1a607a50", "ffff0", "cb7ce49b")


def test_summary_shows_the_specification_curve_in_words(small_site):
    """The pre-specified curve's shares and adjusted p-values, on one base, in a plain sentence."""
    import json

    html = (small_site["reports"] / "summary.html").read_text()
    s = json.loads((small_site["folder"] / "metrics" / "multiverse.json").read_text())
    assert f"We fitted {s['n_fitted']:,} reasonable ways of asking the question" in html
    assert "Benjamini-Hochberg" in html and "Romano-Wolf" in html and "joint test" in html
    inf = s["inferential"]  # the pre-specified curve's adjusted share, on its distinct specifications
    assert f"{inf['n_significant']:,} of {inf['n_distinct']:,}" in html
    assert f"{100 * inf['share_significant_bh']:.0f}% remain significant controlling the false discovery rate" in html
    assert 'src="figures/06_multiverse.png" alt="Specification curve of' in html
    assert (small_site["reports"] / "figures" / "06_multiverse.png").exists()
    assert 'href="06_multiverse.html"' in html


def test_source_version_names_a_modified_file_in_full(tmp_path):
    """A changed source file is named by its whole path (git's status line begins with a space)."""
    import subprocess

    from linkage.site.provenance import source_version

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "src").mkdir()
    for name in ("a.py", "b.py"):
        (tmp_path / "src" / name).write_text("x = 1\n")
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@localhost", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "one")
    (tmp_path / "src" / "b.py").write_text("x = 2\n")
    v = source_version(tmp_path, ("src/a.py", "src/b.py"))
    assert v["modified"] and v["changed"] == ["src/b.py"]
    assert len(v["commit"]) == 40 and v["commit"] == v["commit"].strip()
