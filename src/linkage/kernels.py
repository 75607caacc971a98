"""The stages' Jupyter kernels: started for a stage, or warmed for it while the stage before runs.

A notebook stage spends its first seconds starting a kernel and importing what
the notebook needs (pandas, matplotlib, linearmodels, the stage's domain code);
the stage's parent process is idle meanwhile, and so is the machine's second
core.  Under ``dvc repro`` and ``dvc exp run`` the stages run one after
another, so while one stage works, the kernel of the stage that will most
likely run next can boot and import on that idle core:

* when a stage's kernel is ready (a command stage: when it starts), it
  *pre-warms* a kernel for each of its next stages (:func:`linkage.paths.next_stages`);
  the ``params`` stage, which runs first and always, pre-warms the first notebook
  stages that DVC will re-run, as predicted by comparing the fingerprint files it
  has just written with ``dvc.lock``;
* a stage *claims* a warm kernel meant for it, if there is one, and otherwise
  starts its own (:func:`start`) exactly as before.

A warm kernel is only ever used by the same DVC run, project folder, Python and
environment that warmed it (all are in the key its claim file is named by); it
is claimed at most once (removing the claim file is atomic, and only one
process can succeed); and it never outlives its purpose: a thread in the
kernel ends it when the DVC run ends, after :data:`MAX_UNCLAIMED` seconds
unclaimed, or when the stage that claimed it has gone.  Every kernel talks over
IPC sockets in a private folder (mode 0700) - no TCP port to collide with,
nothing listening on the network.  Nothing is warmed outside a DVC run, or
with ``LINKAGE_PREWARM=0``.  Linux only (the DVC run is found through /proc);
elsewhere every stage starts its own kernel.

This module imports nothing from Jupyter until a kernel is started or claimed
(warming one needs only jupyter_core's search path for the kernel's registration),
and the kernel-side part (:func:`warm_kernel`) imports only the modules it warms.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .paths import PARAMS_FILE, PARAMS_LAST, STAGES, dotted, downstream, next_stages

KERNEL_NAME = "linkage"
"""The Jupyter kernel the notebooks run on (``linkage setup-kernel`` registers it)."""

WARM_MODULES = ("matplotlib.pyplot", "pandas", "IPython.display", "linkage.notebook", "linkage.figures")
"""Imported by every stage's kernel before its first cell (the stage module is added to these)."""

MAX_WARM = 2
"""At most this many warm kernels wait, unclaimed, per DVC run (the machine may have two cores)."""

MAX_UNCLAIMED = 600.0
"""Seconds a warm kernel waits to be claimed before it ends itself."""

_VOLATILE = {"DVC_STAGE", "_", "SHLVL", "PWD", "OLDPWD", "JPY_PARENT_PID"}
"""Environment variables that differ between two stages of one DVC run without changing what a kernel does."""


# ---------------------------------------------------------------------------------------------- kernel side


def warm_up(stage: str) -> None:
    """Import what stage ``stage``'s notebook needs (run in its kernel before the first cell)."""
    for module in (*WARM_MODULES, f"linkage.stages.{stage}"):
        importlib.import_module(module)


def warm_code(stage: str, *guard: Any) -> str:
    """The line a kernel runs at start-up (ipykernel's ``exec_lines``): it binds no name in the notebook."""
    call = f"warm_kernel({stage!r}, *{guard!r})" if guard else f"warm_up({stage!r})"
    return f"__import__('linkage.kernels', fromlist=['warm_up']).{call}"


def warm_kernel(stage: str, token: str, dvc_pid: int, dvc_start: int) -> None:
    """In a warm kernel: start the thread that ends the kernel when nobody will use it, then warm up."""
    threading.Thread(target=_guard, args=(Path(token), (dvc_pid, dvc_start)), daemon=True,
                     name="linkage-warm-guard").start()
    warm_up(stage)


