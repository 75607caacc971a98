"""One page per trust: its staff and patient measures over the years against its peers.

Peers are the trusts of the same type in the panel (the benchmark group the
publishers use: acute, acute specialist). Values whose base is under the
publisher's disclosure threshold are dropped before anything is computed, so
they can appear neither on the trust's own page nor in its peers' spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import numpy as np
import pandas as pd

from ..vocab import UNIT_TEXT
from .deprivation import trust_sentences
from .design import TRUST_TYPE_TEXT, source_of
from .inputs import SiteInputs
from .words import and_list, fixed, places_for


def source_text(catalogue: Any, demo: bool = False) -> dict[str, str]:
    """Where each measure's values come from, by measure name, and by role (every source of that role).

    Named from the catalogue entry that reads the measure, so a measure from a
    project's own extract is never credited to a publisher's survey; on the
    demo, the publisher's layout the synthetic files imitate.
    """
    if catalogue is None:
        return {}
    suffix = " layout (synthetic demo files)" if demo else ""
    by_name = {name: source_of(catalogue, m) + suffix for name, m in catalogue.measures.items()}
    by_role: dict[str, list[str]] = {}
    for name, m in catalogue.measures.items():
        by_role.setdefault(m.kind, []).append(by_name[name])
    return {**{role: and_list(dict.fromkeys(v)) for role, v in by_role.items()}, **by_name}


@dataclass
class Point:
    """One year of one measure for one trust (a shown value) and its peers' spread."""

    year: int
    value: float | None
    low: float | None
    high: float | None
    base: float | None
    suppressed: bool
    peers: dict[str, float] = field(default_factory=dict)


@dataclass
class Series:
    """A trust's measure over the years, with what changed since the previous survey."""

    measure: str
    label: str
    kind: str
    unit: str
    places: int
    points: list[Point]
    change: str
    position: str

    @property
    def has_range(self) -> bool:
        """Whether any shown value has a sampling-error range (known only for percentages and 0-10 scores)."""
        return any(p.low is not None for p in self.points)

    @property
    def table(self) -> list[TableRow]:
        """The rows of the page's table of values, numbers formatted here once rather than one template call each."""
        return [table_row(p, self.places) for p in self.points]


@dataclass(frozen=True)
class TableRow:
    """One survey year of a trust page's table, as printed: ``value`` is None for a value not shown."""

    year: int
    value: str | None
    range: str
    base: str
    peers: str
    n: str


def table_row(p: Point, places: int) -> TableRow:
    """``p`` as the table prints it: its value, range and base, and the peers' middle half and count (or '-')."""
    value = rng = base = ""
    if p.value is not None:
        value = fixed(float(p.value), places)
        rng = (f"{fixed(float(p.low), places)} to {fixed(float(p.high), places)}" if p.low is not None
               else "not available")
        base = fixed(float(p.base), 0) if p.base is not None else "not published"
    peers, n = "-", "-"
    if p.peers:
        peers = f"{fixed(float(p.peers['p25']), places)} to {fixed(float(p.peers['p75']), places)}"
        n = fixed(float(p.peers["n"]), 0)
    return TableRow(p.year, None if p.value is None else value, rng, base, peers, n)


@dataclass
class TrustPage:
    """Everything on ``trusts/<code>.html``."""

    code: str
    name: str
    trust_type: str
    peer_text: str
    n_peers: int
    series: list[Series]
    context: str = ""


def page_measures(inputs: SiteInputs) -> list[str]:
    """Measures shown on trust pages: every non-count catalogue measure in the panel, staff first."""
    cat = inputs.catalogue.measures
    names = [m for m in cat if m in inputs.panel.columns and cat[m].unit != "count"]
    return sorted(names, key=lambda m: (cat[m].kind != "staff", list(cat).index(m)))


def shown_values(inputs: SiteInputs, measure: str, min_base: dict[str, int]) -> pd.DataFrame:
    """``org_code, year, trust_type, value, base, suppressed`` for one measure; suppressed values set to NaN."""
    kind = inputs.measure(measure).side  # outcome measures take the patient side's minimum base
    base_col = f"{measure}__n"
    df = inputs.panel[["org_code", "year", "trust_type", measure]].rename(columns={measure: "value"})
    df["base"] = inputs.panel[base_col] if base_col in inputs.panel else np.nan
    df = df[df["value"].notna()].copy()
    df["suppressed"] = df["base"].notna() & (df["base"] < min_base[kind])
    df.loc[df["suppressed"], "value"] = np.nan
    return df


