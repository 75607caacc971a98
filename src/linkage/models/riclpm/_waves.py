"""Which waves an RI-CLPM can use: equally spaced years with both measures for enough trusts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Waves:
    """The waves chosen (or why none could be), with the counts that decided it."""

    years: tuple[int, ...]
    step: int
    both_by_year: dict[int, int]  # trusts with both measures, every year of the panel
    eligible: tuple[int, ...]  # years with at least min_trusts_per_wave such trusts
    reason: str  # empty when the waves can be used
    note: str  # what was set aside (e.g. a shorter run after a gap), empty if nothing

    @property
    def ok(self) -> bool:
        return not self.reason


def _runs(years: list[int]) -> list[tuple[int, ...]]:
    """Every maximal run of equally spaced years among ``years`` (any step)."""
    out: list[tuple[int, ...]] = []
    ys = sorted(years)
    have = set(ys)
    for step in range(1, (ys[-1] - ys[0]) + 1 if len(ys) > 1 else 1):
        for y in ys:
            if y - step in have:
                continue
            run = [y]
            while run[-1] + step in have:
                run.append(run[-1] + step)
            if len(run) > 1:
                out.append(tuple(run))
    return out


def _best(runs: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The longest run; ties go to the shortest step, then the latest years."""
    return max(runs, key=lambda r: (len(r), -(r[1] - r[0]), r[-1]))


def _plain(years) -> str:
    return ", ".join(str(y) for y in years) if years else "none"


def choose_waves(panel: pd.DataFrame, exposure: str, dependent: str, *, min_waves: int,
                 min_trusts: int, unequal_gaps: str) -> Waves:
    """Choose the waves, or say plainly why the panel cannot support the model.

    ``unequal_gaps='longest_run'`` uses the longest run of equally spaced eligible years (ties: the
    shortest step, then the latest years); ``'refuse'`` refuses when the eligible years are unequally spaced.
    """
    for col in (exposure, dependent):
        if col not in panel.columns:
            return Waves((), 0, {}, (), f"the panel has no column {col!r}", "")
    both = panel[panel[exposure].notna() & panel[dependent].notna()]
    counts = {int(y): int(n) for y, n in both.groupby("year")["org_code"].nunique().items()}
    counts = {int(y): counts.get(int(y), 0) for y in sorted(panel["year"].unique())}
    eligible = tuple(y for y, n in counts.items() if n >= min_trusts)
    need = (f"the RI-CLPM needs at least {min_waves} equally spaced waves with both {exposure} and {dependent} "
            f"for at least {min_trusts} trusts (model.riclpm_min_waves, model.riclpm_min_trusts_per_wave)")
    if len(eligible) < min_waves:
        return Waves((), 0, counts, eligible, f"only {len(eligible)} year(s) qualify ({_plain(eligible)}); {need}", "")
    steps = {b - a for a, b in zip(eligible[:-1], eligible[1:], strict=True)}
    if len(steps) > 1 and unequal_gaps == "refuse":
        return Waves((), 0, counts, eligible,
                     f"the qualifying years {_plain(eligible)} are unequally spaced and model.riclpm_unequal_gaps is 'refuse'", "")
    run = _best(_runs(list(eligible)))
    if len(run) < min_waves:
        return Waves((), 0, counts, eligible,
                     f"the longest equally spaced run of qualifying years is {_plain(run)} ({len(run)} waves); {need}", "")
    left = [y for y in eligible if y not in run]
    note = f"qualifying years not used (outside the longest equally spaced run): {_plain(left)}" if left else ""
    return Waves(run, run[1] - run[0], counts, eligible, "", note)
