"""``fit_models``: every specification and family, tidy results, headline, diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import LinkageDataError
from ..estimation import codes_of, within_stats
from ..params import ModelParams
from ..site.words import p_text
from ..vocab import CONVENTION_TEXT, COV_TEXT, EFFECT_KIND, FAMILY_TEXT
from ._data import ModelFrame, Spec, build_frame, check_panel, measure_columns
from ._diagnostics import hausman, measure_unit, reliability_table, sampling_variance, wald
from ._eiv import CORRECTABLE, Corrected, corrected_slope
from ._equivalence import equivalence_block
from ._fit import Fitted, fit_family
from ._timing import Pairing, pairing

RESULT_COLUMNS = [
    "model", "model_label", "spec_name", "spec", "direction", "lag", "dependent", "regressor", "term", "effect",
    "estimate", "std_error", "ci_low", "ci_high", "p_value", "statistic", "df",
    "n_obs", "n_entities", "n_periods", "n_trust_years", "n_dropped", "dropped_detail",
    "cov_type", "small_sample", "cov_factor", "weights", "alpha",
    "within_sd", "within_share", "estimate_per_within_sd", "mde", "headline",
    "role", "pairs", "pair_gap_years", "change_gap_years", "skipped_years", "changes", "timing",
]

#: What each direction of a specification is for (``role`` column of the results).
ROLE = {"forward": "estimate", "lagged_dependent": "estimate", "reverse": "reverse_check", "placebo": "placebo_check"}


def family_label(family: str, time_effects: bool) -> str:
    """The family's label as fitted: no "(+ year effects)" when ``time_effects`` is false."""
    text = FAMILY_TEXT[family]
    return text if time_effects else text.replace(" (+ year effects)", "")


def applied_convention(small_sample: str, cov_type: str) -> str:
    """The small-sample scaling actually applied to a covariance: ``cr1`` only for clustered ones.

    Under the ``cr1`` convention robust, classical and Driscoll-Kraay covariances get
    ``n/(n-K)`` (see :mod:`linkage.estimation.conventions`), so that is their label.
    """
    if small_sample == "cr1" and not cov_type.startswith("clustered"):
        return "n/(n-K)"
    return small_sample


@dataclass
class ModelRun:
    """Everything the model stage produces; see ``docs/models.md``.

    Attributes
    ----------
    results : pandas.DataFrame
        Tidy table, one row per model x term (columns :data:`RESULT_COLUMNS`).
    headline : dict
        Headline numbers for ``metrics/headline.json`` (JSON-serialisable).
    comparison : pandas.DataFrame
        The headline specification across families.
    hausman : dict
        Classic Hausman test (statistic, df, p_value, note) and the Mundlak test.
    reliability : pandas.DataFrame
        Trust-level reliability of measures from their base n.
    mde : pandas.DataFrame
        Minimum detectable effect next to each estimate.
    warnings : list of str
        Caveats to show with the tables.
    skipped : list of str
        Non-headline models that could not be fitted, with the reason.
    convention : str
        One line naming the covariance and small-sample convention; print it with every table.
    params : ModelParams
    fits : dict
        ``(spec_name, family) -> Fitted`` for inspection.
    """

    results: pd.DataFrame
    headline: dict[str, Any]
    comparison: pd.DataFrame
    hausman: dict[str, Any]
    reliability: pd.DataFrame
    mde: pd.DataFrame
    warnings: list[str]
    skipped: list[str]
    convention: str
    params: ModelParams
    fits: dict[tuple[str, str], Fitted] = field(default_factory=dict, repr=False)


def _quantiles(df: float | None, alpha: float, power: float) -> tuple[float, float]:
    if df is None:
        return float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))
    return float(stats.t.ppf(1 - alpha / 2, df)), float(stats.t.ppf(power, df))


def _pvalue(t: float, df: float | None) -> float:
    if df is None:
        return float(2 * stats.norm.sf(abs(t)))
    return float(2 * stats.t.sf(abs(t), df))


