"""Is trust higher where services are better provided? The slope of municipal trust on a provision
indicator, estimated from the survey's own evidence and its sampling error only.

Why not a correlation of published municipal values: most municipalities' published trust is a
model value whose regression uses the provision figures themselves, so it restates provision and
correlates with it whatever the truth is. Why not a plain correlation of direct estimates either:
its interval ignores that every direct estimate carries a sampling error, larger in small
municipalities, so it neither weights the municipalities by what they know nor separates sampling
noise from real differences.

The model (an area-level regression, Fay & Herriot 1979; Rao & Molina 2015, ch. 6 and 10), per wave:

    y_i = alpha + beta z_i + u_i + e_i,   u_i ~ N(0, A),  e_i ~ N(0, D_i)

y_i: municipality i's direct survey estimate (weighted, as int_indicator_cells); D_i: its sampling
variance, smoothed as in the small-area model (p_nat (1 - p_nat) / Kish n_eff: a small cell's own
p_i (1 - p_i) is too noisy and correlated with y_i); z_i: the provision indicator, standardised over
the municipalities of the fit (mean 0, sample SD 1), so beta is the change of the trust share per
standard deviation of the indicator; u_i: what else makes municipalities differ. Fitted as a
hierarchical Bayes model with flat priors on alpha, beta and A >= 0, integrated exactly over A on a
grid (estimation/fay_herriot.hierarchical_bayes): the posterior of beta is a mixture of normals
whose spread carries both the sampling error of every direct estimate and the uncertainty about A.

Pooled over waves, with a wave effect and a municipality effect shared by the waves:

    y_iw = alpha_w + beta zbar_i + gamma (z_iw - zbar_i) + a_i + v_iw + e_iw,
    a_i ~ N(0, A_a),  v_iw ~ N(0, A_v),  e_iw ~ N(0, D_iw)

(z standardised within each wave; zbar_i the municipality's mean over its waves, standardised over
the municipalities: Mundlak's split, so beta compares municipalities as the per-wave slopes do and
year-to-year noise in the figures does not dilute it), flat priors on alpha_w, beta, gamma and
A_a, A_v >= 0, integrated exactly on a two-dimensional grid. The shared a_i keeps a municipality that
is high in every wave from counting as independent evidence once per wave.

The SD that makes beta "per standard deviation" is itself estimated from the municipalities of the
fit, so the published beta is the fitted one times r = sigma / s, r log-normal with the jackknife's
bias and variance of log s (sd_log_error): its interval carries both the regression's error and the
SD's, its mean is the fitted one's times E r (about 1 % larger for normal figures); its sign, and so
the p-value, are the fitted beta's.

Published per fit: the posterior mean of beta, its 95 % equal-tailed interval, and the two-sided
tail probability p = 2 min(P(beta <= 0 | y), P(beta >= 0 | y)), which under flat priors plays the
part of a p-value; over the whole family of fits the Benjamini-Hochberg q-values. How often this is
wrong is measured, not assumed: estimation/link_benchmark.py draws replicate surveys from worlds with
no link, known links and a logistic truth the linear model did not generate.

Nothing here uses a modelled municipal value; the direct estimates enter whatever their
publication status (the slope over 40 municipalities reveals no single cell).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.special import ndtr

from estimation.fay_herriot import FitError, hierarchical_bayes
from estimation.proportions import benjamini_hochberg
from estimation.small_area import covariate_year

CONFIG_PATH = Path(__file__).with_name("trust_provision_link.yml")
Z95 = 1.959963984540054

OUTPUT_COLUMNS = [
    "indicator_code", "measure", "scope", "wave_year", "waves", "provision_indicator", "covariate_year",
    "n_municipalities", "n_estimates", "indicator_mean", "indicator_sd", "intercept", "slope", "slope_sd",
    "slope_ci_low", "slope_ci_high", "p_value", "q_value", "is_significant", "family_size",
    "sigma2_area", "sigma2_area_wave", "fit_status", "skip_reason", "method",
]
LINE_COLUMNS = ["indicator_code", "wave_year", "provision_indicator", "point", "indicator_value",
                "fitted", "fitted_ci_low", "fitted_ci_high"]


@dataclass(frozen=True)
class LinkConfig:
    indicator: str
    measure: str
    provision_indicators: tuple[str, ...]
    min_respondents: int
    min_residual_df: int
    fdr_q: float
    line_points: int


def load_config(path: Path = CONFIG_PATH) -> LinkConfig:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    cfg = LinkConfig(str(raw["indicator"]), str(raw["measure"]), tuple(raw["provision_indicators"]),
                     int(raw["min_respondents"]), int(raw["min_residual_df"]), float(raw["fdr_q"]),
                     int(raw["line_points"]))
    if cfg.min_residual_df < 3:
        raise ValueError(f"{path}: min_residual_df must be at least 3 (the posterior is proper for m - p > 2)")
    return cfg


# --- posterior of a coefficient that is a mixture of normals --------------------------------------

@dataclass
class Mixture:
    """Posterior of one scalar: sum_g w_g N(mean_g, var_g)."""
    w: np.ndarray
    mean: np.ndarray
    var: np.ndarray

    @property
    def expectation(self) -> float:
        return float(self.w @ self.mean)

    @property
    def sd(self) -> float:
        m = self.expectation
        return float(np.sqrt(max(self.w @ (self.var + self.mean ** 2) - m ** 2, 0.0)))

    def cdf(self, x: float) -> float:
        return float(self.w @ ndtr((x - self.mean) / np.sqrt(self.var)))

    def quantile(self, q: float) -> float:
        sd = np.sqrt(self.var)
        lo, hi = float(np.min(self.mean - 12 * sd)), float(np.max(self.mean + 12 * sd))
        for _ in range(100):  # bisection to ~1e-30 of the bracket
            mid = 0.5 * (lo + hi)
            if self.cdf(mid) < q:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def two_sided_p(self) -> float:
        below = self.cdf(0.0)
        return float(min(1.0, 2.0 * min(below, 1.0 - below)))

    def times_lognormal(self, mu: float, v: float, nodes: int = 9) -> "Mixture":
        """The posterior of this coefficient times an independent positive factor r with
        log r ~ N(mu, v), by Gauss-Hermite nodes: again a mixture of normals, each component
        (m, s^2) becoming (m r_k, s^2 r_k^2). The sign of the product is the sign of the
        coefficient, so the tail probability at 0 (the p-value) does not change, and the interval
        excludes 0 exactly when it did before."""
        if not v > 0:
            return self
        t, h = np.polynomial.hermite.hermgauss(nodes)
        r = np.exp(mu + np.sqrt(2 * v) * t)
        omega = h / h.sum()
        return Mixture(np.outer(self.w, omega).ravel(), np.outer(self.mean, r).ravel(),
                       np.outer(self.var, r ** 2).ravel())


@dataclass
class SlopeFit:
    slope: Mixture
    intercept: float
    sigma2_area: float
    sigma2_area_wave: float
    n_areas: int
    n_estimates: int
    line: callable = None  # z -> (mean, ci_low, ci_high) of alpha + beta z (per-wave fits)
    fitted: Mixture = None  # the posterior of the coefficient per SAMPLE SD, before the SD's error

    def summary(self) -> dict:
        return {"slope": self.slope.expectation, "slope_sd": self.slope.sd,
                "slope_ci_low": self.slope.quantile(0.025), "slope_ci_high": self.slope.quantile(0.975),
                "p_value": self.slope.two_sided_p(), "intercept": self.intercept,
                "sigma2_area": self.sigma2_area, "sigma2_area_wave": self.sigma2_area_wave,
                "n_municipalities": self.n_areas, "n_estimates": self.n_estimates}


def standardise(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    mean, sd = float(np.mean(x)), float(np.std(x, ddof=1))
    if not np.isfinite(sd) or sd <= 0:
        raise FitError("the provision indicator does not vary over the municipalities")
    return (x - mean) / sd, mean, sd


def sd_log_error(x: np.ndarray) -> tuple[float, float]:
    """How far the sample SD s of the values x of m municipalities is from the SD sigma of the
    population they stand for, on the log scale: (mu, v) with log(sigma / s) ~ N(mu, v), both by the
    jackknife (leave one municipality out, m times): v its variance of log s, mu minus its bias of
    log s. For normal values v is about 1 / (2 (m - 1)) and mu about v / 2 (s falls short of sigma on
    average); for the skewed provision figures both are larger. The jackknife variance errs on the
    large side in small samples (Efron & Stein 1981), where a fourth-moment plug-in fell 20 % short
    for log-normal values (tests/test_trust_link.py).

    Why it enters the interval: the slope is published per standard deviation of the indicator, and
    that SD is itself estimated from some 40 municipalities (its relative error is about 11 % for
    normal values, 20 % for skewed ones). A slope per SD is (slope per unit) x SD, so its interval
    must carry both errors; without the second, precise fits (the pooled ones at strong links)
    covered the slope per true SD only 90 % of the time in the calibration (docs/link_calibration.md)."""
    x = np.asarray(x, float)
    m = len(x)
    if m < 4:
        return 0.0, 0.0
    total, squares = float(x.sum()), float((x ** 2).sum())
    rest, rest_sq = total - x, squares - x ** 2
    var_out = (rest_sq - rest ** 2 / (m - 1)) / (m - 2)       # sample variance without municipality i
    var_all = (squares - total ** 2 / m) / (m - 1)
    if var_all <= 0 or np.any(var_out <= 0):
        return 0.0, 0.0
    log_out, log_all = 0.5 * np.log(var_out), 0.5 * np.log(var_all)
    bias = (m - 1) * (log_out.mean() - log_all)
    v = (m - 1) / m * float(np.sum((log_out - log_out.mean()) ** 2))
    return float(-bias), v


def fit_wave(y: np.ndarray, D: np.ndarray, z: np.ndarray) -> SlopeFit:
    """Per-wave slope: hierarchical Bayes Fay-Herriot with X = [1, z]."""
    y, D, z = (np.asarray(a, float) for a in (y, D, z))
    X = np.column_stack([np.ones(len(y)), z])
    f = hierarchical_bayes(y, D, X)
    fitted = Mixture(f.weights, f.beta_grid[:, 1], f.xtvx_inv_grid[:, 1, 1])
    beta = fitted.times_lognormal(*sd_log_error(z))

    def line(zs: np.ndarray):
        zs = np.asarray(zs, float)
        means = f.beta_grid[:, [0]] + f.beta_grid[:, [1]] * zs[None, :]                        # G x k
        var = (f.xtvx_inv_grid[:, [0], 0] + 2 * zs[None, :] * f.xtvx_inv_grid[:, [0], 1]
               + zs[None, :] ** 2 * f.xtvx_inv_grid[:, [1], 1])
        out = []
        for j in range(len(zs)):
            mix = Mixture(f.weights, means[:, j], var[:, j])
            out.append((mix.expectation, mix.quantile(0.025), mix.quantile(0.975)))
        return np.array(out)

    return SlopeFit(beta, float(f.beta[0]), f.sigma2_u, float("nan"), len(y), len(y), line, fitted)


def _log_grid(upper: float, points: int) -> np.ndarray:
    return np.concatenate([[0.0], upper * np.logspace(-7, 0, points)])


def _trapezoid(grid: np.ndarray) -> np.ndarray:
    t = np.zeros(len(grid))
    t[:-1] += np.diff(grid) / 2
    t[1:] += np.diff(grid) / 2
    return t


def _pooled_grid_terms(A_a: np.ndarray, A_v: np.ndarray, y, D, X, M):
    """For grid points (A_a[g], A_v[g]): restricted log-likelihood, GLS beta and (X'V^-1 X)^-1 of the
    model with V = A_a Z Z' + A_v I + diag(D) (Z: municipality membership M), block by block with
    Sherman-Morrison: V_i^-1 = Dg^-1 - c_i Dg^-1 1 1' Dg^-1, c_i = A_a / (1 + A_a 1'Dg^-1 1)."""
    inv_d = 1.0 / (A_v[:, None] + D[None, :])                                # G x N
    s = inv_d @ M                                                            # G x m
    c = A_a[:, None] / (1.0 + A_a[:, None] * s)                              # G x m
    dX = inv_d[:, :, None] * X[None, :, :]                                   # G x N x p
    gX = np.matmul(M.T[None, :, :], dX)                                      # G x m x p
    xtvx = np.matmul(X.T[None, :, :], dX) - np.matmul(np.swapaxes(gX, 1, 2) * c[:, None, :], gX)
    h = (inv_d * y[None, :]) @ M                                             # G x m
    xtvy = (inv_d * y[None, :]) @ X - np.einsum("gmp,gm->gp", gX, c * h)
    ytvy = (inv_d * y[None, :] ** 2).sum(1) - (c * h ** 2).sum(1)
    logdet_v = -np.log(inv_d).sum(1) + np.log1p(A_a[:, None] * s).sum(1)
    sign, logdet_xtvx = np.linalg.slogdet(xtvx)
    if np.any(sign <= 0):
        raise FitError("covariates are collinear over the municipality-waves of the pooled fit")
    xtvx_inv = np.linalg.inv(xtvx)
    beta = np.einsum("gpq,gq->gp", xtvx_inv, xtvy)
    ypy = ytvy - np.einsum("gp,gp->g", xtvy, beta)
    return -0.5 * (logdet_v + logdet_xtvx + ypy), beta, xtvx_inv


def mundlak_columns(z: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A municipality's mean of the (per wave standardised) indicator over its waves, standardised
    over the municipalities (sample SD 1), per row; and the row's deviation from that mean."""
    frame = pd.DataFrame({"area": area, "z": z})
    means = frame.groupby("area")["z"].mean()
    sd = float(means.std(ddof=1))
    if not np.isfinite(sd) or sd <= 0:
        raise FitError("the provision indicator does not vary over the municipalities")
    zbar = frame["area"].map(means).to_numpy(float)
    return (zbar - means.mean()) / sd, z - zbar


