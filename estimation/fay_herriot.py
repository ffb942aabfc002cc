"""Fay-Herriot area-level model (Fay & Herriot 1979; Rao & Molina, Small Area Estimation, 2nd ed. 2015,
ch. 6 and 10).

    y_i = theta_i + e_i,        e_i ~ N(0, D_i)   direct estimate with known sampling variance D_i
    theta_i = x_i' beta + u_i,  u_i ~ N(0, A)     area effect the covariates do not explain

Four ways to handle the area-effect variance A (sigma2_u); the warehouse uses the first
(estimation/small_area_model.yml), the benchmark compares it with the others:

  hb_flat  hierarchical Bayes with flat priors on beta and on A >= 0 (Rao & Molina 2015, 10.3):
           the posterior of A is proportional to the restricted likelihood L_R(A), and given A the
           posterior of theta_i is normal with mean gamma_i y_i + (1 - gamma_i) x_i' beta(A) and
           variance g1(A) + g2(A). Both are integrated over A exactly by quadrature on a fine grid
           (one dimension; no MCMC). The estimate is the posterior mean and its error measure the
           posterior variance, which carries the uncertainty about A: where the likelihood of A is
           flat near 0 (and REML gives 0), the posterior still spreads over plausible A > 0, so the
           interval does not collapse to the regression fit's. Posterior mean of A > 0 always. Proper
           for m - p > 2. Datta, Rao & Smith (2005, Biometrika 92, 183-196) give the frequentist
           justification of posterior variances from noninformative priors as MSE estimates; here
           the frequentist coverage is checked by simulation (tests) and replicate samples
           (estimation/benchmark.py).
  amrl_yl  adjusted REML of Yoshimori & Lahiri (2014, J. Multivariate Anal. 124, 281-294):
           maximises l_R(A) + log h(A), h(A) = [arctan(tr(I - B))]^(1/m), B = diag(D_i / (A + D_i)).
           h(0) = 0, so the estimate is strictly positive, and d log h / dA = O(m^-2), so its bias is
           o(1/m) like REML's: the Prasad-Rao MSE estimator stays second-order unbiased for it.
  amrl_ll  adjusted REML of Li & Lahiri (2010, J. Multivariate Anal. 101, 882-892): h(A) = A.
           Strictly positive, with a bias of order 1/m, b(A) = (2 / A) / sum V_i^-2, which its MSE
           estimator subtracts: mse = g1 + g2 + 2 g3 - B_i^2 b(A).
  reml     restricted maximum likelihood; 0 whenever the residual spread of the direct estimates is
           not above their sampling variances (then the EBLUP is the regression fit and its MSE has
           no model-error term).

EBLUP (the three likelihood methods): gamma_i y_i + (1 - gamma_i) x_i' beta, gamma_i = A / (A + D_i),
beta by GLS; MSE (Prasad & Rao 1990; Datta & Lahiri 2000): g1 + g2 + 2 g3 - B_i^2 b(A) with
    g1 = gamma_i D_i,  g2 = B_i^2 x_i' (X'V^-1 X)^-1 x_i,  g3 = B_i^2 / (A + D_i) * 2 / sum V_j^-2.

Synthetic estimate of an area that uses no direct data of that area: the prediction of theta_i from
the model fitted on the OTHER areas (leave_one_out_synthetic; for an area without a direct estimate,
the fit on all areas). EB: x_i' beta_(-i) with MSE A_(-i) - b(A_(-i)) + x_i' (X'V^-1 X)_(-i)^-1 x_i;
HB: the posterior predictive mean and variance of x_i' beta + u_i given the other areas. Neither
involves the area's own sample size, so it can be published where the area's direct cell is
suppressed.

No maintained Python library fits this model here (STACK.md: samplics' EblupAreaModel is broken),
so it is written out, checked against closed forms of the balanced case, against an independent
numerical integration and against simulated truth (tests/test_small_area_and_weights.py), and judged
on replicate samples of the generator (estimation/benchmark.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

LIKELIHOOD_METHODS = ("amrl_yl", "amrl_ll", "reml")
METHODS = ("hb_flat", *LIKELIHOOD_METHODS)
DEFAULT_METHOD = "hb_flat"


class FitError(ValueError):
    """The model cannot be fitted to these data (too few areas, singular covariates)."""


@dataclass
class FHFit:
    """Empirical Bayes fit (reml, amrl_yl, amrl_ll)."""
    method: str
    beta: np.ndarray
    sigma2_u: float
    eblup: np.ndarray
    mse: np.ndarray
    gamma: np.ndarray
    synthetic: np.ndarray      # x_i' beta with beta from all areas (not leave-one-out)
    xtvx_inv: np.ndarray       # (X' V^-1 X)^-1 at the estimate
    bias_sigma2: float         # first-order bias b(A) of the variance estimate (0 for reml, amrl_yl)
    converged: bool
    iterations: int

    @property
    def estimate(self) -> np.ndarray:
        return self.eblup

    def predict(self, X_new) -> tuple[np.ndarray, np.ndarray]:
        return synthetic(self, X_new)


@dataclass
class HBFit:
    """Hierarchical Bayes fit (hb_flat): posterior summaries, integrated over the grid of A."""
    method: str
    grid: np.ndarray           # values of A
    weights: np.ndarray        # posterior probability of each grid value (quadrature weights included)
    beta_grid: np.ndarray      # GLS beta(A) per grid value, G x p
    xtvx_inv_grid: np.ndarray  # (X'V(A)^-1 X)^-1 per grid value, G x p x p
    sigma2_u: float            # posterior mean of A
    estimate: np.ndarray       # posterior mean of theta_i
    mse: np.ndarray            # posterior variance of theta_i
    gamma: np.ndarray          # posterior mean of A / (A + D_i)
    converged: bool            # the grid holds the posterior (negligible mass at its upper end)

    @property
    def beta(self) -> np.ndarray:
        return self.weights @ self.beta_grid

    def predict(self, X_new) -> tuple[np.ndarray, np.ndarray]:
        """Posterior predictive mean and variance of theta = x' beta + u for areas not in the fit."""
        X_new = np.asarray(X_new, float)
        mean_g = self.beta_grid @ X_new.T                                           # G x k
        var_g = self.grid[:, None] + np.einsum("ij,gjk,ik->gi", X_new, self.xtvx_inv_grid, X_new)
        mean = self.weights @ mean_g
        return mean, self.weights @ (var_g + mean_g ** 2) - mean ** 2


