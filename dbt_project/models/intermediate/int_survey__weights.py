"""Respondent weights: the survey firm's where the wave has them, otherwise raked to population
margins by estimation/weighting.py (weightipy). The margin, and what ../shared/reference lacks
(no adult or age-band population), is described there and in int_survey__weights.yml; the
margin actually used is named in every raked row (raking_margins). Raked weights have mean 1.
"""
import pandas as pd

from estimation.weighting import MARGIN_SOURCE, cell, population_targets, rake
from ingest.faults import python_model_fault
from ingest.settings import Settings


def model(dbt, session):
    dbt.config(materialized="table")
    python_model_fault("int_survey__weights", Settings.from_env())  # inert unless a failed-run test injects a crash
    # a fixed row order: the same data gives the same weights to the last bit in every build
    respondents = dbt.ref("int_survey__respondents").df().sort_values(["wave_year", "respondent_source_id"],
                                                                      kind="stable", ignore_index=True)
    waves = dbt.ref("stg_survey__waves").df()[["wave_year", "boundary_set", "has_delivered_weight"]]
    units = dbt.ref("int_municipalities").df()
    targets = population_targets(dbt.ref("ref_municipalities_2021").df())
    out = []
    for wave, g in respondents.merge(waves, on="wave_year").groupby("wave_year"):
        g = g.copy()
        if bool(g["has_delivered_weight"].iloc[0]):
            g["weight"], g["weight_source"], g["raking_margins"] = g["weight_delivered"], "delivered", None
        else:
            region_of = units[units["boundary_set"] == g["boundary_set"].iloc[0]].set_index("municipality_code")[
                "region_2009_2023"]
            frame = pd.DataFrame({"region_sex": cell(g["municipality_code_delivered"].map(region_of).to_numpy(),
                                                     g["sex"].to_numpy()).to_numpy()})
            g["weight"] = rake(frame, targets).to_numpy()
            g["weight_source"], g["raking_margins"] = "raked", MARGIN_SOURCE
        out.append(g[["wave_year", "respondent_source_id", "weight", "weight_source", "raking_margins"]])
    return pd.concat(out, ignore_index=True)
