"""Maximum likelihood for the random-intercept cross-lagged panel model, with missing waves (FIML).

The model (Hamaker, Kuiper and Grasman 2015) for two constructs ``x`` (the staff exposure) and
``y`` (the patient outcome) observed at waves ``t = 1..T``::

    x_t = mu_x[t] + RI_x + wx_t            y_t = mu_y[t] + RI_y + wy_t
    wx_t = ax wx_{t-1} + byx wy_{t-1} + ux_t
    wy_t = ay wy_{t-1} + bxy wx_{t-1} + uy_t            (t >= 2)

``RI_x, RI_y`` are the random intercepts (loadings fixed to 1 at every wave, free variances and
covariance, uncorrelated with the within components), the wave-1 within components have free
variances and covariance, ``(ux_t, uy_t)`` free variances and covariance at each later wave, the means
are free at each wave.  The four lagged paths are equal over waves (``equal_paths``) or free per wave.

Observed vector order: ``x_1..x_T, y_1..y_T``.  The casewise (full-information) log-likelihood is
summed over missing-data patterns; the gradient is analytic, the observed information is the
central-difference Jacobian of that gradient.  Each construct is divided by one scale factor
(its pooled SD) before fitting and the estimates mapped back exactly (the model is invariant to
it), which keeps the optimiser well conditioned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

LOG2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class Layout:
    """Where each parameter sits in the vector: names, kinds and the matrix cells it fills."""

    n_waves: int
    equal_paths: bool
    names: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # mean | phi | psi | beta
    cells: list[list[tuple[int, int]]] = field(default_factory=list)
    scale: list[tuple[int, int]] = field(default_factory=list)  # construct powers (x, y) of each parameter

    @classmethod
    def build(cls, n_waves: int, equal_paths: bool) -> Layout:
        """Long because it lists every parameter of the model once, in the order of the vector."""
        t_, lay = n_waves, cls(n_waves, equal_paths)

        def add(name: str, kind: str, cells: list[tuple[int, int]], power: tuple[int, int]) -> None:
            lay.names.append(name)
            lay.kinds.append(kind)
            lay.cells.append(cells)
            lay.scale.append(power)

        for c, power in (("x", (1, 0)), ("y", (0, 1))):
            for t in range(t_):
                add(f"mean_{c}[{t}]", "mean", [((0 if c == "x" else t_) + t, 0)], power)
        add("var_ri_x", "phi", [(0, 0)], (2, 0))
        add("var_ri_y", "phi", [(1, 1)], (0, 2))
        add("cov_ri", "phi", [(0, 1)], (1, 1))
        for t in range(t_):
            tag = "1" if t == 0 else f"u[{t}]"
            add(f"var_wx{tag}" if t == 0 else f"var_{tag}_x", "psi", [(t, t)], (2, 0))
            add(f"var_wy{tag}" if t == 0 else f"var_{tag}_y", "psi", [(t_ + t, t_ + t)], (0, 2))
            add(f"cov_w{tag}" if t == 0 else f"cov_{tag}", "psi", [(t, t_ + t)], (1, 1))
        waves = [list(range(1, t_))] if equal_paths else [[t] for t in range(1, t_)]
        for ts in waves:
            tag = "" if equal_paths else f"[{ts[0]}]"
            add(f"ar_x{tag}", "beta", [(t, t - 1) for t in ts], (0, 0))
            add(f"ar_y{tag}", "beta", [(t_ + t, t_ + t - 1) for t in ts], (0, 0))
            add(f"cl_xy{tag}", "beta", [(t_ + t, t - 1) for t in ts], (-1, 1))  # x_{t-1} -> y_t
            add(f"cl_yx{tag}", "beta", [(t, t_ + t - 1) for t in ts], (1, -1))  # y_{t-1} -> x_t
        return lay

    @property
    def size(self) -> int:
        return len(self.names)

    def scale_factors(self, sx: float, sy: float) -> np.ndarray:
        """Multipliers taking each parameter from standardised to raw units."""
        return np.array([sx ** a * sy ** b for a, b in self.scale])


def implied(lay: Layout, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Model-implied mean vector and covariance matrix, and the matrices they come from."""
    p = 2 * lay.n_waves
    mu = np.zeros(p)
    phi = np.zeros((2, 2))
    psi = np.zeros((p, p))
    beta = np.zeros((p, p))
    for k, kind in enumerate(lay.kinds):
        for i, j in lay.cells[k]:
            if kind == "mean":
                mu[i] = theta[k]
            elif kind == "phi":
                phi[i, j] = phi[j, i] = theta[k]
            elif kind == "psi":
                psi[i, j] = psi[j, i] = theta[k]
            else:
                beta[i, j] = theta[k]
    lam = np.zeros((p, 2))
    lam[: lay.n_waves, 0] = 1.0
    lam[lay.n_waves:, 1] = 1.0
    a = np.linalg.inv(np.eye(p) - beta)
    sig_w = a @ psi @ a.T
    sigma = lam @ phi @ lam.T + sig_w
    return mu, sigma, {"lam": lam, "a": a, "sig_w": sig_w}