def _row(
    est: float,
    var: float,
    *,
    fitted: Fitted,
    frame: ModelFrame,
    spec: Spec,
    term: str,
    effect: str,
    stats_term: str,
    params: ModelParams,
    timing: Pairing,
) -> dict[str, Any]:
    se = float(np.sqrt(max(var, 0.0)))
    df = fitted.scale.df
    q, qp = _quantiles(df, params.alpha, params.power)
    tstat = est / se if se > 0 else float("inf")
    data = frame.data
    ent = codes_of(data.index)[0]
    w_sd, w_share = within_stats(data[stats_term].to_numpy(), ent)
    return {
        "model": fitted.family,
        "model_label": family_label(fitted.family, params.time_effects),
        "spec_name": spec.name,
        "spec": spec.label,
        "direction": "forward" if spec.direction == "lagged_dependent" else spec.direction,
        "lag": spec.lag,
        "dependent": spec.y,
        "regressor": spec.x_term,
        "term": term,
        "effect": effect,
        "estimate": float(est),
        "std_error": se,
        "ci_low": float(est - q * se),
        "ci_high": float(est + q * se),
        "p_value": _pvalue(tstat, df),
        "statistic": float(tstat),
        "df": float(df) if df is not None else float("inf"),
        "n_obs": fitted.n_obs,
        "n_entities": fitted.n_entities,
        "n_periods": fitted.n_periods,
        "n_trust_years": len(data),
        "n_dropped": frame.n_dropped,
        "dropped_detail": frame.dropped_text(),
        "cov_type": fitted.cov_type,
        "small_sample": applied_convention(params.small_sample, fitted.cov_type),
        "cov_factor": fitted.scale.factor,
        "weights": params.weights or "none",
        "alpha": params.alpha,
        "within_sd": w_sd,
        "within_share": w_share,
        "estimate_per_within_sd": float(est * w_sd),
        "mde": float((q + qp) * se),
        "headline": False,
        "role": ROLE.get(spec.direction, spec.direction),
        "pairs": timing.pairs,
        "pair_gap_years": timing.pair_gap_years,
        "change_gap_years": timing.change_gap_years,
        "skipped_years": timing.skipped_years,
        "changes": timing.changes,
        "timing": timing.timing_text(),
    }


def _rows(fitted: Fitted, frame: ModelFrame, spec: Spec, params: ModelParams) -> list[dict[str, Any]]:
    b, v = fitted.params, fitted.cov
    out = []
    kind = EFFECT_KIND[fitted.family]
    timing = pairing(frame, spec)
    for t in frame.terms:
        common = {"fitted": fitted, "frame": frame, "spec": spec, "stats_term": t, "params": params,
                  "timing": timing}
        out.append(_row(float(b[t]), float(v.loc[t, t]), term=t, effect=kind, **common))
        if fitted.family == "mundlak":
            m = f"mean({t})"
            out.append(_row(float(b[m]), float(v.loc[m, m]), term=m, effect="contextual", **common))
            var_b = float(v.loc[t, t] + v.loc[m, m] + 2 * v.loc[t, m])
            out.append(_row(float(b[t] + b[m]), var_b, term=t, effect="between", **common))
    return out


def _specs(p: ModelParams) -> list[Spec]:
    cov = tuple(p.covariates)
    specs = [Spec(f"forward_lag{p.lag}", "forward", p.lag, p.dependent, p.exposure, cov)]
    for k in sorted(set(p.lags) - {p.lag}):
        specs.append(Spec(f"forward_lag{k}", "forward", k, p.dependent, p.exposure, cov))
    if p.reverse:
        # k = 0 would be the forward model's partial correlation with the roles swapped
        for k in sorted((set(p.lags) | {p.lag}) - {0}):
            specs.append(Spec(f"reverse_lag{k}", "reverse", k, p.exposure, p.dependent, cov))
    for k in sorted(set(p.placebo_leads)):
        specs.append(Spec(f"placebo_lead{k}", "placebo", -k, p.dependent, p.exposure, cov))
    if p.lagged_dependent:
        specs.append(
            Spec(f"lagged_dependent_lag{p.lag}", "lagged_dependent", p.lag, p.dependent, p.exposure, cov, True)
        )
    for m in p.other_exposures:
        if m != p.exposure:  # a covariate that is this model's exposure is not also held as a covariate
            specs.append(Spec(f"exposure_{m.split('.', 1)[-1]}", "forward", p.lag, p.dependent, m,
                              tuple(c for c in cov if c != m)))
    if p.adjust_contemporaneous != "no":
        # distributed-lag twins: the shifted measure plus the same measure at year t
        out: list[Spec] = []
        for s in specs:
            if s.lag != 0 and s.direction in ("forward", "reverse", "placebo"):
                twin = Spec(f"{s.name}_adj", s.direction, s.lag, s.y, s.x, (*s.covariates, s.x))
                out.extend([s, twin] if p.adjust_contemporaneous == "both" else [twin])
            else:
                out.append(s)
        specs = out
    return specs


