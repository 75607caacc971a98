"""Write every page of the report site, and the step reports in the same layout."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..paths import REPORTS, STAGES
from ..provenance import versions
from ..vocab import UNIT_TEXT
from . import trajectories
from .board import BOARD_PAGE, key_findings
from .charts import Figure, coverage_figure, findings_figure
from .counts import COUNTS_ANCHOR
from .deprivation import FIGURE_NAME as DEPRIVATION_FIGURE
from .deprivation import deprivation_section, methods_paragraphs
from .design import Design, design_of, report_title, sources_read
from .findings import all_findings
from .inputs import SiteInputs, load_inputs
from .mergers import load_merged, merger_text
from .page import DATA_TEXT, SITE_TITLE, Layout, render_step_page, step_alt  # noqa: F401 - DATA_TEXT, SITE_TITLE, step_alt: the site's names
from .provenance import (
    input_files,
    parameter_rows,
    source_version,
    stage_sources,
)
from .riclpm import riclpm_section
from .robustness import (
    multilevel_sentence,
    region_sentence,
    robustness_methods,
    robustness_sentence,
)
from .steps import STEPS
from .summary import caveats, summary_context
from .svg import trend_svg
from .trusts import source_text, trust_pages
from .words import and_list

FINDINGS_FIGURE = STAGES["report"].figure.name
COVERAGE_FIGURE = "summary_coverage.png"


class SiteLayout(Layout):
    """The step pages' layout plus what the site's own pages show: each measure's source, the counts' anchor."""

    def __init__(self, root: str | Path = ".", out: str | Path = REPORTS, stage: str = "report",
                 params: Any = None) -> None:
        super().__init__(root, out, stage, params)
        self.env.globals["counts_anchor"] = COUNTS_ANCHOR
        self.common["source_text"] = source_text(self.catalogue, self.common["demo"])


def _summary(layout: Layout, inputs: SiteInputs, params: Any) -> dict[str, Any]:
    ctx = summary_context(inputs)
    head = [f for f in all_findings(inputs) if f.group == "headline"]
    figs = [findings_figure(inputs, head + list(ctx["answers"].findings), layout.out / "figures" / FINDINGS_FIGURE,
                            f"figures/{FINDINGS_FIGURE}"),
            coverage_figure(inputs, layout.out / "figures" / COVERAGE_FIGURE, f"figures/{COVERAGE_FIGURE}"),
            trajectories.figure_for(inputs, layout.out)]
    figs = [f for f in figs if f]
    layout.written += [layout.out / f.path for f in figs]
    rp = params.report
    curve = curve_section(inputs)
    title = _title(inputs, rp)
    deprivation = deprivation_section(inputs, layout.out)
    layout.written.append(layout.out / "figures" / DEPRIVATION_FIGURE)
    key = key_findings(inputs)
    layout.write("summary.html", "summary.html.j2", page_title="Summary: " + title, title=title,
                 audience_note=rp.audience_note, figures=figs, caveats=caveats(inputs), has_model_step=True,
                 curve=curve, deprivation=deprivation, key=key, riclpm=riclpm_section(inputs),
                 robustness=[t for t in (robustness_sentence(inputs), region_sentence(inputs),
                                         multilevel_sentence(inputs)) if t], **ctx)
    layout.write(BOARD_PAGE, "board.html.j2", page_title="Board summary: " + title, title=title,
                 question=ctx["answers"].question, key=key, figure=figs[0] if figs else None, one_page=True)
    ctx["figures"], ctx["key"] = figs, key
    return ctx


def _title(inputs: SiteInputs, rp: Any) -> str:
    """The report's title: ``report.title``, its default question asked of the outcome actually modelled."""
    default = type(rp).model_fields["title"].default
    return report_title(rp.title, default, inputs.headline, inputs.catalogue)


