"""Simulated trust panels from a known RI-CLPM (for the recovery test and benchmark, and study-extract tests)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Truth:
    """The data generating process: lagged paths, variances and the share of values missing at random."""

    ar_x: float = 0.4
    ar_y: float = 0.3
    cl_xy: float = 0.2  # staff (x) at t-1 -> patient (y) at t
    cl_yx: float = 0.15  # patient (y) at t-1 -> staff (x) at t
    var_ri: tuple[float, float, float] = (1.0, 1.0, 0.3)  # var x, var y, cov
    var_w1: tuple[float, float, float] = (1.0, 1.0, 0.2)
    var_u: tuple[float, float, float] = (0.6, 0.6, 0.1)
    missing: float = 0.05


def _draw(rng: np.random.Generator, n: int, v: tuple[float, float, float]) -> np.ndarray:
    cov = np.array([[v[0], v[2]], [v[2], v[1]]])
    return rng.multivariate_normal(np.zeros(2), cov, size=n)


def simulate(seed: int, n_trusts: int = 150, years: tuple[int, ...] = (2016, 2017, 2018, 2019, 2020),
             truth: Truth = Truth(), exposure: str = "staff.stress", dependent: str = "patient.ip_overall") -> pd.DataFrame:
    """A long trust-year panel (``org_code, year, exposure, dependent``) drawn from ``truth``."""
    rng = np.random.default_rng(seed)
    ri = _draw(rng, n_trusts, truth.var_ri)
    w = _draw(rng, n_trusts, truth.var_w1)
    frames = []
    for t, year in enumerate(years):
        if t:
            u = _draw(rng, n_trusts, truth.var_u)
            w = np.c_[truth.ar_x * w[:, 0] + truth.cl_yx * w[:, 1], truth.ar_y * w[:, 1] + truth.cl_xy * w[:, 0]] + u
        x = 40 + 0.5 * t + ri[:, 0] + w[:, 0]
        y = 8 - 0.05 * t + ri[:, 1] + w[:, 1]
        x[rng.random(n_trusts) < truth.missing] = np.nan
        y[rng.random(n_trusts) < truth.missing] = np.nan
        frames.append(pd.DataFrame({"org_code": [f"Z{i:03d}" for i in range(n_trusts)], "year": year,
                                    exposure: x, dependent: y}))
    return pd.concat(frames, ignore_index=True)