def _frame_checks(frame: ModelFrame, spec: Spec, p: ModelParams, family: str) -> None:
    data = frame.data
    what = spec.label
    if len(data) < p.min_obs:
        raise LinkageDataError(
            f"{what}: only {len(data)} usable trust-years after lags and missing values "
            f"(min_obs={p.min_obs}); dropped: {frame.dropped_text()}"
        )
    n_ent = data.index.get_level_values(0).nunique()
    n_per = data.index.get_level_values(1).nunique()
    if n_ent < 2:
        raise LinkageDataError(f"{what}: only {n_ent} trust left in the sample; need at least two")
    if n_per < 2 and family != "between":
        years = sorted(data.index.get_level_values(1).unique().tolist())
        raise LinkageDataError(
            f"{what}: only one year ({years}) left in the sample after lags and missing values; "
            "within-trust models need at least two"
        )
    if EFFECT_KIND[family] == "within" and p.skip_gaps == "drop" and spec.lag != 0:
        timing = pairing(frame, spec)
        if timing.spans_gap:
            raise LinkageDataError(
                f"{what}: its within-trust changes span {timing.change_gap_years} years ({timing.skipped_years} "
                f"not in the sample: {timing.changes}) and model.skip_gaps is 'drop'"
            )
    if EFFECT_KIND[family] == "within":
        x = data[spec.x_term].to_numpy()
        _, share = within_stats(x, codes_of(data.index)[0])
        if not np.isfinite(share) or share < 1e-12:
            raise LinkageDataError(
                f"{what}: no within-trust variation in {spec.x_term!r} (every trust has the same value "
                f"in each of its years), so {FAMILY_TEXT[family]} cannot estimate its association"
            )


def fit_models(panel: pd.DataFrame, params: ModelParams | dict[str, Any] | None = None) -> ModelRun:
    """Fit the panel models of patient experience on staff wellbeing.

    Parameters
    ----------
    panel : pandas.DataFrame
        Wide linked panel (``data/processed/panel.parquet``): one row per
        (org_code, year), a column per measure and ``<measure>__n`` bases.
    params : ModelParams or dict, optional
        The ``model`` section of ``params.yaml`` (defaults if omitted).

    Returns
    -------
    ModelRun

    Raises
    ------
    LinkageDataError
        If the panel cannot support the headline model (missing or all-missing
        measure, one trust, one year, too few observations after lags, no
        within-trust variation in the exposure, collinear regressors).  Other
        models that cannot be fitted are skipped with a warning naming the reason.
    """
    p = params if isinstance(params, ModelParams) else ModelParams.model_validate(params or {})
    measures = [p.dependent, p.exposure, *p.covariates]
    check_panel(panel, measures, weight_column=_weight_column(p.dependent, p))
    specs = _specs(p)
    head_spec = specs[0]
    head_frame = build_frame(panel, head_spec, _weight_column(head_spec, p))
    _frame_checks(head_frame, head_spec, p, p.headline_family)

    fits = _Fits()
    _fit_headline_families(fits, head_frame, head_spec, p)
    for spec in specs[1:]:
        _fit_other_spec(fits, panel, spec, p)

    results = pd.DataFrame(fits.rows).reindex(columns=RESULT_COLUMNS)
    hz = _hausman_block(head_frame, head_spec, p, fits.fitted)
    reliability = _reliability(panel, p, measures)
    correction = _correct(panel, head_frame, head_spec, p)
    fits.notes.extend(correction.notes)
    return ModelRun(
        results=results,
        headline=_headline(results, head_frame, p, correction),
        comparison=_comparison(results, head_spec),
        hausman=hz,
        reliability=reliability,
        mde=results[["model", "spec_name", "term", "effect", "estimate", "std_error", "mde"]].assign(
            power=p.power, alpha=p.alpha
        ),
        warnings=_warnings(p, panel, results, head_frame, reliability, fits.notes, fits.skipped, hz, correction),
        skipped=fits.skipped,
        convention=_convention(p),
        params=p,
        fits=fits.fitted,
    )


