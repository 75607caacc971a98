"""Regenerate the pipeline notebooks' source (cells only, no outputs).

The notebooks are the narrative layer: they are thin on purpose, calling
``linkage`` functions and drawing figures.  Edit them in Jupyter or here; this
script is kept so that a reviewer can read every notebook's cells as plain
Python in one place.  Run: ``python tools/build_notebooks.py``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"name": "linkage", "display_name": "Python (linkage workbench)", "language": "python"}


def md(text: str):
    return nbf.v4.new_markdown_cell(text.strip())


def code(text: str, tags: list[str] | None = None):
    cell = nbf.v4.new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = tags
    return cell


def setup(section: str, stage: str, extra: str = "") -> str:
    """The setup cell: imports, the validated params and the stage module."""
    return f"""
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from linkage.figures import show_figure
from linkage.notebook import show_provenance, stage_params

plt.style.use("seaborn-v0_8-whitegrid")
pd.set_option("display.max_columns", 40, "display.width", 160)
pd.set_option("display.float_format", "{{:.4g}}".format)  # 0.7462, not 7.462178e-01

P = stage_params("{section}", globals(), params_file)
from linkage.stages import {stage} as stage
{extra}""".strip()


def param_cell(section: str) -> str:
    """The notebook's parameters cell.

    The stage runner (``linkage stage``) injects every key of ``section`` below
    it, with the values of params.yaml, so they show at the top of the executed
    notebook; opened by hand, the notebook reads params.yaml itself.
    """
    return (f"# Parameters: section `{section}` of params.yaml. `linkage stage` injects its keys below this cell;\n"
            "# run by hand, the notebook reads params.yaml from the project root.\n"
            'params_file = "params.yaml"')


def ingest_nb(kind: str, number: int, title: str, intro: str, figure: str) -> nbf.NotebookNode:
    return nbf.v4.new_notebook(cells=[
        md(f"# {title}\n\n{intro}"),
        code(param_cell(kind), tags=["parameters"]),
        code(setup(kind, f"ingest_{kind}", "from linkage import figures")),
        md("## Read every published file of this kind\n\nFiles are recognised by their contents, not their names. "
           "Values are put on one scale per measure (percentages for staff proportions, 0-10 for patient scores)."),
        code('res = stage.run(P)\n'
             'display(figures.metrics_table(res.metrics).style.hide(axis="index"))'),
        md("## What was read, per survey year"),
        code(figure),
        md("## Nothing lost silently\n\nCells the readers could not use (suppressed, non-numeric, superseded by a "
           "newer publication, summary rows) are listed with a reason; measures not selected in `params.yaml` "
           "are counted."),
        code('q = res.quarantine\ndisplay(q.groupby(["reason"]).size().rename("cells").to_frame() if len(q) else '
             'Markdown("No cells quarantined."))\n'
             'display(res.audit.pivot_table(index=["source_file", "year"], columns="status", values="rows", '
             'aggfunc="sum", fill_value=0))'),
        code('u = res.metrics["files_unrecognised"]\n'
             'display(Markdown("### Files no reader or mapping recognised\\n\\n" + ("\\n".join(f"- `{x}`" for x in u) '
             'if u else "None: every file in the raw folder is a survey file of a known layout, a mapped extract or '
             'an ODS registry file.")))'),
        code('display(Markdown("### Organisations by kind"))\n'
             'display(res.orgs.groupby(["year", "org_kind"]).size().unstack(fill_value=0) if len(res.orgs) else '
             'Markdown("(no organisation metadata in these files)"))'),
        md("## Provenance\n\nParameters, package versions and the sha256 of every raw file."),
        code(f'show_provenance(P, "{kind}")'),
    ], metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})


def by_year_figure(kind: str) -> str:
    """Counts per year and measure, and a box plot of the first selected measure."""
    return (
        't = res.tidy\n'
        'display(t.groupby(["year", "measure"])["org_code"].nunique().unstack(fill_value=0))\n'
        f'ax = figures.measure_by_year(t, P.{kind}.measures[0])\n'
        'show_figure(ax.figure, stage.STAGE.figure)'
    )


def link_nb() -> nbf.NotebookNode:
    return nbf.v4.new_notebook(cells=[
        md("# 3. Linking trusts across surveys and years\n\n"
           "The Staff Survey and the Inpatient Survey are joined **by trust and survey year**. Trusts merge, "
           "change type and close; each survey covers organisations the other lacks. This step maps every "
           "organisation code to its successor, restricts to the trust types in `params.yaml`, respects known "
           "series breaks, and records the fate of **every input row** in an audit table."),
        code(param_cell("link"), tags=["parameters"]),
        code(setup("link", "link", "from linkage import figures, link")),
        code('res = stage.run(P)\ndisplay(Markdown(figures.link_summary(res.metrics)))'),
        md("## Panel balance\n\nHow many trusts have both a staff and a patient measure in each year; in the figure "
           "each row is a trust and each column a survey year."),
        code('display(stage.balance_by_year(res.balance))\nax = link.plot_balance(res.balance)\nshow_figure(ax.figure, stage.STAGE.figure)'),
        md("## Linkage audit\n\nEvery input row is matched, merged into a successor, or excluded with a reason. "
           "The totals reconcile: rows in = matched + merged + excluded."),
        code('display(link.audit_summary(res.audit))\n'
             'display(res.audit[res.audit["fate"] == "excluded"].groupby("reason").size().rename("rows").to_frame())'),
        code('display(Markdown("### Codes that could not be mapped (listed, not dropped)"))\n'
             'unk = res.audit[res.audit["reason"].astype(str).str.startswith("unknown")]\n'
             'display(unk.drop_duplicates(["source_file", "org_code"])[["source_file", "org_code", "year", "reason"]] '
             'if len(unk) else Markdown("None."))'),
        md("## All linkage metrics (also in metrics/linkage.json)"),
        code('display(figures.metrics_table(res.metrics).style.hide(axis="index"))'),
        md("## Provenance"),
        code('show_provenance(P, "link")'),
    ], metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})


def model_nb() -> nbf.NotebookNode:
    return nbf.v4.new_notebook(cells=[
        md("# 4. Does staff wellbeing predict patient experience?\n\n"
           "Panel models on the linked trust x year panel. The question is whether, **within the same trust "
           "over time**, years with worse staff wellbeing are years with worse patient experience, beyond what is "
           "fixed about a trust and what is common to a year. These are associations: they can show "
           "temporal precedence and robustness, not cause."),
        code(param_cell("model"), tags=["parameters"]),
        code(setup("model", "model", "from linkage import figures, models")),
        code('run = stage.run(P)\ndisplay(Markdown(models.plain_language(run)))'),
        md("## Headline estimate and how the design matters"),
        code('display(Markdown(run.convention))\nax = figures.plot_comparison(run)\nshow_figure(ax.figure, stage.STAGE.figure)\ndisplay(run.comparison)'),
        md("## Temporal precedence: lags, reverse direction, placebo leads"),
        code('display(figures.direction_table(run))\ndisplay(pd.DataFrame([run.hausman]).T.rename(columns={0: "Hausman FE vs RE"}))'),
        md("## Reliability and power\n\nHow reliable each trust-level measure is given its respondents, and the "
           "smallest effect this panel could detect (80% power), next to the estimates."),
        code('display(run.reliability)\ndisplay(pd.DataFrame([run.headline]).T.rename(columns={0: "headline"}))'),
        md("## Measurement error and equivalence\n\nThe published staff values are survey estimates with sampling "
           "error from their base n, which attenuates within-trust slopes. The corrected slope removes that "
           "attenuation on average (errors-in-variables, `docs/models.md`); the equivalence test asks whether a "
           "link as large as `model.sesoi` per typical within-trust change is ruled out."),
        code('display(models.correction_table(run))\ndisplay(pd.Series(run.headline["correction"], name="correction"))\n'
             'display(pd.Series(run.headline["equivalence"], name="equivalence"))'),
        code('for w in run.warnings:\n    display(Markdown(f"> **Note.** {w}"))'),
        md("## Provenance"),
        code('show_provenance(P, "model")'),
    ], metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})


REPORT_SUMMARY = r"""
site = stage.run(P)
a = site["answers"]
display(Markdown(f"# {P.report.title}\n\n**{a.question}**\n\n" + "\n".join(f"- **{h}.** {t}" for h, t in a.points)))
"""

REPORT_CHECKS = r"""
display(Markdown("\n".join(f"- **{f.title}.** {f.sentence}" for f in a.findings)
                 or "No timing, reverse, placebo or other-measure results were fitted in this run."))
