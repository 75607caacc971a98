"""Stage ``params``: validate the whole of params.yaml, and the paths it names, before any other stage runs."""

from __future__ import annotations

from pathlib import Path

from ..codeprint import write_code_prints
from ..errors import ParamsError
from ..fingerprint import write_fingerprints, write_param_prints
from ..params import Params
from ..params.userpath import check_user_paths
from ..paths import PARAMS_FILE, STAGES

STAGE = STAGES["params"]


def run(params: Params, root: str | Path = ".") -> Path:
    """Check the user's paths, write the stamp, each stage's fingerprint of the user files it reads,
    of the params values it reads and of the source files it depends on (:mod:`linkage.codeprint`).

    Validation of the values happened when ``params`` was loaded.  Here every path the user
    names (``UserPath`` fields that apply to this params.yaml) must exist and be of the right
    kind, else :class:`~linkage.errors.ParamsError` names each dotted key, before anything is
    written.  The stamp never changes and a fingerprint changes only when the user's files
    do, so the stages after this one re-run only for a real change.
    """
    problems = check_user_paths(params, root)
    if problems:
        raise ParamsError(f"{PARAMS_FILE}: {len(problems)} invalid parameter(s)\n" + "\n".join(problems))
    out = Path(root) / STAGE.path("checked")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("params.yaml is valid\n")
    write_fingerprints(params, root)
    for stage, keys in write_param_prints(params, root).items():  # why DVC will re-run a stage, key by key
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        print(f"params: parameters of stage {stage} changed: {shown}")
    for stage, files in write_code_prints(root).items():  # why DVC will re-run a stage, file by file
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        print(f"params: code of stage {stage} changed: {shown or 'the fingerprint was rewritten'}")
    return out