@dataclass(frozen=True)
class Patterns:
    """The data by missing-data pattern, patterns with the same number of observed values stacked.

    Each group: observed indices ``(G, k)``, case counts ``(G,)``, sums ``(G, k)`` and
    cross-products ``(G, k, k)`` of the observed values, so the likelihood needs no pass over cases.
    """

    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    n_cases: int

    @classmethod
    def of(cls, data: np.ndarray) -> Patterns:
        obs = ~np.isnan(data)
        keep = obs.any(axis=1)
        data, obs = data[keep], obs[keep]
        by_size: dict[int, list] = {}
        for pat in np.unique(obs, axis=0):
            z = data[np.ix_((obs == pat).all(axis=1), np.flatnonzero(pat))]
            by_size.setdefault(int(pat.sum()), []).append((np.flatnonzero(pat), len(z), z.sum(axis=0), z.T @ z))
        groups = [tuple(np.array([g[i] for g in gs]) for i in range(4)) for _, gs in sorted(by_size.items())]
        return cls(groups, int(keep.sum()))


def loglik(pats: Patterns, mu: np.ndarray, sigma: np.ndarray, *, grad: bool = False):
    """FIML log-likelihood; with ``grad``, also d(-2LL)/d sigma (full matrix) and d(-2LL)/d mu."""
    total = 0.0
    p = len(mu)
    g_sig, g_mu = np.zeros((p, p)), np.zeros(p)
    for idx, n, s1, s2 in pats.groups:
        rows, cols = idx[:, :, None], idx[:, None, :]
        s = sigma[rows, cols]
        m = mu[idx]
        sign, logdet = np.linalg.slogdet(s)
        if np.any(sign <= 0):
            return (-np.inf, None, None) if grad else -np.inf
        inv = np.linalg.inv(s)
        dsum = s1 - n[:, None] * m
        c = s2 - s1[:, :, None] * m[:, None, :] - m[:, :, None] * dsum[:, None, :]
        k = idx.shape[1]
        total += -0.5 * float(np.sum(n * (k * LOG2PI + logdet)) + np.sum(inv * c))
        if grad:
            np.add.at(g_sig, (rows, cols), n[:, None, None] * inv - inv @ c @ inv)
            np.add.at(g_mu, idx, -2 * np.einsum("gij,gj->gi", inv, dsum))
    return (total, g_sig, g_mu) if grad else total


def objective(theta: np.ndarray, lay: Layout, pats: Patterns) -> tuple[float, np.ndarray]:
    """-LL / N and its analytic gradient in ``theta``."""
    mu, sigma, m = implied(lay, theta)
    ll, g_sig, g_mu = loglik(pats, mu, sigma, grad=True)
    if not np.isfinite(ll):
        return 1e10, np.zeros_like(theta)
    lam, a, sig_w = m["lam"], m["a"], m["sig_w"]
    ga = a.T @ g_sig @ a  # for psi cells
    gl = lam.T @ g_sig @ lam  # for phi cells
    gb = a.T @ g_sig @ sig_w  # for beta cells: d tr(G (A E S_w + S_w E' A')) = 2 (A' G S_w)_ij
    out = np.zeros_like(theta)
    for k, kind in enumerate(lay.kinds):
        for i, j in lay.cells[k]:
            if kind == "mean":
                out[k] += g_mu[i]
            elif kind == "phi":
                out[k] += gl[i, j] * (1 if i == j else 2)
            elif kind == "psi":
                out[k] += ga[i, j] * (1 if i == j else 2)
            else:
                out[k] += 2 * gb[i, j]
    n = pats.n_cases
    return -ll / n, 0.5 * out / n


def start_values(lay: Layout, data: np.ndarray) -> np.ndarray:
    """Wave means, half of each variance to the intercepts and half within, small autoregressions."""
    t_ = lay.n_waves
    means = np.nanmean(data, axis=0)
    var_x = float(np.nanmean(np.nanvar(data[:, :t_], axis=0)))
    var_y = float(np.nanmean(np.nanvar(data[:, t_:], axis=0)))
    theta = np.zeros(lay.size)
    for k, name in enumerate(lay.names):
        if name.startswith("mean_"):
            theta[k] = means[lay.cells[k][0][0]]
        elif name in ("var_ri_x", "var_wx1") or name.endswith("_x") and name.startswith("var_u"):
            theta[k] = 0.5 * var_x
        elif name in ("var_ri_y", "var_wy1") or name.endswith("_y") and name.startswith("var_u"):
            theta[k] = 0.5 * var_y
        elif name.startswith("ar_"):
            theta[k] = 0.2
    return theta


