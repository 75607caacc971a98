"""What every report echoes for reviewers: data source, input hashes, versions, commit, parameters."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from .files import read_json
from .paths import MANIFEST

PACKAGES = ("linkage", "pandas", "numpy", "linearmodels", "statsmodels", "scipy", "pydantic",
            "python-calamine", "papermill", "dvc", "seaborn", "matplotlib", "pyarrow")


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
    """The source version: the last commit that changed the pipeline's code, ``(modified)`` if it differs.

    Files the pipeline rewrites (``dvc.lock``, ``params.yaml`` under experiments,
    metrics, plots, reports) neither change it nor mark it modified; see
    :func:`linkage.site.provenance.source_version`.
    """
    from .site.provenance import source_version

    v = source_version(".")
    if v["commit"] == "unknown":
        return "unknown"
    return v["commit"][:12] + (" (modified)" if v["modified"] else "")


def manifest(path: str | Path = MANIFEST) -> dict[str, Any]:
    """The acquire stage's manifest (source and files with sha256); empty if acquire has not run."""
    return read_json(path, missing={"source": None, "files": []})


def is_demo(path: str | Path = MANIFEST) -> bool:
    """Whether the raw files are the synthetic demo."""
    return manifest(path).get("source") == "demo"


def provenance(params: Any, section: str | None = None) -> dict[str, Any]:
    """Everything a reviewer needs to audit a run, as plain data."""
    man = manifest()
    dumped = params.model_dump(mode="json")
    return {
        "data_source": man.get("source"),
        "synthetic_demo": man.get("source") == "demo",
        "git_commit": git_commit(),
        "versions": versions(),
        "params": dumped if section is None else {section: dumped[section]},
        "files": man.get("files", []),
    }
