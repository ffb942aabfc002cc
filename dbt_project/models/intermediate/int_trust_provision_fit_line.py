"""The fitted line of every per-wave trust-provision fit (int_trust_provision_link) with its 95 %
band, at evenly spaced points over the observed range of the indicator: what the scatter of direct
estimates draws. Same inputs and function as int_trust_provision_link (estimation/trust_link.py)."""
from estimation.trust_link import estimate_links, load_config


def model(dbt, session):
    dbt.config(materialized="table")
    cells = dbt.ref("int_indicator_cells").df().sort_values(
        ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"],
        kind="stable", ignore_index=True)
    provision = dbt.ref("int_provision__per_capita").df().sort_values(["municipality_code", "year"], kind="stable",
                                                                       ignore_index=True)
    units = dbt.ref("int_municipalities").df()
    boundary_sets = dbt.ref("boundary_sets").df()
    current_set = boundary_sets.loc[boundary_sets["valid_to"].isna(), "boundary_set"].iloc[0]
    current = sorted(units.loc[units["boundary_set"] == current_set, "municipality_code"].unique())
    _, lines = estimate_links(cells, provision, current, load_config())
    lines["wave_year"] = lines["wave_year"].astype(int)
    lines["point"] = lines["point"].astype(int)
    return lines