@dataclass
class _Fits:
    """What the fitting steps of :func:`fit_models` collect."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    fitted: dict[tuple[str, str], Fitted] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add(self, fitted: Fitted, frame: ModelFrame, spec: Spec, p: ModelParams) -> list[dict[str, Any]]:
        self.fitted[(spec.name, fitted.family)] = fitted
        self.notes.extend(fitted.notes)
        new = _rows(fitted, frame, spec, p)
        self.rows.extend(new)
        return new


def _weight_column(spec: Spec | str, p: ModelParams) -> str | None:
    """The weight column of a specification (or of dependent ``spec``): the dependent's base for
    ``respondents``, else the panel column ``model.weights`` names (a weight measure or ``<measure>__n``)."""
    if not p.weights:
        return None
    y = spec if isinstance(spec, str) else spec.y
    return f"{y}__n" if p.weights == "respondents" else p.weights


def _fit_args(p: ModelParams) -> dict[str, Any]:
    return {"cov_type": p.cov_type, "small_sample": p.small_sample, "time_effects": p.time_effects,
            "dk_bandwidth": p.dk_bandwidth}


def _fit_headline_families(fits: _Fits, frame: ModelFrame, spec: Spec, p: ModelParams) -> None:
    """Every family on the headline specification, the headline family first.

    A failure of the headline family is raised; other families are skipped with the reason.
    """
    families = [p.headline_family] + [f for f in p.families if f != p.headline_family]
    for fam in families:
        try:
            if fam != p.headline_family:
                _frame_checks(frame, spec, p, fam)
            fitted = fit_family(fam, frame, context=spec.label, **_fit_args(p))
        except LinkageDataError as err:
            if fam == p.headline_family:
                raise
            fits.skipped.append(f"{FAMILY_TEXT[fam]} [{spec.label}]: {err}")
            continue
        new = fits.add(fitted, frame, spec, p)
        if fam == p.headline_family:
            new[0]["headline"] = True


def _fit_other_spec(fits: _Fits, panel: pd.DataFrame, spec: Spec, p: ModelParams) -> None:
    """The headline family on one further specification, or skip it with the reason."""
    try:
        absent = [m for m in (spec.y, spec.x, *spec.covariates) if m not in panel.columns]
        if absent:
            raise LinkageDataError(f"{absent} not in the panel (measures available: {measure_columns(panel)})")
        if p.weights and _weight_column(spec, p) not in panel.columns:
            raise LinkageDataError(f"weights={p.weights!r} needs {_weight_column(spec, p)!r}, which the panel lacks")
        frame = build_frame(panel, spec, _weight_column(spec, p))
        _frame_checks(frame, spec, p, p.headline_family)
        fitted = fit_family(p.headline_family, frame, context=spec.label, **_fit_args(p))
    except LinkageDataError as err:
        fits.skipped.append(f"{FAMILY_TEXT[p.headline_family]} [{spec.label}]: {err}")
        return
    fits.add(fitted, frame, spec, p)


def _headline(results: pd.DataFrame, frame: ModelFrame, p: ModelParams, corr: _Correction) -> dict[str, Any]:
    """The headline row as the JSON-serialisable dict of ``metrics/headline.json``."""
    head = results[results["headline"]].iloc[0]
    index = frame.data.index
    years = sorted(int(y) for y in index.get_level_values(1).unique())
    out = {
        "estimate": float(head["estimate"]),
        "std_error": float(head["std_error"]),
        "ci_low": float(head["ci_low"]),
        "ci_high": float(head["ci_high"]),
        "p_value": float(head["p_value"]),
        "alpha": p.alpha,
        "n_trusts": int(index.get_level_values(0).nunique()),
        "n_obs": int(head["n_obs"]),
        "n_years": len(years),
        "years": years,
        "n_dropped": int(head["n_dropped"]),
        "family": p.headline_family,
        "dependent": p.dependent,
        "exposure": p.exposure,
        "term": str(head["term"]),
        "lag": p.lag,
        "cov_type": str(head["cov_type"]),
        "small_sample": str(head["small_sample"]),
        "weights": p.weights or "none",
        "within_share": float(head["within_share"]),
        "within_sd": float(head["within_sd"]),
        "estimate_per_within_sd": float(head["estimate_per_within_sd"]),
        "mde": float(head["mde"]),
        "power": p.power,
        "pairs": str(head["pairs"]),
        "pair_gap_years": int(head["pair_gap_years"]),
        "change_gap_years": int(head["change_gap_years"]),
        "changes": str(head["changes"]),
    }
    out.update(corr.headline_fields(p.alpha))
    if corr.fit is not None:
        est, se, df, based_on = corr.fit.estimate, corr.fit.std_error, corr.fit.df, "corrected"
    else:
        est, se, df, based_on = out["estimate"], out["std_error"], _df_or_none(head["df"]), "naive"
    out["equivalence"] = equivalence_block(
        estimate=est, std_error=se, df=df, sesoi=p.sesoi, typical_change=out["within_sd"], alpha=p.alpha,
        based_on=based_on,
    )
    return out


def _df_or_none(df: float) -> float | None:
    return None if not np.isfinite(df) else float(df)


WHY_MOM = (
    "The sampling variance of every published exposure value is known from its base n and the within "
    "estimator is linear, so subtracting the expected sampling noise from the exposure's within sum of squares "
    "(a method-of-moments errors-in-variables correction, as in Fuller 1987) removes the attenuation in "
    "expectation in closed form. Unlike SIMEX it needs no extrapolation model and no simulation, so the "
    "result is deterministic and its sandwich standard error is exact algebra. The dependent's sampling "
    "error is not corrected: it widens intervals but does not bias the slope."
)


@dataclass
class _Correction:
    """The measurement-error correction of the headline slope, or why there is none."""

    fit: Corrected | None
    method: str
    why: str
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def headline_fields(self, alpha: float) -> dict[str, Any]:
        """``exposure_reliability``, ``*_corrected`` and ``correction`` of ``metrics/headline.json``."""
        info = {"method": self.method, "why": self.why, **self.details}
        if self.fit is None:
            return {"exposure_reliability": self.details.get("exposure_reliability"), "estimate_corrected": None,
                    "std_error_corrected": None, "ci_low_corrected": None, "ci_high_corrected": None,
                    "correction": info}
        f = self.fit
        q = _quantiles(f.df, alpha, 0.8)[0]
        return {
            "exposure_reliability": f.reliability,
            "estimate_corrected": f.estimate,
            "std_error_corrected": f.std_error,
            "ci_low_corrected": f.estimate - q * f.std_error,
            "ci_high_corrected": f.estimate + q * f.std_error,
            "p_value_corrected": _pvalue(f.estimate / f.std_error if f.std_error > 0 else float("inf"), f.df),
            "correction": info,
        }


def exposure_variance(panel: pd.DataFrame, spec: Spec, frame: ModelFrame, p: ModelParams) -> tuple[np.ndarray, str]:
    """Sampling variance of the exposure value (at t - lag) of every row of ``frame``, and its formula.

    Raises
    ------
    LinkageDataError
        If the exposure has no base column, no sampling model or a missing base in a row used.
    """
    ncol = f"{spec.x}__n"
    if ncol not in panel.columns:
        raise LinkageDataError(f"the panel has no base column {ncol!r} for the exposure")
    unit = measure_unit(panel[spec.x], spec.x, p.percent_measures)
    values = pd.to_numeric(panel[spec.x], errors="coerce").to_numpy(dtype=float)
    bases = pd.to_numeric(panel[ncol], errors="coerce").to_numpy(dtype=float)
    try:
        var = sampling_variance(values, np.where(bases > 0, bases, np.nan), unit, p.score_individual_sd)
    except ValueError as err:
        raise LinkageDataError(f"{spec.x}: {err}") from None
    keys = pd.MultiIndex.from_arrays([panel["org_code"].astype(str), panel["year"].astype(int) + spec.lag])
    aligned = pd.Series(var, index=keys).reindex(frame.data.index).to_numpy(dtype=float)
    missing = int((~np.isfinite(aligned)).sum())
    if missing:
        raise LinkageDataError(f"{missing} of {len(aligned)} trust-years used have no positive base n in {ncol!r}")
    formula = {"percent": "100^2 p(1-p)/n", "proportion": "p(1-p)/n",
               "score": f"sd^2/n with an assumed individual sd of {p.score_individual_sd:g} (model.score_individual_sd)"}
    return aligned, f"{formula[unit]} from {ncol} ({unit} measure)"


def _reliability_only(panel: pd.DataFrame, frame: ModelFrame, spec: Spec, p: ModelParams) -> dict[str, Any]:
    """The exposure's within reliability in the matching within design, for a headline that has no correction."""
    fam = "twoway_fe" if p.time_effects else "entity_fe"
    try:
        var, formula = exposure_variance(panel, spec, frame, p)
        fit = corrected_slope(fam, frame, var, time_effects=p.time_effects, small_sample=p.small_sample)
    except LinkageDataError:
        return {}
    return {"exposure_reliability": fit.reliability, "reliability_design": family_label(fam, p.time_effects),
            "sampling_variance": formula}


