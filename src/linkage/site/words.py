"""Numbers and phrases in words people use: rounding, directions, intervals, year lists."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..vocab import UNIT_TEXT


def nice(x: float, digits: int = 2) -> str:
    """Round to ``digits`` significant figures, never in scientific notation.

    Examples
    --------
    >>> nice(0.0204), nice(-1.87), nice(131.0), nice(0.0)
    ('0.020', '-1.9', '131', '0')
    """
    if x is None or not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    places = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    rounded = round(x, places)
    if places == 0:
        return f"{int(rounded):,}"
    return f"{rounded:.{places}f}"


def p_number(p: float, draws: int | None = None) -> str:
    """A p-value by the one rounding rule of every page and table: three decimals, ``'< 0.001'`` below that.

    A p-value from ``draws`` resampling draws cannot be smaller than about one
    in ``draws``: when it is (none of the draws as extreme, so a computed 0),
    it prints as "less than 1/draws" with the number of draws, never as ``0``.

    Examples
    --------
    >>> p_number(0.8242), p_number(0.0004), p_number(0.0, 999), p_number(0.0, 99), p_number(0.031, 999)
    ('0.824', '< 0.001', '< 0.001 (none of 999 draws)', '< 0.01 (none of 99 draws)', '0.031')
    """
    if p is None or not math.isfinite(p):
        return "not available"
    if draws and p * draws < 1:
        return f"< {nice(1.0 / draws, 1)} (none of {draws:,} draws)"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


def p_text(p: float, draws: int | None = None) -> str:
    """A p-value in a sentence: ``'p < 0.001'``, ``'p = 0.124'`` (the rule of :func:`p_number`)."""
    if p is None or not math.isfinite(p):
        return "p not available"
    n = p_number(p, draws)
    return f"p {n}" if n.startswith("<") else f"p = {n}"


def typical_step(sd: float) -> float:
    """A round number close to ``sd`` (1, 2 or 5 times a power of ten) to express effects per 'typical change'."""
    if sd is None or not math.isfinite(sd) or sd <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(sd))
    return min((m * power for m in (1, 2, 5, 10)), key=lambda v: abs(math.log(v / sd)))


def places_for(lo: float, hi: float) -> int:
    """Decimal places that give an interval of width ``hi - lo`` one or two significant figures.

    Estimates and their intervals are rounded to the same places, so that no
    number claims more precision than the interval allows.
    """
    width = abs(hi - lo)
    if not math.isfinite(width) or width == 0:
        return 2
    return max(0, -math.floor(math.log10(width)))


def interval_places(lo: float, hi: float) -> int:
    """:func:`places_for`, plus as many places as needed for a bound of an interval excluding zero not to print as 0."""
    places = places_for(lo, hi)
    while (lo > 0 or hi < 0) and places < 6 and float(fixed(min(abs(lo), abs(hi)), places).replace(",", "")) == 0:
        places += 1
    return places


def fixed(x: float, places: int) -> str:
    """``x`` rounded to ``places`` decimals (thousands separated, never ``-0``)."""
    text = f"{abs(x):,.{places}f}"
    return text if x >= 0 or float(text.replace(",", "")) == 0 else "-" + text


def signed(x: float, places: int, unit: str = "", higher: str = "higher", lower: str = "lower") -> str:
    """``-0.04`` -> ``'0.04 points lower'``; a value that rounds to zero -> ``'about the same'``."""
    text = fixed(abs(x), places)
    if float(text.replace(",", "")) == 0:
        return "about the same"
    if text == "1":
        unit = singular(unit)
    return f"{text}{' ' + unit if unit else ''} {lower if x < 0 else higher}"


def singular(unit: str) -> str:
    """``'percentage points'`` -> ``'percentage point'``; ``'units (0-1)'`` -> ``'unit (0-1)'``."""
    head, sep, tail = unit.partition(" (")
    return (head[:-1] if head.endswith("s") else head) + sep + tail


def interval(lo: float, hi: float, places: int, unit: str = "", higher: str = "higher", lower: str = "lower") -> str:
    """An interval in words: ``'0.02 to 0.06 points lower'`` or ``'0.04 points lower to 0.03 points higher'``."""
    if lo < 0 < hi or lo == 0 or hi == 0:
        return f"{signed(lo, places, unit, higher, lower)} to {signed(hi, places, unit, higher, lower)}"
    a, b = sorted((abs(lo), abs(hi)))
    return f"{fixed(a, places)} to {fixed(b, places)}{' ' + unit if unit else ''} {lower if hi < 0 else higher}"


NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def years_text(k: int) -> str:
    """``1`` -> ``'one year'``, ``2`` -> ``'two years'``."""
    k = abs(int(k))
    return f"{NUMBER_WORDS.get(k, str(k))} year{'s' if k != 1 else ''}"


def year_list(years: Iterable[int]) -> str:
    """``[2019, 2020, 2021]`` -> ``'2019 to 2021'``; ``[2021, 2023]`` -> ``'2021 and 2023'``."""
    ys = sorted({int(y) for y in years})
    if not ys:
        return "no year"
    if len(ys) > 2 and ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]} to {ys[-1]}"
    return and_list(str(y) for y in ys)


def and_list(items: Iterable[str]) -> str:
    """``['a', 'b', 'c']`` -> ``'a, b and c'``."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def lower_first(text: str) -> str:
    """Lower-case the first letter of a label used inside a sentence (keeps acronyms such as 'NHS')."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def short_label(label: str) -> str:
    """A catalogue label without its trailing unit in brackets: ``'Unwell from stress (% staff)'`` -> ``'Unwell from stress'``."""
    return label.rsplit(" (", 1)[0] if label.endswith(")") else label


def level_title(unit: str, kind: str) -> str:
    """What a measure's values are, in their units (``Per cent of staff``, ``Score (0 to 10)``)."""
    if unit == "percent":
        return "Per cent of " + ("patients" if kind == "patient" else "staff")
    if unit == "score10":
        return "Score (0 to 10)"
    text = UNIT_TEXT.get(unit, "unit")
    return text[:1].upper() + text[1:] + "s"


def bare_label(label: str) -> str:
    """A measure's label without its unit in brackets at the end, for axis titles that give the unit in words."""
    import re

    return re.sub(r"\s*\([^)]*\)$", "", label)


def level_units(unit: str, kind: str) -> str:
    """:func:`level_title` for use inside brackets (``per cent of staff``, ``score 0 to 10``)."""
    return level_title(unit, kind).lower().replace("(", "").replace(")", "")


def base_measure(term: str) -> str:
    """``L1.staff.stress`` -> ``staff.stress``; ``mean(x)`` -> ``x``."""
    term = term.removeprefix("mean(").removesuffix(")")
    head, _, rest = term.partition(".")
    if rest and head[:1] in ("L", "F") and head[1:].isdigit():
        return rest
    return term
