"""Indicator estimates, intervals, reliability flags, disclosure control and changes, checked against
values computed here from the respondent rows (numpy / scipy, closed form), not read back from the
mart. The adversary's view of the published snapshot is tests/test_disclosure_attack.py."""
from __future__ import annotations

import importlib.util
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ingest.settings import REPO_ROOT

CELL = ["indicator_code", "wave_year", "geo_level", "geo_code", "subgroup_type", "subgroup_value"]


def load_model(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / f"dbt_project/models/intermediate/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clopper_pearson(x: float, n: float) -> tuple[float, float]:
    lo = 0.0 if x <= 0 else stats.beta.ppf(0.025, x, n - x + 1)
    hi = 1.0 if x >= n else stats.beta.ppf(0.975, x + 1, n - x)
    return lo, hi


def test_korn_graubard_is_clopper_pearson_on_the_effective_n():
    """Textbook: the exact (Clopper-Pearson) interval of 5 of 10 is (0.1871, 0.8129); with a simple
    random sample's variance p(1-p)/n the effective n is n and Korn-Graubard equals it."""
    from estimation.proportions import korn_graubard

    n_eff, lo, hi = korn_graubard(np.array([0.5]), np.array([10.0]), np.array([0.025]))
    assert n_eff[0] == pytest.approx(10.0)
    assert (round(lo[0], 4), round(hi[0], 4)) == (0.1871, 0.8129)


def test_nchs_decision_follows_the_standard_step_by_step():
    """Hand-made cases, one per NCHS step (Parker et al. 2017)."""
    from estimation.proportions import nchs_flags

    rules = {"nchs_min_effective_n": 30, "nchs_reliable_ci_width": 0.05, "nchs_max_ci_width": 0.30,
             "nchs_max_relative_ci_width": 1.30, "nchs_min_df": 8}
    cases = [  # p, n_eff, lo, hi, df -> reliable, review
        (0.5, 29.0, 0.3, 0.7, 100, False, False),     # effective n < 30
        (0.02, 400.0, 0.001, 0.045, 400, True, False),  # width 0.044 <= 0.05: reliable although 220 % of p
        (0.5, 40.0, 0.34, 0.66, 39, False, False),    # width 0.32 >= 0.30
        (0.10, 40.0, 0.02, 0.25, 39, False, False),   # width 0.23 / 0.10 > 1.30
        (0.90, 40.0, 0.76, 0.98, 39, True, True),     # width 0.22 / 0.10 (complement) > 1.30 -> review
        (0.5, 40.0, 0.40, 0.60, 5, True, True),       # df < 8 -> review
        (1.0, 40.0, 0.91, 1.0, 39, True, True),       # estimate of 1 -> review (width taken as 0)
    ]
    reliable, _, review, _ = nchs_flags(*(np.array(c) for c in list(zip(*cases))[:5]), rules)
    assert reliable == [c[5] for c in cases]
    assert review == [c[6] for c in cases]


def respondents(con, wave, item, clients_only, sex=None):
    return con.execute(f"""
        select coalesce(r.weight, 1.0) as w, a.harmonised_value as v, a.missing_reason as why
        from marts.fct_survey_answers a join marts.fct_respondent r using (respondent_key)
        where a.wave_year = ? and a.item_code = ? {"and r.is_client" if clients_only else ""}
          {"and r.sex = ?" if sex else ""}
          and (a.harmonised_value is not null or a.missing_reason in ('hard_to_say', 'refused'))""",
                       [wave, item] + ([sex] if sex else [])).df()


@pytest.mark.parametrize(
    "indicator, item, numerator, clients_only, wave, sex, measure",
    [
        ("satisfaction_top2", "client_satisfaction", (1, 2), True, 2017, None, "share_incl_hard_to_say"),
        ("satisfaction_top2", "client_satisfaction", (1, 2), True, 2022, "female", "share_with_opinion"),
        ("trust_top2", "trust_social_service", (1, 2), False, 2024, "male", "share_incl_hard_to_say"),
        ("trust_top2", "trust_social_service", (1, 2), False, 2017, None, "share_all_asked"),
        ("considered_not_turned", "considered_not_turned", (1,), False, 2026, None, "hard_to_say_share"),
    ],
)
def test_estimate_and_korn_graubard_interval_recomputed_from_respondents(
        sample_build, indicator, item, numerator, clients_only, wave, sex, measure):
    with sample_build.warehouse() as con:
        d = respondents(con, wave, item, clients_only, sex)
        n_design = con.execute("select count(*) from marts.fct_respondent where wave_year = ?", [wave]).fetchone()[0]
        exact = con.execute(
            f"""select estimate, n_base, n_effective, ci_low, ci_high, kish_design_effect from intermediate.int_indicator_estimates
                where indicator_code = ? and wave_year = ? and geo_level = 'national' and subgroup_type = ?
                  and subgroup_value = ? and measure = ?""",
            [indicator, wave, "sex" if sex else "all", sex or "all", measure]).fetchone()
        published = con.execute(
            """select estimate, ci_low, ci_high, n_band, is_suppressed from marts.mart_indicator_estimates
               where indicator_code = ? and wave_year = ? and geo_level = 'national' and subgroup_type = ?
                 and subgroup_value = ? and measure = ?""",
            [indicator, wave, "sex" if sex else "all", sex or "all", measure]).fetchone()
    if measure == "share_all_asked":
        base = d
    elif measure == "share_with_opinion":
        base = d[d["v"].notna()]
    else:
        base = d[d["why"] != "refused"]
    w = base["w"].to_numpy(dtype=float)
    y = (base["why"] == "hard_to_say").to_numpy() if measure == "hard_to_say_share" else base["v"].isin(numerator).to_numpy()
    p = (w * y).sum() / w.sum()
    # linearised variance of a ratio over a domain, with-replacement factor of the wave's n PSUs
    var = n_design / (n_design - 1) * ((w * (y - p)) ** 2).sum() / w.sum() ** 2
    n_eff = min(len(w), p * (1 - p) / var)
    lo, hi = clopper_pearson(n_eff * p, n_eff)
    assert exact[0] == pytest.approx(p, abs=1e-12)
    assert exact[1] == len(w)
    assert exact[2] == pytest.approx(n_eff, rel=1e-9)
    assert (exact[3], exact[4]) == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9))
    assert exact[5] == pytest.approx(len(w) * (w ** 2).sum() / w.sum() ** 2, rel=1e-9)
    # published: whole percentage points, the interval outwards, the count only as its band
    assert not published[4]
    assert published[0] == pytest.approx(round(p, 2), abs=1e-12)
    assert published[1] == pytest.approx(math.floor(lo * 100) / 100, abs=1e-12)
    assert published[2] == pytest.approx(math.ceil(hi * 100) / 100, abs=1e-12)
    assert "-" in published[3] or published[3].endswith("+")


