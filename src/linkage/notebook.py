"""What a pipeline notebook needs besides its stage module: its params, and provenance to show.

A notebook's ``parameters`` cell names the params file; when the stage runner
executes it, papermill injects every key of the notebook's params section
below that cell, so the values are visible at the top of the executed
notebook.  :func:`stage_params` validates the file with those values laid over
it.  Opened by hand in JupyterLab (no injection), the notebook reads
params.yaml as it is, from the project root.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import ParamsError
from .params import Params, load_params
from .provenance import provenance


def project_root(start: str | Path = ".") -> Path:
    """The nearest folder at or above ``start`` holding both params.yaml and dvc.yaml."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").exists() and (folder / "dvc.yaml").exists():
            return folder
    raise ParamsError(f"no params.yaml and dvc.yaml at or above {here}: open the notebook from the project")


def stage_params(section: str, namespace: dict[str, Any], params_file: str | Path = "params.yaml") -> Params:
    """Validated params, with the keys of ``section`` injected into ``namespace`` laid over the file.

    Parameters
    ----------
    section
        The params section this notebook's stage reads (``staff``, ``model``, ...).
    namespace
        The notebook's ``globals()``: every key of ``section`` found there is used.
    params_file
        The params file, relative to the project root.  A notebook opened by hand
        from ``notebooks/`` changes directory to the project root first, so the
        stage reads and writes the same paths as under ``dvc repro``.
    """
    if not Path(params_file).exists() and not Path(params_file).is_absolute():
        os.chdir(project_root())
    fields = Params.model_fields[section].annotation.model_fields
    injected = {k: namespace[k] for k in fields if k in namespace}
    return load_params(params_file, overrides={section: injected} if injected else None)


def show_provenance(params: Params, section: str | None = None) -> None:
    """Display the provenance block in a notebook: source version, parameters, input hashes, versions.

    Parameters are those that apply to the data source used (no ``data.demo.*``
    on real data), each with its description, the ones that differ from the
    defaults marked; every input with its full sha256. Plain HTML tables
    (no pandas Styler), so the executed notebook is byte-stable.
    """
    import pandas as pd
    from IPython.display import HTML, Markdown, display

    from .paths import STAGES
    from .site.provenance import input_files, parameter_rows, source_version, stage_sources

    prov = provenance(params, section)
    stage = next((s.name for s in STAGES.values() if s.notebook and s.section == section), "report")
    version = source_version(".", stage_sources(stage))
    banner = ("**SYNTHETIC DEMO DATA** - numbers below are simulated, not NHS results."
              if prov["synthetic_demo"] else f"Data source: **{prov['data_source']}** (published files).")
    state = "modified: tracked source files differ" if version["modified"] else "unmodified"
    display(Markdown(f"{banner}  \nSource version: `{version['commit']}` ({state})."))
    rows = [r for r in parameter_rows(params) if section is None or r.key.startswith(section + ".")]
    table = pd.DataFrame([{"parameter": r.key, "value": r.value,
                           "changed from default": f"yes (default {r.default})" if r.changed else "",
                           "description": r.description} for r in rows])
    from .catalogue import load_catalogue

    files = pd.DataFrame(input_files({"files": prov["files"]}, load_catalogue().folder))
    for frame in (table, pd.DataFrame(prov["versions"].items(), columns=["package", "version"]), files):
        if len(frame):
            display(HTML(frame.to_html(index=False, border=0)))
