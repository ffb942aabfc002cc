"""Small-area (Fay-Herriot) estimates of trust_top2 (share incl. "hard to say") for every current
municipality and wave: estimation/small_area.py on the direct estimates of int_indicator_cells and
the provision figures of int_provision__per_capita, configured by estimation/small_area_model.yml.

The direct estimates and effective n are taken before disclosure control: they are model inputs,
never published from here. A wave that cannot be modelled (too few areas with respondents, no
complete year of provision figures) gets fit_status = skipped and its reason, not an error, so a
partial year never stops the build. Columns: int_trust_small_area.yml.
"""
from estimation.small_area import estimate_all, load_config


def model(dbt, session):
    dbt.config(materialized="table")
    config = load_config()
    # fixed row orders: the same data gives the same estimates to the last bit in every build
    cells = dbt.ref("int_indicator_cells").df().sort_values(
        ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"],
        kind="stable", ignore_index=True)
    provision = dbt.ref("int_provision__per_capita").df().sort_values(["municipality_code", "year"], kind="stable",
                                                                       ignore_index=True)
    units = dbt.ref("int_municipalities").df()
    boundary_sets = dbt.ref("boundary_sets").df()
    current_set = boundary_sets.loc[boundary_sets["valid_to"].isna(), "boundary_set"].iloc[0]
    current = sorted(units.loc[units["boundary_set"] == current_set, "municipality_code"].unique())
    return estimate_all(cells, provision, current, config)