def sampling_se(value: float, base: float, unit: str, score_sd: float) -> float | None:
    """Standard error of a trust value from its base n (percent: binomial; 0-10 score: assumed respondent SD)."""
    if base is None or not math.isfinite(base) or base <= 0:
        return None
    if unit == "percent":
        p = min(max(value / 100.0, 0.0), 1.0)
        return 100.0 * math.sqrt(p * (1 - p) / base)
    if unit == "score10":
        return score_sd / math.sqrt(base)
    return None


#: The peers' percentiles, as fractions.
PEER_QUANTILES = np.asarray([0.1, 0.25, 0.5, 0.75, 0.9])


def peer_spread(values: pd.Series) -> dict[str, float]:
    """The 10th, 25th, 50th, 75th and 90th percentiles of peers' shown values, and their count.

    Linear interpolation between order statistics, computed as pandas' ``Series.quantile`` computes it
    (numpy's percentile of the values), without building a Series per group.
    """
    v = values.to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    if len(v) < 5:
        return {}
    q = np.percentile(v, PEER_QUANTILES * 100.0, method="linear")
    return {"p10": q[0], "p25": q[1], "p50": q[2], "p75": q[3], "p90": q[4], "n": float(len(v))}


def change_text(inputs: SiteInputs, measure: str, points: list[Point], z: float, places: int, unit_word: str) -> str:
    """What changed between the trust's two latest shown values, judged against sampling noise and series breaks."""
    shown = [p for p in points if p.value is not None]
    if len(shown) < 2:
        return "Only one survey year is shown, so there is no earlier value to compare with."
    prev, last = shown[-2], shown[-1]
    m = inputs.measure(measure)
    for b in m.series_breaks:
        if prev.year < b.year <= last.year and not b.comparable_across:
            return (f"{last.year} cannot be compared with {prev.year}: {b.note.rstrip('.')}.")
    diff = last.value - prev.value
    since = f"since {prev.year}" if last.year - prev.year == 1 else f"since {prev.year} (the previous year shown)"
    if float(fixed(abs(diff), places).replace(",", "")) == 0:
        return f"In {last.year}, about the same as {since.removeprefix('since ')}."
    se = [(p.high - p.low) / (2 * z) for p in (prev, last) if p.low is not None and p.high is not None]
    noise = ""
    if len(se) == 2:
        beyond = abs(diff) > z * math.hypot(*se)
        noise = (" - more than sampling noise alone would explain" if beyond
                 else " - within what sampling noise alone could explain")
    better = "" if m.higher_is_better is None else (
        " (better)" if (diff > 0) == bool(m.higher_is_better) else " (worse)")
    amount = fixed(abs(diff), places)
    unit_word += "" if float(amount) == 1 else "s"
    text = f"{'Up' if diff > 0 else 'Down'} {amount} {unit_word} {since}{better}{noise}."
    if prev.peers and last.peers:
        text += (f" Over the same years the peers' middle value went from {fixed(prev.peers['p50'], places)} to "
                 f"{fixed(last.peers['p50'], places)}.")
    return text


def position_text(last: Point | None, peer_text: str) -> str:
    """Where the latest value sits in the peers' spread, in words (no rank)."""
    if last is None or last.value is None or not last.peers:
        return ""
    pr = last.peers
    if last.value < pr["p25"]:
        where = "below the middle half of"
    elif last.value > pr["p75"]:
        where = "above the middle half of"
    else:
        where = "within the middle half of"
    return f"In {last.year} the trust's value was {where} {peer_text} ({int(pr['n'])} trusts with a published value)."


def z_value(level: float) -> float:
    """The two-sided normal quantile of an interval ``level`` (0.95 -> 1.96), from the standard library."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


@dataclass
class _Rows:
    """One measure's shown values of one trust, in year order, as plain Python lists."""

    years: list[int]
    values: list[float | None]
    bases: list[float | None]
    suppressed: list[bool]