def curve_section(inputs: SiteInputs) -> dict[str, Any] | None:
    """The specification curve on the summary: its sentence, and its figure from the multiverse stage."""
    from ..multiverse import curve_terms, describe_curve

    s = inputs.extra.get("multiverse") or {}
    mv = getattr(inputs.params, "multiverse", None)
    terms = curve_terms(inputs.catalogue, list(getattr(mv, "patient_measures", None) or [inputs.headline.get("dependent")]))
    if not s.get("n_specs"):
        return None
    curve = inputs.extra.get("curve")
    figure = None
    if curve is not None and s.get("n_fitted"):
        d = design_of(inputs)
        up = (f"better {d.exposure.quoted} with better {d.outcome.quoted}" if d.outcome.higher_is_better is not None
              and d.exposure.higher_is_better is not None else f"higher {d.exposure.quoted} with higher {d.outcome.quoted}")
        figure = Figure(
            path=Path(curve).relative_to(REPORTS).as_posix(),
            alt=(f"Specification curve of {s['n_fitted']:,} fitted specifications: each estimate, in standard "
                 f"deviations of the second measure per standard deviation of the first and oriented so that above "
                 f"zero means {up}, ordered from lowest to highest with its interval; below, a panel marks the "
                 "measures, design, timing, sample and weighting of each specification."),
            caption=(f"Every reasonable specification ({s['n_fitted']:,} fitted of {s['n_specs']:,}), ordered by "
                     f"estimate (standardised: SD per SD, above zero = {up}), with intervals. Source: "
                     f"{sources_read(inputs.headline, inputs.catalogue)}, linked by trust and year; details in the "
                     "step 6 report."),
        )
    return {"sentence": describe_curve(s, terms), "figure": figure}


def _breaks(inputs: SiteInputs, measure: str) -> tuple[tuple[int, bool], ...]:
    m = inputs.measure(measure)
    return tuple((b.year, b.comparable_across) for b in m.series_breaks) if m else ()


def _has_role(inputs: SiteInputs, role: str) -> bool:
    return any(m.kind == role for name, m in inputs.catalogue.measures.items() if name in inputs.panel.columns)


def trust_results_text(inputs: SiteInputs) -> str:
    """What a trust page shows: 'staff and patient survey results', or staff results and the outcomes named."""
    roles = {inputs.measure(m).kind for m in inputs.catalogue.measures if m in inputs.panel.columns}
    if "outcome" not in roles:
        return "staff and patient survey results"
    return "staff survey results and other outcomes" if "patient" not in roles else \
        "staff and patient survey results and other outcomes"


def break_key(inputs: SiteInputs, series: Any) -> list[str]:
    """The reason for each dashed line on a trust chart, for the key under it."""
    m = inputs.measure(series.measure)
    years = [p.year for p in series.points]
    out = []
    for b in (m.series_breaks if m else []):
        if years and min(years) < b.year <= max(years):
            across = ("values either side are treated as comparable" if b.comparable_across
                      else "values either side are not compared")
            out.append(f"{b.year}: {b.note.rstrip('.')} ({across}).")
    return out


def _trusts(layout: Layout, inputs: SiteInputs, params: Any) -> list[Any]:
    rp = params.report
    folder = layout.out / "trusts"
    if folder.exists():
        shutil.rmtree(folder)
    pages = trust_pages(inputs, params)
    merged = load_merged(layout.root)
    for t in pages:
        charts = [trend_svg(s, t.name, t.peer_text, f"c{i}", _breaks(inputs, s.measure)) for i, s in enumerate(t.series)]
        layout.write(f"trusts/{t.code}.html", "trust.html.j2", page_title=f"{t.name}: {trust_results_text(inputs)}",
                     t=t, charts=charts, level=int(round(100 * rp.interval_level)), unit_text=UNIT_TEXT,
                     results_text=trust_results_text(inputs), answered_patients=_has_role(inputs, "patient"),
                     min_base={"staff": rp.min_base_staff, "patient": rp.min_base_patient},
                     break_keys=[break_key(inputs, s) for s in t.series], merger=merger_text(merged, t.code))
    return pages


METHODS = (
    "Results are expressed per typical year-to-year change within a trust, rounded to the precision their "
    "interval allows. Intervals are not adjusted for looking at several measures.",
    "Trust pages show each trust's published values with a sampling-error range from the number who answered "
    "(binomial for percentages; an assumed respondent standard deviation for 0-10 scores, model.score_individual_sd; "
    "no range for other scales), next to the spread of trusts of the same type. Values under the disclosure "
    "thresholds are not shown.",
    "The specification curve (step 6) fits every combination of measures, designs, timings, samples and weightings "
    "the parameters allow, and adjusts its p-values for the number of tests (Benjamini-Hochberg; Romano-Wolf by "
    "wild cluster bootstrap over trusts).",
)


def model_label(d: Design) -> str:
    """The headline family's name with year effects said as fitted (``pooled OLS``, ``random effects + year effects``)."""
    from ..vocab import FAMILY_TEXT

    base = FAMILY_TEXT.get(d.family, d.family).split(" (+ year effects)")[0]
    return base + (" + year effects" if d.year_effects and d.family != "twoway_fe" else "")


