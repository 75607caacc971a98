"""Stage ``params``: validate the whole of params.yaml before any other stage runs."""

from __future__ import annotations

from pathlib import Path

from ..files import sha256_of, write_json
from ..params import Params
from ..paths import STAGES

STAGE = STAGES["params"]


def fingerprint(path: str | Path | None) -> dict[str, str]:
    """``{relative path: sha256}`` of a file or of every file under a folder ({} when unset or absent)."""
    if not path:
        return {}
    p = Path(path)
    if p.is_file():
        return {p.name: sha256_of(p)}
    if not p.is_dir():
        return {}
    return {str(f.relative_to(p)): sha256_of(f) for f in sorted(p.rglob("*"))
            if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)}


def run(params: Params) -> Path:
    """Write the stamp the other stages depend on, and fingerprints of the project's own inputs.

    Validation itself happened when ``params`` was loaded; reaching here means it passed.
    The stage runs on every ``dvc repro`` (``always_changed``): the stamp never changes; the
    fingerprints of ``data.local_dir`` (when ``data.source`` is ``local``), ``data.mappings_dir`` and
    ``data.measures_file`` change exactly when a file there is edited, added or removed, which
    re-runs acquire, the ingest stages, or every stage reading measures.
    """
    out = STAGE.path("checked")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("params.yaml is valid\n")
    d = params.data
    local = fingerprint(d.local_dir) if d.source == "local" else {}
    write_json(STAGE.path("local_dir_state"), {"source": d.source, "files": local})
    write_json(STAGE.path("user_mappings_state"), {"mappings_dir": d.mappings_dir, "files": fingerprint(d.mappings_dir)})
    write_json(STAGE.path("user_measures_state"), {"measures_file": d.measures_file,
                                                   "files": fingerprint(d.measures_file)})
    return out
