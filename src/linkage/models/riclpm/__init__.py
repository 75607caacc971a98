"""Random-intercept cross-lagged panel model (RI-CLPM) of one staff exposure and one patient outcome.

:func:`fit_riclpm` (panel, params) -> :class:`RiclpmResult` with ``.rows()`` (``model_results.csv``
rows) and ``.summary()`` (JSON for ``metrics/riclpm.json`` and the site).  Our own maximum
likelihood (``_ml``), full information over missing waves; methods in ``docs/models.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...params import ModelParams
from ._ml import fit
from ._result import RiclpmResult, fit_indices, path_table, wald
from ._waves import Waves, choose_waves

__all__ = ["RiclpmResult", "Waves", "choose_waves", "fit_riclpm", "wide_data"]


def wide_data(panel: pd.DataFrame, exposure: str, dependent: str, years: tuple[int, ...]) -> tuple[np.ndarray, list[str]]:
    """Trusts x [exposure at each wave, dependent at each wave] (NaN where missing), trusts with any value."""
    sub = panel[panel["year"].isin(years)]
    wide = sub.pivot_table(index="org_code", columns="year", values=[exposure, dependent], aggfunc="first", dropna=False)
    x = wide[exposure].reindex(columns=list(years)) if exposure in wide else pd.DataFrame(index=wide.index, columns=list(years))
    y = wide[dependent].reindex(columns=list(years)) if dependent in wide else pd.DataFrame(index=wide.index, columns=list(years))
    data = np.c_[x.to_numpy(dtype=float), y.to_numpy(dtype=float)]
    keep = ~np.isnan(data).all(axis=1)
    return data[keep], [str(c) for c in wide.index[keep]]


def _trust_waves(data: np.ndarray) -> int:
    """Trust-waves with at least one of the two measures."""
    t_ = data.shape[1] // 2
    return int((~np.isnan(data[:, :t_]) | ~np.isnan(data[:, t_:])).sum())


def fit_riclpm(panel: pd.DataFrame, params: ModelParams) -> RiclpmResult:
    """Fit the RI-CLPM of ``params.exposure`` (staff) and ``params.dependent`` (patient), or refuse with the reason."""
    m = params
    base = {"exposure": m.exposure, "dependent": m.dependent, "equal_paths": m.riclpm_equal_paths, "alpha": m.alpha}
    if not m.riclpm:
        return RiclpmResult("off", "model.riclpm is false", waves=None, **base)
    waves = choose_waves(panel, m.exposure, m.dependent, min_waves=m.riclpm_min_waves,
                         min_trusts=m.riclpm_min_trusts_per_wave, unequal_gaps=m.riclpm_unequal_gaps)
    if not waves.ok:
        return RiclpmResult("refused", waves.reason, waves=waves, **base)
    data, _codes = wide_data(panel, params.exposure, params.dependent, waves.years)
    res = fit(data, equal_paths=m.riclpm_equal_paths)
    if not res.converged:
        return RiclpmResult("refused", f"the maximum likelihood fit did not converge ({res.message})", waves=waves, **base)
    tests = {"crosslags_joint": wald(res, ("cl_xy", "cl_yx")),
             "staff_to_patient": wald(res, ("cl_xy",)), "patient_to_staff": wald(res, ("cl_yx",))}
    return RiclpmResult(
        "fitted", "", waves=waves, n_trusts=len(data), n_obs=_trust_waves(data),
        n_dropped=int(panel["org_code"].nunique() - len(data)), paths=path_table(res, waves, params.alpha),
        wald=tests, indices=fit_indices(res, data), **base)