def _guard(token: Path, dvc: tuple[int, int], poll: float = 0.2) -> None:
    """End this kernel (and remove its folder) once the DVC run is gone or the claim wait is over while
    unclaimed, or once the stage process that claimed it is gone."""
    folder, born, claimed_at = _folder_of(token), time.monotonic(), None
    while True:
        time.sleep(poll)
        if token.exists():
            if _alive(*dvc) and time.monotonic() - born < MAX_UNCLAIMED:
                continue
            try:
                token.unlink()  # whoever removes the claim file owns the kernel: here, nobody will claim it
            except FileNotFoundError:
                continue  # claimed this very moment
            break
        owner = _owner(folder)
        if owner is None:  # claimed; the claimant writes its name next
            claimed_at = claimed_at or time.monotonic()
            if time.monotonic() - claimed_at < 30:
                continue
            break
        if not _alive(*owner):
            break
    shutil.rmtree(folder, ignore_errors=True)
    os._exit(0)


# --------------------------------------------------------------------------------------- processes and keys


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def _alive(pid: int, start: int | None) -> bool:
    """Whether process ``pid`` (started at ``start`` clock ticks after boot, when given) runs: not a zombie."""
    fields = _stat(pid)
    return bool(fields) and fields[0] not in ("Z", "X") and (start is None or int(fields[19]) == start)


def _dvc_process() -> tuple[int, int] | None:
    """The DVC process running this stage: the nearest ancestor not started for the stage (DVC puts
    ``DVC_STAGE`` in a stage command's environment only); None outside a DVC run or without /proc."""
    if "DVC_STAGE" not in os.environ:
        return None
    pid = os.getppid()
    for _ in range(8):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return None
        if not any(v.startswith(b"DVC_STAGE=") for v in env):
            start = _start_time(pid)
            return (pid, start) if start is not None else None
        fields = _stat(pid)
        if not fields:
            return None
        pid = int(fields[1])
    return None


def _key(dvc: tuple[int, int]) -> str:
    """What a warm kernel must share with the stage that claims it: DVC run, folder, Python, environment."""
    env = sorted((k, v) for k, v in os.environ.items() if k not in _VOLATILE)
    blob = json.dumps([list(dvc), os.path.realpath("."), sys.executable, env])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _pool() -> Path | None:
    """This user's folder of warm kernels (mode 0700), or None if it cannot be made private."""
    root = Path(tempfile.gettempdir()) / f"linkage-kernels-{os.getuid()}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.lstat()
    except OSError:
        return None
    import stat

    ok = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077
    return root if ok else None


def _folder_of(token: Path) -> Path:
    return token.with_name(token.name.removesuffix(".ready"))


def _owner(folder: Path) -> tuple[int, int] | None:
    try:
        pid, start = (folder / "owner").read_text().split()
        return int(pid), int(start)
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------------------ stage side


def start(stage: str) -> Any:
    """Start a kernel for stage ``stage`` that imports what its notebook needs before its first cell.

    Returns the ``KernelManager`` without waiting for the kernel: it boots and imports while the
    caller loads papermill.  Its sockets are in a private temporary folder (see the module notes).
    """
    from jupyter_client.manager import KernelManager

    private = tempfile.mkdtemp(prefix="linkage-kernel-")  # mode 0700: only this user can reach the sockets
    km = KernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=str(Path(private) / "k"),
                       connection_file=str(Path(private) / "kernel.json"))
    km.start_kernel(cwd=".", extra_arguments=[f"--IPKernelApp.exec_lines={warm_code(stage)}"])
    return km


def claim(stage: str) -> Any:
    """The warm kernel meant for stage ``stage`` in this DVC run, now owned by this process; or None."""
    dvc = _dvc_process()
    pool = _pool() if dvc else None
    if pool is None or dvc is None:
        return None
    me = (os.getpid(), _start_time(os.getpid()))
    for token in sorted(pool.glob(f"{stage}.{_key(dvc)}.*.ready")):
        try:
            pid = int(token.read_text())
            token.unlink()  # atomic: of all processes trying, exactly one removes it
        except (OSError, ValueError):
            continue
        folder = _folder_of(token)
        try:
            (folder / "owner").write_text(f"{me[0]} {me[1]}")
        except OSError:  # its launch failed and removed the folder
            continue
        if _alive(pid, None) and (folder / "kernel.json").exists():
            return _adopt(folder, pid)
        shutil.rmtree(folder, ignore_errors=True)
    return None


