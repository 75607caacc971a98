"""Presentation of the report site: answer first, counts explained, charts that read alone, tables in words."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from linkage.site.svg import BREAK_NAME, _ticks
from linkage.site.tables import humanise_tables, plain_name, plain_number


@pytest.mark.parametrize(("lo", "hi"), [(8.7, 9.6), (31.2, 48.9), (0.012, 0.034), (-3.0, 2.0), (120.0, 880.0)])
def test_chart_ticks_are_round_evenly_spaced_and_inside_the_range(lo, hi):
    ticks, places = _ticks(lo, hi)
    assert 2 <= len(ticks) <= 7
    steps = {round(b - a, places + 3) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1, ticks  # one step, not 8.8 9.0 9.2 9.5
    step = steps.pop()
    mantissa = step / 10 ** int(f"{step:e}".split("e")[1])
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)
    assert all(lo - 1e-9 <= t <= hi + 1e-9 for t in ticks)
    printed = [f"{t:.{places}f}" for t in ticks]
    assert len(set(printed)) == len(printed)  # the printed labels differ


def test_program_names_and_raw_numbers_become_words_and_print_form():
    assert plain_name("n_specs") == "specifications"
    assert plain_name("boot_kind") == "bootstrap"
    assert plain_name("some_new_field") == "some new field"
    assert plain_name("Hausman FE vs RE") == "Hausman FE vs RE"
    assert plain_number("8.242497e-01", p_value=True) == "0.824"
    assert plain_number("1.7763839839635735e-22", p_value=True) == "< 0.001"
    assert plain_number("8.242497e-01") == "0.8242"
    assert plain_number("2021") == "2021"
    assert plain_number("5184") == "5184"
    assert plain_number("123456") == "123,456"
    assert plain_number("twoway_fe") == "twoway_fe"


def test_step_tables_show_plain_headers_and_formatted_p_values():
    frame = pd.DataFrame({"n_specs": [5184], "p_value": [0.8242497], "boot_kind": ["wcr"], "estimate": [-0.0309710229]})
    soup = BeautifulSoup(frame.to_html(), "html.parser")
    humanise_tables(soup)
    text = soup.get_text(" ", strip=True)
    for raw in ("n_specs", "p_value", "boot_kind", "e-01", "0.8242497"):
        assert raw not in text
    assert "specifications" in text and "p-value" in text and "0.824" in text and "-0.03097" in text
    joint = pd.Series({"p_median": 1.2e-9, "n_significant": 1874}, name="joint test").to_frame()
    soup = BeautifulSoup(joint.to_html(), "html.parser")
    humanise_tables(soup)
    assert "< 0.001" in soup.get_text(" ") and "p_median" not in soup.get_text(" ")


def test_seaborn_is_imported_only_when_a_figure_is_drawn():
    code = ("import sys, linkage.cli, linkage.site, linkage.site.build, linkage.figures; "
            "print('seaborn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _page(small_site, rel: str) -> BeautifulSoup:
    return BeautifulSoup((small_site["reports"] / rel).read_text(encoding="utf-8"), "html.parser")


def test_counts_table_is_computed_from_the_files_and_every_page_links_to_it(small_site):
    folder = small_site["reports"].parent
    panel = pd.read_parquet(folder / "data" / "processed" / "panel.parquet")
    head = json.loads((folder / "metrics" / "headline.json").read_text())
    ingest = json.loads((folder / "metrics" / "ingest_staff.json").read_text())
    summary = _page(small_site, "summary.html")
    rows = {tr["id"]: int(tr.find_all("td")[1].get_text().replace(",", "")) for tr in summary.select("#who ~ div tr[id]")}
    assert rows["count-linked"] == panel["org_code"].nunique()
    assert rows["count-headline"] == head["n_trusts"]
    assert rows["count-read_staff"] == ingest["organisations"]
    for t, n in panel.groupby("trust_type")["org_code"].nunique().items():
        assert rows[f"count-peers_{t}"] == n
    with_x = panel.loc[panel[head["exposure"]].notna(), "org_code"].nunique()
    assert rows["count-with_staff"] == with_x
    index = _page(small_site, "index.html")
    assert any(a["href"] == "summary.html#who" and str(panel["org_code"].nunique()) in a.get_text()
               for a in index.find_all("a", href=True))
    trust = _page(small_site, f"trusts/{sorted(panel['org_code'])[0]}.html")
    assert trust.find("a", href="../summary.html#who") is not None


def test_key_findings_lead_index_summary_and_board_with_the_fitted_numbers(small_site):
    head = json.loads((small_site["reports"].parent / "metrics" / "headline.json").read_text())
    for rel in ("index.html", "summary.html", "board.html"):
        page = _page(small_site, rel)
        box = page.select_one(".key-findings")
        assert box is not None, rel
        first_h2 = page.find("h2")
        assert first_h2 is not None and first_h2.get("id") == "key-findings-h", rel  # nothing comes before it
        text = box.get_text(" ", strip=True)
        assert f"{head['n_trusts']} trusts" in text and f"{head['n_obs']} trust-years" in text
        assert "interval" in text and page.select_one(".board-meaning li") is not None
        assert not re.search(r"excludes no difference|includes no difference", text)


def test_a_merged_trust_names_the_organisations_and_years_it_combines(small_site):
    folder = small_site["reports"].parent
    pl = pd.read_parquet(folder / "data" / "processed" / "panel_long.parquet")
    merged = pl[pl["merged_from"].fillna("") != ""]
    assert len(merged), "the demo has mergers"
    code = sorted(merged["org_code"].unique())[0]
    note = _page(small_site, f"trusts/{code}.html").select_one(".merged")
    assert note is not None
    text = note.get_text(" ", strip=True)
    for pred in {c for m in merged.loc[merged["org_code"] == code, "merged_from"] for c in m.split(";")}:
        assert pred in text
    said = set()
    for a, b in re.findall(r"(\d{4}) to (\d{4})", text):
        said |= set(range(int(a), int(b) + 1))
    said |= {int(y) for y in re.findall(r"\b(\d{4})\b", text)}
    assert {int(y) for y in merged.loc[merged["org_code"] == code, "year"].unique()} <= said
    plain = sorted(set(pl["org_code"]) - set(merged["org_code"]))[0]
    assert _page(small_site, f"trusts/{plain}.html").select_one(".merged") is None


def test_trust_charts_have_axis_titles_and_one_name_for_a_series_break(small_site):
    names = set()
    for path in sorted((small_site["reports"] / "trusts").glob("*.html"))[:10]:
        page = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for svg in page.select("svg.chart"):
            titles = [t.get_text() for t in svg.select(".axis-title")]
            assert "Survey year" in titles and len(titles) == 2
            names |= {re.sub(r" \(\d{4}\)$", "", t.get_text()) for t in svg.select(".break-label")}
    assert names == {BREAK_NAME}


def test_board_page_prints_on_one_a4_page(small_site, tmp_path):
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    pdf = tmp_path / "board.pdf"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", (small_site["reports"] / "board.html").as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert pdf.exists() and pdf.stat().st_size > 5_000
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    assert pages == 1, f"board summary prints on {pages} pages"
    assert re.search(rb"/MediaBox\s*\[\s*0 0 59[45](\.\d+)? 841(\.\d+)?", data), "not A4 (595 x 842 points)"


def test_p_values_print_by_one_rule_and_a_bootstrap_zero_is_below_one_in_the_draws():
    from linkage.figures import bootstrap_tables
    from linkage.site.words import p_number, p_text

    assert [p_number(p) for p in (0.8242497, 0.0496, 0.00123, 0.0009, 0.0)] == ["0.824", "0.050", "0.001", "< 0.001",
                                                                                   "< 0.001"]
    assert p_text(0.0496) == "p = 0.050" and p_text(1e-22) == "p < 0.001"
    assert p_number(0.0, 999) == "< 0.001 (none of 999 draws)"
    assert p_number(0.0, 99) == "< 0.01 (none of 99 draws)" and p_number(0.0404, 99) == "0.040"
    # the step tables (p-value columns named in words) use the same rule as the sentences
    assert plain_number("0.0496", p_value=True) == p_number(0.0496)
    boot = pd.DataFrame({"spec_id": [1, 1], "boot_weights": ["rademacher", "webb"], "boot_kind": ["wcr", "wcr"],
                         "p_value_boot": [0.0, 0.3123], "estimate": [0.5, 0.5], "p_value": [1e-9, 1e-9],
                         "ci_low": [0.4, 0.4], "ci_high": [0.6, 0.6]})
    table = pd.DataFrame({"spec_id": [1], "exposure": ["staff.x"], "dependent": ["patient.y"], "lag": [0]})
    pivot, long = bootstrap_tables(boot, table, 999)
    cells = set(pivot.to_numpy().ravel()) | set(long["p_value_boot"])
    assert cells == {"< 0.001 (none of 999 draws)", "0.312"}
    soup = BeautifulSoup(pivot.to_html(), "html.parser")
    humanise_tables(soup)
    assert [td.get_text() for td in soup.select("td")] == ["< 0.001 (none of 999 draws)", "0.312"]
    assert "< 0.001" in [th.get_text() for th in soup.select("tbody th")]  # the analytic p-value beside them
    assert list(long["p_value"]) == ["< 0.001", "< 0.001"]


def _numbers(text: str) -> list[float]:
    return [float(v.replace("−", "-").replace(",", "")) for v in re.findall(r"[−-]?\d[\d,]*\.?\d*", text)]


def test_key_findings_say_which_estimate_they_show_and_give_the_corrected_one_beside_it(small_site):
    head = json.loads((small_site["reports"].parent / "metrics" / "headline.json").read_text())
    assert head.get("estimate_corrected") is not None, "the demo reports a measurement-error corrected estimate"
    dds = _page(small_site, "summary.html").select(".key-findings dd")
    fitted, corrected = dds[0].get_text(" ", strip=True), dds[1].get_text(" ", strip=True)
    assert "as fitted (not corrected for measurement error)" in fitted and "sampling error" in corrected
    assert "corrected" in dds[1].get("class", [])
    step = _numbers(fitted.split("Per ", 1)[1])[0]  # the typical change the box expresses both numbers per
    est, lo, hi = _numbers(corrected)[:3]
    tol = 0.51 * 10 ** -len(corrected.split(" ")[0].split(".")[1])  # half a unit of the last place shown
    # direction is in words ("0.23 points lower"), so compare sizes; the demo's corrected interval is one-signed
    assert est == pytest.approx(abs(head["estimate_corrected"]) * step, abs=tol)
    bounds = sorted(abs(head[k]) * step for k in ("ci_low_corrected", "ci_high_corrected"))
    assert head["ci_low_corrected"] * head["ci_high_corrected"] > 0
    assert (lo, hi) == (pytest.approx(bounds[0], abs=tol), pytest.approx(bounds[1], abs=tol))
    rel = head["exposure_reliability"]
    assert f"about {100 * (1 - rel):.0f}%" in corrected


def test_trajectory_small_multiples_span_one_type_and_break_lines_at_gaps_and_breaks(small_site):
    from PIL import Image

    from linkage.site.trajectories import FIGURE_NAME, _segments, chosen_trusts

    assert _segments([2019, 2020, 2021, 2022, 2023], [1.0, float("nan"), 2.0, 3.0, 4.0], {2023}) == [
        ([2019], [1.0]), ([2021, 2022], [2.0, 3.0]), ([2023], [4.0])]
    folder = small_site["reports"].parent
    panel = pd.read_parquet(folder / "data" / "processed" / "panel.parquet")
    head = json.loads((folder / "metrics" / "headline.json").read_text())
    x, y = head["exposure"], head["dependent"]
    ttype, codes, n = chosen_trusts(panel, x, y, k=5)
    both = panel.dropna(subset=[x, y])
    counts = both.groupby("org_code")["year"].nunique()
    eligible = both[both["org_code"].isin(counts[counts >= 2].index)]
    by_type = eligible.groupby("trust_type")["org_code"].nunique()
    assert n == by_type.max() and ttype == by_type.idxmax() and len(codes) == 5
    means = eligible[eligible["trust_type"] == ttype].groupby("org_code")[x].mean()
    assert codes[0] == means.idxmin() and codes[-1] == means.idxmax()  # spans the range, ordered low to high
    assert list(means[codes]) == sorted(means[codes])
    summary = _page(small_site, "summary.html")
    fig = next(f for f in summary.select("figure") if f.img["src"] == f"figures/{FIGURE_NAME}")
    caption = fig.figcaption.get_text(" ", strip=True)
    assert f"of the {n} " in caption and "not a ranking" in caption
    with Image.open(small_site["reports"] / "figures" / FIGURE_NAME) as im:
        titles = im.text["Axis titles"]
    panels = titles.split(" | ")
    assert all("; y: " in p and not p.endswith("y: ") for p in panels)
    assert "Survey year" in titles and ("per cent of" in titles or "score (0 to 10)" in titles)


def test_trust_pages_give_both_deprivation_deciles_and_what_they_mean_for_the_peer_comparison(small_site):
    folder = small_site["reports"].parent
    panel = pd.read_parquet(folder / "data" / "processed" / "panel.parquet")
    if "context.imd2019_decile" not in panel:
        pytest.skip("this demo run wrote no trust context (data.context_dir)")
    last = panel.sort_values("year").groupby("org_code").last()
    with_both = last.dropna(subset=["context.imd2019_decile", "context.imd2025_decile"])
    assert len(with_both) >= 5
    for code, row in with_both.head(8).iterrows():
        text = _page(small_site, f"trusts/{code}.html").get_text(" ", strip=True)
        d19, d25 = int(row["context.imd2019_decile"]), int(row["context.imd2025_decile"])
        assert f"decile {d19} of 10 on the IMD 2019 and decile {d25} on the IMD 2025" in text, code
        assert "the comparison with its peers below does not allow for that" in text
        if d19 <= 3:
            assert "more deprived population than most trusts" in text and "may reflect who it serves" in text
        elif d19 >= 8:
            assert "less deprived population than most trusts" in text


def test_curve_role_table_names_its_columns_in_words_and_prints_shares_as_per_cent():
    cols = ["n_specs", "n_distinct", "n_duplicates", "share_significant", "share_significant_bh",
            "share_significant_romano_wolf", "joint_p"]
    frame = pd.DataFrame([[1512, 120, 180, 0.108333, 0.1, 0.083333, 0.186]], columns=cols, index=["inferential"])
    soup = BeautifulSoup(frame.to_html(), "html.parser")
    humanise_tables(soup)
    heads = [th.get_text() for th in soup.select("thead th")][1:]
    assert not any("_" in h or h.endswith((" bh", " wolf")) or h.startswith("number of") for h in heads), heads
    assert [td.get_text() for td in soup.select("td")] == ["1512", "120", "180", "10.8%", "10.0%", "8.3%", "0.186"]


def test_the_site_builds_without_importing_scipy_or_seaborn(small_site, tmp_path):
    """The report stage stays fast: its figures need matplotlib only, its quantiles the standard library."""
    folder = small_site["reports"].parent
    code = ("import sys; from linkage.params import load_params; from linkage.site import build_site; "
            f"build_site(load_params('params.yaml'), '.', {str(tmp_path / 'site')!r}, render_steps=False); "
            "print(sorted(m for m in ('scipy', 'seaborn', 'statsmodels', 'linearmodels') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=folder)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "site" / "figures" / "summary_trajectories.png").stat().st_size > 0


def test_trust_pages_show_each_trusts_own_published_values_year_by_year(small_site):
    """Every point on every trust page is that trust's panel value for that measure and year (or hidden under the
    disclosure threshold), read here straight from the panel file, not from the site's own tables."""
    from linkage.site.inputs import load_inputs
    from linkage.site.trusts import trust_pages

    folder, params = small_site["reports"].parent, small_site["params"]
    panel = pd.read_parquet(folder / "data" / "processed" / "panel.parquet").set_index(["org_code", "year"])
    pages = trust_pages(load_inputs(folder, params), params)
    assert len(pages) == panel.index.get_level_values(0).nunique()
    rp, checked = params.report, 0
    for page in pages:
        for s in page.series:
            own = panel.loc[page.code, s.measure].dropna()
            assert [p.year for p in s.points] == sorted(int(y) for y in own.index)
            for p in s.points:
                base = panel.loc[(page.code, p.year), f"{s.measure}__n"] if f"{s.measure}__n" in panel else float("nan")
                minimum = rp.min_base_staff if s.measure.startswith("staff.") else rp.min_base_patient
                hidden = bool(base == base and base < minimum)
                assert p.suppressed is hidden
                assert p.value == (None if hidden else float(own.loc[p.year]))
                assert p.base == (None if base != base else float(base))
                checked += 1
    assert checked > 100
