"""What every report echoes for reviewers: data source, input hashes, versions, parameters.

The source version (commit, and whether tracked source differs) is :func:`linkage.site.provenance.source_version`.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from .files import read_json
from .paths import MANIFEST

PACKAGES: tuple[str, ...] = ("linkage", "pandas", "numpy", "linearmodels", "statsmodels", "scipy", "pydantic",
                             "python-calamine", "papermill", "nbconvert", "jinja2", "dvc", "matplotlib", "pyarrow")
"""Packages whose versions shape the results or the pages."""


def versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


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
        "versions": versions(),
        "params": dumped if section is None else {section: dumped[section]},
        "files": man.get("files", []),
    }