if site["not_estimable"]:
    display(Markdown("**Not estimable with these data** (listed, not hidden):\n\n"
                     + "\n".join(f"- {item}" for item in site["not_estimable"])))
"""

REPORT_FIGURES = r"""
from IPython.display import Image

for fig in site["figures"]:
    display(Image(filename=f"reports/{fig.path}"), metadata={"image/png": {"alt": fig.alt}})
    display(Markdown(f"*{fig.caption}*"))
"""


def report_nb() -> nbf.NotebookNode:
    return nbf.v4.new_notebook(cells=[
        code(param_cell("report"), tags=["parameters"]),
        code(setup("report", "report")),
        md("The report site is built by this step: start at [the index](index.html), read [the summary](summary.html), "
           "find a trust's own page from the index, and see [methods and provenance](methods.html)."),
        code(REPORT_SUMMARY),
        md("## Timing and direction checks"),
        code(REPORT_CHECKS),
        md("## Figures"),
        code(REPORT_FIGURES),
        md("## For reviewers: every parameter, data hash and version"),
        code('show_provenance(P)'),
    ], metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})


def multiverse_nb() -> nbf.NotebookNode:
    return nbf.v4.new_notebook(cells=[
        md("# 6. Every reasonable specification: the specification curve\n\n"
           "One model is one story. Here the same question is asked in **every reasonable way** the parameters "
           "allow: each staff measure against each patient measure, six designs, same-year, lagged and placebo "
           "(lead) timings, five kinds of sample, with and without weights. Specifications the panel cannot "
           "support are listed with the reason, not dropped. These are associations, not causes."),
        code(param_cell("multiverse"), tags=["parameters"]),
        code(setup("multiverse", "multiverse", "from linkage import figures")),
        code('run = stage.run(P)\ndisplay(Markdown(stage.plain_summary(run, P.multiverse)))'),
        md("## The curve\n\nEach point is one specification's estimate, oriented so that **above zero means better "
           "staff wellbeing goes with better patient experience**, with its confidence interval; blue points are "
           "significant. The dots below mark each specification's choices, so a band of dots at one end shows "
           "which choice drives the estimate. Red triangles are the headline specifications bootstrapped below."),
        code('fig = figures.specification_curve(run.table, P.multiverse.alpha)\n'
             'show_figure(fig, stage.STAGE.figure)'),
        md("## The pre-specified inferential curve and its falsification checks\n\n"
           "Only the designs declared in `multiverse.inferential_families` at `inferential_lags` (by default the "
           "within-trust designs at the same year and one year before) count as evidence. Placebo leads (staff "
           "surveyed after patients) and reverse models (patient experience earlier, staff later) are checks and "
           "should find nothing; pooled and random-effects designs are exploratory. Identical specifications are "
           "counted once. Every share in a row is over that row's distinct fitted specifications, significance in "
           "either direction; the joint test (Simonsohn, Simmons and Nelson 2020) asks how often that many would "
           "be significant if there were no association at all."),
        code('rows = {"inferential": run.curves["inferential"], **{f"falsification: {k}": v for k, v in '
             'run.curves["falsification"].items()}, "exploratory (not evidence)": run.curves["exploratory"]}\n'
             'cols = ["n_specs", "n_fitted", "n_distinct", "n_duplicates", "n_significant", "null_mean_significant", '
             '"share_significant", "share_significant_bh", "share_significant_romano_wolf", '
             '"median_estimate_within_std", "joint_p"]\n'
             'display(pd.DataFrame(rows).T.reindex(columns=cols))\n'
             'dups = run.table[run.table["duplicate_of"].notna()]\n'
             'display(Markdown(f"{len(dups):,} forward specifications repeat another one\'s estimate exactly '
             '(column \u201csame estimate as specification\u201d); e.g.:"))\n'
             'display(dups[["spec_id", "duplicate_of", "family", "sample", "dependent", "exposure", "lag", '
             '"estimate"]].head(8))'),
        md("## Deprivation as a moderator\n\n"
           "With `deprivation` in `multiverse.moderators`, each specification is also fitted with the staff measure "
           "x catchment deprivation (IMD 2019 score, centred on the mean of the fitted trusts): its estimate is the "
           "association at average deprivation, and the interaction says how the association changes with "
           "deprivation. They count as evidence only if `inferential_moderators` lists `deprivation`. Random "
           "effects and Mundlak cannot take the moderator and list it as unsupported."),
        code('mod = run.curves["moderated"]\n'
             'if not mod["n_specs"]:\n'
             '    display(Markdown("No moderator is listed in `multiverse.moderators`, so no moderated specification "\n'
             '                     "was fitted."))\n'
             'else:\n'
             '    mt = run.table[(run.table["moderator"] != "none") & (run.table["status"] == "ok")]\n'
             '    display(Markdown(f"{mod[\'n_fitted\']:,} of {mod[\'n_specs\']:,} moderated specifications fitted "\n'
             '                     f"({mod[\'n_inferential\']:,} in the inferential curve)."))\n'
             '    display(mt.assign(interaction_significant=mt["interaction_p_value"] < P.multiverse.alpha)\n'
             '            .groupby("family").agg(specs=("estimate", "size"), estimate_within_std=("estimate_within_std", "median"),\n'
             '                                   interaction_median=("interaction_within_std", "median"),\n'
             '                                   interaction_min=("interaction_within_std", "min"),\n'
             '                                   interaction_max=("interaction_within_std", "max"),\n'
             '                                   share_interaction_significant=("interaction_significant", "mean"))\n'
             '            if len(mt) else Markdown("None could be fitted."))\n'
             '    display(pd.Series(mod.get("unsupported_reasons", {}), name="unsupported").to_frame())'),
        md("## Adjusted p-values\n\nWith thousands of tests some are significant by chance. Benjamini-Hochberg "
           "controls the expected share of false discoveries; Romano-Wolf the chance of even one (both over all "
           "fitted forward specifications here; within each role in the table above). The joint test of the whole "
           "curve mixes exploratory designs and placebo leads in, so it is shown for completeness, not as evidence."),
        code('ok = run.table[run.table["status"] == "ok"]\na = P.multiverse.alpha\n'
             'share = ok.assign(raw=ok["p_value"] < a, bh=ok["p_bh"] < a, romano_wolf=ok["p_romano_wolf"] < a)\n'
             'display(share.groupby("family")[["raw", "bh", "romano_wolf"]].mean().style.format("{:.0%}")'
             '.set_caption(f"share of specifications significant at {a:g}, by design"))\n'
             'display(pd.Series(run.joint, name="joint test").to_frame())'),
        md("## Headline specifications: wild cluster bootstrap by trust\n\n"
           "For the headline design (sample all, unweighted, clustered by trust), p-values and intervals from "
           "the wild cluster bootstrap (restricted WCR and unrestricted WCU; Rademacher and Webb weights) beside "
           "the analytic ones."),
        code('pivot, long = figures.bootstrap_tables(run.bootstrap, run.table, P.multiverse.bootstrap_draws)\n'
             'display(pivot)\ndisplay(long)'),
        md("## What could not be fitted"),
        code('bad = run.table[run.table["status"] != "ok"]\ndisplay(Markdown(figures.unfitted_sentence(run.table)))\n'
             'display(bad.groupby("reason").size().rename("specifications").to_frame() if len(bad) '
             'else Markdown("Every specification was fitted."))\n'
             'for n in run.notes:\n    display(Markdown(f"> **Note.** {n}"))'),
        md("## Provenance"),
        code('show_provenance(P, "multiverse")'),
    ], metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})


def main() -> None:
    nbs = {
        "01_ingest_staff.ipynb": ingest_nb(
            "staff", 1, "1. Reading the NHS Staff Survey",
            "Reads the published Staff Survey organisation results (and any mapped researcher extract) into one "
            "tidy table: organisation, survey year, measure, value and the number of staff behind it.",
            by_year_figure("staff")),
        "02_ingest_patient.ipynb": ingest_nb(
            "patient", 2, "2. Reading patient experience (CQC Adult Inpatient Survey)",
            "Reads the CQC Adult Inpatient Survey trust benchmark files, including the previous years each file "
            "republishes in its historical sheets, into the same tidy table.",
            by_year_figure("patient")),
        "03_link.ipynb": link_nb(),
        "04_model.ipynb": model_nb(),
        "05_report.ipynb": report_nb(),
        "06_multiverse.ipynb": multiverse_nb(),
    }
    for name, nb in nbs.items():
        for i, cell in enumerate(nb.cells):  # stable ids keep diffs readable
            cell.id = f"{name[:2]}-{i:02d}"
        nbf.write(nb, ROOT / "notebooks" / name)
        print("wrote", name)


if __name__ == "__main__":
    main()
