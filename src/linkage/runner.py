"""Run one pipeline stage in one process: validate, execute its notebook, render it.

``linkage stage NAME`` is the command of every stage in ``dvc.yaml``.  For a
notebook stage it

1. loads and validates params.yaml (the same checks as ``linkage validate-params``);
2. executes ``notebooks/<stem>.ipynb`` with papermill's Python API on the
   ``linkage`` kernel, injecting every key of the stage's params section
   (native types: lists stay lists), with the project root as working directory;
   under DVC the kernel is usually one an earlier stage warmed for it, and once
   it runs, the next stages' kernels start warming (:mod:`linkage.kernels`);
3. removes what changes from run to run without the inputs changing (execution
   timestamps and durations), so an unchanged stage writes the same bytes;
4. renders the executed notebook to HTML without code (nbconvert's Python API).

A command stage (``params``, ``acquire``) calls its stage module's ``run``
directly.  A failing cell ends the stage with one paragraph naming the stage,
the error and where the full traceback is, never a papermill traceback.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LinkageError
from .paths import NOTEBOOKS, PARAMS_FILE, PARAMS_LAST, STAGES, Stage

if TYPE_CHECKING:  # the schema is loaded while the kernel boots (see run_stage)
    from .params import Params

from .kernels import KERNEL_NAME, prewarm_after  # noqa: F401 - KERNEL_NAME: part of this module's interface


class StageError(LinkageError):
    """A stage's notebook failed; the message names the cell's error and the executed notebook."""


def run_stage(name: str, params_file: str | Path = "params.yaml") -> Any:
    """Run stage ``name`` from the project root; returns what the stage module returned (command stages)."""
    from .stages import module

    if name not in STAGES:
        raise LinkageError(f"unknown stage {name!r}; the stages are {', '.join(STAGES)}")
    stage = STAGES[name]
    if stage.notebook is None:
        from .params import load_params

        prewarm_after(name, checked=False)  # the next stages' kernels boot while this one works
        result = module(name).run(load_params(params_file))
        if name == "params":  # its better guess, from the fingerprints it has written
            prewarm_after(name)
        return result
    km = start_kernel(stage)  # boots, and imports what the notebook needs, while params.yaml is checked here
    try:
        section = checked_section(stage, params_file)
        if section is None:
            from .params import load_params

            params = load_params(params_file)
    except BaseException:
        stop_kernel(km)
        raise
    execute_notebook(stage, None if section is not None else params, params_file, km=km, section=section)
    return None


def checked_section(stage: Stage, params_file: str | Path) -> dict[str, Any] | None:
    """The stage's validated params section, when the ``params`` stage of this run has already checked this
    very params file (the sha256 it recorded matches); None otherwise.

    Under DVC every stage runs after ``params``, which validated the file and wrote each stage's values
    (:func:`linkage.fingerprint.write_param_prints`); reading them here spares the stage's process the
    schema's import (pydantic, about 0.4 s) before its notebook can start.  The full parameters, for the
    step page, are validated again on a thread while the cells run, and the notebook validates its own.
    """
    import hashlib
    import json

    try:
        if Path(params_file).resolve() != PARAMS_FILE.resolve():
            return None
        last = json.loads(PARAMS_LAST.read_text())
        if last.get("sha256") != hashlib.sha256(PARAMS_FILE.read_bytes()).hexdigest():
            return None
        return last["values"][stage.name][stage.section]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def execute_notebook(stage: Stage, params: Params | None, params_file: str | Path = "params.yaml",
                     km: Any = None, section: dict[str, Any] | None = None) -> Path:
    """Execute the stage's notebook with its section injected; write the executed copy and its HTML.

    ``params`` are the validated parameters, or None when the ``params`` stage has checked the file
    (:func:`checked_section`, whose result ``section`` is): they are then loaded while the cells run
    (with neither, they are loaded and checked first).  ``km`` is a kernel
    :func:`start_kernel` started for this stage (one is started when ``None``).  A kernel that dies
    before answering its first request (a start-up race on a busy machine) is replaced once; a second
    death is the stage's error.
    """
    km = km or start_kernel(stage)  # starts, and imports what the notebook needs, while papermill loads here
    if params is None and section is None:
        from .params import load_params

        try:
            params = load_params(params_file)
        except BaseException:
            stop_kernel(km)
            raise
    if params is not None:
        section = getattr(params, stage.section).model_dump(mode="json")
    _skip_iri_grammar()
    import papermill as pm

    logging.getLogger("papermill").setLevel(logging.ERROR)  # not the "unknown parameter" notes: the keys are injected below the parameters cell on purpose
    later: dict[str, Any] = {"file": None if params is not None else params_file}
    source = NOTEBOOKS / f"{stage.notebook}.ipynb"
    stage.executed.parent.mkdir(parents=True, exist_ok=True)
    run = {"input_path": str(source), "output_path": str(stage.executed), "kernel_name": KERNEL_NAME,
           "parameters": {"params_file": str(params_file), **section}, "progress_bar": False,
           "request_save_on_cell_execute": False, "cwd": "."}
    for attempt in (1, 2):
        try:
            nb = pm.execute_notebook(**run, km=km, on_cell_start=_first_cell(stage, later))
            break
        except RuntimeError as err:
            if "before replying" not in str(err):
                raise
            if attempt == 2:
                raise StageError(f"stage {stage.name}: the notebook's kernel died at start-up twice ({err})") from None
            logging.getLogger("linkage.runner").warning("stage %s: kernel died at start-up; starting another", stage.name)
        except Exception as err:  # noqa: BLE001 - a cell's error becomes one paragraph
            _stage_failed(stage, source, err)
        finally:
            stop_kernel(km)
        km = start_kernel(stage)
    normalise(nb)
    _write(nb, stage.executed)
    render_html(nb, stage, params if params is not None else _loaded(later, params_file))
    return stage.executed


def _first_cell(stage: Stage, later: dict[str, Any]) -> Any:
    """What happens when the kernel is ready and runs the first cell: the next stages' kernels start
    warming on the other core (not earlier, so they do not slow this one's start-up), and this process
    loads the step page renderer (and the parameters, if ``later["file"]`` names a file to load them
    from) while it waits for the cells, rather than after them."""

    def hook(**_: Any) -> None:
        if "thread" in later:
            return
        try:
            prewarm_after(stage.name)
        except Exception as err:  # noqa: BLE001 - warming is an optimisation; the stage goes on without it
            logging.getLogger("linkage.runner").debug("stage %s: no kernel warmed: %s", stage.name, err)
        later["thread"] = threading.Thread(target=_load_later, args=(later,), daemon=True, name="linkage-load-later")
        later["thread"].start()

    return hook


def _load_later(later: dict[str, Any]) -> None:
    import nbconvert  # noqa: F401

    from .site import page  # noqa: F401

    if later["file"] is not None:
        from .params import load_params

        try:
            later["params"] = load_params(later["file"])
        except BaseException as err:  # noqa: BLE001 - raised in the stage's own thread by _loaded
            later["error"] = err


def _loaded(later: dict[str, Any], params_file: str | Path) -> Params:
    """The parameters loaded while the cells ran (or now, if the first cell never started the thread)."""
    if "thread" in later:
        later["thread"].join()
    if "error" in later:
        raise later["error"]
    if "params" not in later:
        from .params import load_params

        later["params"] = load_params(params_file)
    return later["params"]


def _stage_failed(stage: Stage, source: Path, err: Exception) -> None:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(err, PapermillExecutionError):
        raise StageError(
            f"stage {stage.name} failed in {source} (cell {err.exec_count}): {err.ename}: {err.evalue.strip()} "
            f"- the executed notebook with the full traceback is {stage.executed}."
        ) from None
    raise err


def _skip_iri_grammar() -> None:
    """Keep jsonschema from compiling an IRI grammar that notebook validation never uses.

    nbformat (imported by papermill) imports jsonschema, whose format checkers
    import ``rfc3987_syntax`` when it is installed (jupyter-events pulls it in);
    that module builds a parser at import, about a second per stage.  The
    notebook schema has no IRI formats, so the runner marks the module as absent,
    which jsonschema handles as an optional dependency.
    """
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def start_kernel(stage: Stage) -> Any:
    """The notebook's kernel, importing the stage's modules: a warm one if an earlier stage of this DVC
    run warmed one for it (:func:`linkage.kernels.claim`), else one started now, without waiting.

    Either way the kernel talks over IPC (Unix sockets in a private temporary folder), not TCP: no
    port can collide with another kernel starting at the same moment, and nothing listens on the
    network (so ipykernel has no unencrypted-TCP warning to print).  A new kernel's start-up and
    the notebook's heavy imports (pandas, matplotlib, the stage module and its domain code) overlap
    with this process loading papermill; the notebook's own import cell finds them loaded.  The
    warm-up adds no cell, output, execution count or name to the notebook.
    """
    from .kernels import claim, start

    return claim(stage.name) or start(stage.name)


def stop_kernel(km: Any) -> None:
    """Shut the kernel down and remove its private folder of sockets and connection file."""
    import shutil

    try:
        km.shutdown_kernel(now=True)
    finally:
        shutil.rmtree(Path(km.connection_file).parent, ignore_errors=True)


def normalise(nb: Any) -> Any:
    """Drop run-specific metadata (timestamps, durations) and random table ids, so unchanged inputs give unchanged bytes."""
    from .site.steps import stable_outputs

    stable_outputs(nb)
    meta = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "exception"):
        meta.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return nb


def _write(nb: Any, path: Path) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def render_html(nb: Any, stage: Stage, params: Params) -> Path:
    """Render an executed notebook to its step report in the site's layout (no code, no CDN scripts, alt text)."""
    from .site.page import render_step_page

    return render_step_page(nb, stage.notebook, params, ".", stage.html.parent)