def prewarm(stages: Iterable[str]) -> list[str]:
    """Warm a kernel for each notebook stage named (in order, up to :data:`MAX_WARM` waiting) that has
    none yet, in the background; returns the stages warmed.  A no-op outside a DVC run."""
    dvc = _dvc_process() if os.environ.get("LINKAGE_PREWARM", "1") != "0" else None
    pool = _pool() if dvc else None
    if pool is None or dvc is None:
        return []
    key = _key(dvc)
    folders = [f for f in pool.glob(f"*.{key}.*") if f.is_dir()]
    waiting = sum(not (f / "owner").exists() for f in folders)
    started = []
    for name in stages:
        if STAGES[name].notebook is None or any(f.name.startswith(f"{name}.") for f in folders):
            continue
        if waiting + len(started) >= MAX_WARM:
            break
        folder = Path(tempfile.mkdtemp(prefix=f"{name}.{key}.", dir=pool))
        try:
            _launch_warm(folder, name, dvc)
        except OSError:
            folder.with_name(folder.name + ".ready").unlink(missing_ok=True)
            shutil.rmtree(folder, ignore_errors=True)
            break
        started.append(name)
    return started


def prewarm_after(stage: str, checked: bool = True) -> list[str]:
    """Warm the kernels of the stages likely to run after ``stage``.

    For the ``params`` stage, which always runs first: the first notebook stages that DVC will
    re-run, guessed at its start from the params as written (:func:`params_changed`) and, once it
    has written the fingerprint files (``checked``), from those (:func:`predicted`).  For any other
    stage, its next stages.
    """
    if stage != "params":
        return prewarm(next_stages(stage))
    runs = predicted() if checked else params_changed()
    return prewarm(s for s in runs if not any(s in downstream(other) for other in runs))


def params_changed(root: str | Path = ".") -> list[str]:
    """The stages whose params, as written in params.yaml, differ from those of the fingerprint ``dvc.lock``
    recorded for them (its values as written are remembered by the ``params`` stage in
    :data:`~linkage.paths.PARAMS_LAST`; the last run's when not): the ``params`` stage's guess at its very
    start, before it validates the file."""
    from ruamel.yaml import YAML

    from .files import lock_deps
    from .paths import param_print

    root = Path(root)
    try:
        raw = YAML(typ="safe").load((root / PARAMS_FILE).read_text())
        kept = json.loads((root / PARAMS_LAST).read_text())
        seen, last = {md5: entry["raw"] for md5, entry in kept.get("seen", [])}, kept["raw"]
    except Exception:  # noqa: BLE001 - a guess: anything unreadable means none
        return []
    recorded = lock_deps(root)

    def text(value: Any) -> str:
        return json.dumps(value, sort_keys=True, default=str)

    out = []
    for name, st in STAGES.items():
        md5 = recorded.get(name, {}).get(str(param_print(name)))
        before = seen.get(md5) if md5 else last.get(name)
        if before is not None and any(text(dotted(raw, k)) != text(before.get(k)) for k in st.param_keys):
            out.append(name)
    return out


def predicted(root: str | Path = ".") -> list[str]:
    """The stages DVC will re-run because one of their own fingerprint files (``.linkage/``: params
    values, user files, code) differs from what ``dvc.lock`` recorded, in run order; stages that
    re-run only because an earlier one did are not listed (that one warms them).  A fingerprint not
    written yet counts as unchanged.  Best effort: an unreadable ``dvc.lock`` predicts nothing."""
    from ruamel.yaml import YAML

    root = Path(root)
    try:
        recorded = (YAML(typ="safe").load((root / "dvc.lock").read_text()) or {})["stages"]
    except Exception:  # noqa: BLE001 - a prediction: anything unreadable means no guess
        return []
    return [name for name in STAGES if name != "params" and (name not in recorded or _differs(recorded[name], root))]


def _differs(entry: dict[str, Any], root: Path) -> bool:
    for dep in entry.get("deps") or []:
        path = str(dep.get("path", ""))
        if path.startswith(".linkage/"):
            try:
                if hashlib.md5((root / path).read_bytes()).hexdigest() != dep.get("md5"):  # noqa: S324 - DVC's own hash
                    return True
            except OSError:
                continue
    return False


