"""Words and table of the RI-CLPM panel (methods page) and its sentence in the summary's timing section.

Everything is read from ``metrics/riclpm.json`` (the model stage's :meth:`RiclpmResult.summary`):
the waves, the trusts, the paths with their intervals, the Wald tests and the fit indices.
"""

from __future__ import annotations

from typing import Any

from ..files import read_json
from ..paths import STAGES
from .findings import quoted, unit_words
from .inputs import SiteInputs
from .words import and_list, lower_first

#: What the model assumes, said on the page next to its results.
ASSUMPTIONS = (
    "the waves are equally spaced, so one lag means the same time at every wave",
    "stationarity over the waves used: the lagged paths are the same at every wave (when model.riclpm_equal_paths is true)",
    "linear paths and multivariate normal values; missing waves are missing at random given the observed values (FIML)",
    "the random intercepts absorb only stable differences between trusts: anything that changes over time and drives both "
    "measures (unmeasured time-varying confounding) is not removed",
    "a cross-lag is an association of within-trust deviations one wave apart, not evidence that one causes the other",
)


#: How each lagged path is named in the table.
PATH_TEXT = {
    "crosslag_staff_to_patient": "cross-lag, staff to patient",
    "crosslag_patient_to_staff": "cross-lag, patient to staff",
    "autoregression_staff": "autoregression, staff",
    "autoregression_patient": "autoregression, patient",
}


