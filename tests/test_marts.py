"""Mart values against the generator's known truth and the published 2017 figures."""
from __future__ import annotations

import pytest

# Published 2017 ex-ante figures (BRIEF.md, ../shared/seeds/004_*.txt), in percent.
PUBLISHED_2017 = {"fully": 28, "rather": 50, "rather_not": 12, "not_at_all": 7, "hard_to_say": 3}
PUBLISHED_2017_TOP2 = 78


def test_pipeline_run_succeeded(sample_build):
    s = sample_build.summary
    assert s.success, s.render()
    assert not s.step_failures
    assert {c["name"] for c in s.checks if c["name"].startswith("ge_")} == {"ge_raw_survey_wave", "ge_raw_admin_extract"}
    assert all(c["passed"] for c in s.checks), [c for c in s.checks if not c["passed"]]
    assert s.materialized_any("marts/") and s.materialized_any("publish/") and s.materialized_any("reports/")


def test_client_satisfaction_equals_generator_truth(sample_build):
    truth = sample_build.truth["survey"]["2017"]["client_satisfaction"]
    with sample_build.warehouse() as con:
        row = con.execute("select * from marts.mart_client_satisfaction where wave_year = 2017").df().iloc[0]
    assert row["n_unweighted"] == truth["n_unweighted"] == 683
    assert bool(row["is_weighted"])
    for answer, share in truth["weighted_shares"].items():
        assert row[f"share_{answer}"] == pytest.approx(share, abs=1e-12)
    assert row["top2_share"] == pytest.approx(truth["top2_weighted"], abs=1e-12)


def test_client_satisfaction_reproduces_published_2017_figures(sample_build):
    with sample_build.warehouse() as con:
        row = con.execute("select * from marts.mart_client_satisfaction where wave_year = 2017").df().iloc[0]
    for answer, pct in PUBLISHED_2017.items():
        assert round(row[f"share_{answer}"] * 100) == pct
    assert round(row["top2_share"] * 100) == PUBLISHED_2017_TOP2


def test_respondent_fact_counts_and_geography(sample_build):
    truth = sample_build.truth["survey"]["2017"]
    with sample_build.warehouse() as con:
        n, clients, no_muni, split, unmapped = con.execute(
            """select count(*), count(*) filter (where is_client),
                      count(*) filter (where municipality_name_delivered is null),
                      count(*) filter (where is_split_territory),
                      count(*) filter (where current_municipality_code is null and not is_split_territory)
               from marts.fct_respondent where wave_year = 2017"""
        ).fetchone()
        aglona = con.execute(
            "select count(*) from marts.fct_respondent where municipality_code_delivered = '0604300'"
        ).fetchone()[0]
        keys_leak = con.execute(
            "select count(*) from marts.fct_respondent where respondent_key like '%1000%' and length(respondent_key) < 24"
        ).fetchone()[0]
    assert n == truth["n_respondents"] == 3012
    assert clients == truth["n_clients"] == 683
    assert no_muni == 0 and unmapped == 0
    assert split == aglona  # every respondent of the split Aglonas novads is flagged, and only they
    assert keys_leak == 0


def test_seed_rows_come_out_of_the_provision_mart_exactly(sample_build):
    """../shared/seeds/003_*.txt: 345 / 1297 / 396 persons, 40 recipients, 37 750 EUR."""
    with sample_build.warehouse() as con:
        got = dict(
            con.execute(
                """select row_no || ':' || source_column, value from marts.fct_service_provision
                   where municipality_code = '0031000' and year = 2022 and availability = 'available'"""
            ).fetchall()
        )
    assert got["7.1:total"] == 345 and got["7.1:women"] == 191 and got["7.1:men"] == 154
    assert got["7.2:total"] == 1297 and got["7.2:age_25_54"] == 391
    assert got["7.4:total"] == 396
    assert got["11:total"] == 40 and got["11:expenditure_eur"] == 37750
    assert "7.5:women" not in got  # x in the table


def test_provision_mart_matches_generator_truth_for_every_municipality(sample_build):
    values = sample_build.truth["admin"]["values"]
    expected = {}
    for code, rows in values.items():
        for row_no, cells in rows.items():
            for column, v in cells.items():
                if isinstance(v, (int, float)):
                    expected[(code, row_no, column)] = v
    with sample_build.warehouse() as con:
        got = {
            (code, row_no, col): v
            for code, row_no, col, v in con.execute(
                """select municipality_code, row_no, source_column, value from marts.fct_service_provision
                   where availability = 'available' and year = 2022"""
            ).fetchall()
        }
        na = con.execute(
            """select count(*) from marts.fct_service_provision
               where availability = 'not_available' and value is not null"""
        ).fetchone()[0]
    assert len(values) == 43
    assert got == expected
    assert na == 0
