"""Who is in this analysis: every count the site shows, computed once from the pipeline's files.

Pages quote different numbers of trusts for good reasons (organisations in
the published files, trusts kept by the link step, trusts with a value of a
measure, trusts in the headline model, trusts of one type). This module
computes each of them from the files the site reads, with the reason it
differs from the row above, so that every page can take its count from here
and link to the table (``summary.html#who``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .design import TRUST_TYPE_TEXT, measure_words
from .inputs import SiteInputs
from .words import and_list, year_list

#: The anchor of the table on the summary page; every page's counts link to it.
COUNTS_ANCHOR = "who"


@dataclass(frozen=True)
class Count:
    """One row of the table: what is counted, how many, and why it differs from the row above."""

    key: str
    what: str
    number: int
    why: str


def _trusts_with(inputs: SiteInputs, measure: str) -> int:
    panel = inputs.panel
    if measure not in panel:
        return 0
    return int(panel.loc[panel[measure].notna(), "org_code"].nunique())


def _both_same_year(inputs: SiteInputs, x: str, y: str) -> int:
    panel = inputs.panel
    if x not in panel or y not in panel:
        return 0
    return int(panel.loc[panel[x].notna() & panel[y].notna(), "org_code"].nunique())


def _read_rows(inputs: SiteInputs) -> list[Count]:
    out = []
    h = inputs.headline
    for kind, key in (("staff", "exposure"), ("patient", "dependent")):
        # the files' source named from the catalogue entry of the headline measure that was read from them
        survey = measure_words(inputs.catalogue, str(h[key])).source if h.get(key) else f"{kind} source"
        n = inputs.ingest.get(kind, {}).get("organisations")
        if n is not None:
            out.append(Count(f"read_{kind}", f"Organisations in the {survey} files read", int(n),
                             "Every organisation code found in the published files, of every type, in any year."))
    return out


def counts(inputs: SiteInputs) -> list[Count]:
    """The rows of the "who is in this analysis" table, largest group first.

    Parameters
    ----------
    inputs : SiteInputs
        The pipeline outputs the site reads (ingest and link metrics, the panel, the headline metrics).

    Returns
    -------
    list of Count
    """
    h, panel = inputs.headline, inputs.panel
    types = [str(t) for t in inputs.linkage.get("trust_types", [])]
    type_words = and_list(TRUST_TYPE_TEXT.get(t, f"{t} trusts") for t in types) or "the trust types chosen"
    restricted = getattr(getattr(inputs.params, "link", None), "restrict_trust_types", True)
    which = (f"Organisations in either source that are {type_words}; other organisations, codes" if restricted
             else "Every organisation the files give, whatever its type (the sample is not restricted by type); codes")
    out = _read_rows(inputs)
    out.append(Count("linked", "Trusts linked (in the panel; one page each)", int(panel["org_code"].nunique()),
                     f"{which} unknown to the organisation registry and predecessors merged into their successor are "
                     "not counted (see the link step)."))
    for key, role in (("exposure", "staff"), ("dependent", "patient")):
        m = h.get(key)
        if m:
            out.append(Count(f"with_{role}", f"Trusts with a value of {inputs.label(m)}", _trusts_with(inputs, str(m)),
                             "Trusts in the panel with at least one published value of this measure."))
    x, y = h.get("exposure"), h.get("dependent")
    if x and y:
        out.append(Count("both", "Trusts with both measures in the same survey year",
                         _both_same_year(inputs, str(x), str(y)),
                         "A trust needs both results for at least one year to be compared at all."))
    if "n_trusts" in h:
        years = year_list(h.get("years", []))
        out.append(Count("headline", "Trusts in the headline model", int(h["n_trusts"]),
                         f"Trusts whose results enter the headline model's estimate (survey years {years}; "
                         f"{int(h.get('n_obs', 0)):,} trust-years); fewer than the row above when the model uses fewer "
                         "years or drops trusts it cannot compare with themselves (see the model step)."))
    for t, n in panel.groupby("trust_type")["org_code"].nunique().sort_index().items():
        out.append(Count(f"peers_{t}", f"Peers on the trust pages: {TRUST_TYPE_TEXT.get(str(t), f'{t} trusts')}",
                         int(n), "Trust pages compare a trust only with trusts of the same type in the panel."))
    return out


def count_of(rows: list[Count], key: str) -> int | None:
    """The number in the row ``key`` (None if the table has no such row)."""
    return next((r.number for r in rows if r.key == key), None)