def hessian(theta: np.ndarray, lay: Layout, pats: Patterns, step: float = 1e-5) -> np.ndarray:
    """Observed information of -LL (not divided by N): central differences of the analytic gradient."""
    k = len(theta)
    h = np.zeros((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step * max(1.0, abs(theta[i]))
        h[:, i] = (objective(theta + e, lay, pats)[1] - objective(theta - e, lay, pats)[1]) / (2 * e[i])
    return 0.5 * (h + h.T) * pats.n_cases


@dataclass(frozen=True)
class Fit:
    """One RI-CLPM fit in raw units: estimates, their covariance, log-likelihood, convergence."""

    layout: Layout
    theta: np.ndarray
    vcov: np.ndarray
    loglik: float
    converged: bool
    message: str
    n_cases: int
    mu: np.ndarray
    sigma: np.ndarray
    sig_within: np.ndarray


def fit(data: np.ndarray, equal_paths: bool = True) -> Fit:
    """Fit the RI-CLPM to ``data`` (cases x [x_1..x_T, y_1..y_T], NaN where missing) by FIML."""
    t_ = data.shape[1] // 2
    sx = float(np.nanstd(data[:, :t_])) or 1.0
    sy = float(np.nanstd(data[:, t_:])) or 1.0
    z = data / np.r_[np.full(t_, sx), np.full(t_, sy)]
    lay = Layout.build(t_, equal_paths)
    pats = Patterns.of(z)
    res = optimize.minimize(objective, start_values(lay, z), args=(lay, pats), jac=True, method="BFGS",
                            options={"gtol": 1e-7, "maxiter": 5000})
    theta = res.x
    h = hessian(theta, lay, pats)
    polished = False
    for _ in range(10):  # Newton steps on this observed information until the gradient is negligible
        g = objective(theta, lay, pats)[1]
        if np.max(np.abs(g)) < 1e-10:
            break
        try:
            theta = theta - np.linalg.solve(h, g * pats.n_cases)
        except np.linalg.LinAlgError:
            break
        polished = True
    if polished:
        h = hessian(theta, lay, pats)
    grad_max = float(np.max(np.abs(objective(theta, lay, pats)[1])))
    try:
        vcov = np.linalg.inv(h)
        ok = bool(np.all(np.linalg.eigvalsh(h) > 0)) and grad_max < 1e-6
    except np.linalg.LinAlgError:
        vcov, ok = np.full_like(h, np.nan), False
    d = lay.scale_factors(sx, sy)
    raw = theta * d
    mu, sigma, m = implied(lay, raw)
    msg = "converged" if ok else f"not converged (largest gradient {grad_max:.2g}; information not positive definite or optimiser stopped: {res.message})"
    return Fit(lay, raw, vcov * np.outer(d, d), float(loglik(Patterns.of(data), mu, sigma)), ok, msg,
               pats.n_cases, mu, sigma, m["sig_w"])


def saturated(data: np.ndarray, tol: float = 1e-11, max_iter: int = 20000) -> tuple[np.ndarray, np.ndarray, float]:
    """Unrestricted means and covariance by EM under missing at random, and their FIML log-likelihood."""
    obs = ~np.isnan(data)
    data = data[obs.any(axis=1)]
    obs = obs[obs.any(axis=1)]
    n, p = data.shape
    mu = np.nanmean(data, axis=0)
    sigma = np.diag(np.nanvar(data, axis=0))
    pats = Patterns.of(data)
    last = loglik(pats, mu, sigma)
    for _ in range(max_iter):
        s1, s2 = np.zeros(p), np.zeros((p, p))
        for pat in np.unique(obs, axis=0):
            rows = data[(obs == pat).all(axis=1)]
            o, mi = np.flatnonzero(pat), np.flatnonzero(~pat)
            filled = np.tile(mu, (len(rows), 1))
            filled[:, o] = rows[:, o]
            extra = np.zeros((p, p))
            if len(mi):
                reg = sigma[np.ix_(mi, o)] @ np.linalg.inv(sigma[np.ix_(o, o)])
                filled[:, mi] = mu[mi] + (rows[:, o] - mu[o]) @ reg.T
                extra[np.ix_(mi, mi)] = sigma[np.ix_(mi, mi)] - reg @ sigma[np.ix_(o, mi)]
            s1 += filled.sum(axis=0)
            s2 += filled.T @ filled + len(rows) * extra
        mu = s1 / n
        sigma = s2 / n - np.outer(mu, mu)
        ll = loglik(pats, mu, sigma)
        if abs(ll - last) < tol * max(1.0, abs(ll)):
            last = ll
            break
        last = ll
    return mu, sigma, float(last)


def independence(data: np.ndarray) -> float:
    """FIML log-likelihood of the baseline model: free means and variances, no covariances."""
    data = data[(~np.isnan(data)).any(axis=1)]
    total = 0.0
    for col in data.T:
        v = col[~np.isnan(col)]
        total += -0.5 * len(v) * (LOG2PI + np.log(v.var()) + 1.0)
    return float(total)
