"""Fay-Herriot small-area estimates of trust_top2 (share incl. "hard to say") for every current
municipality and wave (estimation/fay_herriot.py).

Direct estimates and effective n come from int_indicator_cells (before suppression: they are model
inputs, never published from here). Sampling variances are smoothed (generalised variance
function): D_i = p_nat (1 - p_nat) / n_eff_i, since the direct p_i of a small cell is too noisy to
give its own variance (and is 0 at p_i = 0 or 1). Covariates: the same year's provision per capita
(recipients of mandatory services per 1000, expenditure per resident, residents per social-work
specialist; standardised within the wave) from mart_provision_per_capita, or of the latest earlier
year when the wave's year has no figures yet (covariate_year). Municipalities without
respondents get the synthetic estimate.
"""
import numpy as np
import pandas as pd

from estimation.fay_herriot import fit, synthetic


def leave_one_out_synthetic(y, D, X, has_direct):
    """Regression-synthetic estimate and MSE of every area from a fit on the OTHER areas only
    (interface announced by helper 13b: synthetic_estimate, synthetic_mse; this stand-in keeps the
    issue-13a branch runnable until 13b's version lands). Nothing of area i's own sample enters
    its values, so they cannot be inverted for its sample size."""
    est, mse = np.full(len(y), np.nan), np.full(len(y), np.nan)
    for i in range(len(y)):
        others = has_direct.copy()
        others[i] = False
        f = fit(y[others], D[others], X[others])
        est[i:i + 1], mse[i:i + 1] = synthetic(f, X[i:i + 1], X[others], D[others])
    return est, mse

COVARIATES = ["recipients_per_1000", "expenditure_per_resident_eur", "residents_per_specialist"]
INDICATOR = "trust_top2"


def model(dbt, session):
    dbt.config(materialized="table")
    cells = dbt.ref("int_indicator_cells").df()
    cells = cells[(cells["indicator_code"] == INDICATOR) & (cells["subgroup_type"] == "all")]
    provision = dbt.ref("mart_provision_per_capita").df()
    out = []
    for wave, group in cells.groupby("wave_year"):
        national = group[group["geo_level"] == "national"].iloc[0]
        p_nat = float(national["share_incl_hard_to_say"])
        direct = group[group["geo_level"] == "municipality"].set_index("geo_code")
        # Covariates of the wave's year, or of the latest earlier year with provision figures.
        years = sorted(y for y in provision["year"].unique() if y <= wave) or sorted(provision["year"].unique())
        covariate_year = int(years[-1])
        covs = provision[provision["year"] == covariate_year].set_index("municipality_code")[COVARIATES].astype(float)
        covs = (covs - covs.mean()) / covs.std(ddof=0)
        X_all = np.column_stack([np.ones(len(covs)), covs.to_numpy()])
        n_eff = (direct["sum_w"] ** 2 / direct["sum_w2"]).reindex(covs.index)
        has_direct = (direct["n_unweighted"].reindex(covs.index).fillna(0) >= 2).to_numpy()
        y = direct["share_incl_hard_to_say"].reindex(covs.index).to_numpy(dtype=float)
        D = p_nat * (1 - p_nat) / n_eff.to_numpy(dtype=float)
        f = fit(y[has_direct], D[has_direct], X_all[has_direct])
        est = np.full(len(covs), np.nan)
        mse = np.full(len(covs), np.nan)
        est[has_direct], mse[has_direct] = f.eblup, f.mse
        if (~has_direct).any():
            est[~has_direct], mse[~has_direct] = synthetic(f, X_all[~has_direct], X_all[has_direct], D[has_direct])
        syn_est, syn_mse = leave_one_out_synthetic(y, D, X_all, has_direct)
        out.append(pd.DataFrame({
            "indicator_code": INDICATOR,
            "wave_year": int(wave),
            "municipality_code": covs.index,
            "n_unweighted": direct["n_unweighted"].reindex(covs.index).fillna(0).astype(int).to_numpy(),
            "direct_estimate": np.where(has_direct, y, np.nan),
            "direct_variance_smoothed": np.where(has_direct, D, np.nan),
            "modelled_estimate": np.clip(est, 0, 1),
            "modelled_mse": mse,
            "shrinkage_gamma": np.where(has_direct, f.sigma2_u / (f.sigma2_u + D), 0.0),
            "estimate_type": np.where(has_direct, "eblup", "synthetic"),
            "synthetic_estimate": np.clip(syn_est, 0, 1),
            "synthetic_mse": syn_mse,
            "fit_status": "fitted",
            "skip_reason": pd.array([None] * len(covs), dtype="string"),
            "sigma2_u": f.sigma2_u,
            "model_converged": f.converged,
            "covariates": ", ".join(COVARIATES),
            "covariate_year": covariate_year,
        }))
    return pd.concat(out, ignore_index=True)
