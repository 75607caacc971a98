"""Stage ``multiverse``: the specification curve, adjusted p-values and the headline wild bootstrap."""

from __future__ import annotations

from typing import Any

from ..catalogue import load_catalogue
from ..files import read_table, write_json, write_table
from ..multiverse import MultiverseRun, curve_terms, describe_curve, merged_trusts, run_multiverse
from ..params import MultiverseParams, Params
from ..paths import STAGES

STAGE = STAGES["multiverse"]


def directions() -> dict[str, bool | None]:
    """``higher_is_better`` of every catalogued measure (orients the estimates)."""
    return {name: m.higher_is_better for name, m in load_catalogue().measures.items()}


def merged_codes(setting: str) -> set[str] | None:
    """Merged trusts from the link stage's long panel ('auto'), another file, or none ('')."""
    if setting == "":
        return None
    path = STAGE.path("panel_long") if setting == "auto" else setting
    return merged_trusts(read_table(path))


def run(params: Params) -> MultiverseRun:
    """Fit the curve on the linked panel; write the specification table, the bootstrap table and the metrics."""
    m = params.multiverse
    run_ = run_multiverse(read_table(STAGE.path("panel")), m, merged_codes(m.panel_long), directions())
    write_table(run_.all_specs(), STAGE.path("specs"))
    write_table(run_.bootstrap, STAGE.path("bootstrap"))
    write_json(STAGE.path("summary"), summary_metrics(run_, m))
    return run_


def summary_metrics(run_: MultiverseRun, m: MultiverseParams) -> dict[str, Any]:
    """Counts, shares agreeing in sign and significance, adjusted counts and the joint test (metrics JSON).

    The top-level keys describe the whole forward curve (every design, duplicates included);
    ``inferential``, ``falsification`` and ``exploratory`` summarise each role over its
    distinct specifications (see ``docs/multiverse.md``).
    """
    t = run_.table
    if "direction" in t:
        t = t[t["direction"] == "forward"]
    ok = t[t["status"] == "ok"]
    est = ok["estimate_oriented"]
    sig = ok["p_value"] < m.alpha
    return {
        "n_specs": int(len(t)), "n_fitted": int(len(ok)), "n_unsupported": int(len(t) - len(ok)),
        "share_better_with_better": float((est > 0).mean()) if len(ok) else None,
        "share_significant": float(sig.mean()) if len(ok) else None,
        "share_significant_better": float((sig & (est > 0)).mean()) if len(ok) else None,
        "share_significant_worse": float((sig & (est < 0)).mean()) if len(ok) else None,
        "share_significant_bh": float((ok["p_bh"] < m.alpha).mean()) if len(ok) else None,
        "share_significant_romano_wolf": float((ok["p_romano_wolf"] < m.alpha).mean()) if len(ok) else None,
        "alpha": m.alpha, "small_sample": m.small_sample, "joint_test": run_.joint,
        **run_.curves,
    }


def plain_summary(run_: MultiverseRun, m: MultiverseParams) -> str:
    """Plain-language paragraph on the curve (the same words as the report site's summary)."""
    return describe_curve(summary_metrics(run_, m), curve_terms(load_catalogue(), list(m.patient_measures)))
