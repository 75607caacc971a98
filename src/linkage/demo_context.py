"""Synthetic trust context for the demo, in the layouts of the published context files.

Writes ``context/`` under the demo's raw folder: a catchment file (share of each synthetic
non-specialist acute trust's catchment from each synthetic area, 2021 codes), an IMD 2019 file
(2022 codes) and an IMD 2025 file (2024 codes) in which the 17 areas abolished in the 2023
reorganisations are replaced by their successors, exactly as in the published files, so the demo
exercises the successor mapping. Specialist trusts get no catchment (as in the OHID file).

What is planted: catchment deprivation is tied to each trust's latent patient-experience level
(more deprived catchments, lower level), so the between-trust gradient is real on the demo; the
within-trust staff-patient effect is the demo's constant ``true_effect``, so the planted
exposure x deprivation interaction is zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .context import read_successors
from .context._layouts import PACKAGE_DIR
from .demo import simulate_organisations

N_AREAS = 90
CATCHMENT_FILE = "trust_catchment_ltla21_2022-DEMO-SYNTHETIC.csv"
IMD2019_FILE = "imd2019_ltla22-DEMO-SYNTHETIC.csv"
IMD2025_FILE = "imd2025_ltla24-DEMO-SYNTHETIC.csv"


def _areas(rng: np.random.Generator) -> pd.DataFrame:
    succ = read_successors(PACKAGE_DIR / "ltla_successors_2023.csv")
    codes = [f"E0690{i:04d}" for i in range(N_AREAS)] + sorted(succ)
    score = np.clip(rng.gamma(6.0, 3.6, len(codes)), 4.0, 55.0)
    return pd.DataFrame({"code": codes, "score": score, "successor": [succ.get(c, (c, ""))[0] for c in codes]})


def _domains(score: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(score)
    return {"proportion": np.clip((score - 18) / 60 + rng.normal(0, 0.04, n), 0, 1),
            "income": np.clip(0.005 * score + rng.normal(0, 0.01, n), 0, 1),
            "employment": np.clip(0.004 * score + rng.normal(0, 0.008, n), 0, 1),
            "health": 0.045 * (score - 20) + rng.normal(0, 0.15, n)}


def _catchment(orgs: pd.DataFrame, areas: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Each trust draws 3-7 areas around a home area whose deprivation follows its patient level."""
    active = orgs[(orgs["org_type"] == "acute") & (pd.to_numeric(orgs["close_year"], errors="coerce").fillna(9999) > 2022)]
    order = areas.sort_values("score").reset_index(drop=True)
    # lower latent patient experience -> more deprived home area (with noise)
    key = -(active["alpha"].to_numpy() - active["alpha"].mean()) / active["alpha"].std() + rng.normal(0, 0.8, len(active))
    pos = np.argsort(np.argsort(key)) / max(len(active) - 1, 1)
    rows = []
    for code, p in zip(active["org_code"], pos, strict=True):
        home = int(round(p * (len(order) - 1)))
        k = int(rng.integers(3, 8))
        near = np.clip(home + rng.integers(-6, 7, k), 0, len(order) - 1)
        picked = sorted(set([home, *near.tolist()]))
        shares = rng.dirichlet(np.ones(len(picked)) * 1.5)
        rows += [{"trust_code": code, "ltla21_code": order.at[i, "code"], "share": s} for i, s in zip(picked, shares, strict=True)]
    return pd.DataFrame(rows).sort_values(["trust_code", "ltla21_code"]).reset_index(drop=True)


def write_demo_context(out_dir: str | Path, spec: Any) -> list[Path]:
    """Write the three synthetic context files into ``out_dir``; same ``spec.seed``, same bytes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([spec.seed, 16])
    areas = _areas(rng)
    d19 = _domains(areas["score"].to_numpy(), rng)
    imd19 = pd.DataFrame({"ltla22_code": areas["code"], "Score": areas["score"], "Proportion": d19["proportion"],
                          "Income_Score": d19["income"], "Employment_Score": d19["employment"], "Health_Score": d19["health"]})
    later = areas.assign(score=areas["score"] + rng.normal(0.3, 1.2, len(areas))).groupby("successor", sort=True)["score"].mean()
    d25 = _domains(later.to_numpy(), rng)
    imd25 = pd.DataFrame({"ltla24_code": later.index, "ltla24_name": [f"Synthetic area {c}" for c in later.index],
                          "imd_average_score": later.to_numpy().round(3),
                          "imd_proportion_of_lso_as_in_most_deprived_10_percent_nationally": d25["proportion"].round(4),
                          "income_average_score": d25["income"].round(3), "employment_average_score": d25["employment"].round(3),
                          "health_deprivation_and_disability_average_score": d25["health"].round(3)})
    catch = _catchment(simulate_organisations(spec), areas, rng)
    paths = [out / CATCHMENT_FILE, out / IMD2019_FILE, out / IMD2025_FILE]
    for frame, path in zip((catch, imd19, imd25), paths, strict=True):
        frame.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
    return paths
