"""Indicator estimates, intervals, reliability flags, suppression and changes, checked against
values computed here from the respondent rows (numpy, closed form), not read back from the mart."""
from __future__ import annotations

import math

import numpy as np
import pytest

Z = 1.959963984540054


def wilson(p: float, n: float) -> tuple[float, float]:
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def test_wilson_helper_matches_the_textbook_value():
    lo, hi = wilson(0.5, 100)  # 50 of 100: (0.4038, 0.5962)
    assert (round(lo, 4), round(hi, 4)) == (0.4038, 0.5962)


def rows(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()


def estimate(con, indicator, wave, geo_level, geo_code, subgroup_type, subgroup_value, measure):
    return con.execute(
        """select estimate, ci_low, ci_high, n_unweighted, n_effective, design_effect, is_suppressed
           from marts.mart_indicator_estimates where indicator_code = ? and wave_year = ? and geo_level = ?
             and geo_code = ? and subgroup_type = ? and subgroup_value = ? and measure = ?""",
        [indicator, wave, geo_level, geo_code, subgroup_type, subgroup_value, measure],
    ).fetchone()


@pytest.mark.parametrize(
    "indicator, item, numerator, clients_only, wave, sex, measure",
    [
        ("satisfaction_top2", "client_satisfaction", (1, 2), True, 2017, None, "share_incl_hard_to_say"),
        ("satisfaction_top2", "client_satisfaction", (1, 2), True, 2022, "female", "share_with_opinion"),
        ("trust_top2", "trust_social_service", (1, 2), False, 2024, "male", "share_incl_hard_to_say"),
        ("considered_not_turned", "considered_not_turned", (1,), False, 2026, None, "hard_to_say_share"),
    ],
)
def test_estimate_deff_and_interval_recomputed_from_respondents(sample_build, indicator, item, numerator,
                                                                clients_only, wave, sex, measure):
    with sample_build.warehouse() as con:
        data = rows(con, f"""
            select coalesce(r.weight, 1.0), a.harmonised_value, a.missing_reason
            from marts.fct_survey_answers a join marts.fct_respondent r using (respondent_key)
            where a.wave_year = ? and a.item_code = ? {"and r.is_client" if clients_only else ""}
              {"and r.sex = ?" if sex else ""}
              and (a.harmonised_value is not null or a.missing_reason = 'hard_to_say')""",
                    [wave, item] + ([sex] if sex else []))
        got = estimate(con, indicator, wave, "national", "LV", "sex" if sex else "all", sex or "all", measure)
    w = np.array([r[0] for r in data], dtype=float)
    value = [r[1] for r in data]
    hard = np.array([r[2] == "hard_to_say" for r in data])
    num = np.array([v in numerator for v in value])
    if measure == "share_with_opinion":
        w, num = w[~hard], num[~hard]
        p = (w * num).sum() / w.sum()
    elif measure == "hard_to_say_share":
        p = (w * hard).sum() / w.sum()
    else:
        p = (w * num).sum() / w.sum()
    n_eff = w.sum() ** 2 / (w ** 2).sum()
    lo, hi = wilson(p, n_eff)
    est, ci_low, ci_high, n, n_effective, deff, suppressed = got
    assert not suppressed
    assert n == len(w)
    assert est == pytest.approx(p, abs=1e-12)
    assert n_effective == pytest.approx(n_eff, rel=1e-9)
    assert deff == pytest.approx(len(w) / n_eff, rel=1e-9)
    assert (ci_low, ci_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    assert ci_low <= est <= ci_high


def test_intervals_stay_inside_0_1_and_small_cells_are_flagged(sample_build):
    with sample_build.warehouse() as con:
        outside = con.execute(
            "select count(*) from marts.mart_indicator_estimates where ci_low < 0 or ci_high > 1").fetchone()[0]
        flagged = con.execute(
            """select count(*) filter (where n_effective < 30 and is_reliable),
                      count(*) filter (where n_effective < 30 and not is_reliable)
               from marts.mart_indicator_estimates where not is_suppressed"""
        ).fetchone()
    assert outside == 0
    assert flagged[0] == 0 and flagged[1] > 0


def _additive_sets(cells: dict):
    """(total key, member keys) of every published table: subgroups under 'all', municipalities
    under their region, regions under the nation. Keys: (indicator, wave, measure, level, code, stype, svalue)."""
    from collections import defaultdict

    sets = defaultdict(list)
    for key, c in cells.items():
        ind, wave, measure, level, code, stype, svalue = key
        if stype != "all":
            sets[(ind, wave, measure, level, code, "all", "all")].append(key)
        if level == "municipality":
            sets[(ind, wave, measure, "region", c["region"], stype, svalue)].append(key)
        if level == "region":
            sets[(ind, wave, measure, "national", "LV", stype, svalue)].append(key)
    return sets


def test_suppressed_cells_cannot_be_recovered_by_subtraction(sample_build):
    """An intruder with the published snapshot tries every table: a suppressed cell is recoverable
    when its table's total is published and it is the only suppressed cell (n_total - sum of the
    others gives its n, and likewise its weighted count)."""
    with sample_build.snapshot() as con:
        published = con.execute(
            """select e.indicator_code, e.wave_year, e.measure, e.geo_level, e.geo_code, e.subgroup_type,
                      e.subgroup_value, e.is_suppressed, e.n_unweighted, e.estimate, m.region_2009_2023
               from mart_indicator_estimates e
               left join dim_municipality m on e.geo_level = 'municipality' and m.boundary_set = 'post2025_42'
                    and m.municipality_code = e.geo_code"""
        ).fetchall()
    cells = {r[:7]: {"suppressed": r[7], "n": r[8], "estimate": r[9], "region": r[10]} for r in published}
    suppressed = [k for k, c in cells.items() if c["suppressed"]]
    assert suppressed, "the sample must have suppressed cells for this test to mean anything"
    assert all(cells[k]["n"] is None and cells[k]["estimate"] is None for k in suppressed)
    recoverable = []
    for total, members in _additive_sets(cells).items():
        if total not in cells or cells[total]["suppressed"]:
            continue
        hidden = [m for m in members if cells[m]["suppressed"]]
        if len(hidden) == 1:
            recoverable.append((hidden[0], cells[total]["n"] - sum(cells[m]["n"] for m in members if m != hidden[0])))
    assert recoverable == []


def test_complementary_suppression_happened_and_says_why(sample_build):
    with sample_build.warehouse() as con:
        reasons = dict(con.execute(
            """select split_part(suppression_reason, ':', 1), count(*) from marts.mart_indicator_estimates
               where is_suppressed group by 1""").fetchall())
        primary_ok = con.execute(
            """select count(*) from intermediate.int_indicator_cells_protected
               where suppression_reason like 'primary%' and least(n_unweighted, n_with_opinion) >= 10"""
        ).fetchone()[0]
    assert set(reasons) == {"primary", "complementary"} and reasons["complementary"] > 0
    assert primary_ok == 0


def test_change_between_waves_is_the_difference_with_its_interval(sample_build):
    with sample_build.warehouse() as con:
        a = estimate(con, "satisfaction_top2", 2017, "national", "LV", "all", "all", "share_incl_hard_to_say")
        b = estimate(con, "satisfaction_top2", 2022, "national", "LV", "all", "all", "share_incl_hard_to_say")
        change = con.execute(
            """select wave_from, difference, difference_ci_low, difference_ci_high, is_significant
               from marts.mart_indicator_changes where indicator_code = 'satisfaction_top2' and geo_level = 'national'
                 and subgroup_type = 'all' and measure = 'share_incl_hard_to_say' and wave_to = 2022"""
        ).fetchone()
        skipped = con.execute(
            """select count(*) from marts.mart_indicator_changes
               where indicator_code = 'considered_not_turned' and (wave_to = 2027 or wave_from = 2027)"""
        ).fetchone()[0]
    se = math.sqrt(a[0] * (1 - a[0]) / a[4] + b[0] * (1 - b[0]) / b[4])
    assert change[0] == 2017
    assert change[1] == pytest.approx(b[0] - a[0])
    assert change[2] == pytest.approx(b[0] - a[0] - Z * se) and change[3] == pytest.approx(b[0] - a[0] + Z * se)
    assert change[4] == (abs(b[0] - a[0]) > Z * se)
    assert skipped == 0  # 2027 did not ask it: no change is drawn from or to a "not asked" wave


def test_not_asked_items_have_no_estimates(sample_build):
    with sample_build.warehouse() as con:
        indicators_2027 = {r[0] for r in con.execute(
            "select distinct indicator_code from marts.mart_indicator_estimates where wave_year = 2027").fetchall()}
    assert indicators_2027 == {"trust_top2", "satisfaction_top2"}


def test_complementary_suppression_does_not_depend_on_row_order(sample_build):
    """The same cells in another order give the same suppressed cells (ties are broken by the cell key),
    so two builds of the same data never publish different cells."""
    import importlib.util

    import numpy as np

    from ingest.settings import REPO_ROOT

    spec = importlib.util.spec_from_file_location(
        "protected", REPO_ROOT / "dbt_project/models/intermediate/int_indicator_cells_protected.py")
    protected = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(protected)
    with sample_build.warehouse() as con:
        cells = con.execute("select * from intermediate.int_indicator_cells where wave_year = 2026").df()
        units = con.execute("select municipality_code, region_2009_2023 from marts.dim_municipality "
                            "where boundary_set = 'post2025_42'").fetchall()
    region_of = dict(units)
    key = protected.CELL_KEY
    results = []
    for seed in (1, 2, 3):
        shuffled = cells.sample(frac=1.0, random_state=np.random.RandomState(seed))
        out = protected.protect(shuffled, 10, region_of).sort_values(key).reset_index(drop=True)
        results.append(out[key + ["is_suppressed", "suppression_reason"]])
    assert results[0]["is_suppressed"].sum() > 0
    assert results[0].equals(results[1]) and results[0].equals(results[2])
