"""The figure cache: a figure drawn before from the same data, texts, theme and code is copied, not redrawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkage.site import charts


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setattr("linkage.paths.FIGURE_CACHE", folder)
    return folder


def _drawer(calls: list):
    def draw(spec, out: Path) -> None:
        charts._style()
        import matplotlib.pyplot as plt

        calls.append(spec)
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot(spec["x"], spec["y"], color=charts.DARK)
        ax.set_title(spec["title"])
        charts.save_png(fig, out)

    return draw


def test_the_same_spec_is_drawn_once_and_copied_byte_for_byte(tmp_path, cache):
    calls: list = []
    spec = {"x": [1, 2, 3], "y": [0.5, 0.25, 1.0], "title": "one"}
    charts.cached_png(spec, _drawer(calls), tmp_path / "a.png")
    charts.cached_png(spec, _drawer(calls), tmp_path / "b.png")
    assert len(calls) == 1, "the second figure came from the cache"
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    _drawer([])(spec, tmp_path / "fresh.png")
    assert (tmp_path / "fresh.png").read_bytes() == (tmp_path / "b.png").read_bytes(), "a copy is what a drawing writes"


def test_a_different_value_text_theme_or_code_draws_again(tmp_path, cache, monkeypatch):
    calls: list = []
    spec = {"x": [1, 2, 3], "y": [0.5, 0.25, 1.0], "title": "one"}
    charts.cached_png(spec, _drawer(calls), tmp_path / "a.png")
    charts.cached_png({**spec, "y": [0.5, 0.25, 1.0000001]}, _drawer(calls), tmp_path / "b.png")
    charts.cached_png({**spec, "title": "two"}, _drawer(calls), tmp_path / "c.png")
    assert len(calls) == 3
    monkeypatch.setitem(charts.THEME, "axes.linewidth", 3.0)
    charts.cached_png(spec, _drawer(calls), tmp_path / "d.png")
    assert len(calls) == 4, "the theme is part of the key"
    other = tmp_path / "drawing_code.py"
    other.write_text("# the drawing code\n")
    charts.cached_png(spec, _drawer(calls), tmp_path / "e.png", str(other))
    other.write_text("# the drawing code, edited\n")
    charts.cached_png(spec, _drawer(calls), tmp_path / "f.png", str(other))
    assert len(calls) == 6, "the drawing code is part of the key"


def test_the_cache_keeps_a_bounded_number_of_pictures(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(charts, "FIGURE_CACHE_SIZE", 3)
    for i in range(5):
        charts.cached_png({"x": [0, 1], "y": [0, i], "title": str(i)}, _drawer([]), tmp_path / f"{i}.png")
    assert len(list(cache.glob("*.png"))) == 3


def test_an_unwritable_cache_only_means_drawing(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setattr("linkage.paths.FIGURE_CACHE", blocker / "cache")
    calls: list = []
    for name in ("a", "b"):
        charts.cached_png({"x": [0, 1], "y": [1, 0], "title": "t"}, _drawer(calls), tmp_path / f"{name}.png")
    assert len(calls) == 2 and (tmp_path / "b.png").stat().st_size > 0


def test_the_trajectories_from_the_cache_are_the_drawing(tmp_path, cache, small_site):
    from linkage.site import trajectories
    from linkage.site.inputs import load_inputs

    site_inputs = load_inputs(small_site["reports"].parent, small_site["params"])

    spec = trajectories.trajectory_spec(site_inputs)
    assert spec is not None
    trajectories.draw_trajectories(spec, tmp_path / "drawn.png")
    trajectories.trajectory_figure(site_inputs, tmp_path / "first.png", "first.png")
    trajectories.trajectory_figure(site_inputs, tmp_path / "second.png", "second.png")
    drawn = (tmp_path / "drawn.png").read_bytes()
    assert (tmp_path / "first.png").read_bytes() == drawn == (tmp_path / "second.png").read_bytes()
    assert len(list(cache.glob("*.png"))) == 1