def test_reliability_flags_are_the_nchs_decision(sample_build):
    """Every estimate's flags, recomputed here from its effective n, interval and df."""
    with sample_build.warehouse() as con:
        e = con.execute("""select estimate, n_effective, ci_low, ci_high, design_df, is_reliable, needs_review
                           from intermediate.int_indicator_estimates""").df()
    p, w = e["estimate"], np.where((e["estimate"] == 0) | (e["estimate"] == 1), 0.0,
                                   (e["ci_high"] - e["ci_low"]).round(12))
    rel = np.where(p > 0, w / p, np.inf)
    relc = np.where(p < 1, w / (1 - p), np.inf)
    expected = np.where(e["n_effective"].round(9) < 30, False,
                        np.where(w <= 0.05, True, np.where(w >= 0.30, False, rel.round(12) <= 1.30)))
    review = expected & (((w > 0.05) & (relc.round(12) > 1.30)) | (e["design_df"] < 8) | (p == 0) | (p == 1))
    assert (e["is_reliable"].to_numpy() == expected).all()
    assert (e["needs_review"].to_numpy() == review).all()
    assert expected.sum() > 0 and (~expected).sum() > 0


def test_published_rows_carry_no_exact_count_and_intervals_hold(sample_build):
    with sample_build.snapshot() as con:
        columns = {r[0] for r in con.execute("describe mart_indicator_estimates").fetchall()}
        bad = con.execute("""select count(*) from mart_indicator_estimates
                             where not is_suppressed and (ci_low > estimate or estimate > ci_high
                                or ci_low < 0 or ci_high > 1 or abs(round(estimate * 100) - estimate * 100) > 1e-9)""").fetchone()[0]
        bands = con.execute("""select count(distinct n_band) from mart_indicator_estimates
                               group by indicator_code, wave_year, geo_level, geo_code, subgroup_type, subgroup_value
                               order by 1 desc limit 1""").fetchone()[0]
    assert not {"n_unweighted", "n_effective", "design_effect"} & columns
    assert bad == 0
    assert bands == 1  # one band per cell, whatever the measure: nothing to difference


