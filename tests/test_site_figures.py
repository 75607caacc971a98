"""The report's faster paths give what the slower, independent ways give.

- ``charts.save_png`` draws a figure once; matplotlib's own ``bbox_inches="tight"`` (two draws) is the
  reference: the same pixels, the same size, the same axis-title text chunk, for a figure whose key lies
  below the figure's edge and for one with constrained layout.
- ``findings.pairs_for`` counts paired trust-years from sets; pandas' pivot tables are the reference.
- ``trusts.table_row`` formats a trust page's table in Python; the template's old per-cell formatting
  (``words.fixed`` of each number) is the reference.
- ``trajectories.grid_margins`` puts the panels where asked, in inches.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from PIL import Image  # noqa: E402  (after the backend is chosen)

from linkage.site import charts  # noqa: E402
from linkage.site.findings import pairs_for  # noqa: E402
from linkage.site.trajectories import GRID_INCHES, grid_margins  # noqa: E402
from linkage.site.trusts import Point, table_row  # noqa: E402
from linkage.site.words import fixed  # noqa: E402


def _key_below():
    """Two panels sharing y, titled, with a figure-level key placed below the figure's bottom edge."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    charts._style()
    fig, axes = plt.subplots(1, 2, figsize=(6, 3), sharey=True)
    for i, ax in enumerate(axes):
        ax.plot([2019, 2020, 2021], [1 + i, 3, 2 - i], marker="o")
        ax.set_title(f"Trust {i}\nsecond line")
    axes[0].set_ylabel("Score (0 to 10)")
    axes[0].set_xlabel("Survey year")
    fig.legend(handles=[Line2D([], [], marker="o", label="a key entry long enough to pass the panels' width")],
               loc="lower center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    fig.subplots_adjust(**grid_margins(2, 6, 3, n_rows=1))
    return fig


def _constrained():
    """Two panels with long y titles laid out by matplotlib's constrained layout."""
    import matplotlib.pyplot as plt

    charts._style()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    for ax in axes:
        ax.plot([0, 1, 2], [3, 1, 2], "o")
        ax.set_ylabel("A long title for the y axis\nthat takes two lines")
        ax.set_xlabel("Catchment deprivation")
    return fig


def _reference(fig) -> bytes:
    """The figure saved the way the site saved it before: matplotlib's tight box (a no-paint draw first)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", pad_inches=charts.TIGHT_PAD,
                metadata={**charts.PNG_METADATA, "Axis titles": charts.axis_titles(fig)})
    return buf.getvalue()


@pytest.mark.parametrize("make", [_key_below, _constrained])
def test_save_png_draws_once_and_matches_matplotlib_tight(tmp_path, make):
    from matplotlib.figure import Figure

    want = Image.open(io.BytesIO(_reference(make())))
    draws = []
    original = Figure.draw  # matplotlib's tight saving calls it twice: once with painting off, once to paint

    def counting(self, *a, **k):
        draws.append(1)
        return original(self, *a, **k)

    fig = make()
    Figure.draw = counting
    try:
        charts.save_png(fig, tmp_path / "f.png")
    finally:
        Figure.draw = original
    got = Image.open(tmp_path / "f.png")
    assert got.size == want.size
    assert np.array_equal(np.asarray(got), np.asarray(want)), "pixels differ from matplotlib's tight saving"
    assert got.info["Axis titles"] == want.info["Axis titles"] and "Software" not in got.info
    assert len(draws) == 1, f"{len(draws)} draws for one saved figure"


def test_save_png_keeps_what_lies_past_the_figure_edge(tmp_path):
    fig = _key_below()
    height = fig.get_size_inches()[1] * 100
    charts.save_png(fig, tmp_path / "f.png")
    # the key sits below the figure's own bottom edge: the saved image is taller than the figure to hold it
    assert Image.open(tmp_path / "f.png").size[1] > height * 0.9


def _pivot_pairs(panel: pd.DataFrame, y: str, x: str, lag: int) -> list[tuple[int, int, int]]:
    """The pairs by pandas' pivot tables (how pairs_for counted them before)."""
    wide_y = panel.pivot_table(index="org_code", columns="year", values=y)
    wide_x = panel.pivot_table(index="org_code", columns="year", values=x)
    out = []
    for t in sorted(wide_y.columns):
        s = t - lag
        if s in wide_x.columns:
            n = int((wide_y[t].notna() & wide_x[s].reindex(wide_y.index).notna()).sum())
            if n:
                out.append((int(s), int(t), n))
    return out


def test_pairs_for_counts_as_pivot_tables_do():
    rng = np.random.default_rng(7)
    rows = [(f"R{i:02d}", year) for i in range(40) for year in range(2015, 2024) if rng.random() > 0.2]
    panel = pd.DataFrame(rows, columns=["org_code", "year"])
    for name, share in (("x", 0.3), ("y", 0.5)):
        v = rng.normal(size=len(panel))
        v[rng.random(len(panel)) < share] = np.nan
        panel[name] = v
    panel.loc[panel["year"] == 2018, "y"] = np.nan  # a year without the outcome at all
    checked = 0
    for lag in (-2, -1, 0, 1, 3, 9):
        for y, x in (("y", "x"), ("x", "y"), ("y", "y")):
            want = _pivot_pairs(panel, y, x, lag)
            assert pairs_for(panel, y, x, lag) == want, (y, x, lag)
            checked += bool(want)
    assert checked > 10  # the comparison was not between empty lists
    assert pairs_for(panel, "y", "missing", 0) == []


@pytest.mark.parametrize("places", [0, 1, 2])
def test_table_row_prints_what_the_template_printed(places):
    peers = {"p10": 1.0, "p25": 12.345, "p50": 20.0, "p75": 31.25, "p90": 40.0, "n": 38.0}
    shown = Point(2021, 1234.5678, -0.04, 2500.0, 10432.0, False, peers)
    bare = Point(2022, 7.0, None, None, None, False, {})
    hidden = Point(2023, None, None, None, 12.0, True, peers)
    r = table_row(shown, places)
    assert (r.year, r.value, r.base) == (2021, fixed(1234.5678, places), fixed(10432.0, 0))
    assert r.range == f"{fixed(-0.04, places)} to {fixed(2500.0, places)}"
    assert (r.peers, r.n) == (f"{fixed(12.345, places)} to {fixed(31.25, places)}", "38")
    b = table_row(bare, places)
    assert (b.range, b.base, b.peers, b.n) == ("not available", "not published", "-", "-")
    assert table_row(hidden, places).value is None and table_row(hidden, places).n == "38"


@pytest.mark.parametrize("n_cols", [1, 3, 8])
def test_grid_margins_place_panels_in_inches(n_cols):
    import matplotlib.pyplot as plt

    width, height = 1.6 * n_cols + 1.6, 5.4
    fig, axes = plt.subplots(2, n_cols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(**grid_margins(n_cols, width, height))
    boxes = [[ax.get_position() for ax in row] for row in axes]
    g = GRID_INCHES
    assert math.isclose(boxes[0][0].x0 * width, g["left"]) and math.isclose((1 - boxes[0][-1].x1) * width, g["right"])
    assert math.isclose((1 - boxes[0][0].y1) * height, g["top"]) and math.isclose(boxes[1][0].y0 * height, g["bottom"])
    assert math.isclose((boxes[0][0].y0 - boxes[1][0].y1) * height, g["hgap"])
    if n_cols > 1:
        assert math.isclose((boxes[0][1].x0 - boxes[0][0].x1) * width, g["wgap"])
    assert all(b.width > 0 and b.height > 0 for row in boxes for b in row)
    plt.close(fig)
