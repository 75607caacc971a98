"""Small, deterministic inline SVG charts for the trust pages (no JavaScript, no external files)."""

from __future__ import annotations

import math
from html import escape

from .trusts import Series
from .words import fixed, level_title

BLUE, DARK, GREY_LIGHT, GREY_MID, GREY_DARK = "#005EB8", "#003087", "#E8EDEE", "#AEB7BD", "#425563"
W, H = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 74, 16, 30, 62
#: The one name of a dashed line between two survey years (its reason is in the chart's key).
BREAK_NAME = "series break"


def _ticks(lo: float, hi: float, n: int = 4) -> tuple[list[float], int]:
    """About ``n`` round tick values (1, 2 or 5 times a power of ten apart) inside ``[lo, hi]``, and their decimals."""
    raw = (hi - lo) / n if hi > lo else 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda v: abs(math.log(v / raw)))
    places = max(0, -math.floor(math.log10(step) + 1e-9))
    out, k = [], math.ceil(lo / step - 1e-9)
    while k * step <= hi + 1e-9:
        out.append(round(k * step, places + 2))
        k += 1
    return out, places


def _f(x: float) -> str:
    return f"{x:.1f}"


def y_title(series: Series) -> str:
    """The y-axis title: what the numbers are, in their units."""
    return level_title(series.unit, series.kind)


def _range(series: Series) -> tuple[float, float]:
    vals = []
    for p in series.points:
        vals += [v for v in (p.value, p.low, p.high) if v is not None]
        vals += [p.peers[k] for k in ("p10", "p90") if k in p.peers]
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    return lo - pad, hi + pad


def trend_svg(series: Series, trust: str, peer_text: str, uid: str, breaks: tuple = ()) -> str:
    """A trust's values by year (dots with sampling-error bars) over its peers' spread (grey boxes).

    Parameters
    ----------
    series : Series
        The measure's points (values already disclosure-checked).
    trust, peer_text : str
        Names used in the chart's title and description.
    uid : str
        A document-unique id prefix for the title and description elements.
    breaks : sequence of (year, comparable_across)
        Series breaks of the measure, drawn as dashed lines before their year.

    Every coordinate is written with one decimal; each year's x and each value's y
    is computed and formatted once per chart (there are a thousand charts).
    """
    years = [p.year for p in series.points]
    y0, y1 = min(years), max(years)
    lo, hi = _range(series)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = pw / (y1 - y0 + 1)
    xs = {yr: LEFT + (yr - y0 + 0.5) * slot for yr in range(y0, y1 + 1)}
    fx = {yr: f"{v:.1f}" for yr, v in xs.items()}

    def yv(v: float) -> float:
        return TOP + ph * (hi - v) / (hi - lo)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
             f'aria-labelledby="{uid}-t {uid}-d" class="chart">',
             f'<title id="{uid}-t">{escape(series.label)}: {escape(trust)} by survey year against {escape(peer_text)}</title>',
             f'<desc id="{uid}-d">{escape(describe(series, peer_text))}</desc>']
    ticks, places = _ticks(lo, hi)
    for t in ticks:
        ty = yv(t)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{GREY_LIGHT}"/>'
                     f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" class="tick">{fixed(t, places)}</text>')
    parts += [f'<text x="{fx[yr]}" y="{TOP + ph + 17}" text-anchor="middle" class="tick">{yr}</text>' for yr in fx]
    parts.append(f'<text x="{_f(LEFT + pw / 2)}" y="{H - 6}" text-anchor="middle" class="axis-title">Survey year</text>'
                 f'<text transform="translate(16 {_f(TOP + ph / 2)}) rotate(-90)" text-anchor="middle" '
                 f'class="axis-title">{escape(y_title(series))}</text>')
    for year, _comparable in breaks:
        if y0 < year <= y1:
            bx = xs[year] - slot / 2
            anchor, tx = ("end", bx - 4) if bx > LEFT + pw * 0.7 else ("start", bx + 4)
            parts.append(f'<line x1="{_f(bx)}" x2="{_f(bx)}" y1="{TOP - 14}" y2="{TOP + ph}" stroke="{GREY_DARK}" '
                         f'stroke-dasharray="5 4" class="break"/>'
                         f'<text x="{_f(tx)}" y="{TOP - 6}" text-anchor="{anchor}" class="break-label">'
                         f'{BREAK_NAME} ({year})</text>')
    parts += _boxes(series, xs, yv, min(34.0, slot * 0.45))
    parts += _marks(series, fx, yv, {year for year, comparable in breaks if not comparable}, TOP + ph + 31)
    parts.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + ph}" stroke="{GREY_DARK}"/></svg>')
    return "".join(parts)


def _boxes(series: Series, xs: dict[int, float], yv, bw: float) -> list[str]:
    """The peers' spread each year: the middle 80% and the middle half as boxes, a line at the middle value."""
    out, width = [], f"{bw:.1f}"
    for p in series.points:
        if p.peers:
            cx, pr = xs[p.year], p.peers
            left, right = f"{cx - bw / 2:.1f}", f"{cx + bw / 2:.1f}"
            y90, y10, y75, y25, y50 = (yv(pr[k]) for k in ("p90", "p10", "p75", "p25", "p50"))
            out.append(f'<rect x="{left}" y="{y90:.1f}" width="{width}" height="{y10 - y90:.1f}" fill="{GREY_LIGHT}"/>'
                       f'<rect x="{left}" y="{y75:.1f}" width="{width}" height="{y25 - y75:.1f}" fill="{GREY_MID}"/>'
                       f'<line x1="{left}" x2="{right}" y1="{y50:.1f}" y2="{y50:.1f}" stroke="{GREY_DARK}" '
                       'stroke-width="2"/>')
    return out


def _marks(series: Series, fx: dict[int, str], yv, cut: set[int], below: float) -> list[str]:
    """The trust's values: lines between consecutive comparable years, its ranges as bars, its values as dots."""
    out = []
    shown = [p for p in series.points if p.value is not None]
    for a, b in zip(shown, shown[1:], strict=False):
        if b.year - a.year == 1 and b.year not in cut:  # no line across a gap year or a non-comparable break
            out.append(f'<line x1="{fx[a.year]}" y1="{yv(a.value):.1f}" x2="{fx[b.year]}" y2="{yv(b.value):.1f}" '
                       f'stroke="{BLUE}" stroke-width="2"/>')
    for p in series.points:
        if p.value is None:
            out.append(f'<text x="{fx[p.year]}" y="{below}" text-anchor="middle" class="tick">not shown</text>')
            continue
        if p.low is not None:
            out.append(f'<line x1="{fx[p.year]}" x2="{fx[p.year]}" y1="{yv(p.high):.1f}" y2="{yv(p.low):.1f}" '
                       f'stroke="{DARK}" stroke-width="2"/>')
        out.append(f'<circle cx="{fx[p.year]}" cy="{yv(p.value):.1f}" r="5" fill="{BLUE}" stroke="#fff" '
                   'stroke-width="1.5"/>')
    return out


def describe(series: Series, peer_text: str) -> str:
    """The chart's content in words (its accessible description)."""
    vals = "; ".join(f"{p.year}: {fixed(p.value, series.places)}" if p.value is not None
                     else f"{p.year}: not shown (too few responses)" for p in series.points)
    return (f"Values by survey year - {vals}. A dashed line marks a {BREAK_NAME}. Grey boxes show the middle half and the middle 80% of "
            f"{peer_text} each year, with a line at the middle value.")