def protected_cells(con):
    return con.execute(
        """select p.*, c.n_with_opinion as c_n from intermediate.int_indicator_cells_protected p
           join intermediate.int_indicator_cells c using (indicator_code, wave_year, geo_level, geo_code,
                                                            subgroup_type, subgroup_value)""").df()


def test_primary_suppression_is_exactly_the_stated_rules(sample_build):
    """A cell is primary-suppressed iff fewer than 10 with an opinion, any share it would publish is
    0 % or 100 %, or (at most two different weights in the cell) an answer class its published shares
    separate has fewer than 10 - recomputed from the respondents' cells. Which measures a cell
    publishes follows from its band and its wave's weighting alone (four from 100 respondents asked,
    unless its respondents carry at most two different weights)."""
    with sample_build.warehouse() as con:
        cells = con.execute("""select c.*, p.suppression_rule, p.publishes_all_measures
                               from intermediate.int_indicator_cells c
                               join intermediate.int_indicator_cells_protected p
                                 using (indicator_code, wave_year, geo_level, geo_code, subgroup_type, subgroup_value)""").df()
    t, b, a = cells["n_numerator"], cells["n_unweighted"], cells["n_asked"]
    o, h, r = cells["n_with_opinion"] - t, cells["n_hard_to_say"], cells["n_refused"]
    equal = cells["n_weight_values"] <= 2  # few weights: a share and its interval give the counts
    full = (a >= 100) & ~equal
    assert (cells["publishes_all_measures"] == full).all()
    rule = ((cells["n_with_opinion"] < 10) | (t == 0) | (t == b)
            | (full & ((t == a) | (o == 0) | (h == 0) | (h == b)))
            | (equal & ((t < 10) | (b - t < 10) | (full & ((o < 10) | (h < 10) | ((r > 0) & (r < 10)))))))
    primary = cells["suppression_rule"] == "primary"
    assert (primary == rule).all()
    assert primary.sum() > 0 and (full & rule & (h == 0)).sum() >= 0


def test_a_cell_is_published_or_withheld_with_all_its_measures(sample_build):
    """No cell publishes some measures and withholds others (issue 20: a withheld "with an opinion"
    next to a published "incl. hard to say" said that nobody answered "hard to say"), and every
    withheld cell gives the same reason."""
    with sample_build.snapshot() as con:
        mixed = con.execute("""select count(*) from (
                                 select indicator_code, wave_year, geo_level, geo_code, subgroup_type, subgroup_value
                                 from mart_indicator_estimates group by all
                                 having count(distinct is_suppressed) > 1
                                     or count(*) filter (where not is_suppressed and estimate is null) > 0)""").fetchone()[0]
        measures = con.execute("""select n_band_low >= 100 and weight_source = 'delivered' as big, count(distinct measure)
                                  from mart_indicator_estimates group by all order by 1""").fetchall()
        reasons = con.execute("""select distinct suppression_reason, suppression_reason_lv from mart_indicator_estimates
                                 where is_suppressed""").fetchall()
    assert mixed == 0
    assert dict(measures)[True] == 4
    assert reasons == [("not published: too few respondents or a disclosure risk",
                        "nav publicēts: par maz respondentu vai atklāšanas risks")]


