"""Build a small report site for the site tests: a reduced demo run, executed-looking step notebooks, the site.

The pipeline runs through its stage functions (``conftest.run_pipeline_in``);
the step notebooks are small stand-ins with the kinds of output the real ones
have (a heading, a pandas Styler table with its random ids, a figure without
alt text, a stderr stream), so the step-report renderer is exercised without
starting a kernel.
"""

from __future__ import annotations

import base64
import contextlib
import io
from pathlib import Path

import yaml
from conftest import REPO, run_pipeline_in


def _figure_png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([2020, 2021, 2022], [1, 3, 2])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def write_step_notebooks(folder: Path) -> list[Path]:
    """One executed-looking notebook per step in ``folder`` (``NN_name.ipynb``)."""
    import nbformat
    import pandas as pd

    from linkage.site.steps import STEPS

    folder.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame({"year": [2021, 2022], "trusts": [130, 131]}).style.hide(axis="index").to_html()
    png = _figure_png()
    paths = []
    for step in STEPS:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {step.title}\n\nWhat this step does."),
                    nbformat.v4.new_code_cell("display(table); plt.show()", outputs=[
                        nbformat.v4.new_output("display_data", data={"text/html": table, "text/plain": "table"}),
                        nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
                        nbformat.v4.new_output("stream", name="stderr", text="a kernel warning\n")])]
        path = folder / f"{step.stem}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def run_multiverse_stage(params):
    """The multiverse stage and its curve figure, as its notebook runs them."""
    import matplotlib

    matplotlib.use("Agg")
    from linkage.figures import save_figure, specification_curve
    from linkage.stages import multiverse

    run = multiverse.run(params)
    save_figure(specification_curve(run.table, params.multiverse.alpha), multiverse.STAGE.figure)
    return run


def build_small_site(folder: Path, n_acute: int = 40) -> dict:
    """Run a reduced demo pipeline in ``folder`` and build its report site in ``folder/reports``."""
    from linkage.site import build_site

    demo = yaml.safe_load((REPO / "params.yaml").read_text())["data"]["demo"]
    demo.update({"n_acute": n_acute, "n_non_acute": 6})
    out = run_pipeline_in(folder, {"source": "demo", "demo": demo})
    write_step_notebooks(folder / "reports")
    with contextlib.chdir(folder):
        out["multiverse"] = run_multiverse_stage(out["params"])
        out["site"] = build_site(out["params"], ".", "reports")
    out["reports"] = folder / "reports"
    return out