def _correct(panel: pd.DataFrame, frame: ModelFrame, spec: Spec, p: ModelParams) -> _Correction:
    """The errors-in-variables corrected headline slope, or the reason it is not computed."""
    fam = p.headline_family
    if fam not in CORRECTABLE:
        return _Correction(None, "none", f"{FAMILY_TEXT[fam]} also uses differences between trusts; the "
                           f"correction is defined for the within designs {list(CORRECTABLE)} only",
                           _reliability_only(panel, frame, spec, p))
    try:
        var, formula = exposure_variance(panel, spec, frame, p)
        fit = corrected_slope(fam, frame, var, time_effects=p.time_effects, small_sample=p.small_sample)
    except LinkageDataError as err:
        return _Correction(None, "none", f"not computed: {err}",
                           notes=[f"No measurement-error correction of the headline: {err}"])
    details = {
        "design": family_label(fam, p.time_effects),
        "sampling_variance": formula,
        "exposure_reliability": fit.reliability,
        "noise_share": fit.noise_share,
        "attenuation": fit.estimate_naive / fit.estimate if fit.estimate else None,
        "interval": (f"cluster-robust sandwich of the corrected estimating equations by trust "
                     f"({fit.n_clusters} trusts), small-sample convention {p.small_sample}, "
                     f"{'normal' if fit.df is None else f't({fit.df:g})'} reference"),
        "assumes": ("sampling errors independent across trust-years and of the latent values; covariates "
                    "measured without error; sampling variances known from the published base n"),
    }
    return _Correction(fit, "errors-in-variables method of moments (Fuller-style) on the within design", WHY_MOM,
                       details)


