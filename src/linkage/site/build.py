"""Write every page of the report site."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from .charts import coverage_figure, findings_figure
from .inputs import SiteInputs, load_inputs
from .provenance import SOURCE_PATHS, input_files, parameter_rows, source_version, versions
from .steps import STEPS, render_step
from .summary import caveats, summary_context
from .svg import trend_svg
from .trusts import SOURCE_TEXT, trust_pages
from .words import fixed

SITE_TITLE = "Staff wellbeing and patient experience"
DATA_TEXT = {"demo": "Synthetic demo data (not NHS results)", "local": "Published NHS Staff Survey and CQC Adult "
             "Inpatient Survey files", "official": "Published NHS Staff Survey and CQC Adult Inpatient Survey files "
             "(downloaded from the publishers)"}


def _environment() -> Any:
    import jinja2

    folder = resources.files("linkage.site") / "templates"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=False, keep_trailing_newline=True)
    env.globals["fmt"] = lambda x, places: fixed(float(x), places)
    env.tests["multi_year"] = lambda points: sum(p.value is not None for p in points) > 1
    env.globals["css"] = (folder / "site.css").read_text(encoding="utf-8")
    return env


class Site:
    """A renderer sharing one layout context across pages."""

    def __init__(self, inputs: SiteInputs, params: Any, out: Path) -> None:
        self.inputs, self.params, self.out = inputs, params, out
        self.env = _environment()
        source = inputs.manifest.get("source", params.data.source)
        self.common = {"site_title": SITE_TITLE, "demo": inputs.demo, "version": source_version(inputs.root),
                       "data_text": DATA_TEXT.get(source, str(source)), "source_text": SOURCE_TEXT}
        self.written: list[Path] = []

    def render(self, template: str, root: str = "", **context: Any) -> str:
        """Render ``template`` with the shared context (``root`` prefixes links from sub-folders)."""
        return self.env.get_template(template).render(**self.common, root=root, **context)

    def write(self, rel: str, template: str, **context: Any) -> Path:
        """Render ``template`` into ``out/rel``."""
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        root = "../" * rel.count("/")
        path.write_text(self.render(template, root=root, **context), encoding="utf-8")
        self.written.append(path)
        return path


def _summary(site: Site) -> dict[str, Any]:
    ctx = summary_context(site.inputs)
    figs = [findings_figure(site.inputs, _head(site, ctx) + list(ctx["answers"].findings),
                            site.out / "figures/summary_findings.png", "figures/summary_findings.png"),
            coverage_figure(site.inputs, site.out / "figures/summary_coverage.png", "figures/summary_coverage.png")]
    site.written += [site.out / f.path for f in figs if f]
    rp = site.params.report
    site.write("summary.html", "summary.html.j2", page_title="Summary: " + rp.title, title=rp.title,
               audience_note=rp.audience_note, figures=[f for f in figs if f], caveats=caveats(site.inputs),
               has_model_step=(site.out / "04_model.ipynb").exists(), **ctx)
    return ctx


def _head(site: Site, ctx: dict[str, Any]) -> list[Any]:
    from .findings import all_findings

    head = [f for f in all_findings(site.inputs) if f.group == "headline"]
    return head


def _trusts(site: Site) -> list[Any]:
    from ..vocab import UNIT_TEXT

    rp = site.params.report
    folder = site.out / "trusts"
    if folder.exists():
        shutil.rmtree(folder)
    pages = trust_pages(site.inputs, site.params)
    for t in pages:
        charts = [trend_svg(s, t.name, t.peer_text, f"c{i}", _breaks(site.inputs, s.measure))
                  for i, s in enumerate(t.series)]
        site.write(f"trusts/{t.code}.html", "trust.html.j2", page_title=f"{t.name}: staff and patient survey results",
                   t=t, charts=charts, level=int(round(100 * rp.interval_level)), unit_text=UNIT_TEXT,
                   min_base={"staff": rp.min_base_staff, "patient": rp.min_base_patient})
    return pages


def _breaks(inputs: SiteInputs, measure: str) -> tuple[tuple[int, bool], ...]:
    m = inputs.measure(measure)
    return tuple((b.year, b.comparable_across) for b in m.series_breaks) if m else ()


METHODS = (
    "The panel links each NHS trust's Staff Survey results to its Adult Inpatient Survey results by survey year, "
    "after mapping merged and renamed organisations to their successors (see the link step report).",
    "The headline model compares each trust with itself in other years (trust fixed effects) and removes what all "
    "trusts shared in a year (year fixed effects). Standard errors allow for repeated years of the same trust.",
    "Timing checks: staff results from earlier years (lags), the reverse direction (patient results predicting "
    "later staff results) and placebo leads (later staff results 'predicting' earlier patient results).",
    "Results are expressed per typical year-to-year change within a trust, rounded to the precision their "
    "interval allows. Intervals are not adjusted for looking at several measures.",
    "Trust pages show each trust's published values with a sampling-error range from the number who answered "
    "(binomial for percentages; an assumed respondent standard deviation for 0-10 scores, model.score_individual_sd), "
    "next to the spread of trusts of the same type. Values under the publishers' disclosure thresholds are not shown.",
)


def _methods(site: Site) -> None:
    p = site.params
    rows = parameter_rows(p)
    files = input_files(site.inputs.manifest, p.data.raw_dir, site.inputs.catalogue.folder)
    used = [m for m in site.inputs.catalogue.measures.values() if m.name in site.inputs.panel.columns]
    site.write("methods.html", "methods.html.j2", page_title="Methods and provenance", methods=METHODS,
               measures=used, files=files, params=rows, n_changed=sum(r.changed for r in rows), versions=versions(),
               source_paths=SOURCE_PATHS, data_source=site.common["data_text"])


def build_site(params: Any, root: str | Path = ".", out: str | Path = "reports") -> list[Path]:
    """Build the whole report site from the pipeline outputs under ``root``.

    Parameters
    ----------
    params : linkage.params.Params
        The validated parameters of the run.
    root : path
        Project root holding ``data/`` and ``metrics/``.
    out : path
        The site folder (``reports/``); executed step notebooks found there
        (``NN_name.ipynb``) are rendered as step reports.

    Returns
    -------
    list of Path
        Every file written.
    """
    root, out = Path(root), Path(out)
    inputs = load_inputs(root, root / params.data.raw_dir if not Path(params.data.raw_dir).is_absolute()
                         else params.data.raw_dir)
    site = Site(inputs, params, out)
    ctx = _summary(site)
    pages = _trusts(site)
    _methods(site)
    steps = [s for s in STEPS if (out / f"{s.stem}.ipynb").exists()]
    for s in steps:
        alt = step_alt(site.inputs, s.stem)
        render_step(s, out / f"{s.stem}.ipynb", out / f"{s.stem}.html",
                    lambda t, **c: site.render(t, **c), alt)
        site.written.append(out / f"{s.stem}.html")
    rp = params.report
    site.write("index.html", "index.html.j2", page_title="Home", title=rp.title, question=ctx["answers"].question,
               audience_note=rp.audience_note, steps=steps,
               trusts=sorted(pages, key=lambda t: (t.name.lower(), t.code)))
    return site.written


def step_alt(inputs: SiteInputs, stem: str) -> str:
    """What a step report's main figure shows, for figures that carry no alt text of their own."""
    h = inputs.headline
    staff, patient = inputs.label(h.get("exposure", "")), inputs.label(h.get("dependent", ""))
    return {
        "01_ingest_staff": "Box plots of the first selected Staff Survey measure by survey year, one point per organisation.",
        "02_ingest_patient": "Box plots of the first selected Inpatient Survey measure by survey year, one point per trust.",
        "03_link": "Panel balance: one row per trust and one column per survey year, shaded by which surveys have a value.",
        "04_model": f"Dot chart of the estimated link between {staff} and {patient} under each model design, with intervals.",
        "05_report": f"Dot charts of the estimated links between {staff} and {patient}: designs, timing, reverse and placebo checks.",
    }.get(stem, "Figure of this step's main result.")
