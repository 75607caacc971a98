"""A notebook shows the figure file its stage saved: drawn once, no stray output after it."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from linkage.figures import show_figure  # noqa: E402


def test_show_figure_saves_closes_and_displays_the_saved_png(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [2, 0, 1])
    ax.set_xlabel("year")
    target = tmp_path / "figures" / "stage.png"

    assert show_figure(fig, target) is None  # a cell ending with it shows nothing but the figure
    assert not plt.fignum_exists(fig.number)  # closed: the inline backend does not draw it a second time
    assert len(shown) == 1 and shown[0].data == target.read_bytes()  # the notebook shows the stage's own file
    with Image.open(target) as png:
        assert png.format == "PNG" and png.size[0] > 300
        assert "x: year" in png.info["Axis titles"]
