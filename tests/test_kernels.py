"""Stage kernels cannot collide: IPC sockets in a private folder, no TCP port, one retry at start-up."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from linkage import runner
from linkage.paths import STAGES


def _kernel_installed() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return runner.KERNEL_NAME in KernelSpecManager().find_kernel_specs()


needs_kernel = pytest.mark.skipif(not _kernel_installed(), reason="the 'linkage' Jupyter kernel is not registered "
                                  "(run scripts/bootstrap.sh or `linkage setup-kernel`)")
NOTEBOOK_STAGE = next(s for s in STAGES.values() if s.notebook)


def _ask(km, code: str) -> dict:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        reply = kc.execute_interactive(code, timeout=120, store_history=False)
        return reply["content"]
    finally:
        kc.stop_channels()


@needs_kernel
def test_kernels_started_together_all_answer_over_ipc_with_tcp_ports_taken():
    # take TCP ports on loopback, as a previous or concurrent run might hold them
    held = []
    for _ in range(20):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        held.append(s)
    try:
        with ThreadPoolExecutor(4) as pool:
            kms = list(pool.map(lambda _: runner.start_kernel(NOTEBOOK_STAGE), range(4)))
        try:
            folders = {Path(km.connection_file).parent for km in kms}
            assert len(folders) == 4
            for km in kms:
                info = json.loads(Path(km.connection_file).read_text())
                assert info["transport"] == "ipc"
                folder = Path(km.connection_file).parent
                assert stat.S_IMODE(folder.stat().st_mode) & 0o777 == 0o700  # only this user
                assert str(info["ip"]).startswith(str(folder))
                assert _ask(km, "x = 6 * 7")["status"] == "ok"
        finally:
            for km in kms:
                runner.stop_kernel(km)
        assert not any(f.exists() for f in folders), "the private socket folders are removed"
    finally:
        for s in held:
            s.close()


@needs_kernel
def test_a_kernel_prints_no_tcp_warning(tmp_path):
    """The kernel's own stderr (ipykernel logs the TCP warning there) says nothing about TCP."""
    code = (
        "import sys; from linkage import runner; from linkage.paths import STAGES\n"
        "st = next(s for s in STAGES.values() if s.notebook)\n"
        "km = runner.start_kernel(st); kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=120)\n"
        "kc.stop_channels(); runner.stop_kernel(km)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "TCP" not in proc.stderr and "encryption" not in proc.stderr


def test_a_kernel_that_dies_before_replying_is_replaced_once(monkeypatch, tmp_path):
    started, stopped, calls = [], [], []

    class FakeKM:
        connection_file = str(tmp_path / "none" / "kernel.json")

    def fake_start(stage):
        started.append(stage.name)
        return FakeKM()

    def fake_execute(**kwargs):
        calls.append(kwargs["km"])
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return {"cells": []}

    import papermill

    monkeypatch.setattr(runner, "start_kernel", fake_start)
    monkeypatch.setattr(runner, "stop_kernel", lambda km: stopped.append(km))
    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.setattr(runner, "normalise", lambda nb: nb)
    monkeypatch.setattr(runner, "_write", lambda nb, path: None)
    monkeypatch.setattr(runner, "render_html", lambda nb, stage, params: None)
    from linkage.params import Params

    runner.execute_notebook(NOTEBOOK_STAGE, Params())
    assert len(started) == 2 and len(calls) == 2 and calls[0] is not calls[1]
    assert stopped == calls, "each kernel is stopped, the dead one and the one that ran"


def test_a_second_death_is_the_stage_error(monkeypatch, tmp_path):
    class FakeKM:
        connection_file = str(tmp_path / "none" / "kernel.json")

    def always_dies(**kwargs):
        raise RuntimeError("Kernel died before replying to kernel_info")

    import papermill

    monkeypatch.setattr(runner, "start_kernel", lambda stage: FakeKM())
    monkeypatch.setattr(runner, "stop_kernel", lambda km: None)
    monkeypatch.setattr(papermill, "execute_notebook", always_dies)
    from linkage.params import Params

    with pytest.raises(runner.StageError, match="died at start-up twice"):
        runner.execute_notebook(NOTEBOOK_STAGE, Params())
