"""Stage ``multiverse``: the specification curve, adjusted p-values and the headline wild bootstrap."""

from __future__ import annotations

from typing import Any

from ..catalogue import load_catalogue
from ..files import read_table, write_json, write_table
from ..multiverse import MultiverseRun, merged_trusts, run_multiverse
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
    write_table(run_.table, STAGE.path("specs"))
    write_table(run_.bootstrap, STAGE.path("bootstrap"))
    write_json(STAGE.path("summary"), summary_metrics(run_, m))
    return run_


def summary_metrics(run_: MultiverseRun, m: MultiverseParams) -> dict[str, Any]:
    """Counts, shares agreeing in sign and significance, adjusted counts and the joint test (metrics JSON)."""
    t = run_.table
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
    }


def plain_summary(run_: MultiverseRun, m: MultiverseParams) -> str:
    """Plain-language paragraph for the report: agreement in sign and significance, adjusted p-values."""
    s = summary_metrics(run_, m)
    if not s["n_fitted"]:
        return f"None of the {s['n_specs']:,} specifications could be fitted; the table lists why."
    j = run_.joint
    better = s["share_better_with_better"] >= 0.5
    way = "better staff wellbeing with better" if better else "better staff wellbeing with worse"
    agree = s["share_better_with_better"] if better else 1 - s["share_better_with_better"]
    agree_sig = s["share_significant_better"] if better else s["share_significant_worse"]
    pct = lambda x: f"{100 * x:.0f}%"  # noqa: E731
    return (
        f"We fitted **{s['n_fitted']:,} reasonable ways** of asking the question (different staff and patient "
        f"measures, designs, timings, samples and weightings; {s['n_unsupported']:,} more could not be fitted on "
        f"this panel and are listed with the reason). **{pct(agree)}** of them associate {way} patient experience, "
        f"and **{pct(agree_sig)}** do so with a p-value below {m.alpha:g}. Because so many tests were run, some "
        f"would be significant by chance: after adjusting for the number of tests, {pct(s['share_significant_bh'])} "
        f"of all specifications remain significant when controlling the false discovery rate (Benjamini-Hochberg) and "
        f"{pct(s['share_significant_romano_wolf'])} when controlling the chance of any false positive "
        f"(Romano-Wolf). If there were no association at all, about {j['null_mean_significant']:.0f} "
        f"specifications would be significant by chance; {j['n_significant']:,} are (joint test "
        f"{_p_text(j['p_significant'], j['draws'])}, {j['draws']} bootstrap draws). These are associations within and between "
        "trusts, not evidence that one causes the other."
    )


def _p_text(p: float, draws: int) -> str:
    """``p = 0.012``, or ``p < 0.001`` when no draw was as extreme."""
    return f"p < {1 / (draws + 1):.3f}" if p == 0 else f"p = {p:.3f}"