def fit_pooled(y: np.ndarray, D: np.ndarray, z: np.ndarray, wave: np.ndarray, area: np.ndarray,
               points: int = 32) -> SlopeFit:
    """Pooled slope with a wave effect (one intercept per wave), two variance components (a
    municipality effect shared by the waves, A_a, and a municipality-wave effect, A_v), and the
    indicator split as Mundlak (1978) advises: the municipality's mean over the waves (standardised
    over the municipalities; its coefficient is the published slope, a comparison BETWEEN
    municipalities, as the per-wave slopes are) and each wave's deviation from it (year-to-year
    noise of the figures; its coefficient is not published). Without the split the random-effects
    fit mixes the two, and the year-to-year noise pulls the slope towards 0 (coverage of the
    between-municipality slope fell to 0.55 in the calibration). Flat priors, posterior integrated on
    a grid (0 and `points` log-spaced values per component over seven decades below where the
    likelihood ends), trapezoid rule in both directions."""
    y, D, z = (np.asarray(a, float) for a in (y, D, z))
    area = np.asarray(area)
    waves = sorted(set(np.asarray(wave).tolist()))
    areas = sorted(set(area.tolist()))
    between, within = mundlak_columns(z, area)
    per_area = pd.Series(between).groupby(area).first().to_numpy(float)
    X = np.column_stack([(np.asarray(wave) == w).astype(float) for w in waves] + [between, within])
    M = np.column_stack([(area == a).astype(float) for a in areas])
    n, p = X.shape
    if n - p < 3 or len(areas) < 4:
        raise FitError(f"too few municipality-waves for a pooled fit: {n} estimates, {p} parameters")
    beta_ols = np.linalg.lstsq(X, y, rcond=None)[0]
    scale = float(np.sum((y - X @ beta_ols) ** 2) / (n - p)) + float(np.mean(D))
    # coarse pass: how far each component's likelihood reaches (to 40 log units below the maximum)
    coarse = np.concatenate([[0.0], scale * np.logspace(-6, 4, 31)])
    ga, gv = np.meshgrid(coarse, coarse, indexing="ij")
    ll, _, _ = _pooled_grid_terms(ga.ravel(), gv.ravel(), y, D, X, M)
    keep = (ll > ll.max() - 40.0).reshape(ga.shape)
    top_a = int(np.nonzero(keep.any(axis=1))[0].max())
    top_v = int(np.nonzero(keep.any(axis=0))[0].max())
    upper_a = coarse[min(top_a + 1, len(coarse) - 1)]
    upper_v = coarse[min(top_v + 1, len(coarse) - 1)]
    grid_a, grid_v = _log_grid(upper_a, points), _log_grid(upper_v, points)
    ga, gv = np.meshgrid(grid_a, grid_v, indexing="ij")
    ll, beta, xtvx_inv = _pooled_grid_terms(ga.ravel(), gv.ravel(), y, D, X, M)
    log_w = ll + np.log(np.outer(_trapezoid(grid_a), _trapezoid(grid_v)).ravel() + 1e-300)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    fitted = Mixture(w, beta[:, -2], xtvx_inv[:, -2, -2])
    slope = fitted.times_lognormal(*sd_log_error(per_area))
    return SlopeFit(slope, float("nan"), float(w @ ga.ravel()), float(w @ gv.ravel()), len(areas), n,
                    fitted=fitted)