def _comparison(results: pd.DataFrame, head_spec: Spec) -> pd.DataFrame:
    """The headline specification across families."""
    return results[results["spec_name"] == head_spec.name][
        ["model", "model_label", "effect", "term", "estimate", "std_error", "ci_low", "ci_high", "p_value",
         "mde", "estimate_per_within_sd", "n_obs", "n_entities", "n_periods", "cov_type", "small_sample"]
    ].reset_index(drop=True)


def _reliability(panel: pd.DataFrame, p: ModelParams, measures: list[str]) -> pd.DataFrame:
    rel_measures = p.reliability_measures or measures
    missing_rel = [m for m in rel_measures if m not in panel.columns]
    if missing_rel:
        raise LinkageDataError(f"reliability_measures not in the panel: {missing_rel}")
    return reliability_table(
        panel, list(rel_measures), percent_measures=p.percent_measures, score_sd=p.score_individual_sd
    )


def _convention(p: ModelParams) -> str:
    """One line naming the covariance and small-sample convention."""
    return (
        f"Standard errors: {COV_TEXT[p.cov_type]}; small-sample convention {CONVENTION_TEXT[p.small_sample]}; "
        f"{int((1 - p.alpha) * 100)}% CIs; weights: {p.weights or 'none'}."
    )


def _hausman_block(frame: ModelFrame, spec: Spec, p: ModelParams, fits: dict) -> dict[str, Any]:
    fe_fam = "twoway_fe" if p.time_effects else "entity_fe"
    out: dict[str, Any] = {"fe_family": fe_fam, "re_family": "random_effects"}
    try:
        kw = {"cov_type": "unadjusted", "small_sample": "cr1", "time_effects": p.time_effects, "context": spec.label}
        fe = fit_family(fe_fam, frame, **kw)
        re = fit_family("random_effects", frame, **kw)
        out.update(hausman(fe.params, fe.cov, re.params, re.cov, frame.terms))
    except LinkageDataError as err:
        out.update(statistic=None, df=0, p_value=None, note=f"Hausman test not computed: {err}")
    try:
        mund = fits.get((spec.name, "mundlak")) or fit_family("mundlak", frame, context=spec.label, **_fit_args(p))
        w = wald(mund.params, mund.cov, [f"mean({t})" for t in frame.terms], mund.scale.df)
        out.update({f"mundlak_{k}": v for k, v in w.items()})
        out["mundlak_note"] = (
            "Mundlak (correlated random effects) test that the trust means of the regressors have zero "
            "coefficients, i.e. within = between; uses the run's covariance, so it is robust to the "
            "clustering that the classic Hausman test ignores."
        )
    except LinkageDataError as err:
        out["mundlak_note"] = f"Mundlak test not computed: {err}"
    return out


