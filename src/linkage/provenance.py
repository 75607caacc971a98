"""What every report echoes for reviewers: data source, input hashes, versions, commit, parameters."""

from __future__ import annotations

import platform
import subprocess
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
    """Current commit (with ``+dirty`` when tracked files differ from it), or ``unknown``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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
