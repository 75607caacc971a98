"""The step reports: executed notebooks rendered in the site's look, offline and byte-stable.

nbconvert's default HTML template loads require.js and MathJax from a CDN and
labels every figure "No description has been provided for this image". Here a
notebook is rendered with nbconvert's ``basic`` template (body only, no
scripts), inputs hidden, and then placed in the site's page layout: demo
banner first, every table scrollable, every image with alt text that says what
it shows, pandas Styler's random table ids made stable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Pandas Styler ids (``T_1a2b3``): random per render unless normalised.
_STYLER_ID = re.compile(r"T_[0-9a-f]{5}(?=[_\" #.{])")
#: Object addresses in plain-text reprs: ``<pandas...Styler at 0x7f3a...>``.
_ADDRESS = re.compile(r" at 0x[0-9a-f]+>")


@dataclass(frozen=True)
class Step:
    """One pipeline step report."""

    stem: str
    title: str
    about: str


STEPS: tuple[Step, ...] = (
    Step("01_ingest_staff", "Step 1: reading the staff results",
         "What was read from each staff file (NHS Staff Survey workbooks or the project's own extracts), and what "
         "could not be used and why."),
    Step("02_ingest_patient", "Step 2: reading the patient and outcome results",
         "What was read from each patient experience or outcome file (CQC Adult Inpatient Survey files or the "
         "project's own extracts), and what could not be used and why."),
    Step("03_link", "Step 3: linking trusts across surveys and years",
         "How trusts were matched between the surveys and over time: mergers, exclusions and the full audit."),
    Step("04_model", "Step 4: the panel models",
         "Every model design, timing check and diagnostic, with the tables researchers need."),
    Step("05_report", "Step 5: the summary notebook",
         "The notebook that computes the summary, with its parameters, data hashes and versions."),
    Step("06_multiverse", "Step 6: every reasonable specification",
         "The specification curve: every combination of measures, designs, timings, samples and weightings, with "
         "p-values adjusted for testing them all and a wild bootstrap of the headline."),
)


def stable_ids(html: str) -> str:
    """Replace pandas Styler's random table ids by ids numbered in order of appearance."""
    seen: dict[str, str] = {}

    def repl(m: re.Match[str]) -> str:
        return seen.setdefault(m.group(0), f"T_s{len(seen):04d}")

    return _STYLER_ID.sub(repl, html)


def stable_outputs(nb: Any) -> Any:
    """Make an executed notebook byte-stable in place; returns ``nb``.

    Three things change from run to run without the inputs changing: pandas
    Styler's table ids in HTML outputs, object addresses in plain-text reprs
    (``<... Styler at 0x7f...>``) and the random id papermill gives the cell it
    injects the parameters into.
    """
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/html" in data:
                html = data["text/html"]
                data["text/html"] = stable_ids(html if isinstance(html, str) else "".join(html))
            if "text/plain" in data:
                text = data["text/plain"]
                data["text/plain"] = _ADDRESS.sub(">", text if isinstance(text, str) else "".join(text))
    return nb


def template_cache() -> Any:
    """Jinja's compiled-template cache, shared by every stage process (and by the site's own templates).

    Jinja's own per-user folder in the temporary directory (created private,
    refused if another user owns it); an entry is keyed by the template's name
    and a hash of its source and holds only the compiled code, so an edited
    template is compiled afresh and a removed cache costs one compile.
    """
    import jinja2

    return jinja2.FileSystemBytecodeCache()


def notebook_body(nb: Any, alt: str) -> tuple[str, str]:
    """``(first heading, body HTML)`` of an executed notebook (node or path): inputs hidden, no scripts, alt text set."""
    import nbformat
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    from .tables import humanise_tables

    if isinstance(nb, (str, Path)):
        nb = nbformat.read(nb, as_version=4)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, anchor_link_text="")
    exporter.log.setLevel("ERROR")  # missing alt text is filled in below, not a warning
    exporter.environment.bytecode_cache = template_cache()  # each stage is a new process: compile the templates once
    html, _ = exporter.from_notebook_node(nb)
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(["script", "link", "iframe"]):
        tag.decompose()
    for img in soup.find_all("img"):
        if not img.get("alt") or img["alt"].startswith("No description"):
            img["alt"] = alt
    humanise_tables(soup)
    for table in soup.find_all("table"):
        if table.parent is not None and "table-wrap" not in (table.parent.get("class") or []):
            table.wrap(soup.new_tag("div", attrs={"class": "table-wrap", "tabindex": "0"}))
    for stream in soup.select(".output_stderr"):
        stream.decompose()
    h1 = soup.find("h1")
    title = h1.get_text(" ", strip=True) if h1 else ""
    if h1 is not None:
        h1.decompose()
    return title, stable_ids(str(soup))
