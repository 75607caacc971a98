"""Specification curve ("multiverse") of the staff-patient association; see ``docs/multiverse.md``.

Domain layer: imports numpy, scipy, pandas, :mod:`linkage.estimation` and the foundation (``linkage.vocab``,
``linkage.errors``, ``linkage.params``) only; dask.distributed is imported when a
scheduler is given.

>>> run = run_multiverse(panel, params.multiverse, merged)      # doctest: +SKIP
>>> run.table        # one row per specification, with p_bh and p_romano_wolf
>>> run.bootstrap    # wild cluster bootstrap of the headline specifications
>>> run.joint        # joint test of the curve (Simonsohn, Simmons and Nelson 2020)

Names are loaded on first use (the table below): the report site needs only the
curve's words (``._words``), and should not pay for scipy and the estimation
code the curve's fitting imports.
"""

from __future__ import annotations

from ..lazy import lazy_getattr

#: Public name -> the submodule defining it.
_LAZY = {
    "boot_t": "._bootstrap",
    "draw_weights": "._bootstrap",
    "wild_cluster_bootstrap": "._bootstrap",
    "mark_duplicates": "._curve",
    "RESULT_COLUMNS": "._engine",
    "Scores": "._engine",
    "fit_specs": "._engine",
    "spec_frame": "._engine",
    "Block": "._families",
    "FamilyFit": "._families",
    "residualize": "._families",
    "benjamini_hochberg": "._inference",
    "joint_test": "._inference",
    "null_t_draws": "._inference",
    "romano_wolf": "._inference",
    "BOOT_COLUMNS": "._run",
    "MultiverseRun": "._run",
    "curve_inference": "._run",
    "headline_bootstrap": "._run",
    "headline_rows": "._run",
    "run_multiverse": "._run",
    "SPEC_COLUMNS": "._specs",
    "enumerate_all": "._specs",
    "enumerate_specs": "._specs",
    "merged_trusts": "._specs",
    "spec_roles": "._specs",
    "Terms": "._words",
    "curve_terms": "._words",
    "describe_curve": "._words",
}

__all__ = [
    "BOOT_COLUMNS", "Block", "FamilyFit", "RESULT_COLUMNS", "residualize", "SPEC_COLUMNS", "MultiverseRun", "Scores", "benjamini_hochberg", "boot_t",
    "Terms", "curve_inference", "curve_terms", "describe_curve", "draw_weights", "enumerate_all", "enumerate_specs", "fit_specs", "headline_bootstrap", "headline_rows",
    "joint_test", "mark_duplicates", "merged_trusts", "null_t_draws", "romano_wolf", "run_multiverse", "spec_frame",
    "spec_roles", "wild_cluster_bootstrap",
]


__getattr__ = lazy_getattr(__name__, _LAZY)