def _gls(A: float, y, D, X):
    v_inv = 1.0 / (A + D)
    xtvx = X.T @ (X * v_inv[:, None])
    try:
        chol = np.linalg.cholesky(xtvx)
    except np.linalg.LinAlgError as e:
        raise FitError("covariates are collinear over the areas with a direct estimate") from e
    beta = np.linalg.solve(xtvx, X.T @ (v_inv * y))
    resid = y - X @ beta
    logdet = 2.0 * np.sum(np.log(np.diag(chol)))
    return v_inv, xtvx, beta, resid, logdet


def restricted_loglik(A: float, y, D, X) -> float:
    """log L_R(A) up to a constant: -1/2 [sum log(A + D_i) + log|X'V^-1 X| + y'P y]."""
    v_inv, _, _, resid, logdet = _gls(A, y, D, X)
    return -0.5 * (np.sum(np.log(A + D)) + logdet + np.sum(v_inv * resid ** 2))


def _restricted_loglik_grid(grid: np.ndarray, y, D, X) -> np.ndarray:
    """restricted_loglik at many values of A at once (batched linear algebra)."""
    v_inv = 1.0 / (grid[:, None] + D[None, :])                       # G x m
    xtvx = np.einsum("gi,ij,ik->gjk", v_inv, X, X)                    # G x p x p
    xtvy = np.einsum("gi,ij,i->gj", v_inv, X, y)                      # G x p
    sign, logdet = np.linalg.slogdet(xtvx)
    beta = np.linalg.solve(xtvx, xtvy[..., None])[..., 0]            # G x p
    resid = y[None, :] - beta @ X.T                                    # G x m
    out = -0.5 * (np.log(grid[:, None] + D[None, :]).sum(1) + logdet + (v_inv * resid ** 2).sum(1))
    return np.where(sign > 0, out, -np.inf)


def log_adjustment(A: float, D, method: str) -> float:
    if method == "reml":
        return 0.0
    if A <= 0:
        return -np.inf
    if method == "amrl_ll":
        return float(np.log(A))
    if method == "amrl_yl":
        trace = float(np.sum(A / (A + D)))
        return float(np.log(np.arctan(trace)) / len(D))
    raise ValueError(f"unknown method {method!r}; one of {METHODS}")


def sigma2_bias(A: float, D, method: str) -> float:
    """First-order bias b(A) of the variance estimate: (d log h / dA) / I_R(A), I_R = 1/2 sum V^-2,
    kept only where it is O(1/m) (amrl_ll); o(1/m) for reml and amrl_yl."""
    if method == "amrl_ll" and A > 0:
        return float((2.0 / A) / np.sum(1.0 / (A + D) ** 2))
    return 0.0


def estimate_sigma2(y, D, X, method: str = "amrl_yl") -> tuple[float, bool, int]:
    """Maximiser of the (adjusted) restricted likelihood over A >= 0 (A > 0 when adjusted):
    a log-spaced grid, then Brent's method inside the best grid interval."""
    if method not in LIKELIHOOD_METHODS:
        raise ValueError(f"unknown method {method!r}; one of {LIKELIHOOD_METHODS}")
    m, p = X.shape
    beta_ols = np.linalg.lstsq(X, y, rcond=None)[0]
    spread = float(np.sum((y - X @ beta_ols) ** 2) / (m - p))
    upper = 10.0 * (spread + float(np.mean(D)))
    grid = upper * np.logspace(-12, 0, 121)

    def objective(a: float) -> float:
        return -(restricted_loglik(a, y, D, X) + log_adjustment(a, D, method))

    adjustment = np.array([log_adjustment(a, D, method) for a in grid])
    values = -(_restricted_loglik_grid(grid, y, D, X) + adjustment)
    k = int(np.argmin(values))
    lo = grid[k - 1] if k > 0 else 0.0
    hi = grid[k + 1] if k < len(grid) - 1 else upper
    res = minimize_scalar(objective, bounds=(lo, hi), method="bounded",
                          options={"xatol": max(1e-14, 1e-9 * grid[k]), "maxiter": 500})
    a_hat = float(res.x) if res.fun <= values[k] else float(grid[k])
    if method == "reml" and objective(0.0) <= min(res.fun, values[k]):
        a_hat = 0.0
    converged = bool(res.success) and k < len(grid) - 1
    return a_hat, converged, int(res.nfev) + len(grid)


def _check(y, D, X, min_df: int = 1):
    y, D, X = np.asarray(y, float), np.asarray(D, float), np.asarray(X, float)
    m, p = X.shape
    if m - p < min_df:
        raise FitError(f"need more areas ({m}) than covariates ({p})" if min_df == 1 else
                       f"need at least {p + min_df} areas for {p} covariates, have {m}")
    if np.any(~np.isfinite(y)) or np.any(~np.isfinite(D)) or np.any(D <= 0) or np.any(~np.isfinite(X)):
        raise FitError("direct estimates, sampling variances and covariates must be finite, variances > 0")
    if np.linalg.matrix_rank(X) < p:
        raise FitError("covariates are collinear over the areas with a direct estimate")
    return y, D, X


def fit(y: np.ndarray, D: np.ndarray, X: np.ndarray, method: str = "amrl_yl") -> FHFit:
    """Empirical Bayes fit: A by `method` (reml, amrl_yl, amrl_ll), EBLUP and its MSE."""
    y, D, X = _check(y, D, X)
    A, converged, iterations = estimate_sigma2(y, D, X, method)
    v_inv, xtvx, beta, _, _ = _gls(A, y, D, X)
    xtvx_inv = np.linalg.inv(xtvx)
    gamma = A / (A + D)
    B = 1.0 - gamma
    synthetic = X @ beta
    eblup = gamma * y + B * synthetic
    bias = sigma2_bias(A, D, method)
    g1 = gamma * D
    g2 = B ** 2 * np.einsum("ij,jk,ik->i", X, xtvx_inv, X)
    g3 = B ** 2 * v_inv * (2.0 / np.sum(v_inv ** 2))
    mse = g1 + g2 + 2.0 * g3 - B ** 2 * bias
    return FHFit(method, beta, A, eblup, mse, gamma, synthetic, xtvx_inv, bias, converged, iterations)


def synthetic(fit_: FHFit, X_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x' beta and its MSE for areas whose data were not in the fit: A - b(A) + x' (X'V^-1 X)^-1 x."""
    X_new = np.asarray(X_new, float)
    mse = fit_.sigma2_u - fit_.bias_sigma2 + np.einsum("ij,jk,ik->i", X_new, fit_.xtvx_inv, X_new)
    return X_new @ fit_.beta, mse


def _hb_posterior_grid(y, D, X, points: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Grid over A >= 0 and posterior weights (flat prior: posterior ~ L_R(A)), trapezoid rule.
    A coarse log grid finds how far the likelihood reaches (to 40 log units below its maximum);
    the fine grid is 0 plus `points` log-spaced values over nine decades below that (about 5 %
    apart), so it resolves a posterior piled up near A = 0 as well as a sharp one far from it."""
    m, p = X.shape
    beta_ols = np.linalg.lstsq(X, y, rcond=None)[0]
    scale = float(np.sum((y - X @ beta_ols) ** 2) / (m - p)) + float(np.mean(D))
    coarse = np.concatenate([[0.0], scale * np.logspace(-8, 6, 141)])
    ll = _restricted_loglik_grid(coarse, y, D, X)
    top = int(np.nonzero(ll > ll.max() - 40.0)[0].max())
    converged = top < len(coarse) - 1
    upper = coarse[min(top + 1, len(coarse) - 1)]
    grid = np.concatenate([[0.0], upper * np.logspace(-9, 0, points)])
    ll = _restricted_loglik_grid(grid, y, D, X)
    trapezoid = np.zeros(len(grid))
    trapezoid[:-1] += np.diff(grid) / 2
    trapezoid[1:] += np.diff(grid) / 2
    log_w = ll + np.log(trapezoid)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    return grid, w, converged


def hierarchical_bayes(y: np.ndarray, D: np.ndarray, X: np.ndarray, points: int = 400) -> HBFit:
    """hb_flat: posterior means and variances of theta_i under flat priors on beta and A >= 0."""
    y, D, X = _check(y, D, X, min_df=3)
    grid, w, converged = _hb_posterior_grid(y, D, X, points)
    v_inv = 1.0 / (grid[:, None] + D[None, :])                                        # G x m
    xtvx_inv = np.linalg.inv(np.einsum("gi,ij,ik->gjk", v_inv, X, X))                 # G x p x p
    beta = np.einsum("gjk,gk->gj", xtvx_inv, np.einsum("gi,ij,i->gj", v_inv, X, y))   # G x p
    gamma = grid[:, None] * v_inv                                                      # G x m
    theta = gamma * y[None, :] + (1 - gamma) * (beta @ X.T)                            # E(theta | A, y)
    var = gamma * D[None, :] + (1 - gamma) ** 2 * np.einsum("ij,gjk,ik->gi", X, xtvx_inv, X)
    mean = w @ theta
    return HBFit("hb_flat", grid, w, beta, xtvx_inv, float(w @ grid), mean,
                 w @ (var + theta ** 2) - mean ** 2, w @ gamma, bool(converged))


def fit_model(y, D, X, method: str = DEFAULT_METHOD) -> FHFit | HBFit:
    """The fit named by `method` (METHODS)."""
    if method == "hb_flat":
        return hierarchical_bayes(y, D, X)
    if method in LIKELIHOOD_METHODS:
        return fit(y, D, X, method)
    raise ValueError(f"unknown method {method!r}; one of {METHODS}")


def leave_one_out_synthetic(y, D, X, method: str = DEFAULT_METHOD) -> tuple[np.ndarray, np.ndarray]:
    """For every area i, the synthetic estimate and its MSE (HB: predictive variance) from the
    model fitted without area i."""
    y, D, X = np.asarray(y, float), np.asarray(D, float), np.asarray(X, float)
    est, mse = np.empty(len(y)), np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        e, v = fit_model(y[keep], D[keep], X[keep], method).predict(X[i:i + 1])
        est[i], mse[i] = e[0], v[0]
    return est, mse
