"""The curve's normal and t tails and quantiles equal scipy.stats' (the independent reference) bit for bit."""

import numpy as np
import pytest
from scipy import stats

from linkage.estimation.distributions import norm_ppf, norm_sf, t_ppf, t_sf

X = np.concatenate([np.linspace(-40, 40, 4001), [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-300]])
Q = np.concatenate([np.linspace(0, 1, 2001), [1e-300, 1 - 1e-16, np.nan, -0.1, 1.1]])
DFS = [0.5, 1, 2, 3.7, 10, 30, 123, 1e6, np.inf, 0, -1, np.nan]


@pytest.mark.parametrize("df", DFS)
def test_t_tail_and_quantile_equal_scipy_stats(df):
    np.testing.assert_array_equal(t_sf(X, df), stats.t.sf(X, df))
    np.testing.assert_array_equal(t_ppf(Q, df), stats.t.ppf(Q, df))


def test_t_broadcasts_over_arrays_of_df_like_scipy_stats():
    dfs = np.array([1.0, 4.0, np.inf, 0.0, 17.0])
    x = np.array([[0.5], [2.0], [-3.0]])
    np.testing.assert_array_equal(t_sf(x, dfs), stats.t.sf(x, dfs))
    np.testing.assert_array_equal(t_ppf(np.array([[0.975], [0.0], [1.0]]), dfs), stats.t.ppf(np.array([[0.975], [0.0], [1.0]]), dfs))


def test_normal_tail_and_quantile_equal_scipy_stats():
    np.testing.assert_array_equal(norm_sf(X), stats.norm.sf(X))
    np.testing.assert_array_equal(norm_ppf(Q), stats.norm.ppf(Q))
    assert float(norm_ppf(0.975)) == float(stats.norm.ppf(0.975))
