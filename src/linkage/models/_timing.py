"""What a timing design pairs: survey years of exposure and outcome, and the span of the changes compared."""

from __future__ import annotations

from dataclasses import dataclass

from ._data import ModelFrame, Spec


@dataclass(frozen=True)
class Pairing:
    """The survey years one fitted specification uses.

    Attributes
    ----------
    pairs : str
        ``'2019->2020; 2021->2022'``: exposure survey year -> outcome survey year, for
        every outcome year in the estimation sample.
    pair_gap_years : int
        Years between the exposure and the outcome of a pair (the calendar lag;
        negative for placebo leads).
    change_gap_years : int
        Longest span, in years, between consecutive survey years of the sample: the
        within-trust changes a within design compares (1 when no year is missing; 2
        when e.g. 2020 is absent, so 2019->2021 changes are compared).
    skipped_years : str
        Calendar years inside the sample's range that are not in it (``'2020'``), '' if none.
    changes : str
        ``'2019->2021 vs 2020->2022'``: exposure change vs outcome change between
        consecutive sample years, '' with a single year.
    """

    pairs: str
    pair_gap_years: int
    change_gap_years: int
    skipped_years: str
    changes: str

    @property
    def spans_gap(self) -> bool:
        """Whether some compared change spans more than one year."""
        return self.change_gap_years > 1

    def timing_text(self) -> str:
        """Plain description of what the specification pairs, naming a multi-year change as such."""
        k = self.pair_gap_years
        if k == 0:
            when = "exposure and outcome from the same survey year"
        elif k > 0:
            when = f"exposure surveyed {k} year{'s' if k != 1 else ''} before the outcome"
        else:
            when = f"exposure surveyed {-k} year{'s' if k != -1 else ''} after the outcome (placebo)"
        if self.spans_gap:
            when += (f"; changes compared span up to {self.change_gap_years} years "
                     f"({self.skipped_years} not in the sample)")
        return when


def pairing(frame: ModelFrame, spec: Spec) -> Pairing:
    """The survey-year pairs of ``spec`` in its estimation sample ``frame``."""
    years = sorted(int(y) for y in frame.data.index.get_level_values(1).unique())
    k = spec.lag
    pairs = "; ".join(f"{t - k}->{t}" for t in years)
    steps = [b - a for a, b in zip(years, years[1:], strict=False)]
    gap = max(steps) if steps else 0
    skipped = sorted(set(range(years[0], years[-1] + 1)) - set(years)) if years else []
    changes = "; ".join(f"{a - k}->{b - k} vs {a}->{b}" for a, b in zip(years, years[1:], strict=False))
    return Pairing(
        pairs=pairs,
        pair_gap_years=k,
        change_gap_years=gap,
        skipped_years=", ".join(str(y) for y in skipped),
        changes=changes,
    )