# --- from the warehouse's cells and provision figures to the published fits ------------------------

def wave_inputs(cells: pd.DataFrame, config: LinkConfig) -> dict[int, tuple[pd.DataFrame, float]]:
    """Per wave: the municipalities' direct estimates (n, sum w, sum w^2, share) and the national
    share, from int_indicator_cells (subgroup all), as the small-area model takes them."""
    cells = cells[(cells["indicator_code"] == config.indicator) & (cells["subgroup_type"] == "all")]
    out = {}
    for wave, g in cells.groupby("wave_year"):
        national = g[g["geo_level"] == "national"]
        munis = g[g["geo_level"] == "municipality"].set_index("geo_code")
        direct = pd.DataFrame({"n_unweighted": munis["n_unweighted"], "sum_w": munis["sum_w"],
                               "sum_w2": munis["sum_w2"], "share": munis[config.measure]})
        p_nat = float(national[config.measure].iloc[0]) if len(national) else float("nan")
        out[int(wave)] = (direct, p_nat)
    return out


def smoothed_inputs(direct: pd.DataFrame, p_nat: float, config: LinkConfig) -> pd.DataFrame:
    """Areas that enter a fit: at least `min_respondents` respondents; y and the smoothed D."""
    d = direct[direct["n_unweighted"] >= config.min_respondents].copy()
    d["n_eff"] = d["sum_w"] ** 2 / d["sum_w2"]
    d["D"] = p_nat * (1 - p_nat) / d["n_eff"]
    return d