def test_every_linked_set_has_no_or_at_least_two_suppressed_cells(sample_build):
    """Subgroups with their total, municipalities with their region, regions with the nation: a set
    with exactly one suppressed cell - the total counted - could be solved by subtraction."""
    with sample_build.warehouse() as con:
        cells = con.execute("select * from intermediate.int_indicator_cells_protected").df()
        units = dict(con.execute("""select municipality_code, region_2009_2023 from marts.dim_municipality
                                   where boundary_set = (select boundary_set from reference.boundary_sets
                                                         where valid_to is null)""").fetchall())
    sup = {tuple(r[:6]): r[6] for r in cells[CELL + ["is_suppressed"]].itertuples(index=False)}
    sets = {}
    for (ind, wave, level, code, stype, svalue) in sup:
        if stype != "all":
            sets.setdefault((ind, wave, level, code, "all", "all"), []).append((ind, wave, level, code, stype, svalue))
        if level == "municipality":
            sets.setdefault((ind, wave, "region", units[code], stype, svalue), []).append(
                (ind, wave, level, code, stype, svalue))
        if level == "region":
            sets.setdefault((ind, wave, "national", "LV", stype, svalue), []).append(
                (ind, wave, level, code, stype, svalue))
    single = [total for total, members in sets.items() if total in sup
              and sum(sup[m] for m in members) + sup[total] == 1]
    assert single == []
    assert sum(sup.values()) > 0


def test_a_suppressed_total_with_published_members_gets_a_partner():
    """The bug before issue 13: only sets with a published total were looked at, so a suppressed total
    whose members were all published was their sum. Hand-made table: municipality total suppressed
    (7 with an opinion), its two sex cells published."""
    protected = load_model("int_indicator_cells_protected")
    base = dict(indicator_code="x", wave_year=2030, geo_level="municipality", geo_code="m1", n_refused=0,
                n_hard_to_say=2, min_w=1.0, max_w=2.0, n_weight_values=9)
    rows = [
        dict(base, subgroup_type="all", subgroup_value="all", n_asked=25, n_unweighted=25, n_with_opinion=23, n_numerator=12),
        dict(base, subgroup_type="sex", subgroup_value="female", n_asked=13, n_unweighted=13, n_with_opinion=12, n_numerator=6),
        dict(base, subgroup_type="sex", subgroup_value="male", n_asked=12, n_unweighted=12, n_with_opinion=11, n_numerator=6),
    ]
    cells = pd.DataFrame(rows)
    cells.loc[0, "n_with_opinion"] = 9  # the total falls under the threshold (e.g. after late refusals)
    rules = {"min_unweighted_n": 10, "min_category_n": 10, "max_weight_values_count_rule": 2,
             "full_measures_min_n": 100}
    out = protected.protect(cells, rules, {"m1": "R"}).set_index("subgroup_value")
    assert out["suppression_rule"].to_dict() == {"all": "primary", "female": None, "male": "complementary"}


def test_complementary_suppression_does_not_depend_on_row_order(sample_build):
    """The same cells in another order give the same suppressed cells (ties are broken by the cell key),
    so two builds of the same data never publish different cells."""
    protected = load_model("int_indicator_cells_protected")
    with sample_build.warehouse() as con:
        cells = con.execute("select * from intermediate.int_indicator_cells where wave_year = 2026").df()
        units = con.execute("select municipality_code, region_2009_2023 from marts.dim_municipality "
                            "where boundary_set = 'post2025_42'").fetchall()
    rules = {"min_unweighted_n": 10, "min_category_n": 10, "max_weight_values_count_rule": 2,
             "protection_min_count_range": 5, "full_measures_min_n": 100}
    bands = [(10, 19), (20, 29), (30, 49), (50, 99), (100, 199), (200, 499), (500, 999), (1000, 1999),
             (2000, 4999), (5000, float("inf"))]
    results = []
    for seed in (1, 2, 3):
        shuffled = cells.sample(frac=1.0, random_state=np.random.RandomState(seed))
        out = protected.protect(shuffled, rules, dict(units), bands).sort_values(CELL).reset_index(drop=True)
        results.append(out[CELL + ["is_suppressed", "suppression_rule", "publishes_all_measures"]])
    assert results[0]["is_suppressed"].sum() > 0
    assert results[0].equals(results[1]) and results[0].equals(results[2])


