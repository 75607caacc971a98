"""The headline specification's estimation sample, for the models that sit beside the panel families.

The multilevel model and the sensitivity analysis (:mod:`.multilevel`, :mod:`.sensitivity`)
use the same trust-years as the headline: the dependent at year t, the exposure at t - lag
(calendar years within a trust, so a gap year gives no lagged value), the covariates at t,
and rows with any of them missing dropped. ``tests/test_sensitivity.py`` checks that the
two-way within estimate on this sample is the model stage's headline estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..params import ModelParams

#: Columns of :attr:`Sample.data` besides the regressors.
ID = ("org_code", "year", "region", "icb")


@dataclass
class Sample:
    """Trust-years of the headline specification.

    ``data`` has ``org_code, year, region, icb`` (empty text when the panel has no region
    columns), ``y``, ``x`` (the exposure at t - lag) and one column per covariate.
    """

    data: pd.DataFrame
    covariates: list[str]
    n_candidate: int

    @property
    def n_trusts(self) -> int:
        return int(self.data["org_code"].nunique())

    @property
    def years(self) -> list[int]:
        return sorted(int(y) for y in self.data["year"].unique())


def _lagged(panel: pd.DataFrame, measure: str, lag: int) -> np.ndarray:
    if not lag:
        return pd.to_numeric(panel[measure], errors="coerce").to_numpy(dtype=float)
    src = panel[["org_code", "year", measure]].copy()
    src["year"] = src["year"] + lag
    src = src.set_index(["org_code", "year"])[measure]
    keys = pd.MultiIndex.from_arrays([panel["org_code"], panel["year"]])
    return pd.to_numeric(src.reindex(keys), errors="coerce").to_numpy(dtype=float)


def headline_sample(panel: pd.DataFrame, m: ModelParams) -> Sample:
    """The headline specification's complete cases (see the module notes)."""
    cols = {
        "org_code": panel["org_code"].astype(str).to_numpy(),
        "year": panel["year"].astype(int).to_numpy(),
        "region": panel["region"].astype(str).to_numpy() if "region" in panel else np.full(len(panel), ""),
        "icb": panel["icb"].astype(str).to_numpy() if "icb" in panel else np.full(len(panel), ""),
        "y": pd.to_numeric(panel[m.dependent], errors="coerce").to_numpy(dtype=float),
        "x": _lagged(panel, m.exposure, m.lag),
    }
    for c in m.covariates:
        cols[c] = pd.to_numeric(panel[c], errors="coerce").to_numpy(dtype=float)
    df = pd.DataFrame(cols)
    keep = np.isfinite(df[["y", "x", *m.covariates]].to_numpy()).all(axis=1)
    data = df.loc[keep].sort_values(["org_code", "year"]).reset_index(drop=True)
    return Sample(data=data, covariates=list(m.covariates), n_candidate=len(df))