def _warnings(
    p: ModelParams,
    panel: pd.DataFrame,
    results: pd.DataFrame,
    frame: ModelFrame,
    reliability: pd.DataFrame,
    notes: list[str],
    skipped: list[str],
    hz: dict[str, Any],
    corr: _Correction,
) -> list[str]:
    w: list[str] = []
    data = frame.data
    years = sorted(int(y) for y in data.index.get_level_values(1).unique())
    T = len(years)
    if T <= 3:
        w.append(
            f"Short panel: {T} years ({years}). Within-trust estimates rest on {T - 1} change(s) per trust; "
            "they are imprecise and sensitive to survey changes between years."
        )
    gaps = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    if gaps:
        w.append(
            f"Years {gaps} are absent from the sample: lags are by calendar year, so there is no t-1 value "
            "after a gap, and first differences span the gap; check for series breaks (question or method changes)."
        )
    if frame.n_dropped:
        w.append(
            f"Headline model: {frame.n_dropped} of {frame.n_candidate} trust-years dropped for missing values "
            f"({frame.dropped_text()})."
        )
    if p.lagged_dependent:
        w.append(
            f"Lagged dependent variable with trust effects: Nickell bias of order -(1+rho)/(T-1) on its "
            f"coefficient (T={T}) and bias in the other coefficients; treat the lagged-dependent model as descriptive."
        )
    if p.cov_type in ("clustered_twoway", "driscoll_kraay") and T < 20:
        w.append(
            f"{COV_TEXT[p.cov_type]} standard errors with only {T} years: the time dimension gives few "
            "clusters/autocovariances, so these standard errors are themselves very noisy."
        )
    g = data.index.get_level_values(0).nunique()
    if p.cov_type.startswith("clustered") and g < 40:
        w.append(f"Only {g} trust clusters: cluster-robust inference may over-reject.")
    w.extend(_reliability_warnings(p, reliability, corr))
    plac = results[(results["direction"] == "placebo") & (results["term"].str.startswith("F"))]
    for _, r in plac.iterrows():
        if r["p_value"] < p.alpha:
            w.append(
                f"Placebo {r['term']} (future exposure) is statistically distinguishable from zero "
                f"({p_text(r['p_value'])}): shared trends or reverse timing may be behind the forward association."
            )
    if hz.get("p_value") is not None and hz["p_value"] < p.alpha:
        w.append("Hausman test rejects random effects: trust effects are correlated with the regressors; rely on fixed effects.")
    w.extend(dict.fromkeys(notes))
    w.extend(f"Skipped: {s}" for s in skipped)
    return w


def _reliability_warnings(p: ModelParams, reliability: pd.DataFrame, corr: _Correction) -> list[str]:
    """A warning when the EXPOSURE's within-trust reliability is low: its sampling noise attenuates the slope.

    The dependent's sampling noise only widens the intervals, so it gets no warning here.
    """
    if corr.fit is not None:
        rel = corr.fit.reliability
        where = "in the headline design"
    else:
        rows = reliability[reliability["measure"] == p.exposure]["within_reliability"]
        rel = float(rows.iloc[0]) if len(rows) and pd.notna(rows.iloc[0]) else float("nan")
        where = "net of trust and year means"
    if not np.isfinite(rel) or rel >= 0.5:
        return []
    fix = (f"; the corrected estimate ({corr.fit.estimate:.3g}) removes that attenuation on average"
           if corr.fit is not None else "")
    return [
        f"{p.exposure} (the exposure): within-trust reliability {rel:.2f} {where} - sampling noise from its "
        f"base n is a large part of the year-to-year changes used, so the naive slope is attenuated towards zero "
        f"by about that factor{fix}."
    ]