def test_change_is_against_the_previous_wave_that_asked_the_item(sample_build):
    """considered_not_turned was not asked in 2027: its 2028 change is against 2026. A cell whose
    previous asking wave is suppressed gets no change at all (not one against an older wave)."""
    with sample_build.warehouse() as con:
        waves = con.execute(
            """select distinct wave_from from marts.mart_indicator_changes
               where indicator_code = 'considered_not_turned' and wave_to = 2028""").fetchall()
        asked = [r[0] for r in con.execute(
            """select w.wave_year from marts.dim_item_wave w where w.item_code = 'trust_social_service' and w.is_asked
               order by 1""").fetchall()]
        rows = con.execute(
            """select c.wave_from, c.wave_to from marts.mart_indicator_changes c
               where c.indicator_code = 'trust_top2'""").fetchall()
        older = con.execute(
            """select count(*) from marts.mart_indicator_changes c
               join marts.mart_indicator_estimates e on e.indicator_code = c.indicator_code and e.geo_level = c.geo_level
                and e.geo_code = c.geo_code and e.subgroup_type = c.subgroup_type
                and e.subgroup_value = c.subgroup_value and e.measure = c.measure
                and e.wave_year > c.wave_from and e.wave_year < c.wave_to""").fetchone()[0]
    assert waves == [(2026,)]
    previous = dict(zip(asked[1:], asked[:-1]))
    assert rows and all(previous[to] == frm for frm, to in rows)
    assert older == 0  # never skips a wave that asked the item (suppressed there or not)


def test_change_interval_and_false_discovery_rate(sample_build):
    """Difference, its interval from the variances of what is published, and the Benjamini-Hochberg
    decision recomputed here for one whole family (wave pair x geography level): only changes between
    two reliable estimates are tested, the others are never significant."""
    with sample_build.warehouse() as con:
        fam = con.execute(
            """select c.*, a.estimate as p_from, a.published_variance as v_from, b.estimate as p_to,
                      b.published_variance as v_to, a.published_is_reliable and b.published_is_reliable as tested
               from intermediate.int_indicator_changes c
               join intermediate.int_indicator_estimates a on a.indicator_code = c.indicator_code and a.wave_year = c.wave_from
                 and a.geo_level = c.geo_level and a.geo_code = c.geo_code and a.subgroup_type = c.subgroup_type
                 and a.subgroup_value = c.subgroup_value and a.measure = c.measure
               join intermediate.int_indicator_estimates b on b.indicator_code = c.indicator_code and b.wave_year = c.wave_to
                 and b.geo_level = c.geo_level and b.geo_code = c.geo_code and b.subgroup_type = c.subgroup_type
                 and b.subgroup_value = c.subgroup_value and b.measure = c.measure
               where c.geo_level = 'region' and c.wave_from = 2017 and c.wave_to = 2022""").df()
        published = con.execute(
            """select count(*) filter (where is_significant), count(*) from marts.mart_indicator_changes
               where geo_level = 'municipality'""").fetchone()
    z = 1.959963984540054
    d = fam["p_to"] - fam["p_from"]
    se = np.sqrt(fam["v_from"] + fam["v_to"])
    assert np.allclose(fam["difference"], d) and np.allclose(fam["difference_ci_low"], d - z * se)
    assert not fam.loc[~fam["tested"], "is_significant"].any() and fam.loc[~fam["tested"], "q_value"].isna().all()
    fam = fam[fam["tested"]].reset_index(drop=True)
    d, se = fam["p_to"] - fam["p_from"], np.sqrt(fam["v_from"] + fam["v_to"])
    pv = 2 * stats.norm.sf(np.abs(d / se))
    m = len(pv)
    order = np.argsort(pv)
    # BH: reject the k smallest, k = max{i : p_(i) <= i q / m}
    passing = [i + 1 for i in range(m) if pv[order][i] <= (i + 1) * 0.05 / m]
    k = max(passing) if passing else 0
    expected = np.zeros(m, dtype=bool)
    expected[order[:k]] = True
    assert (fam["is_significant"].to_numpy() == expected).all()
    assert m > 20
    # controlling the FDR, municipal changes are no longer "significant" at about the 5 % chance rate
    assert published[0] < 0.05 * published[1]


def test_not_asked_items_have_no_estimates(sample_build):
    with sample_build.warehouse() as con:
        indicators_2027 = {r[0] for r in con.execute(
            "select distinct indicator_code from marts.mart_indicator_estimates where wave_year = 2027").fetchall()}
    assert indicators_2027 == {"trust_top2", "satisfaction_top2"}


class _Ref:
    def __init__(self, df):
        self._df = df

    def df(self):
        return self._df.copy()


class _FakeDbt:
    def __init__(self, frames):
        self.frames = frames

    def config(self, **_):
        pass

    def ref(self, name):
        return _Ref(self.frames[name])


