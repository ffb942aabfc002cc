"""The DataFrames the plausibility suites validate, read from the run's built marts.

Each frame has a delivery-year column (`year_column`): when an expectation fails, the years of the
rows that broke it say which deliveries to quarantine.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Frame:
    """A frame to validate and what the suite's `for:` selectors and `$names` resolve to."""

    data_ref: str  # e.g. "survey waves", "provision per municipality and year"
    partition: str
    df: pd.DataFrame
    roles: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)
    column_values: dict[str, dict[str, object]] = field(default_factory=dict)
    year_column: str | None = None


def survey_frame(con) -> Frame:
    """One row per wave and indicator: respondents delivered and their ratio to the previous wave,
    the largest weight against the wave's mean, the national "hard to say" share and its change
    since the previous wave that asked the item."""
    df = con.execute("""
        with waves as (
            select wave_year, n_respondents_delivered as n_respondents,
                   n_respondents_delivered / lag(n_respondents_delivered) over (order by wave_year) as respondents_ratio
            from marts.dim_wave
            where coverage_plan = 'national'  -- a local survey (codebook coverage) is not compared with them
        ), weights as (
            select wave_year, max(weight) / avg(weight) as max_weight_ratio from marts.fct_respondent group by wave_year
        ), hts as (
            select indicator_code, wave_year, estimate as hard_to_say_share,
                   estimate - lag(estimate) over (partition by indicator_code order by wave_year) as hard_to_say_change
            from intermediate.int_indicator_estimates  -- exact (the published mart is rounded)
            where measure = 'hard_to_say_share' and geo_level = 'national' and subgroup_type = 'all'
              and estimate is not null
        )
        select w.wave_year, w.n_respondents, w.respondents_ratio, wt.max_weight_ratio, h.indicator_code,
               h.hard_to_say_share, h.hard_to_say_change
        from waves w left join weights wt using (wave_year) left join hts h using (wave_year)
        order by w.wave_year, h.indicator_code
    """).df()
    return Frame("survey waves", "all", df, year_column="wave_year")


def provision_frame(con) -> Frame:
    """The per-capita mart with each municipality's change since its previous year."""
    df = con.execute("""
        select municipality_code, year, recipients_per_1000, expenditure_per_resident_eur,
               recipients_per_1000 / nullif(lag(recipients_per_1000) over w, 0) as recipients_ratio_to_previous_year,
               expenditure_per_resident_eur / nullif(lag(expenditure_per_resident_eur) over w, 0)
                   as expenditure_ratio_to_previous_year
        from marts.mart_provision_per_capita
        window w as (partition by municipality_code order by year)
        order by municipality_code, year
    """).df()
    return Frame("provision per municipality and year", "all", df, year_column="year")


def provision_by_year_frame(con) -> Frame:
    """One row per COMPLETE year (every reporting unit delivered): current units without figures, and the
    row count against the previous complete year. A partial year (workbooks still arriving) is not in the
    frame: an incomplete year is not an error (mart_provision_per_capita says "N of 42 delivered")."""
    df = con.execute("""
        with units as (
            select count(distinct current_municipality_code) as n from marts.dim_municipality
        ), complete as (
            select year, count(*) as municipalities
            from marts.mart_provision_per_capita where is_complete_year group by year
        )
        select year, municipalities, (select n from units) - municipalities as missing_units,
               municipalities / lag(municipalities) over (order by year) as rows_ratio
        from complete order by year
    """).df()
    return Frame("provision by year", "all", df, year_column="year")


def client_satisfaction_frame(con) -> Frame:
    df = con.execute("select wave_year, n_unweighted from intermediate.int_client_satisfaction order by wave_year").df()
    return Frame("client satisfaction", "all", df, year_column="wave_year")


# suite -> (the mart whose check reports it, frame builder)
PLAUSIBILITY = {
    "survey_waves": ("dim_wave", survey_frame),
    "provision": ("mart_provision_per_capita", provision_frame),
    "provision_by_year": ("mart_provision_per_capita", provision_by_year_frame),
    "client_satisfaction": ("mart_client_satisfaction", client_satisfaction_frame),
}