def _adopt(folder: Path, pid: int) -> Any:
    """A ``KernelManager`` for the warm kernel ``pid`` in ``folder``: it answers, interrupts and shuts
    down that kernel like one it had started (through a provisioner for a process it did not start)."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=KERNEL_NAME, connection_file=str(folder / "kernel.json"))
    km.load_connection_file()
    km.provisioner = _adopted_class()(pid=pid, kernel_id=folder.name, kernel_spec=km.kernel_spec, parent=km)
    return km


_ADOPTED: list[type] = []


def _adopted_class() -> type:
    """jupyter_client's provisioner interface for a kernel process another process started."""
    if _ADOPTED:
        return _ADOPTED[0]
    import asyncio
    import signal

    from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
    from traitlets import Integer

    class AdoptedKernel(KernelProvisionerBase):  # type: ignore[misc]
        pid = Integer(0)

        @property
        def has_process(self) -> bool:
            return self.pid > 0

        async def poll(self) -> int | None:
            return None if _alive(self.pid, None) else 0

        async def wait(self) -> int | None:
            while self.pid and _alive(self.pid, None):
                await asyncio.sleep(0.05)
            self.pid = 0
            return 0

        async def send_signal(self, signum: int) -> None:
            try:
                os.kill(self.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

        async def kill(self, restart: bool = False) -> None:
            await self.send_signal(signal.SIGKILL)

        async def terminate(self, restart: bool = False) -> None:
            await self.send_signal(signal.SIGTERM)

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            raise RuntimeError("a warm kernel is adopted, not launched")

        async def cleanup(self, restart: bool = False) -> None:
            return None

    _ADOPTED.append(AdoptedKernel)
    return AdoptedKernel


def _kernel_argv() -> list[str] | None:
    """The registered kernel's command line, found where ``KernelSpecManager`` looks first (without
    importing jupyter_client here: the ``params`` stage warms kernels and has no other use for it)."""
    from jupyter_core.paths import jupyter_path

    for folder in jupyter_path("kernels"):
        spec = Path(folder) / KERNEL_NAME / "kernel.json"
        if spec.is_file():
            try:
                info = json.loads(spec.read_text())
                return [str(a) for a in info["argv"]] if not info.get("env") else None
            except (OSError, ValueError, KeyError, TypeError):
                return None
    return None


def _launch_warm(folder: Path, stage: str, dvc: tuple[int, int]) -> None:
    """Start stage ``stage``'s warm kernel in ``folder``: its connection file (IPC sockets there, a new
    key), the kernel in a session of its own with the stage's environment, its log ``kernel.log``, and
    then its claim file, holding its process id.  It warms itself up (:func:`warm_kernel`)."""
    import secrets

    argv = _kernel_argv()
    if argv is None:  # not registered (or with an environment of its own): the stage starts its own
        raise FileNotFoundError(f"no plain '{KERNEL_NAME}' kernel registered")
    token = folder.with_name(folder.name + ".ready")
    connection = folder / "kernel.json"
    ports = dict(zip(("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"), range(1, 6), strict=True))
    connection.write_text(json.dumps({**ports, "ip": str(folder / "k"), "transport": "ipc", "key": secrets.token_hex(16),
                                      "signature_scheme": "hmac-sha256", "kernel_name": KERNEL_NAME}))
    argv = [a.replace("{connection_file}", str(connection)) for a in argv]
    argv.append(f"--IPKernelApp.exec_lines={warm_code(stage, str(token), *dvc)}")
    env = {**os.environ, "DVC_STAGE": stage}
    env.pop("JPY_PARENT_PID", None)  # ipykernel would end itself when its parent (this stage) ends
    token.write_text("")  # the kernel's guard sees it unclaimed from its first look; no pid yet: not claimable
    with open(folder / "kernel.log", "wb") as log:
        proc = subprocess.Popen(argv, cwd=".", env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=log, start_new_session=True, close_fds=True)
    staged = token.with_name(token.name + ".tmp")
    staged.write_text(str(proc.pid))
    os.replace(staged, token)