def test_published_model_value_of_a_municipality_does_not_depend_on_its_own_sample(sample_build):
    """int_trust_small_area's synthetic_estimate / synthetic_mse (what mart_trust_comparisons publishes
    where the direct cell is not shown): change one municipality's respondents completely and its
    values stay the same - so they cannot be inverted for its sample size. Its EBLUP does change."""
    model = load_model("int_trust_small_area")
    with sample_build.warehouse() as con:
        frames = {"int_indicator_cells": con.execute("select * from intermediate.int_indicator_cells").df(),
                  "int_provision__per_capita": con.execute("select * from intermediate.int_provision__per_capita").df(),
                  "int_municipalities": con.execute("select * from intermediate.int_municipalities").df()}
        published = con.execute(
            """select t.wave_year, t.geo_code, t.estimate, t.ci_low, t.ci_high, s.synthetic_estimate, s.synthetic_mse
               from marts.mart_trust_comparisons t
               join intermediate.int_trust_small_area s on s.municipality_code = t.geo_code and s.wave_year = t.wave_year
               where t.geo_level = 'municipality' and t.estimate_type = 'modelled'""").df()
    base = model.model(_FakeDbt(frames), None)
    cells = frames["int_indicator_cells"]
    target = (cells["indicator_code"] == "trust_top2") & (cells["wave_year"] == 2026) & \
             (cells["geo_level"] == "municipality") & (cells["subgroup_type"] == "all") & (cells["geo_code"] == "0021000")
    changed = cells.copy()
    changed.loc[target, ["n_unweighted", "n_with_opinion"]] = 3
    changed.loc[target, ["sum_w", "sum_w2"]] = [2.5, 2.9]
    changed.loc[target, "share_incl_hard_to_say"] = 0.05
    other = model.model(_FakeDbt({**frames, "int_indicator_cells": changed}), None)
    key = (base["wave_year"] == 2026) & (base["municipality_code"] == "0021000")
    for col in ("synthetic_estimate", "synthetic_mse"):
        assert other.loc[key, col].iloc[0] == pytest.approx(base.loc[key, col].iloc[0], rel=1e-9)
    assert other.loc[key, "modelled_estimate"].iloc[0] != pytest.approx(base.loc[key, "modelled_estimate"].iloc[0])
    # the mart publishes exactly these (rounded; interval +/- 1.96 RMSE, ends outwards), nothing else of the model
    assert len(published) > 100
    half = 1.959963984540054 * np.sqrt(published["synthetic_mse"])
    assert np.allclose(published["estimate"], published["synthetic_estimate"].round(2), atol=1e-12)
    assert np.allclose(published["ci_low"], np.floor(100 * (published["synthetic_estimate"] - half).clip(0, 1) + 1e-9) / 100)
    assert np.allclose(published["ci_high"], np.ceil(100 * (published["synthetic_estimate"] + half).clip(0, 1) - 1e-9) / 100)


def test_every_published_pair_of_headline_estimates_has_its_change(sample_build):
    """Each national headline estimate (share incl. "hard to say", subgroup all) that is published in a
    wave and in the previous wave that asked the item has its change row (a bug once dropped every
    share_incl_hard_to_say change while the other measures kept theirs)."""
    with sample_build.snapshot() as s:
        expected = s.execute("""
            with e as (select indicator_code, wave_year, estimate from mart_indicator_estimates
                       where geo_level = 'national' and subgroup_type = 'all' and measure = 'share_incl_hard_to_say'
                         and not is_suppressed),
                 asked as (select i.indicator_code, w.wave_year from dim_indicator i
                           join dim_item_wave w on w.item_code = i.item_code and w.is_asked),
                 pairs as (select indicator_code, wave_year as wave_to,
                                  lag(wave_year) over (partition by indicator_code order by wave_year) as wave_from
                           from asked)
            select p.indicator_code, p.wave_from, p.wave_to from pairs p
            join e a on a.indicator_code = p.indicator_code and a.wave_year = p.wave_from
            join e b on b.indicator_code = p.indicator_code and b.wave_year = p.wave_to""").fetchall()
        got = s.execute("""select indicator_code, wave_from, wave_to from mart_indicator_changes
                           where geo_level = 'national' and subgroup_type = 'all'
                             and measure = 'share_incl_hard_to_say'""").fetchall()
    assert len(expected) >= 20
    assert sorted(got) == sorted(expected)
