"""Respondent weights: the survey firm's where the wave has them, otherwise raked (iterative
proportional fitting, weightipy) to population margins.

Margins: statistical region (2009-2023 split) and sex, from the reference population of the 43
units (CSP, 1 Jan 2026; 1 Jan 2025 for Madona and Varakļāni). Age-band margins are not in
../shared/reference, so waves are not raked by age. Raked weights are scaled to mean 1.
"""
import pandas as pd
import weightipy as wp

from ingest.faults import python_model_fault

MARGIN_SOURCE = ("region (2009-2023 statistical regions) and sex, CSP population 1 Jan 2026 "
                 "(1 Jan 2025 for Madona and Varakļāni), reference file of the 43 municipalities")


def rake(frame: pd.DataFrame, targets: dict[str, dict[str, float]]) -> pd.Series:
    present = {dim: {k: v for k, v in t.items() if k in set(frame[dim])} for dim, t in targets.items()}
    scheme = wp.scheme_from_dict({dim: {k: 100 * v / sum(t.values()) for k, v in t.items()}
                                  for dim, t in present.items()})
    w = wp.weight_dataframe(frame[list(targets)].copy(), scheme, weight_column="_w")["_w"]
    return w / w.mean()


def model(dbt, session):
    dbt.config(materialized="table")
    python_model_fault("int_survey__weights")  # inert unless a failed-run test injects a crash
    respondents = dbt.ref("int_survey__respondents").df()
    waves = dbt.ref("stg_survey__waves").df()[["wave_year", "boundary_set", "has_delivered_weight"]]
    units = dbt.ref("dim_municipality").df()
    ref = dbt.ref("ref_municipalities_2021").df()
    units_2021 = units[units["boundary_set"] == "post2021_43"]
    targets = {
        "region": units_2021.groupby("region_2009_2023")["population"].sum().astype(float).to_dict(),
        "sex": {"male": float(ref["population_males"].sum()), "female": float(ref["population_females"].sum())},
    }
    out = []
    for wave, g in respondents.merge(waves, on="wave_year").groupby("wave_year"):
        g = g.copy()
        if bool(g["has_delivered_weight"].iloc[0]):
            g["weight"], g["weight_source"], g["raking_margins"] = g["weight_delivered"], "delivered", None
        else:
            region_of = units[units["boundary_set"] == g["boundary_set"].iloc[0]].set_index("municipality_code")[
                "region_2009_2023"]
            frame = pd.DataFrame({"region": g["municipality_code_delivered"].map(region_of).to_numpy(),
                                  "sex": g["sex"].to_numpy()})
            g["weight"] = rake(frame, targets).to_numpy()
            g["weight_source"], g["raking_margins"] = "raked", MARGIN_SOURCE
        out.append(g[["wave_year", "respondent_source_id", "weight", "weight_source", "raking_margins"]])
    return pd.concat(out, ignore_index=True)
