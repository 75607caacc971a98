"""What a pipeline notebook needs besides its stage module: its params, and provenance to show.

A notebook's ``parameters`` cell names the params file; when the stage runner
executes it, papermill injects every key of the notebook's params section
below that cell, so the values are visible at the top of the executed
notebook.  :func:`stage_params` validates the file with those values laid over
it.  Opened by hand in JupyterLab (no injection), the notebook reads
params.yaml as it is, from the project root.
"""

from __future__ import annotations

import json
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
    """Display the provenance block in a notebook (Markdown + tables)."""
    import pandas as pd
    from IPython.display import Markdown, display

    prov = provenance(params, section)
    banner = ("**SYNTHETIC DEMO DATA** - numbers below are simulated, not NHS results."
              if prov["synthetic_demo"] else f"Data source: **{prov['data_source']}** (published files).")
    display(Markdown(f"{banner}  \nCode version: `{prov['git_commit']}`"))
    rows = [(k, json.dumps(v)) for sec, vals in prov["params"].items() for k, v in _flatten(vals, sec)]
    display(pd.DataFrame(rows, columns=["parameter", "value"]).style.hide(axis="index"))
    display(pd.DataFrame(prov["versions"].items(), columns=["package", "version"]).style.hide(axis="index"))
    if prov["files"]:
        display(pd.DataFrame(prov["files"]).style.hide(axis="index"))


def _flatten(d: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(d, dict):
        out: list[tuple[str, Any]] = []
        for k, v in d.items():
            out.extend(_flatten(v, f"{prefix}.{k}"))
        return out
    return [(prefix, d)]
