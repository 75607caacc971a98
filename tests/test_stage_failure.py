"""A failing notebook cell must fail the DVC stage (non-zero exit, clear message)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _kernel_installed() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return "linkage" in KernelSpecManager().find_kernel_specs()


@pytest.mark.slow
def test_bad_injected_parameter_fails_the_notebook_stage(tmp_path):
    if not _kernel_installed():
        pytest.skip("Jupyter kernel 'linkage' not registered (run `linkage setup-kernel`)")
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    out = tmp_path / "out.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", str(REPO / "notebooks" / "04_model.ipynb"), str(out),
         "-k", "linkage", "--cwd", str(tmp_path), "-p", "params_file", "params.yaml", "-r", "cov_type", "sandwich"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode != 0
    # the cell that failed is the params validation, and it names key, value and what is allowed
    text = out.read_text()
    assert "model.cov_type" in text and "sandwich" in text and "clustered_entity" in text
    # nothing downstream ran: the model outputs were not written
    assert not (tmp_path / "data" / "processed" / "model_results.csv").exists()