def _by_trust(df: pd.DataFrame) -> dict[str, _Rows]:
    """The shown values of one measure split by trust once (a group-by, not one filter per trust)."""
    df = df.sort_values(["org_code", "year"], kind="stable")
    values = df["value"].astype(float).to_numpy()
    bases = df["base"].astype(float).to_numpy()
    codes, years, supp = df["org_code"].to_numpy(), df["year"].to_numpy(), df["suppressed"].to_numpy()
    out: dict[str, _Rows] = {}
    start = 0
    for i in range(1, len(df) + 1):
        if i == len(df) or codes[i] != codes[start]:
            out[codes[start]] = _Rows([int(y) for y in years[start:i]],
                                      [None if v != v else float(v) for v in values[start:i]],
                                      [None if b != b else float(b) for b in bases[start:i]],
                                      [bool(x) for x in supp[start:i]])
            start = i
    return out


def _measure_frames(inputs: SiteInputs, params: Any) -> dict[str, tuple[dict[str, _Rows], dict]]:
    """Per measure: its shown values by trust and the peers' spread by (trust type, year)."""
    rp = params.report
    min_base = {"staff": rp.min_base_staff, "patient": rp.min_base_patient}
    out = {}
    for measure in page_measures(inputs):
        df = shown_values(inputs, measure, min_base)
        spread = {(key[0], int(key[1])): peer_spread(v) for key, v in df.groupby(["trust_type", "year"])["value"]}
        out[measure] = (_by_trust(df), spread)
    return out


def _series(inputs: SiteInputs, params: Any, measure: str, rows: _Rows, spread: dict,
            trust_type: str, peer_text: str, z: float) -> Series | None:
    m = inputs.measure(measure)
    sd = params.model.score_individual_sd
    points = []
    for year, value, base, suppressed in zip(rows.years, rows.values, rows.bases, rows.suppressed, strict=True):
        se = sampling_se(value, base, m.unit, sd) if value is not None else None
        points.append(Point(year, value, None if se is None else value - z * se,
                            None if se is None else value + z * se, base, suppressed,
                            spread.get((trust_type, year), {})))
    if not any(p.value is not None for p in points):
        return None
    widths = [p.high - p.low for p in points if p.low is not None]
    places = places_for(0, float(median(widths))) + 1 if widths else (1 if m.unit == "percent" else 2)
    unit_word = UNIT_TEXT.get(m.unit, "unit")
    last = next((p for p in reversed(points) if p.value is not None), None)
    return Series(measure, m.label, m.kind, m.unit, places, points,
                  change_text(inputs, measure, points, z, places, unit_word), position_text(last, peer_text))


def trust_pages(inputs: SiteInputs, params: Any) -> list[TrustPage]:
    """One :class:`TrustPage` per trust in the panel, in code order."""
    frames = _measure_frames(inputs, params)
    z = z_value(params.report.interval_level)
    panel = inputs.panel.sort_values(["org_code", "year"])
    panel = panel[panel["org_code"].notna()]
    n_by_type = panel.groupby("trust_type")["org_code"].nunique().to_dict()
    pages = []
    context = trust_sentences(inputs)
    # each trust's type from its last row, its name from its last row with a name: two passes, not one per trust
    types = dict(zip(*(panel.drop_duplicates("org_code", keep="last")[c].tolist() for c in ("org_code", "trust_type")),
                     strict=True))
    named = panel[panel["org_name"].notna()].drop_duplicates("org_code", keep="last")
    names = dict(zip(named["org_code"].tolist(), named["org_name"].tolist(), strict=True))
    for code in sorted(types):
        ttype = str(types[code])
        peer_text = TRUST_TYPE_TEXT.get(ttype, f"{ttype} trusts")
        series = []
        for measure, (by_trust, spread) in frames.items():
            rows = by_trust.get(code)
            s = _series(inputs, params, measure, rows, spread, ttype, peer_text, z) if rows else None
            if s is not None:
                series.append(s)
        pages.append(TrustPage(str(code), str(names[code]) if code in names else str(code),
                               ttype, peer_text, int(n_by_type.get(ttype, 0)), series, context.get(str(code), "")))
    return pages