def _g(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    return f"{v:.{digits}g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def _p(v: float | None) -> str:
    return "n/a" if v is None else ("p < 0.001" if v < 0.001 else f"p = {v:.3f}")


def load(inputs: SiteInputs) -> dict[str, Any]:
    """The RI-CLPM summary of this run ({} when the model stage wrote none)."""
    return read_json(inputs.root / STAGES["model"].path("riclpm"), missing={})


def _gap(years: int) -> str:
    return "1 year" if years == 1 else f"{years} years"


def _path_sentence(inputs: SiteInputs, s: dict[str, Any], path: dict[str, Any]) -> str:
    src, dst = (s["exposure"], s["dependent"]) if path["direction"] == "forward" else (s["dependent"], s["exposure"])
    level = round(100 * (1 - s["alpha"]))
    clear = path["ci_low"] > 0 or path["ci_high"] < 0
    return (f"each {unit_words(inputs, src, 1)} of {lower_first(quoted(inputs, src))} above the trust's own expected "
            f"level went with {lower_first(quoted(inputs, dst))} {_gap(s['step_years'])} later differing by "
            f"{_g(path['estimate'])} {unit_words(inputs, dst, path['estimate'])} ({level}% interval "
            f"{_g(path['ci_low'])} to {_g(path['ci_high'])}, {_p(path['p_value'])}; standardised "
            f"{_g(path['std_mean'], 2)}), an interval that {'excludes' if clear else 'includes'} zero")


def _direction(paths: dict[str, dict[str, Any]]) -> str:
    clear = {k: p["ci_low"] > 0 or p["ci_high"] < 0 for k, p in paths.items()}
    fwd, rev = clear.get("crosslag_staff_to_patient", False), clear.get("crosslag_patient_to_staff", False)
    if fwd and rev:
        return "Both cross-lags are distinguishable from zero: the data fit change running both ways"
    if fwd:
        return "Only the staff-to-patient cross-lag is distinguishable from zero"
    if rev:
        return "Only the patient-to-staff cross-lag is distinguishable from zero"
    return "Neither cross-lag is distinguishable from zero: these waves do not show which measure changes first"


def _counts(s: dict[str, Any]) -> str:
    counts = s.get("trusts_with_both_by_year") or {}
    return ", ".join(f"{y}: {n}" for y, n in counts.items()) or "no years"


def riclpm_section(inputs: SiteInputs) -> dict[str, Any] | None:
    """The methods page's RI-CLPM panel and the summary's timing sentence (None when no summary exists)."""
    s = load(inputs)
    if not s:
        return None
    out: dict[str, Any] = {"status": s["status"], "assumptions": list(ASSUMPTIONS), "rows": [], "paragraphs": []}
    x, y = quoted(inputs, s["exposure"]), quoted(inputs, s["dependent"])
    if s["status"] != "fitted":
        why = s["reason"] if s["status"] == "refused" else "it was switched off (model.riclpm is false)"
        why = why.replace(repr(s["exposure"]), x).replace(repr(s["dependent"]), y)
        why = why.replace(s["exposure"], x).replace(s["dependent"], y)  # labels, not measure codes, on the pages
        out["sentence"] = (f"The random-intercept cross-lagged panel model (RI-CLPM) of {x} and {y} was not fitted: "
                           f"{why}. Trusts with both measures, by year: {_counts(s)}.")
        out["paragraphs"] = [out["sentence"]]
        return out
    paths = {p["key"]: p for p in s["paths"] if s["equal_paths"]}
    if not s["equal_paths"]:
        out["sentence"] = _free_sentence(inputs, s, x, y)
    else:
        fwd, rev = paths["crosslag_staff_to_patient"], paths["crosslag_patient_to_staff"]
        out["sentence"] = (f"{_intro(s, x, y)} Within trusts, {_path_sentence(inputs, s, fwd)}; in the other direction, "
                           f"{_path_sentence(inputs, s, rev)}. {_direction(paths)} (association, not cause).")
    out["paragraphs"] = [out["sentence"], _tests(s)]
    if s.get("waves_note"):
        out["paragraphs"].append(s["waves_note"].capitalize() + ".")
    level = round(100 * (1 - s["alpha"]))
    for p in s["paths"]:
        span = f"{p['from_year']} to {p['to_year']}"
        out["rows"].append({"path": PATH_TEXT[p["key"]], "waves": span, "estimate": _g(p["estimate"]),
                            "interval": f"{_g(p['ci_low'])} to {_g(p['ci_high'])}", "p": _p(p["p_value"]),
                            "std": f"{_g(p['std_mean'], 2)}" + (f" ({_g(p['std_min'], 2)} to {_g(p['std_max'], 2)})"
                                                                 if p["std_min"] != p["std_max"] else "")})
    out["level"] = level
    return out


def _intro(s: dict[str, Any], x: str, y: str) -> str:
    waves = and_list([str(w) for w in s["waves"]])
    return (f"A random-intercept cross-lagged panel model (RI-CLPM) of {x} and {y} was fitted to {s['n_trusts']} trusts "
            f"over {len(s['waves'])} waves ({waves}, {_gap(s['step_years'])} apart), by maximum likelihood with "
            f"missing waves handled by full information (FIML), with the lagged paths "
            f"{'held equal over waves' if s['equal_paths'] else 'free at each wave'}.")


def _free_sentence(inputs: SiteInputs, s: dict[str, Any], x: str, y: str) -> str:
    w = s["wald"]
    return (f"{_intro(s, x, y)} With paths free at each wave the cross-lags are judged together: "
            f"staff to patient, Wald chi-square {_g(w['staff_to_patient']['chisq'])} on {w['staff_to_patient']['df']} df, "
            f"{_p(w['staff_to_patient']['p_value'])}; patient to staff, {_g(w['patient_to_staff']['chisq'])} on "
            f"{w['patient_to_staff']['df']} df, {_p(w['patient_to_staff']['p_value'])} (association, not cause); "
            "the path of each wave is in the table.")


def _tests(s: dict[str, Any]) -> str:
    j, f = s["wald"]["crosslags_joint"], s["fit"]
    return (f"Wald test that both cross-lags are zero: chi-square {_g(j['chisq'])} on {j['df']} df, {_p(j['p_value'])}. "
            f"Fit against the unrestricted model: chi-square {_g(f['chisq'])} on {f['df']} df ({_p(f['pvalue'])}), "
            f"CFI {_g(f['cfi'])}, RMSEA {_g(f['rmsea'])}, SRMR {_g(f['srmr'])}; standardised paths are in within-trust "
            "SDs of the destination per within-trust SD of the source, averaged over waves (range in brackets).")
