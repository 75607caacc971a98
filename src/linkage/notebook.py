"""Small helpers that keep the pipeline notebooks thin.

A notebook's ``parameters`` cell receives its section's keys from DVC through
``papermill -p``; :func:`stage_params` validates them (and the rest of
``params.yaml``) with the same schema as ``linkage validate-params`` and
returns the full typed params with the injected section in place.
:func:`provenance` is what every report echoes for reviewers: parameters,
data hashes, package versions and the git commit.
"""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from .params import load_params, params_model, validate_params

PACKAGES = ("linkage", "pandas", "numpy", "linearmodels", "statsmodels", "scipy", "pydantic",
            "python-calamine", "papermill", "dvc", "seaborn", "matplotlib", "pyarrow")


def stage_params(section: str, namespace: dict[str, Any], params_file: str | Path = "params.yaml") -> Any:
    """Validated params, with ``section`` taken from the notebook's injected parameters.

    Parameters
    ----------
    section
        The params section this notebook's stage reads (``staff``, ``model``, ...).
    namespace
        The notebook's ``globals()``: every key of ``section`` present there is used.
    params_file
        The params file for all other sections.
    """
    raw = _raw_params(params_file)
    fields = params_model().model_fields[section].annotation.model_fields
    injected = {k: namespace[k] for k in fields if k in namespace}
    merged = dict(raw)
    merged[section] = {**(raw.get(section) or {}), **injected}
    return validate_params(merged, source=f"{params_file} + notebook parameters ({section})")


def _raw_params(params_file: str | Path) -> dict[str, Any]:
    import yaml

    load_params(params_file)  # full validation with file-level messages
    return yaml.safe_load(Path(params_file).read_text()) or {}


def versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_commit() -> str:
    """Current commit (with ``+dirty`` when the work tree has changes), or ``unknown``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except Exception:  # noqa: BLE001 - provenance must never fail a run
        return "unknown"


def data_manifest(raw_dir: str | Path) -> pd.DataFrame:
    """The raw files analysed, with sha256 (from the acquire stage's manifest)."""
    path = Path(raw_dir) / "manifest.json"
    if not path.exists():
        return pd.DataFrame(columns=["path", "bytes", "sha256"])
    return pd.DataFrame(json.loads(path.read_text())["files"])


def provenance(params: Any, section: str | None = None) -> dict[str, Any]:
    """Everything a reviewer needs to audit a run, as plain data."""
    raw_dir = params.data.raw_dir
    manifest_path = Path(raw_dir) / "manifest.json"
    source = json.loads(manifest_path.read_text()).get("source") if manifest_path.exists() else None
    return {
        "data_source": source,
        "synthetic_demo": source == "demo",
        "git_commit": git_commit(),
        "versions": versions(),
        "params": params.model_dump(mode="json") if section is None else {section: getattr(params, section).model_dump(mode="json")},
        "files": data_manifest(raw_dir),
    }


def show_provenance(params: Any, section: str | None = None) -> None:
    """Display the provenance block in a notebook (Markdown + tables)."""
    from IPython.display import Markdown, display

    prov = provenance(params, section)
    banner = ("**SYNTHETIC DEMO DATA** - numbers below are simulated, not NHS results."
              if prov["synthetic_demo"] else f"Data source: **{prov['data_source']}** (published files).")
    display(Markdown(f"{banner}  \nCode version: `{prov['git_commit']}`"))
    rows = [(k, json.dumps(v)) for sec, vals in prov["params"].items() for k, v in _flatten(vals, sec)]
    display(pd.DataFrame(rows, columns=["parameter", "value"]).style.hide(axis="index"))
    display(pd.DataFrame(prov["versions"].items(), columns=["package", "version"]).style.hide(axis="index"))
    files = prov["files"]
    if len(files):
        files = files.assign(sha256=files["sha256"].str[:16] + "...")
        display(files.style.hide(axis="index"))


def _flatten(d: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(d, dict):
        out: list[tuple[str, Any]] = []
        for k, v in d.items():
            out.extend(_flatten(v, f"{prefix}.{k}"))
        return out
    return [(prefix, d)]
