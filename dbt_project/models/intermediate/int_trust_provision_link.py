"""How trust changes with each provision indicator, per wave and pooled over waves, from the
municipalities' DIRECT survey estimates and their sampling variances only (estimation/trust_link.py,
configured by estimation/trust_provision_link.yml). No modelled municipal value enters: the
small-area estimates use the provision figures as covariates and would restate them.

The direct estimates are taken before disclosure control: they are model inputs, never published
from here. A wave or indicator that cannot be fitted gets fit_status = skipped and its reason.
Benjamini-Hochberg q-values over the family of every fitted slope. Columns:
int_trust_provision_link.yml.
"""
from estimation.trust_link import estimate_links, load_config


def model(dbt, session):
    dbt.config(materialized="table")
    # fixed row orders: the same data gives the same fits to the last bit in every build
    cells = dbt.ref("int_indicator_cells").df().sort_values(
        ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"],
        kind="stable", ignore_index=True)
    provision = dbt.ref("int_provision__per_capita").df().sort_values(["municipality_code", "year"], kind="stable",
                                                                       ignore_index=True)
    units = dbt.ref("int_municipalities").df()
    boundary_sets = dbt.ref("boundary_sets").df()
    current_set = boundary_sets.loc[boundary_sets["valid_to"].isna(), "boundary_set"].iloc[0]
    current = sorted(units.loc[units["boundary_set"] == current_set, "municipality_code"].unique())
    links, _ = estimate_links(cells, provision, current, load_config(), with_lines=False)
    links["wave_year"] = links["wave_year"].astype("Int64")
    links["covariate_year"] = links["covariate_year"].astype("Int64")
    for col in ("n_municipalities", "n_estimates"):
        links[col] = links[col].astype("Int64")
    for col in ("indicator_mean", "indicator_sd", "intercept", "slope", "slope_sd", "slope_ci_low", "slope_ci_high",
                "p_value", "q_value", "sigma2_area", "sigma2_area_wave"):
        links[col] = links[col].astype(float)
    links["is_significant"] = links["is_significant"].astype(bool)
    return links
