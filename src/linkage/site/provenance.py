"""What a reviewer needs to trust a run: source version, input hashes, parameters, versions.

The source version of a page is the last commit that changed the code the
page was made by - exactly the code paths its DVC stage depends on (its
notebook, its modules, the shared runner and layout) - flagged "modified" only
when those tracked files differ from it. So the version changes exactly when
DVC re-runs the stage, and files the pipeline itself rewrites (``dvc.lock``,
``params.yaml`` under ``dvc exp run``, metrics, plots, reports) neither mark a
run modified nor change the version: an unchanged commit, re-run or freshly
cloned, gives byte-identical pages and the committed ``dvc.lock``.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import sha256_of


def stage_sources(name: str, root: str | Path = ".", via: str | None = None) -> tuple[str, ...]:
    """The source paths DVC stage ``name`` depends on: its notebook and the code it imports.

    Read from the code fingerprint the ``params`` stage wrote (of stage ``via``, default ``name``:
    the file the calling stage depends on, see :mod:`linkage.codeprint`), so a page does not parse
    the whole package again; derived from the source (as the fingerprint was) when that file is
    absent or out of date, e.g. in a notebook run by hand.
    """
    from ..codeprint import read_sources

    known = read_sources(name, root, via)
    if known is not None:
        return known
    from ..sourcegraph import stage_sources as derived

    return derived(name)


def stage_of_notebook(stem: str) -> str | None:
    """The name of the stage whose notebook is ``stem``."""
    from ..paths import STAGES

    return next((s.name for s in STAGES.values() if s.notebook == stem), None)


@dataclass
class ParamRow:
    """One parameter as shown on the methods page."""

    key: str
    value: str
    default: str
    description: str
    changed: bool


def _git(root: Path, *args: str) -> str:
    """Git's output, unstripped (a porcelain status line begins with a meaningful space)."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=20).stdout


def source_version(root: str | Path = ".", paths: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``commit`` (full sha of the last commit touching ``paths``), ``modified`` and ``changed`` files.

    ``paths`` defaults to the report stage's sources (all the pipeline's code).
    Returns ``{"commit": "unknown", ...}`` outside a git work tree (provenance never fails a run).
    """
    root = Path(root)
    paths = paths or stage_sources("report", root)
    try:
        commit = (_git(root, "log", "-1", "--format=%H", "--", *paths) or _git(root, "rev-parse", "HEAD")).strip()
        status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *paths)
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "modified": False, "changed": [], "paths": list(paths)}
    changed = sorted(line[3:] for line in status.splitlines() if line.strip())
    return {"commit": commit, "modified": bool(changed), "changed": changed, "paths": list(paths)}


def input_files(manifest: dict[str, Any], catalogue_folder: Path | None) -> list[dict[str, Any]]:
    """Every input with its full sha256: the raw files (from the manifest) and the packaged reference data."""
    from ..paths import RAW_DIR

    rows = [{"path": f"{RAW_DIR.as_posix()}/{f['path']}", "bytes": int(f["bytes"]), "sha256": f["sha256"], "what": "raw data"}
            for f in sorted(manifest.get("files", []), key=lambda f: f["path"])]
    packaged = []
    if catalogue_folder is not None:
        packaged += sorted(Path(catalogue_folder).glob("*.yaml"))
        packaged += sorted((Path(catalogue_folder).parent / "orgdata").glob("*.csv"))
    for p in packaged:
        rel = p.as_posix().split("/src/", 1)[-1]
        rows.append({"path": f"src/{rel}", "bytes": p.stat().st_size, "sha256": sha256_of(p), "what": "reference data (packaged)"})
    return rows


def applies(key: str, params: Any) -> bool:
    """Whether parameter ``key`` applies to this run (e.g. no ``data.demo.*`` on real data)."""
    source = params.data.source
    only = {"data.demo.": "demo", "data.local_dir": "local", "data.sources_file": "official",
            "data.download_dir": "official", "data.mirror_url": "official"}
    for prefix, src in only.items():
        if key.startswith(prefix) and source != src:
            return False
    return not (key == "model.dk_bandwidth" and params.model.cov_type != "driscoll_kraay")


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): d}


def parameter_rows(params: Any) -> list[ParamRow]:
    """Every parameter that applies to this run, with its description and whether it differs from the default."""
    from ..params import defaults, descriptions

    values, default, desc = _flat(params.model_dump(mode="json")), _flat(defaults()), descriptions()
    rows = []
    for key, value in values.items():
        if not applies(key, params):
            continue
        rows.append(ParamRow(key, json.dumps(value), json.dumps(default.get(key)), desc.get(key, ""),
                             value != default.get(key)))
    return rows


