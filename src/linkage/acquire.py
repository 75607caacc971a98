"""Stage ``acquire``: put the raw published files (or the synthetic demo) in ``data/raw``.

``data.source`` chooses where they come from:

``demo``
    :func:`linkage.demo.write_demo_files` simulates them in the publishers' layouts.
``local``
    Files under ``data.local_dir`` (e.g. ``../shared/data/real``) are copied in,
    so that the DVC cache and ``dvc.lock`` hold exactly the bytes analysed.
``official``
    :func:`linkage.download.download_sources` fetches the files listed in
    ``data.sources_file`` into the persistent ``data.download_dir`` (verifying
    sha256; files already there and correct are not fetched again), which is
    then copied in.  Files the sources list cannot fetch (the ODS successions
    and trust types, converted from R data) go into ``data.download_dir/ods`` by hand.

Every run writes ``data/raw/manifest.json``: the source, and every file with its
size and sha256, which the report echoes for reviewers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .errors import LinkageError
from .files import sha256_of
from .params import DataParams
from .paths import MANIFEST as MANIFEST_PATH

MANIFEST = MANIFEST_PATH.name
#: Files under a local folder that are documentation, not data.
_SKIP_SUFFIXES = {".md", ".txt", ".rst", ".html", ".pdf"}


def file_inventory(folder: str | Path) -> list[dict[str, Any]]:
    """Every data file under ``folder`` with relative path, size and sha256."""
    folder = Path(folder)
    rows = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            rows.append({"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_of(p)})
    return rows


def _copy_local(local_dir: Path, raw_dir: Path) -> list[Path]:
    if not local_dir.is_dir():
        raise LinkageError(
            f"data.local_dir {str(local_dir)!r} is not a folder. Point it at a folder of published files "
            "(e.g. ../shared/data/real), or set data.source to 'demo' for the built-in synthetic data."
        )
    copied = []
    for p in sorted(local_dir.rglob("*")):
        if p.is_file() and p.suffix.lower() not in _SKIP_SUFFIXES and not p.name.startswith("."):
            dest = raw_dir / p.relative_to(local_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
            copied.append(dest)
    if not copied:
        raise LinkageError(f"data.local_dir {str(local_dir)!r} holds no data files (searched recursively).")
    return copied


def _acquire_context(data: DataParams, raw_dir: Path, root: Path) -> str | None:
    """Trust context into ``<raw_dir>/context`` (:mod:`linkage.context`); returns where it came from."""
    from .context import copy_context

    dest = raw_dir / "context"
    if data.context_dir is not None:
        copy_context(root / data.context_dir, dest, named=data.context_dir)
        return str(data.context_dir)
    if data.source == "demo":
        from .demo_context import write_demo_context

        write_demo_context(dest, data.demo)
        return "synthetic demo context"
    if data.source == "local" and (root / data.local_dir / "context").is_dir():
        return f"{data.local_dir}/context (copied with the local folder)"
    return None


def acquire(data: DataParams, *, raw_dir: str | Path, root: str | Path = ".") -> dict[str, Any]:
    """Fill ``raw_dir`` from ``data.source`` and write its manifest.

    Parameters
    ----------
    data
        The ``data`` params section.
    raw_dir
        The folder to (re)create (the acquire stage's declared output).
    root
        Project root that relative paths in ``data`` are resolved against.

    Returns
    -------
    dict
        The manifest written to ``<raw_dir>/manifest.json``: source, settings and
        every file with its size and sha256.
    """
    root = Path(root)
    raw_dir = root / raw_dir
    if raw_dir.exists():
        shutil.rmtree(raw_dir)
    raw_dir.mkdir(parents=True)
    extra: dict[str, Any] = {}
    if data.source == "demo":
        from .demo import write_demo_files

        truth = write_demo_files(raw_dir, data.demo)
        extra["truth"] = truth["truth"]
        extra["synthetic"] = True
    elif data.source == "local":
        local = (root / data.local_dir).resolve()
        _copy_local(local, raw_dir)
        extra["local_dir"] = str(data.local_dir)
        extra["synthetic"] = False
    else:
        from .download import download_sources

        # Downloads live in a persistent folder (DVC wipes raw_dir before every run),
        # so a file placed there by hand, or fetched once, is kept and re-verified.
        downloads = root / data.download_dir
        sources = None if data.sources_file == "default" else root / data.sources_file
        download_sources(sources, downloads, base_url=data.mirror_url or None)
        _copy_local(downloads, raw_dir)
        extra["sources_file"] = str(data.sources_file)
        extra["download_dir"] = str(data.download_dir)
        extra["synthetic"] = False
    extra["context"] = _acquire_context(data, raw_dir, root)
    manifest = {"source": data.source, **extra, "files": file_inventory(raw_dir)}
    (raw_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest
