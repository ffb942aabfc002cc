"""Fay-Herriot area-level model (Fay & Herriot 1979; Rao & Molina, Small Area Estimation, ch. 6).

    y_i = theta_i + e_i,   e_i ~ N(0, D_i)   (direct estimate, known sampling variance)
    theta_i = x_i' beta + u_i,  u_i ~ N(0, s2)  (area effect)

s2 by REML (Fisher scoring), beta by GLS, the EBLUP gamma_i y_i + (1 - gamma_i) x_i' beta with
gamma_i = s2 / (s2 + D_i), and its MSE by the Prasad-Rao approximation g1 + g2 + 2 g3. Areas
without a direct estimate get the synthetic estimate x_i' beta with MSE s2 + x_i' (X'V^-1 X)^-1 x_i.

No maintained Python library fits this model here (STACK.md: samplics' EblupAreaModel is broken),
so it is written out and validated against simulated truth and hand-checked cases in tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FHFit:
    beta: np.ndarray
    sigma2_u: float
    eblup: np.ndarray
    mse: np.ndarray
    gamma: np.ndarray
    converged: bool
    iterations: int


def fit(y: np.ndarray, D: np.ndarray, X: np.ndarray, max_iter: int = 100, tol: float = 1e-10) -> FHFit:
    y, D, X = np.asarray(y, float), np.asarray(D, float), np.asarray(X, float)
    m, p = X.shape
    if m <= p:
        raise ValueError(f"need more areas ({m}) than covariates ({p})")
    # Start from the moment estimate of the residual variance above the sampling variance.
    beta_ols = np.linalg.lstsq(X, y, rcond=None)[0]
    s2 = max(float(np.sum((y - X @ beta_ols) ** 2) / (m - p) - D.mean()), 1e-6)
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        V_inv = 1.0 / (s2 + D)
        XtVX = X.T @ (X * V_inv[:, None])
        P = np.diag(V_inv) - (X * V_inv[:, None]) @ np.linalg.solve(XtVX, (X * V_inv[:, None]).T)
        Py = P @ y
        score = -0.5 * np.trace(P) + 0.5 * Py @ Py
        info = 0.5 * np.sum(P * P)
        step = score / info
        new = max(s2 + step, 0.0)
        if abs(new - s2) < tol * max(1.0, s2):
            s2, converged = new, True
            break
        s2 = new
    V_inv = 1.0 / (s2 + D)
    XtVX = X.T @ (X * V_inv[:, None])
    XtVX_inv = np.linalg.inv(XtVX)
    beta = XtVX_inv @ (X.T @ (V_inv * y))
    gamma = s2 / (s2 + D)
    synthetic = X @ beta
    eblup = gamma * y + (1 - gamma) * synthetic
    var_s2 = 2.0 / np.sum(V_inv ** 2)  # asymptotic variance of the REML estimate
    g1 = gamma * D
    g2 = (1 - gamma) ** 2 * np.einsum("ij,jk,ik->i", X, XtVX_inv, X)
    g3 = D ** 2 / (s2 + D) ** 3 * var_s2
    return FHFit(beta, s2, eblup, g1 + g2 + 2 * g3, gamma, converged, it)


def synthetic(fit_: FHFit, X_new: np.ndarray, X_fit: np.ndarray, D_fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and MSE for areas without a direct estimate."""
    X_new = np.asarray(X_new, float)
    V_inv = 1.0 / (fit_.sigma2_u + np.asarray(D_fit, float))
    XtVX_inv = np.linalg.inv(X_fit.T @ (X_fit * V_inv[:, None]))
    return X_new @ fit_.beta, fit_.sigma2_u + np.einsum("ij,jk,ik->i", X_new, XtVX_inv, X_new)
