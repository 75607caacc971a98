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

The organisation registry (ODS files) lands in ``data/raw/ods``: the source's own
(the demo's, ``<local_dir>/ods``, ``<download_dir>/ods``) or, when
``data.registry_dir`` names one, a copy of that folder, so a study folder needs only
the study's files.  ``data.name_aliases`` (other names of trusts) is copied beside it.

Every run writes ``data/raw/manifest.json``: the source, and every file with its
size and sha256, which the report echoes for reviewers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .errors import LinkageError
from .files import copy_folder, sha256_of
from .params import DataParams
from .paths import MANIFEST as MANIFEST_PATH
from .paths import ODS_DIR, RAW_DIR

MANIFEST = MANIFEST_PATH.name
ODS_SUBDIR = ODS_DIR.relative_to(RAW_DIR)
"""Where the registry sits inside the raw folder (the link stage reads it there)."""
ALIASES_FILE = "name_aliases.csv"
"""The name under which ``data.name_aliases`` is copied into the registry folder."""
_REGISTRY_FILE = "etr.csv"
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


def _copy_local(local_dir: Path, raw_dir: Path, key: str = "data.local_dir") -> list[Path]:
    if not local_dir.is_dir():
        raise LinkageError(
            f"{key} {str(local_dir)!r} is not a folder. Point it at a folder of published files "
            "(e.g. ../shared/data/real), or set data.source to 'demo' for the built-in synthetic data."
        )
    # links leading outside the folder are refused, never followed
    copied = copy_folder(local_dir, raw_dir, lambda p: p.suffix.lower() not in _SKIP_SUFFIXES)
    if not copied:
        raise LinkageError(f"{key} {str(local_dir)!r} holds no data files (searched recursively).")
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
def place_registry(data: DataParams, raw_dir: Path, root: Path) -> dict[str, Any]:
    """Put the organisation registry (and the user's name aliases) into ``<raw_dir>/ods``.

    An explicit ``data.registry_dir`` replaces whatever the source provided; otherwise the
    source's own registry must be there.  Returns what the manifest records about it.

    Raises
    ------
    LinkageError
        No registry: the message names ``data.registry_dir`` and what it must hold.
    """
    ods = raw_dir / ODS_SUBDIR
    extra: dict[str, Any] = {}
    if data.registry_dir:
        folder = (root / data.registry_dir).resolve()
        if not folder.is_dir():
            raise LinkageError(f"data.registry_dir {data.registry_dir!r} is not a folder: point it at the ODS "
                               "files (etr.csv, trust_successions.csv, trust_types*.csv).")
        if ods.exists():
            shutil.rmtree(ods)
        ods.mkdir(parents=True)
        _copy_local(folder, ods, key="data.registry_dir")
        extra["registry_dir"] = str(data.registry_dir)
    if not any(ods.rglob(_REGISTRY_FILE)):
        provided = {"demo": "the demo's", "local": f"{data.local_dir}/ods", "official": f"{data.download_dir}/ods"}
        where = f"data.registry_dir {data.registry_dir!r}" if data.registry_dir else provided[data.source]
        raise LinkageError(
            f"no organisation registry: {where} holds no {_REGISTRY_FILE}. Set data.registry_dir to a folder with "
            "the ODS files (etr.csv, trust_successions.csv, trust_types*.csv; e.g. ../shared/data/real/ods), "
            "or put them in that folder."
        )
    if data.name_aliases:
        src = root / data.name_aliases
        if not src.is_file():
            raise LinkageError(f"data.name_aliases {data.name_aliases!r} is not a file (a CSV name,org_code).")
        shutil.copyfile(src, ods / ALIASES_FILE)
        extra["name_aliases"] = str(data.name_aliases)
    return extra


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
        download_sources(sources, downloads, base_url=data.mirror_url or None, timeout=data.download_timeout,
                         stall=data.download_stall)
        _copy_local(downloads, raw_dir, key="data.download_dir")
        extra["sources_file"] = str(data.sources_file)
        extra["download_dir"] = str(data.download_dir)
        extra["synthetic"] = False
    extra["context"] = _acquire_context(data, raw_dir, root)
    extra.update(place_registry(data, raw_dir, root))
    manifest = {"source": data.source, **extra, "files": file_inventory(raw_dir)}
    (raw_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest
