"""Mart values against the generator's known truth and the published 2017 figures."""
from __future__ import annotations

import numpy as np
import pytest

# Published 2017 ex-ante figures (BRIEF.md, ../shared/seeds/004_*.txt), in percent.
PUBLISHED_2017 = {"fully": 28, "rather": 50, "rather_not": 12, "not_at_all": 7, "hard_to_say": 3}
PUBLISHED_2017_TOP2 = 78


def test_pipeline_run_succeeded(sample_build):
    s = sample_build.summary
    assert s.success, s.render()
    assert not s.step_failures
    assert {c["name"] for c in s.checks if c["name"].startswith("ge_")} == {
        "ge_dim_wave", "ge_mart_provision_per_capita", "ge_mart_client_satisfaction"}
    assert all(c["passed"] for c in s.checks), [c for c in s.checks if not c["passed"]]
    assert s.materialized_any("marts/") and s.materialized_any("publish/") and s.materialized_any("reports/")


WAVES = ["2017", "2022", "2024", "2025", "2026", "2027", "2028"]


@pytest.mark.parametrize("wave", [w for w in WAVES if w != "2025"])
def test_client_satisfaction_equals_generator_truth(sample_build, wave):
    truth = sample_build.truth["survey"][wave]["client_satisfaction"]
    with sample_build.warehouse() as con:
        row = con.execute("select * from intermediate.int_client_satisfaction where wave_year = ?", [int(wave)]).df().iloc[0]
        pub = con.execute("select * from marts.mart_client_satisfaction where wave_year = ?", [int(wave)]).df().iloc[0]
    assert row["n_unweighted"] == truth["n_unweighted"]
    # CSV deliveries carry weights rounded to 6 decimals; the others are exact.
    for answer, share in truth["weighted_shares"].items():
        assert row[f"share_{answer}"] == pytest.approx(share, abs=1e-6), answer
        # published: whole percentage points, half away from zero
        assert pub[f"share_{answer}"] == pytest.approx(np.floor(100 * share + 0.5) / 100, abs=1e-12), answer
    assert row["top2_share"] == pytest.approx(truth["top2_weighted"], abs=1e-6)
    assert pub["top2_share"] == pytest.approx(np.floor(100 * truth["top2_weighted"] + 0.5) / 100, abs=1e-12)
    assert not pub["is_suppressed"] and "n_unweighted" not in pub.index and "sum_of_weights" not in pub.index


def test_client_ratings_improve_by_2022(sample_build):
    with sample_build.warehouse() as con:
        top2 = dict(con.execute("select wave_year, top2_share from marts.mart_client_satisfaction").fetchall())
    assert top2[2022] > top2[2017] + 0.03


def test_weighting_flag_follows_the_deliveries(sample_build):
    with sample_build.warehouse() as con:
        flags = dict(con.execute("select wave_year, weight_source from marts.mart_client_satisfaction").fetchall())
    expected = {int(w): "delivered" if sample_build.truth["survey"][w].get("weighted", True) else "raked" for w in WAVES}
    assert flags == expected and flags[2025] == "raked"  # delivered without weights


def test_raked_wave_satisfaction_counts_equal_the_truth(sample_build):
    """2025 came without weights: the unweighted answer counts still match the generator's."""
    truth = sample_build.truth["survey"]["2025"]["client_satisfaction"]
    with sample_build.warehouse() as con:
        n = con.execute("select n_unweighted from intermediate.int_client_satisfaction where wave_year = 2025").fetchone()[0]
    assert n == truth["n_unweighted"]


def test_every_wave_is_in_the_respondent_fact_with_its_counts(sample_build):
    with sample_build.warehouse() as con:
        got = {w: (n, c) for w, n, c in con.execute(
            "select wave_year, count(*), count(*) filter (where is_client) from marts.fct_respondent group by 1"
        ).fetchall()}
    expected = {int(w): (t["n_respondents"], t["n_clients"]) for w, t in sample_build.truth["survey"].items()}
    assert got == expected
    assert set(got) == {2017, 2022, 2024, 2025, 2026, 2027, 2028}


def test_2017_considered_and_reasons_reproduce_the_published_shares(sample_build):
    published = {"reason_unsure_entitled": 37, "reason_ashamed": 30, "reason_cannot_solve": 25,
                 "reason_procedure_complex": 24, "reason_staff_attitude": 18, "reason_where_to_turn": 5,
                 "reason_registered_elsewhere": 4, "reason_hard_to_reach": 3}
    with sample_build.warehouse() as con:
        considered, considered_weighted = con.execute(
            """select avg(case when harmonised_value = 1 then 1.0 else 0 end),
                      sum(case when harmonised_value = 1 then r.weight else 0 end) / sum(r.weight)
               from marts.fct_survey_answers a join marts.fct_respondent r using (respondent_key)
               where a.wave_year = 2017 and item_code = 'considered_not_turned'"""
        ).fetchone()
        reasons = dict(con.execute(
            """select item_code, avg(harmonised_value) from marts.fct_survey_answers
               where wave_year = 2017 and item_code like 'reason_%' and harmonised_value is not null group by 1"""
        ).fetchall())
        asked = con.execute(
            """select count(distinct respondent_key) from marts.fct_survey_answers
               where wave_year = 2017 and item_code like 'reason_%' and harmonised_value is not null"""
        ).fetchone()[0]
    assert round(considered * 100) == 8 and round(considered_weighted * 100) == 8
    assert asked == 241  # only those who considered it were asked (routing)
    assert {k: round(v * 100) for k, v in reasons.items()} == published


def test_reduced_wave_items_are_not_asked_not_missing(sample_build):
    with sample_build.warehouse() as con:
        asked_2027 = {r[0] for r in con.execute(
            "select item_code from marts.dim_item_wave where wave_year = 2027 and is_asked").fetchall()}
        not_asked = con.execute(
            "select count(*) from marts.dim_item_wave where wave_year = 2027 and missing_reason = 'not_asked'"
        ).fetchone()[0]
        rows_not_asked = con.execute(
            """select count(*) from marts.fct_survey_answers
               where wave_year = 2027 and item_code not in ('trust_social_service', 'client_satisfaction')"""
        ).fetchone()[0]
        core = {r[0] for r in con.execute("select item_code from marts.dim_item where scope = 'core'").fetchall()}
    assert asked_2027 == core == {"trust_social_service", "client_satisfaction"}
    assert not_asked == 12 and rows_not_asked == 0


def test_routing_is_not_applicable_not_a_missing_answer(sample_build):
    with sample_build.warehouse() as con:
        bad = con.execute(
            """select count(*) from marts.fct_survey_answers a join marts.fct_respondent r using (respondent_key)
               where a.item_code = 'client_satisfaction' and not r.is_client
                 and coalesce(a.missing_reason, '') <> 'not_applicable'"""
        ).fetchone()[0]
    assert bad == 0


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
        source_ids = con.execute(
            "select respondent_key, respondent_source_id from intermediate.int_survey__respondent_keys where wave_year = 2017"
        ).fetchall()
    assert n == truth["n_respondents"] == 3012
    assert clients == truth["n_clients"] == 683
    assert no_muni == 0 and unmapped == 0
    assert split == aglona  # every respondent of the split Aglonas novads is flagged, and only they
    # The key is the salted hash of wave and delivered id (the test session's salt), never the id itself.
    import hashlib
    import os

    assert len(source_ids) == n
    for key, source_id in source_ids:
        assert source_id not in key
        assert key == hashlib.sha256(f"2017:{source_id}:{os.environ['TRUST_PSEUDONYM_SALT']}".encode()).hexdigest()[:24]


def test_geography_on_the_current_boundary_set(sample_build):
    with sample_build.warehouse() as con:
        rows = con.execute(
            """select wave_year, municipality_code_delivered, municipality_code_2021, current_municipality_code,
                      is_split_territory from marts.fct_respondent"""
        ).fetchall()
        n_current = con.execute(
            "select count(*) from marts.dim_municipality where boundary_set = 'post2025_42'").fetchone()[0]
    assert n_current == 42
    for wave, delivered, code_2021, current, split in rows:
        if split:
            assert delivered == "0604300" and current is None  # Aglonas novads, split in 2021
            continue
        assert current is not None, (wave, delivered)
        if code_2021 in ("0038000", "0055000"):  # Madonas and Varakļānu novads merged on 1 July 2025
            assert current == "0038001"
        if wave >= 2026:
            assert delivered == current


def test_seed_rows_come_out_of_the_provision_mart_exactly(sample_build):
    """../shared/seeds/003_*.txt: 345 / 1297 / 396 persons, 40 recipients, 37 750 EUR."""
    with sample_build.warehouse() as con:
        got = dict(
            con.execute(
                """select row_no || ':' || source_column, value from marts.fct_service_provision
                   where municipality_code = '0031000' and year = 2022 and availability = 'available'
                     and row_no not like '13%' and row_no not in ('14', '15')"""
            ).fetchall()
        )
    assert got["7.1:total"] == 345 and got["7.1:women"] == 191 and got["7.1:men"] == 154
    assert got["7.2:total"] == 1297 and got["7.2:age_25_54"] == 391
    assert got["7.4:total"] == 396
    assert got["11:total"] == 40 and got["11:expenditure_eur"] == 37750
    assert "7.5:women" not in got  # x in the table


def test_provision_mart_matches_generator_truth_for_every_municipality_year(sample_build):
    values = sample_build.truth["admin"]["values"]
    expected = {}
    for key, rows in values.items():
        code, year = key.split("/")
        for row_no, cells in rows.items():
            for column, v in cells.items():
                expected[(code, int(year), row_no, column)] = v
    with sample_build.warehouse() as con:
        # the warehouse keeps every figure; the published fact withholds small counts (checked below)
        got = {
            (code, year, row_no, col): v
            for code, year, row_no, col, v in con.execute(
                """select municipality_code, year, row_no, source_column, value from intermediate.int_admin__provision
                   where availability = 'available'"""
            ).fetchall()
        }
        published = {
            (code, year, row_no, col): (v, s)
            for code, year, row_no, col, v, s in con.execute(
                """select municipality_code, year, row_no, source_column, value, is_suppressed
                   from marts.fct_service_provision where availability = 'available'"""
            ).fetchall()
        }
        na = con.execute(
            "select count(*) from marts.fct_service_provision where availability = 'not_available' and value is not null"
        ).fetchone()[0]
        per_year = dict(con.execute(
            "select year, count(distinct municipality_code) from marts.fct_service_provision group by 1").fetchall())
    assert len(values) == 816
    assert per_year == {**{y: 119 for y in range(2017, 2021)}, **{y: 43 for y in range(2021, 2025)},
                        **{y: 42 for y in range(2025, 2029)}}
    assert got == expected
    assert na == 0
    # published: the same figures, except withheld ones (no value); totals and expenditure never withheld
    assert published.keys() == expected.keys()
    assert all(v == expected[k] for k, (v, s) in published.items() if not s)
    assert all(v is None and k[3] not in ("total", "expenditure_eur") for k, (v, s) in published.items() if s)


def _reference(name):
    import csv

    from ingest.settings import DBT_SEED_DIR

    with (DBT_SEED_DIR / "reference" / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_per_capita_mart_converts_old_units_and_states_its_denominator(sample_build):
    """Recomputed here from the generator's values, the crosswalk and the population files."""
    values = sample_build.truth["admin"]["values"]
    xwalk = _reference("ref_crosswalk_2009_2021")
    population = {(r["atvk_code"], int(r["year"])): int(r["population"]) for r in _reference("ref_population_annual")}
    services = [f"13.{i}" for i in range(1, 11)]

    def recipients(code, year):
        return sum(values[f"{code}/{year}"][s]["total"] for s in services)

    # Aizkraukles novads (0020000) in 2018 = its six pre-reform units, summed.
    olds = [r["old_atvk_code"] for r in xwalk if r["new_atvk_code"] == "0020000"]
    aizkraukle = sum(recipients(c, 2018) for c in olds)
    # Krāslavas novads (0032000) in 2018 = its whole predecessors + 3/4 of the split Aglonas novads.
    kraslava = sum(recipients(r["old_atvk_code"], 2018) for r in xwalk
                   if r["new_atvk_code"] == "0032000" and r["relation"] == "WHOLE") + 0.75 * recipients("0604300", 2018)
    # Madonas novads after the merger (0038001) in 2023 = Madona + Varakļāni of the 43-set.
    madona = recipients("0038000", 2023) + recipients("0055000", 2023)
    with sample_build.warehouse() as con:
        rows = {(c, y): (r, p, basis, src, split, per1000) for c, y, r, p, basis, src, split, per1000 in con.execute(
            """select municipality_code, year, recipients_mandatory_services, population, population_basis,
                      population_source, includes_split_allocation, recipients_per_1000
               from marts.mart_provision_per_capita""").fetchall()}
        n = con.execute("select count(*) from marts.mart_provision_per_capita").fetchone()[0]
    assert len(olds) == 6 and n == 42 * 12
    r, p, basis, src, split, per1000 = rows[("0020000", 2018)]
    assert r == aizkraukle and p == population[("0020000", 2018)] and basis == "annual_average"
    assert "IRS031" in src and "2018" in src and not split
    assert per1000 == pytest.approx(1000 * aizkraukle / p)
    r, _, _, _, split, _ = rows[("0032000", 2018)]
    assert r == pytest.approx(kraslava) and split
    r, p, _, _, _, _ = rows[("0038001", 2023)]
    assert r == madona and p == population[("0038000", 2023)] + population[("0055000", 2023)]
    r, p, basis, src, _, _ = rows[("0001000", 2022)]  # Rīga: no annual series in the reference files
    assert basis == "reference_date" and p == 588911 and "2026-01-01" in src
