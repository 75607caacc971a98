"""Synthetic panels for the model tests (imported by tests/test_models*.py).

A small, fast, fully known data-generating process in the ``panel.parquet``
format: trust effects correlated with staff stress (so between != within),
year effects, a planted within-trust association of staff.stress with
patient.ip_overall, a covariate and base-n columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_panel(
    seed: int = 0,
    n_trusts: int = 60,
    years: tuple[int, ...] = (2018, 2019, 2020, 2021, 2022),
    true_effect: float = -0.03,
    drop_share: float = 0.0,
) -> pd.DataFrame:
    """Wide demo-like panel; ``drop_share`` of trust-years removed at random (unbalanced)."""
    rng = np.random.default_rng(seed)
    years = tuple(years)
    n, t = n_trusts, len(years)
    trust_level = rng.normal(0, 1, n)
    stress_i = 42 + 4 * trust_level
    year_fx = rng.normal(0, 0.1, t)
    stress_t = np.linspace(0, 2, t)
    rows = []
    for i in range(n):
        for j, y in enumerate(years):
            stress = stress_i[i] + stress_t[j] + rng.normal(0, 2.5)
            engagement = 7 - 0.02 * stress + rng.normal(0, 0.1)
            alpha_i = 0.3 * trust_level[i]
            y_val = 8.2 - 0.08 * (stress_i[i] - 42) + alpha_i + year_fx[j] + true_effect * (stress - stress_i[i])
            y_val += rng.normal(0, 0.12 + 0.05 * (i % 3))  # heteroskedastic across trusts
            rows.append(
                {
                    "org_code": f"R{i:03d}",
                    "year": y,
                    "org_name": f"Trust {i}",
                    "trust_type": "acute",
                    "staff.stress": stress,
                    "staff.stress__n": float(rng.integers(500, 4000)),
                    "staff.engagement": engagement,
                    "staff.engagement__n": float(rng.integers(500, 4000)),
                    "patient.ip_overall": y_val,
                    "patient.ip_overall__n": float(rng.integers(200, 600)),
                }
            )
    df = pd.DataFrame(rows)
    if drop_share:
        keep = rng.random(len(df)) >= drop_share
        df = df[keep]
    return df.reset_index(drop=True)
