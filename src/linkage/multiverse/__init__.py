"""Specification curve ("multiverse") of the staff-patient association; see ``docs/multiverse.md``.

Domain layer: imports numpy, scipy, pandas, :mod:`linkage.estimation` and the foundation (``linkage.vocab``,
``linkage.errors``, ``linkage.params``) only; dask.distributed is imported when a
scheduler is given.

>>> run = run_multiverse(panel, params.multiverse, merged)      # doctest: +SKIP
>>> run.table        # one row per specification, with p_bh and p_romano_wolf
>>> run.bootstrap    # wild cluster bootstrap of the headline specifications
>>> run.joint        # joint test of the curve (Simonsohn, Simmons and Nelson 2020)
"""

from ._bootstrap import boot_t, draw_weights, wild_cluster_bootstrap
from ._curve import mark_duplicates
from ._engine import RESULT_COLUMNS, Scores, fit_specs, spec_frame
from ._families import Block, FamilyFit, residualize
from ._inference import benjamini_hochberg, joint_test, null_t_draws, romano_wolf
from ._run import (
    BOOT_COLUMNS,
    MultiverseRun,
    curve_inference,
    headline_bootstrap,
    headline_rows,
    run_multiverse,
)
from ._specs import SPEC_COLUMNS, enumerate_all, enumerate_specs, merged_trusts, spec_roles
from ._words import Terms, curve_terms, describe_curve

__all__ = [
    "BOOT_COLUMNS", "Block", "FamilyFit", "RESULT_COLUMNS", "residualize", "SPEC_COLUMNS", "MultiverseRun", "Scores", "benjamini_hochberg", "boot_t",
    "Terms", "curve_inference", "curve_terms", "describe_curve", "draw_weights", "enumerate_all", "enumerate_specs", "fit_specs", "headline_bootstrap", "headline_rows",
    "joint_test", "mark_duplicates", "merged_trusts", "null_t_draws", "romano_wolf", "run_multiverse", "spec_frame",
    "spec_roles", "wild_cluster_bootstrap",
]