def _row(config: LinkConfig, scope: str, wave, indicator: str, **values) -> dict:
    row = {c: None for c in OUTPUT_COLUMNS}
    row.update(indicator_code=config.indicator, measure=config.measure, scope=scope, wave_year=wave,
               provision_indicator=indicator, fit_status="skipped", is_significant=False)
    row.update(values)
    return row


METHOD_WAVE = ("Area-level regression of the municipalities' direct estimates on the standardised indicator "
               "(Fay-Herriot, hierarchical Bayes with flat priors, smoothed sampling variances)")
METHOD_POOLED = ("Area-level regression pooled over waves with a wave effect, a municipality effect shared by "
                 "the waves and a municipality-wave effect, on the municipality's mean of the standardised "
                 "indicator (Mundlak; hierarchical Bayes with flat priors)")


def estimate_links(cells: pd.DataFrame, provision: pd.DataFrame, municipalities: list[str],
                   config: LinkConfig | None = None, with_lines: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All fits (per wave and pooled, per provision indicator) with BH q-values over the family of
    fitted ones, and the fitted lines (per wave and indicator) for the scatter."""
    config = config or load_config()
    rows, lines = [], []
    pooled_data: dict[str, list[pd.DataFrame]] = {ind: [] for ind in config.provision_indicators}
    for wave, (direct, p_nat) in sorted(wave_inputs(cells, config).items()):
        d = smoothed_inputs(direct.reindex(municipalities).dropna(subset=["n_unweighted"]), p_nat, config)
        for ind in config.provision_indicators:
            year = covariate_year(provision, wave, municipalities, (ind,))
            if year is None:
                rows.append(_row(config, "wave", wave, ind, skip_reason=(
                    f"no year of provision figures covers every current municipality ({ind})")))
                continue
            x = provision[provision["year"] == year].set_index("municipality_code")[ind].astype(float)
            data = d.join(x.rename("x"), how="inner").dropna(subset=["x", "share"])
            m = len(data)
            if m - 2 < config.min_residual_df:
                rows.append(_row(config, "wave", wave, ind, covariate_year=year, n_municipalities=m, skip_reason=(
                    f"too few municipalities with a direct estimate: {m} (>= {config.min_respondents} respondents) "
                    f"for 2 regression parameters, {m - 2} residual degrees of freedom < {config.min_residual_df}")))
                continue
            if not 0.0 < p_nat < 1.0:
                rows.append(_row(config, "wave", wave, ind, covariate_year=year,
                                 skip_reason=f"national share {p_nat} is 0 or 1: no sampling variance"))
                continue
            try:
                z, mean, sd = standardise(data["x"].to_numpy())
                f = fit_wave(data["share"].to_numpy(), data["D"].to_numpy(), z)
            except (FitError, np.linalg.LinAlgError) as e:
                rows.append(_row(config, "wave", wave, ind, covariate_year=year, skip_reason=f"model cannot be fitted: {e}"))
                continue
            rows.append(_row(config, "wave", wave, ind, covariate_year=year, waves=str(wave), indicator_mean=mean,
                             indicator_sd=sd, fit_status="fitted", method=METHOD_WAVE, **f.summary()))
            pooled_data[ind].append(pd.DataFrame({"wave": wave, "area": data.index, "y": data["share"].to_numpy(),
                                                  "D": data["D"].to_numpy(), "z": z}))
            if not with_lines:
                continue
            xs = np.linspace(data["x"].min(), data["x"].max(), config.line_points)
            band = f.line((xs - mean) / sd)
            lines.append(pd.DataFrame({"indicator_code": config.indicator, "wave_year": wave,
                                       "provision_indicator": ind, "point": np.arange(1, len(xs) + 1),
                                       "indicator_value": xs, "fitted": band[:, 0], "fitted_ci_low": band[:, 1],
                                       "fitted_ci_high": band[:, 2]}))
    for ind in config.provision_indicators:
        parts = pooled_data[ind]
        if len(parts) < 2:
            rows.append(_row(config, "pooled", None, ind, skip_reason=(
                f"a pooled fit needs at least 2 fitted waves; {len(parts)} fitted")))
            continue
        data = pd.concat(parts, ignore_index=True)
        waves = ", ".join(str(w) for w in sorted(data["wave"].unique()))
        try:
            f = fit_pooled(data["y"].to_numpy(), data["D"].to_numpy(), data["z"].to_numpy(),
                           data["wave"].to_numpy(), data["area"].to_numpy())
        except (FitError, np.linalg.LinAlgError) as e:
            rows.append(_row(config, "pooled", None, ind, waves=waves, skip_reason=f"model cannot be fitted: {e}"))
            continue
        rows.append(_row(config, "pooled", None, ind, waves=waves, fit_status="fitted", method=METHOD_POOLED,
                         **f.summary()))
    out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    fitted = out["fit_status"] == "fitted"
    out["family_size"] = int(fitted.sum())
    if fitted.any():
        out.loc[fitted, "q_value"] = benjamini_hochberg(out.loc[fitted, "p_value"].astype(float).to_numpy())
        out.loc[fitted, "is_significant"] = out.loc[fitted, "q_value"].astype(float) <= config.fdr_q
    line_frame = pd.concat(lines, ignore_index=True) if lines else pd.DataFrame(columns=LINE_COLUMNS)
    return out, line_frame[LINE_COLUMNS]