def _error_lines(h: dict[str, Any], pct: int) -> list[str]:
    """Sentences on the exposure's sampling error, the corrected slope and the equivalence test."""
    lines = []
    if h.get("estimate_corrected") is not None:
        lines.append(
            f"Sampling error in the published {h['exposure']} values (from their base n) leaves a within-trust "
            f"reliability of {h['exposure_reliability']:.2f} in this design, which pulls the slope towards zero; "
            f"corrected for it, the slope is {h['estimate_corrected']:.3g} ({pct}% CI {h['ci_low_corrected']:.3g} "
            f"to {h['ci_high_corrected']:.3g})."
        )
    else:
        lines.append(f"No measurement-error correction: {h['correction']['why']}")
    eq = h["equivalence"]
    bound = f"{eq['sesoi']:.3g} on the {h['dependent']} scale per typical within-trust change of {h['exposure']} ({eq['typical_change']:.3g})"
    if eq["verdict"] == "ruled_out":
        lines.append(f"A link as large as {bound} is ruled out (equivalence test, {eq['based_on']} slope, {p_text(eq['p_value'])}).")
    else:
        lines.append(f"A link as large as {bound} cannot be ruled out (equivalence test, {eq['based_on']} slope, {p_text(eq['p_value'])}).")
    return lines


def correction_table(run: ModelRun) -> pd.DataFrame:
    """Naive and measurement-error corrected headline slope side by side, with the equivalence bounds."""
    h = run.headline
    rows = [{"slope": "naive", "estimate": h["estimate"], "std_error": h["std_error"], "ci_low": h["ci_low"],
             "ci_high": h["ci_high"]}]
    if h.get("estimate_corrected") is not None:
        rows.append({"slope": "corrected", "estimate": h["estimate_corrected"], "std_error": h["std_error_corrected"],
                     "ci_low": h["ci_low_corrected"], "ci_high": h["ci_high_corrected"]})
    eq = h["equivalence"]
    rows.append({"slope": f"equivalence bounds (sesoi {eq['sesoi']:g} per typical change)", "estimate": float("nan"),
                 "std_error": float("nan"), "ci_low": eq["bound_low"], "ci_high": eq["bound_high"]})
    return pd.DataFrame(rows)


def plain_language(run: ModelRun) -> str:
    """A short plain-language reading of the headline, without causal wording.

    Parameters
    ----------
    run : ModelRun

    Returns
    -------
    str
    """
    h = run.headline
    p = run.params
    pct = int(round((1 - h["alpha"]) * 100))
    when = "the same year" if h["lag"] == 0 else f"{h['lag']} year(s) earlier"
    sign = "higher" if h["estimate"] >= 0 else "lower"
    excludes = h["ci_low"] > 0 or h["ci_high"] < 0
    lines = [
        f"Across {h['n_trusts']} trusts observed in {h['n_years']} years ({h['years'][0]}-{h['years'][-1]}; "
        f"{h['n_obs']} trust-years), comparing each trust with itself over time "
        f"({FAMILY_TEXT[h['family']]}), a one-unit higher {h['exposure']} {when} went with a "
        f"{abs(h['estimate']):.3g}-unit {sign} {h['dependent']} "
        f"({pct}% CI {h['ci_low']:.3g} to {h['ci_high']:.3g}; {p_text(h['p_value'])}).",
        f"Per within-trust standard deviation of {h['exposure']} ({h['within_sd']:.3g}), that is "
        f"{h['estimate_per_within_sd']:.3g} on the {h['dependent']} scale; "
        f"{h['within_share'] * 100:.0f}% of the variation in {h['exposure']} is within trusts.",
        f"The smallest association this design would detect with {int(h['power'] * 100)}% power is about "
        f"+/-{h['mde']:.3g}. The interval {'excludes' if excludes else 'includes'} zero.",
        *_error_lines(h, pct),
    ]
    res = run.results
    for direction, label in (("reverse", "Reverse direction (earlier patient values)"),
                             ("placebo", "Placebo (future staff values)")):
        sub = res[(res["direction"] == direction) & (res["model"] == p.headline_family)]
        sub = sub[sub["term"] == sub["regressor"]]  # the shifted term, not the same-year value of an _adj twin
        for _, r in sub.iterrows():
            lines.append(
                f"{label}, {r['spec']}: {r['estimate']:.3g} ({pct}% CI {r['ci_low']:.3g} to {r['ci_high']:.3g})."
            )
    lines.append(
        "These are associations within trusts over time, not evidence that one measure changes the other. "
        + run.convention
    )
    return "\n".join(lines)
