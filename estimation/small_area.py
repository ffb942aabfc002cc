"""Small-area estimates of one survey indicator for every current municipality and wave: the
Fay-Herriot model (estimation/fay_herriot.py) on the direct estimates, with provision per capita
as covariates. One implementation, used by the dbt model int_trust_small_area (on the warehouse's
cells) and by the replicate benchmark (estimation/benchmark.py, on samples drawn again from the
generator's truth), so the benchmark judges exactly what the warehouse publishes.

Inputs per wave: for every municipality with respondents its unweighted n, sum of weights, sum of
squared weights and direct share; the national share; the provision figures. Sampling variances
are smoothed (a generalised variance function): D_i = p_nat (1 - p_nat) / n_eff_i with Kish's
n_eff_i = (sum w)^2 / sum w^2, since a small cell's own p_i (1 - p_i) is too noisy (and 0 at
p_i = 0 or 1). A wave that cannot be modelled is not an error: its rows say fit_status = skipped
and why (skip_reason), with the direct estimates, and the rest of the build goes on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from estimation.fay_herriot import METHODS, FitError, fit, fit_model, leave_one_out_synthetic

CONFIG_PATH = Path(__file__).with_name("small_area_model.yml")

OUTPUT_COLUMNS = [
    "indicator_code", "wave_year", "municipality_code", "n_unweighted", "direct_estimate",
    "direct_variance_smoothed", "modelled_estimate", "modelled_mse", "synthetic_estimate",
    "synthetic_mse", "shrinkage_gamma", "estimate_type", "sigma2_u", "sigma2_u_reml", "variance_method",
    "model_converged", "n_areas_fitted", "covariates", "covariate_year", "fit_status", "skip_reason",
]


@dataclass(frozen=True)
class ModelConfig:
    indicator: str
    measure: str
    covariates: tuple[str, ...]
    variance_method: str
    min_respondents: int
    min_residual_df: int


def load_config(path: Path = CONFIG_PATH) -> ModelConfig:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    cfg = ModelConfig(str(raw["indicator"]), str(raw["measure"]), tuple(raw["covariates"]),
                      str(raw["variance_method"]), int(raw["min_respondents"]), int(raw["min_residual_df"]))
    if cfg.variance_method not in METHODS:
        raise ValueError(f"{path}: variance_method {cfg.variance_method!r} is not one of {METHODS}")
    if cfg.min_residual_df < 2:
        raise ValueError(f"{path}: min_residual_df must be at least 2 (the leave-one-out fits need 1)")
    return cfg


def covariate_year(provision: pd.DataFrame, wave: int, municipalities: list[str],
                   covariates: tuple[str, ...]) -> int | None:
    """Latest year <= wave in which every municipality has every covariate; else the earliest
    complete year after the wave; None if no year is complete."""
    complete = []
    for year, g in provision.groupby("year"):
        figures = g.set_index("municipality_code").reindex(municipalities)[list(covariates)]
        if figures.notna().all().all():
            complete.append(int(year))
    before = [y for y in complete if y <= wave]
    if before:
        return max(before)
    return min(complete) if complete else None


def design_matrix(provision: pd.DataFrame, year: int, municipalities: list[str],
                  covariates: tuple[str, ...]) -> np.ndarray:
    """Intercept and the covariates standardised across the municipalities in the year."""
    figures = provision[provision["year"] == year].set_index("municipality_code").reindex(municipalities)
    z = figures[list(covariates)].astype(float)
    sd = z.std(ddof=0).replace(0.0, 1.0)
    z = (z - z.mean()) / sd
    return np.column_stack([np.ones(len(municipalities)), z.to_numpy()])


def estimate_wave(wave: int, direct: pd.DataFrame, p_nat: float, provision: pd.DataFrame,
                  municipalities: list[str], config: ModelConfig, with_synthetic: bool = True) -> pd.DataFrame:
    """One row per municipality in `municipalities`.

    direct: indexed by municipality code, columns n_unweighted, sum_w, sum_w2, share (areas
    without respondents may be absent). p_nat: the wave's national direct share.
    """
    direct = direct.reindex(municipalities)
    n = direct["n_unweighted"].fillna(0).astype(int).to_numpy()
    y = direct["share"].to_numpy(dtype=float)
    n_eff = (direct["sum_w"] ** 2 / direct["sum_w2"]).to_numpy(dtype=float)
    has_direct = n >= config.min_respondents
    with np.errstate(divide="ignore", invalid="ignore"):
        D = np.where(has_direct, p_nat * (1 - p_nat) / n_eff, np.nan)
    k = len(municipalities)
    rows = pd.DataFrame({
        "indicator_code": config.indicator,
        "wave_year": int(wave),
        "municipality_code": municipalities,
        "n_unweighted": n,
        "direct_estimate": np.where(has_direct, y, np.nan),
        "direct_variance_smoothed": D,
        "modelled_estimate": np.nan, "modelled_mse": np.nan,
        "synthetic_estimate": np.nan, "synthetic_mse": np.nan,
        "shrinkage_gamma": np.nan,
        "estimate_type": None,
        "sigma2_u": np.nan, "sigma2_u_reml": np.nan,
        "variance_method": config.variance_method,
        "model_converged": False,
        "n_areas_fitted": int(has_direct.sum()),
        "covariates": ", ".join(config.covariates),
        "covariate_year": pd.array([pd.NA] * k, dtype="Int64"),
        "fit_status": "skipped",
        "skip_reason": None,
    })[OUTPUT_COLUMNS]

    def skipped(reason: str) -> pd.DataFrame:
        rows["skip_reason"] = reason
        return rows

    year = covariate_year(provision, wave, municipalities, config.covariates)
    if year is None:
        return skipped("no year of provision figures covers every current municipality "
                       f"({', '.join(config.covariates)})")
    rows["covariate_year"] = year
    X = design_matrix(provision, year, municipalities, config.covariates)
    m, p = int(has_direct.sum()), X.shape[1]
    if m - p < config.min_residual_df:
        return skipped(f"too few areas with a direct estimate: {m} areas (>= {config.min_respondents} "
                       f"respondents) for {p} regression parameters, {m - p} residual degrees of freedom "
                       f"< {config.min_residual_df}")
    if not 0.0 < p_nat < 1.0:
        return skipped(f"national share {p_nat} is 0 or 1: the smoothed sampling variances would be 0")
    yd, Dd, Xd = y[has_direct], D[has_direct], X[has_direct]
    try:
        f = fit_model(yd, Dd, Xd, config.variance_method)
        reml = fit(yd, Dd, Xd, "reml").sigma2_u
        syn_out, syn_out_mse = f.predict(X[~has_direct])
        if with_synthetic:
            syn_in, syn_in_mse = leave_one_out_synthetic(yd, Dd, Xd, config.variance_method)
        else:
            syn_in, syn_in_mse = np.full(m, np.nan), np.full(m, np.nan)
    except (FitError, np.linalg.LinAlgError) as e:
        return skipped(f"model cannot be fitted: {e}")
    est, mse = np.full(k, np.nan), np.full(k, np.nan)
    syn, syn_mse = np.full(k, np.nan), np.full(k, np.nan)
    est[has_direct], mse[has_direct] = f.estimate, f.mse
    est[~has_direct], mse[~has_direct] = syn_out, syn_out_mse
    syn[has_direct], syn_mse[has_direct] = syn_in, syn_in_mse
    syn[~has_direct], syn_mse[~has_direct] = syn_out, syn_out_mse
    gamma = np.zeros(k)
    gamma[has_direct] = f.gamma
    rows["modelled_estimate"] = np.clip(est, 0.0, 1.0)
    rows["modelled_mse"] = mse
    rows["synthetic_estimate"] = np.clip(syn, 0.0, 1.0)
    rows["synthetic_mse"] = syn_mse
    rows["shrinkage_gamma"] = gamma
    rows["estimate_type"] = np.where(has_direct, "composite", "synthetic")
    rows["sigma2_u"] = f.sigma2_u
    rows["sigma2_u_reml"] = reml
    rows["model_converged"] = f.converged
    rows["fit_status"] = "fitted"
    return rows


def direct_inputs(cells: pd.DataFrame, config: ModelConfig) -> dict[int, tuple[pd.DataFrame, float]]:
    """From int_indicator_cells (subgroup all) to estimate_wave's inputs, per wave."""
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


def estimate_all(cells: pd.DataFrame, provision: pd.DataFrame, municipalities: list[str],
                 config: ModelConfig | None = None) -> pd.DataFrame:
    config = config or load_config()
    frames = [estimate_wave(wave, direct, p_nat, provision, municipalities, config)
              for wave, (direct, p_nat) in sorted(direct_inputs(cells, config).items())]
    if not frames:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    return pd.concat(frames, ignore_index=True)