def standard_errors(d: Design) -> str:
    """The covariance and the small-sample convention actually used, in words."""
    from ..vocab import COV_PLAIN

    cov = COV_PLAIN.get(d.cov_type, d.cov_type)
    if d.small_sample == "none":
        return f"{cov}, without a small-sample correction"
    if d.small_sample == "linearmodels":
        return f"{cov}, with linearmodels' small-sample correction (debiased, effects counted)"
    if d.clustered:
        return f"{cov}, with the CR1 small-sample correction G/(G-1)(n-1)/(n-K) and a t reference with G-1 degrees of freedom"
    return f"{cov}, with the n/(n-K) degrees-of-freedom correction and a t reference with n-K degrees of freedom"


def methods_text(inputs: SiteInputs) -> list[str]:
    """The methods paragraphs, with the headline model said as it was fitted."""
    d = design_of(inputs)
    x, y = d.exposure, d.outcome
    as_published = getattr(getattr(inputs.params, "link", None), "successors", "current") == "as_published"
    orgs = ("with every organisation kept under the code it was published with (no successor mapping, no merging)"
            if as_published else "after mapping merged and renamed organisations to their successors")
    link = (f"The panel links each trust's {x.quoted} ({x.source}) to its {y.quoted} ({y.source}) by year, {orgs} "
            "(see the link step report).")
    headline = (f"The headline model ({model_label(d)}) {d.comparison()}; {d.weights_text(inputs.label)}; the sample "
                f"is {d.sample_text() or 'as linked'}; {standard_errors(d)}. {y.quoted} is on its own scale "
                f"({y.unit_words()}; {y.direction_text}).")
    out = [link, headline]
    groups = {f.group for f in all_findings(inputs)} - {"headline"}
    checks = [text for g, text in (
        ("timing", "lags (the measure that comes first from earlier years)"),
        ("reverse", "the reverse direction (the second measure predicting the first)"),
        ("placebo", "placebo leads (later values of the first measure 'predicting' earlier values of the second)"),
        ("other_measure", "other measures in the same design")) if g in groups]
    if checks:
        out.append(f"Further results on the same design: {and_list(checks)}.")
    return out + list(METHODS) + list(methods_paragraphs(inputs)) + robustness_methods(inputs)


def _methods(layout: Layout, inputs: SiteInputs, params: Any) -> None:
    rows = parameter_rows(params)
    used = [m for m in inputs.catalogue.measures.values() if m.name in inputs.panel.columns]
    layout.write("methods.html", "methods.html.j2", page_title="Methods and provenance", methods=methods_text(inputs),
                 measures=used, files=input_files(inputs.manifest, inputs.catalogue.folder), params=rows,
                 n_changed=sum(r.changed for r in rows), versions=versions(), stage_versions=_stage_versions(layout.root),
                 data_source=layout.common["data_text"], riclpm=riclpm_section(inputs))


def _stage_versions(root: Path) -> list[dict[str, Any]]:
    from ..paths import STAGES

    return [{"stage": name, **source_version(root, stage_sources(name, root, via="report"))} for name in STAGES]


def build_site(params: Any, root: str | Path = ".", out: str | Path = REPORTS, *,
               render_steps: bool = True) -> dict[str, Any]:
    """Build the report site from the pipeline outputs under ``root``.

    Parameters
    ----------
    params : linkage.params.Params
        The validated parameters of the run.
    root : path
        Project root holding ``data/`` and ``metrics/``.
    out : path
        The site folder (``reports/``).
    render_steps : bool
        Also render the step reports from executed notebooks found in ``out``
        (``NN_name.ipynb``); the pipeline leaves this to each stage's runner.

    Returns
    -------
    dict
        ``written`` (every file written), ``answers`` (the summary's
        :class:`~linkage.site.summary.Answers`), ``figures`` and the summary's
        other context.
    """
    inputs = load_inputs(root, params)
    layout = SiteLayout(root, out)
    ctx = _summary(layout, inputs, params)
    pages = _trusts(layout, inputs, params)
    _methods(layout, inputs, params)
    if render_steps:
        for s in STEPS:
            if (layout.out / f"{s.stem}.ipynb").exists():
                layout.written.append(render_step_page(layout.out / f"{s.stem}.ipynb", s.stem, params, root, out))
    rp = params.report
    title = _title(inputs, rp)
    layout.write("index.html", "index.html.j2", page_title=title, title=title,
                 question=ctx["answers"].question, audience_note=rp.audience_note, steps=STEPS, key=ctx["key"],
                 trusts=sorted(pages, key=lambda t: (t.name.lower(), t.code)))
    return {**ctx, "written": layout.written}
