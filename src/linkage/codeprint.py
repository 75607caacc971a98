"""Code fingerprints: one small file per stage standing for the source files its results depend on.

Each stage's code dependencies are derived from the imports (:func:`linkage.sourcegraph.stage_sources`:
its stage module, its notebook, the runner, what they import and the package data they name).
Listing those ~100 paths per stage in ``dvc.yaml`` made DVC read and rewrite a ``dvc.lock`` of
thousands of lines for every stage it ran.  Instead the ``params`` stage (always run) writes
``.linkage/code/<stage>.json``: the sorted ``{source path: sha256}`` of exactly that stage's files,
and each stage depends on its one file.  The file changes exactly when one of those sources does
(or when the closure itself changes), so DVC re-runs the same stages as with the paths listed,
and a reviewer reads in the file (plain JSON) which source paths a stage depends on.

Deriving the closures parses every module (a few seconds); the ``params`` stage runs on every
``dvc repro``, so the closures are remembered in ``.linkage/code_cache.json`` under the sha256 of
all source files together: any edit anywhere derives them again, nothing else is trusted.

Part of the foundation: imports only the foundation (paths, files, sourcegraph).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import LinkageError
from .files import sha256_of
from .paths import CODE_CACHE, NOTEBOOKS, STAGES, code_print

_SKIP_DIRS = {"__pycache__"}


def code_root(root: str | Path = ".") -> Path | None:
    """The checkout whose ``src/linkage`` is the code that runs: ``root`` itself when it holds one,
    else the checkout this package was installed from (editable install, as scripts/bootstrap.sh does),
    else ``None`` (a non-editable install has no source tree to fingerprint)."""
    root = Path(root).resolve()
    if (root / "src" / "linkage").is_dir():
        return root
    package = Path(__file__).resolve().parent
    return package.parents[1] if package.parent.name == "src" else None


def _source_tree(root: Path) -> dict[str, str]:
    """sha256 of every file of the package and of every notebook, by path relative to ``root``."""
    files = [p for p in (root / "src" / "linkage").rglob("*")
             if p.is_file() and p.suffix != ".pyc" and not _SKIP_DIRS & set(p.parts)]
    files += sorted((root / NOTEBOOKS).glob("*.ipynb"))
    return {p.relative_to(root).as_posix(): sha256_of(p) for p in sorted(files)}


def _closures(root: Path, tree: dict[str, str], code: Path) -> dict[str, list[str]]:
    """Every stage's source paths in checkout ``code`` (notebooks first, then code, as ``stage_sources``),
    cached in project ``root`` by the tree's hash."""
    key = hashlib.sha256(json.dumps([code.as_posix(), tree], sort_keys=True).encode()).hexdigest()
    cache = root / CODE_CACHE
    try:
        known = json.loads(cache.read_text())
        if known.get("tree") == key and "files" in known:
            return known["sources"]
    except (OSError, ValueError, AttributeError):
        pass
    from .sourcegraph import stage_sources

    sources = {name: list(stage_sources(name, code)) for name in STAGES}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"tree": key, "files": tree, "sources": sources}, indent=0, sort_keys=True) + "\n")
    return sources


def code_prints(root: str | Path = ".") -> dict[str, dict[str, Any]]:
    """Each stage's fingerprint: ``files`` (its source paths with their sha256, sorted) and
    ``sources`` (the source paths of it and of the stages whose code it shows, ``Stage.code_of``)."""
    root = Path(root).resolve()
    code = code_root(root)
    if code is None:
        return {}
    tree = _source_tree(code)
    closures = _closures(root, tree, code)
    out = {}
    for name, stage in STAGES.items():
        if name == "params":
            continue
        own = [name, *stage.code_of]
        files = sorted(set(closures[name]))
        missing = [f for f in files if f not in tree]
        if missing:  # a derived path that is not a file of the package (cannot happen unless the tree changed)
            raise FileNotFoundError(f"stage {name}: derived source {missing[0]} is not in the package")
        out[name] = {"stage": name, "files": {f: tree[f] for f in files},
                     "sources": {n: closures[n] for n in own}}
    return out


def _last_run(root: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The source hashes and closures the fingerprints were last derived from (DVC removes a stage's
    outputs before it runs, so the previous fingerprint files themselves are gone by then)."""
    try:
        known = json.loads((root / CODE_CACHE).read_text())
        return dict(known["files"]), dict(known["sources"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}, {}


def write_code_prints(root: str | Path = ".") -> dict[str, list[str]]:
    """Write ``.linkage/code/<stage>.json`` for every stage but ``params``; an unchanged file is not touched.

    Returns, for each stage whose sources changed since the fingerprints were last derived, the
    source paths added, removed or edited (every path the first time): what ``dvc status`` reports
    as a changed ``.linkage/code/<stage>.json``, named file by file.
    """
    root = Path(root)
    if code_root(root) is None:
        raise LinkageError(
            f"the linkage package runs from {Path(__file__).resolve().parent}, an installed copy with no source "
            "checkout: each stage depends on a fingerprint of the code it runs, and an installed copy has none to "
            "fingerprint. Install the workbench from its checkout in editable mode (`pip install -e <checkout>`, "
            "as scripts/bootstrap.sh does) or run from the checkout itself.")
    files_before, sources_before = _last_run(root)
    changed = {}
    for name, doc in code_prints(root).items():
        before = {f: files_before.get(f) for f in sources_before.get(name, ())}
        now = doc["files"]
        diff = sorted(f for f in set(before) | set(now) if before.get(f) != now.get(f))
        if diff:
            changed[name] = diff
        out = root / code_print(name)
        out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
        if not out.exists() or out.read_text() != text:
            out.write_text(text)
    return changed


def read_sources(stage: str, root: str | Path = ".", via: str | None = None) -> tuple[str, ...] | None:
    """The source paths of stage ``stage`` from the fingerprint file of stage ``via`` (default: its own).

    ``None`` when that file is absent or out of date (a recorded hash differs from the file now,
    e.g. a notebook opened by hand after an edit, before any ``params`` stage ran): callers then
    derive the paths.  The report stage reads every step's paths from its own file (``via``), the
    one it depends on.
    """
    root = Path(root)
    try:
        doc = json.loads((root / code_print(via or stage)).read_text())
        paths = tuple(doc["sources"][stage])
        code = code_root(root)
        if code is None or any(sha256_of(code / f) != h for f, h in doc["files"].items()):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return paths
