"""Fay-Herriot validated on simulated truth and a closed-form case; raking checked against the
population margins; the small-area benchmark against the generator's true municipal rates."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from estimation.benchmark import benchmark
from estimation.fay_herriot import fit, synthetic
from ingest.settings import DBT_SEED_DIR


def test_fay_herriot_recovers_simulated_parameters_and_beats_direct():
    rng = np.random.default_rng(42)
    m = 400
    X = np.column_stack([np.ones(m), rng.normal(size=m)])
    beta, s2 = np.array([0.55, 0.08]), 0.003
    D = rng.uniform(0.002, 0.03, m)
    theta = X @ beta + rng.normal(0, np.sqrt(s2), m)
    y = theta + rng.normal(0, np.sqrt(D))
    f = fit(y, D, X)
    assert f.converged
    assert f.beta == pytest.approx(beta, abs=0.02)
    assert f.sigma2_u == pytest.approx(s2, rel=0.35)
    rmse_direct = np.sqrt(np.mean((y - theta) ** 2))
    rmse_fh = np.sqrt(np.mean((f.eblup - theta) ** 2))
    assert rmse_fh < 0.6 * rmse_direct
    # The Prasad-Rao MSE estimates the actual error on average (within 25 %).
    assert np.sqrt(f.mse.mean()) == pytest.approx(rmse_fh, rel=0.25)
    coverage = np.mean(np.abs(f.eblup - theta) <= 1.96 * np.sqrt(f.mse))
    assert 0.9 <= coverage <= 0.99


def test_fay_herriot_balanced_case_has_its_closed_form():
    """Equal sampling variances D and an intercept only: REML gives s2 = S^2 - D, beta = mean(y),
    and the EBLUP shrinks each y_i towards the mean by gamma = s2 / (s2 + D)."""
    y = np.array([0.30, 0.42, 0.55, 0.61, 0.48, 0.70, 0.36, 0.52])
    D = np.full(len(y), 0.004)
    X = np.ones((len(y), 1))
    f = fit(y, D, X)
    s2 = y.var(ddof=1) - 0.004
    gamma = s2 / (s2 + 0.004)
    assert f.sigma2_u == pytest.approx(s2, rel=1e-6)
    assert f.beta[0] == pytest.approx(y.mean())
    assert f.eblup == pytest.approx(gamma * y + (1 - gamma) * y.mean())
    est, mse = synthetic(f, np.ones((1, 1)), X, D)
    assert est[0] == pytest.approx(y.mean()) and mse[0] == pytest.approx(s2 + (s2 + 0.004) / len(y))


def test_raked_wave_reproduces_the_population_margins(sample_build):
    with (DBT_SEED_DIR / "reference" / "ref_municipalities_2021.csv").open(encoding="utf-8") as fh:
        units = list(csv.DictReader(fh))
    pop = sum(int(u["population"]) for u in units)
    region_target = {}
    for u in units:
        region_target[u["stat_region_2009_2023"]] = region_target.get(u["stat_region_2009_2023"], 0) + int(u["population"]) / pop
    male = sum(int(u["population_males"]) for u in units) / (sum(int(u["population_males"]) + int(u["population_females"])
                                                                 for u in units))
    with sample_build.warehouse() as con:
        region_share = dict(con.execute(
            """select m.region_2009_2023, sum(r.weight) / sum(sum(r.weight)) over ()
               from marts.fct_respondent r join marts.dim_municipality m
                 on m.municipality_code = r.municipality_code_delivered and m.boundary_set = r.municipality_boundary_set
               where r.wave_year = 2025 group by 1""").fetchall())
        male_share, source, mean_w = con.execute(
            """select sum(weight) filter (where sex = 'male') / sum(weight), min(weight_source), avg(weight)
               from marts.fct_respondent where wave_year = 2025""").fetchone()
    assert source == "raked"
    assert mean_w == pytest.approx(1.0)
    assert region_share == pytest.approx(region_target, abs=1e-6)
    assert male_share == pytest.approx(male, abs=1e-6)


def test_small_area_estimates_beat_direct_ones_against_the_truth(sample_build):
    rows = benchmark(sample_build.paths.warehouse_path, sample_build.truth)
    assert {r["wave"] for r in rows} == {2022, 2024, 2025, 2026, 2027, 2028}
    for r in rows:
        assert r["rmse_fh_same_areas"] < r["rmse_direct"], r
    assert np.mean([r["fh_ci95_coverage"] for r in rows]) >= 0.75


def test_trust_provision_mart_uses_direct_only_where_published_and_reliable(sample_build):
    with sample_build.warehouse() as con:
        bad = con.execute(
            """select count(*) from marts.mart_trust_provision t
               join marts.mart_indicator_estimates e on e.indicator_code = 'trust_top2' and e.geo_level = 'municipality'
                 and e.geo_code = t.municipality_code and e.wave_year = t.wave_year and e.subgroup_type = 'all'
                 and e.measure = 'share_incl_hard_to_say'
               where (t.estimate_type = 'direct') <> (not e.is_suppressed and e.is_reliable)"""
        ).fetchone()[0]
        counts = con.execute(
            "select count(*), count(distinct municipality_code), count(*) filter (where trust_estimate is null) "
            "from marts.mart_trust_provision").fetchone()
        corr = con.execute(
            """select count(*) from marts.mart_trust_provision_correlations
               where not (ci_low <= correlation and correlation <= ci_high) or n_municipalities <> 42""").fetchone()[0]
    assert bad == 0
    assert counts == (42 * 7, 42, 0)
    assert corr == 0
