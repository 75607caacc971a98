"""The pages' shared layout and the step reports: all a stage runner needs to render its notebook.

Kept apart from the site builder (:mod:`linkage.site.build`) so that rendering a step page loads
only the layout, the templates, the wording of the title and the provenance block - not the
summary, trust pages and charts - and so a stage's derived code dependencies
(:mod:`linkage.sourcegraph`) hold only this, not every module of the site.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from ..paths import MANIFEST, REPORTS, STAGES
from .design import site_title, source_of, sources_read
from .provenance import source_version, stage_of_notebook, stage_sources
from .steps import STEPS, Step, notebook_body, template_cache
from .words import fixed

SITE_TITLE = site_title({}, None)
"""The title when there is no headline model yet (the default design's outcome: patient experience)."""
DATA_TEXT = {"demo": "Synthetic demo data (not NHS results)", "local": "Files from the project's data folder",
             "official": "Files downloaded from the publishers"}
HEADLINE = STAGES["report"].path("headline")
"""The headline model's metrics: the report stage's pages take their title from it."""


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _environment() -> Any:
    import jinja2

    folder = resources.files("linkage.site") / "templates"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             bytecode_cache=template_cache())
    env.globals["fmt"] = lambda x, places: fixed(float(x), places)
    env.globals["css"] = (folder / "site.css").read_text(encoding="utf-8")
    env.tests["multi_year"] = lambda points: sum(p.value is not None for p in points) > 1
    return env


class Layout:
    """The shared page layout: templates and what every page shows (demo banner, data source, source version).

    Parameters
    ----------
    root : path
        Project root: the manifest says whether the data are the demo, git gives the source version.
    out : path
        The site folder pages are written into.
    stage : str
        The DVC stage writing the pages: its code paths define the source version shown.
    params : linkage.params.Params, optional
        The run's parameters.  The title and the sources named come from the
        headline model: read from ``metrics/headline.json`` by the report stage
        (a declared dependency), from ``model.exposure`` / ``model.dependent``
        by the other stages, so a stage never reads a file it does not depend on.
    """

    def __init__(self, root: str | Path = ".", out: str | Path = REPORTS, stage: str = "report",
                 params: Any = None) -> None:
        self.root, self.out = Path(root), Path(out)
        from ..catalogue import load_catalogue

        self.env = _environment()
        source = _json(self.root / MANIFEST).get("source")
        version = source_version(self.root, stage_sources(stage, self.root))
        self.catalogue = catalogue = load_catalogue()
        if stage == "report":
            headline = _json(self.root / HEADLINE)
        else:
            model = getattr(params, "model", None)
            headline = {"exposure": model.exposure, "dependent": model.dependent} if model is not None else {}
        read = sources_read(headline, catalogue)
        data_text = DATA_TEXT.get(source, "Data source unknown") + (f": {read}" if read and source != "demo" else "")
        self.common = {"site_title": site_title(headline, catalogue), "demo": source == "demo", "version": version,
                       "data_text": data_text}
        self.written: list[Path] = []

    def render(self, template: str, root: str = "", **context: Any) -> str:
        """Render ``template`` with the shared context (``root`` prefixes links from sub-folders)."""
        return self.env.get_template(template).render(**self.common, root=root, **context)

    def write(self, rel: str, template: str, **context: Any) -> Path:
        """Render ``template`` into ``out/rel``."""
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(template, root="../" * rel.count("/"), **context), encoding="utf-8")
        self.written.append(path)
        return path


def render_step_page(nb: Any, stem: str, params: Any, root: str | Path = ".", out: str | Path = REPORTS) -> Path:
    """Write ``out/<stem>.html`` from an executed notebook (a node or a path), in the site's layout.

    This is how every step report is rendered (the stage runner calls it): no
    CDN scripts, the demo banner first, alt text on every figure.
    """
    step = next((s for s in STEPS if s.stem == stem), Step(stem, stem, ""))
    layout = Layout(root, out, stage_of_notebook(stem) or "report", params)
    heading, body = notebook_body(nb, step_alt(params, stem))
    return layout.write(f"{stem}.html", "step.html.j2", page_title=step.title, heading=heading or step.title,
                        step=step, body=body)


def step_alt(params: Any, stem: str) -> str:
    """What a step report's figures show, for figures that carry no alt text of their own."""
    from ..catalogue import load_catalogue

    cat_all = load_catalogue()
    cat = cat_all.measures

    def label(name: str) -> str:
        return cat[name].label if name in cat else name

    def source(name: str) -> str:
        return source_of(cat_all, cat[name]) if name in cat else "source unknown"

    staff = params.staff.measures[0] if params.staff.measures else ""
    patient = params.patient.measures[0] if params.patient.measures else ""
    x, y = label(params.model.exposure), label(params.model.dependent)
    return {
        "01_ingest_staff": f"Box plots of {label(staff) if staff else 'the first staff measure'} by survey year, one "
                           f"point per organisation ({source(staff)}).",
        "02_ingest_patient": f"Box plots of {label(patient) if patient else 'the first patient measure'} by year, one "
                             f"point per trust ({source(patient)}).",
        "03_link": "Panel balance: one row per trust and one column per survey year, shaded by which surveys have a value.",
        "04_model": f"Dot chart of the estimated link between {x} and {y} under each model design, with intervals.",
        "05_report": f"Dot chart of the estimated links between {x} and {y}: same year, timing, reverse and placebo checks.",
        "06_multiverse": "Specification curve: every fitted specification's estimate, ordered from lowest to highest "
                         "with its interval, above a panel marking the choices each specification made.",
    }.get(stem, "Figure of this step's main result.")
