"""Fingerprints of the user's files: how DVC tracks paths named in params.yaml without templating.

``dvc.yaml`` cannot list ``data.local_dir`` or ``link.overrides`` as dependencies without
templating ``${...}`` from params.yaml, which makes DVC parse params.yaml before the
workbench can refuse a bad one.  Instead the ``params`` stage (always run) writes, for
every stage, ``.linkage/inputs/<stage>.json``: each user path the stage reads (from the
:class:`~linkage.params.userpath.UserPath` markers of the schema) with the sha256 of every
file under it.  The stage depends on that file, so editing, adding or removing one of
those files re-runs exactly the stages that read it, and unchanged files give the same
bytes, so nothing downstream runs.

Hashes are remembered by (path, size, modification time) in ``.linkage/hash_cache.json``
so a large data folder is not read again on every ``dvc repro``.  A symbolic link is
recorded by where it points, never followed, so nothing outside the folder is read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .files import lock_deps, sha256_of
from .params import Params
from .params.userpath import user_paths
from .paths import HASH_CACHE, PARAMS_FILE, PARAMS_LAST, STAGES, dotted, param_print, user_inputs


def _entries(path: Path) -> list[Path]:
    if path.is_symlink() or path.is_file():
        return [path]
    if not path.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        out += [Path(dirpath) / f for f in sorted(filenames)]
    return sorted(out)


class _HashCache:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.known: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.known = {}
        self.used: dict[str, Any] = {}

    def digest(self, p: Path) -> str:
        if p.is_symlink():
            return "symlink:" + os.readlink(p)
        st = p.stat()
        key = str(p.resolve())
        stamp = [st.st_size, st.st_mtime_ns]
        hit = self.known.get(key)
        sha = hit[2] if hit and hit[:2] == stamp else sha256_of(p)
        self.used[key] = [*stamp, sha]
        return sha

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.used, indent=0, sort_keys=True) + "\n")


def stage_inputs(params: Params, stage: str, root: Path, cache: _HashCache) -> dict[str, Any]:
    """The fingerprint of stage ``stage``: each user path it reads, with its files' sha256."""
    items = []
    for p in user_paths(params, stage):
        where = root / p.path
        files = {f.relative_to(where).as_posix() if f != where else where.name: cache.digest(f)
                 for f in _entries(where)}
        items.append({"key": p.key, "path": p.value, "exists": where.exists() or where.is_symlink(), "files": files})
    return {"stage": stage, "inputs": items}


def write_fingerprints(params: Params, root: str | Path = ".") -> list[Path]:
    """Write ``.linkage/inputs/<stage>.json`` for every stage but ``params``; returns the files written."""
    root = Path(root)
    cache = _HashCache(root / HASH_CACHE)
    written = []
    for name in STAGES:
        if name == "params":
            continue
        out = root / user_inputs(name)
        out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(stage_inputs(params, name, root, cache), indent=2, sort_keys=True) + "\n"
        if not out.exists() or out.read_text() != text:  # unchanged inputs: the file is not even touched
            out.write_text(text)
        written.append(out)
    cache.save()
    return written


def params_read_by(params: Params, stage: str) -> dict[str, Any]:
    """The values stage ``stage`` reads: its params section and the further keys it declares, validated,
    with every default filled in (so writing out a default changes nothing)."""
    dump = params.model_dump(mode="json")
    return {"stage": stage, "params": {key: dotted(dump, key) for key in STAGES[stage].param_keys}}


def _leaves(values: Any, prefix: str) -> dict[str, Any]:
    if isinstance(values, dict) and values:
        return {k: v for key, sub in values.items() for k, v in _leaves(sub, f"{prefix}.{key}").items()}
    return {prefix: values}


SEEN_PRINTS = 256
"""Distinct params fingerprints whose values :data:`~linkage.paths.PARAMS_LAST` remembers (most recent first)."""


def write_param_prints(params: Params, root: str | Path = ".") -> dict[str, list[str]]:
    """Write ``.linkage/params/<stage>.json`` for every stage but ``params``; an unchanged file is not touched.

    Returns, for each stage whose values differ from those ``dvc.lock`` recorded for it (or, without
    a lock entry, from the last run's), the dotted keys that do (``model.lag``): why DVC re-runs it,
    which ``dvc status`` reports as a changed ``.linkage/params/<stage>.json``.  An experiment
    applied or a lock file checked out brings back an older fingerprint: its values are found by
    its md5 among those remembered in :data:`~linkage.paths.PARAMS_LAST` (not a DVC output), which
    also keeps the values as written (for the params stage's guess at its start) and the sha256 of
    the project's params.yaml when these are its values.
    """
    import hashlib

    root = Path(root)
    try:
        kept = json.loads((root / PARAMS_LAST).read_text())
        seen, last = {md5: entry for md5, entry in kept.get("seen", [])}, kept.get("values", {})
    except (OSError, ValueError, AttributeError):
        seen, last = {}, {}
    file = _raw_file(root)
    recorded = lock_deps(root)
    changed, now, fresh = {}, {}, {}
    for name in STAGES:
        if name == "params":
            continue
        doc = params_read_by(params, name)
        now[name] = doc["params"]
        text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
        md5 = hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - what DVC records
        old = recorded.get(name, {}).get(str(param_print(name)))
        before = (seen.get(old) or {}).get("values") if old else last.get(name)
        if old and old != md5 and before is None:
            changed[name] = ["(values not remembered)"]
        elif before is not None:
            b, a = _leaves(before, ""), _leaves(doc["params"], "")
            diff = sorted(k[1:] for k in set(b) | set(a) if b.get(k) != a.get(k))
            if diff:
                changed[name] = diff
        fresh[md5] = {"values": doc["params"], "raw": {key: dotted(file, key) for key in STAGES[name].param_keys}}
        out = root / param_print(name)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not out.exists() or out.read_text() != text:
            out.write_text(text)
    order = [*fresh.items(), *((k, v) for k, v in seen.items() if k not in fresh)][:SEEN_PRINTS]  # newest first
    raw = {name: {key: dotted(file, key) for key in STAGES[name].param_keys} for name in now}
    (root / PARAMS_LAST).write_text(json.dumps({"sha256": _checked_sha(params, root), "values": now, "raw": raw,
                                                "seen": [list(pair) for pair in order]}, default=str) + "\n")
    return changed


def _raw_file(root: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML

    try:
        raw = YAML(typ="safe").load((root / PARAMS_FILE).read_text())
    except Exception:  # noqa: BLE001 - only a guess is made from it
        return {}
    return raw if isinstance(raw, dict) else {}


def _checked_sha(params: Params, root: Path) -> str | None:
    """The sha256 of the project's params.yaml if these are its validated values (the stage runner then
    reads a stage's section from :data:`~linkage.paths.PARAMS_LAST` instead of validating the file again)."""
    import hashlib

    from .params import load_params

    file = root / PARAMS_FILE
    try:
        data = file.read_bytes()
        same = load_params(file) == params and file.read_bytes() == data
    except Exception:  # noqa: BLE001 - not the file these values came from: no shortcut
        return None
    return hashlib.sha256(data).hexdigest() if same else None
