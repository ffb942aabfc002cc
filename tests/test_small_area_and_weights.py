"""The small-area model and the raking, checked against what we did not compute with them:

- closed forms of the balanced Fay-Herriot case (REML, both adjusted REMLs, Prasad-Rao MSE) and an
  independent numerical integration of the hierarchical-Bayes posterior (scipy.integrate.quad on
  the restricted likelihood written out with full matrices);
- simulated Fay-Herriot data with known parameters, including data where REML puts the variance at 0;
- replicate samples of the generator against its true municipal rates (estimation.benchmark);
- a wave the model cannot be fitted to: skipped with its reason, by the function and by dbt;
- the raked 2025 weights against region x sex targets summed by hand from the reference CSV.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from estimation.benchmark import (benchmark, direct_estimates, load_inputs, overall, replicate_benchmark)
from estimation.fay_herriot import fit, hierarchical_bayes, leave_one_out_synthetic, synthetic
from estimation.small_area import estimate_wave, load_config
from ingest.settings import DBT_SEED_DIR, REPO_ROOT

Z95 = 1.959963984540054
Y8 = np.array([0.30, 0.42, 0.55, 0.61, 0.48, 0.70, 0.36, 0.52])


# --- the model against closed forms and independent integration --------------------------------

def test_balanced_case_reml_and_adjusted_reml_have_their_closed_forms():
    """Equal D, intercept only: l_R(A) = -1/2 [(m-1) log(A+D) + SS/(A+D)], SS = sum (y - ybar)^2."""
    D, m = 0.004, len(Y8)
    X, Dv = np.ones((m, 1)), np.full(m, D)
    ss, k = float(((Y8 - Y8.mean()) ** 2).sum()), m - 1
    # REML: A = SS/(m-1) - D.
    assert fit(Y8, Dv, X, "reml").sigma2_u == pytest.approx(ss / k - D, rel=1e-6)
    # Li-Lahiri (h = A): 1/A - k/(2(A+D)) + SS/(2(A+D)^2) = 0, a quadratic in A.
    roots = np.roots([2 - k, 4 * D - k * D + ss, 2 * D * D])
    assert fit(Y8, Dv, X, "amrl_ll").sigma2_u == pytest.approx(roots[roots > 0].max(), rel=1e-6)

    # Yoshimori-Lahiri (h = arctan(tr(I - B))^(1/m)): root of the adjusted score, solved here by brentq.
    def score(a):
        t, dt = m * a / (a + D), m * D / (a + D) ** 2
        return dt / (m * (1 + t * t) * np.arctan(t)) - k / (2 * (a + D)) + ss / (2 * (a + D) ** 2)

    assert fit(Y8, Dv, X, "amrl_yl").sigma2_u == pytest.approx(brentq(score, 1e-9, 1.0), rel=1e-6)


def test_balanced_case_eblup_and_prasad_rao_mse_have_their_closed_forms():
    D, m = 0.004, len(Y8)
    X, Dv = np.ones((m, 1)), np.full(m, D)
    f = fit(Y8, Dv, X, "reml")
    a = Y8.var(ddof=1) - D
    gamma = a / (a + D)
    assert f.beta[0] == pytest.approx(Y8.mean())
    assert f.eblup == pytest.approx(gamma * Y8 + (1 - gamma) * Y8.mean())
    # g1 = gamma D, g2 = (1-gamma)^2 (A+D)/m, g3 = (1-gamma)^2/(A+D) * 2 (A+D)^2/m
    g1, g2, g3 = gamma * D, (1 - gamma) ** 2 * (a + D) / m, (1 - gamma) ** 2 * 2 * (a + D) / m
    assert f.mse == pytest.approx(np.full(m, g1 + g2 + 2 * g3), rel=1e-6)
    est, mse = synthetic(f, np.ones((1, 1)))
    assert est[0] == pytest.approx(Y8.mean()) and mse[0] == pytest.approx(a + (a + D) / m, rel=1e-6)


def test_hierarchical_bayes_equals_independent_integration_in_the_balanced_case():
    """Flat priors: p(A | y) ~ (A+D)^(-(m-1)/2) exp(-SS / (2(A+D))); given A, theta_i ~ N(ybar + gamma
    (y_i - ybar), gamma D + (1-gamma)^2 (A+D)/m). Integrated here with quad."""
    D, m = 0.004, len(Y8)
    ss = float(((Y8 - Y8.mean()) ** 2).sum())

    def post(a):
        return (a + D) ** (-(m - 1) / 2) * np.exp(-ss / (2 * (a + D)) + ss / (2 * (ss / (m - 1))))

    def e(fn):
        return quad(lambda a: fn(a) * post(a), 0, np.inf, limit=200)[0] / quad(post, 0, np.inf, limit=200)[0]

    e_gamma = e(lambda a: a / (a + D))
    var_gamma = e(lambda a: (a / (a + D)) ** 2) - e_gamma ** 2
    within = e(lambda a: a / (a + D) * D + (D / (a + D)) ** 2 * (a + D) / m)
    h = hierarchical_bayes(Y8, np.full(m, D), np.ones((m, 1)))
    assert h.converged
    assert h.sigma2_u == pytest.approx(e(lambda a: a), rel=1e-3)
    assert h.estimate == pytest.approx(Y8.mean() + e_gamma * (Y8 - Y8.mean()), rel=1e-4)
    assert h.mse == pytest.approx(within + var_gamma * (Y8 - Y8.mean()) ** 2, rel=1e-3)


def test_hierarchical_bayes_equals_independent_integration_with_covariates_and_unequal_variances():
    rng = np.random.default_rng(3)
    m = 9
    X = np.column_stack([np.ones(m), rng.normal(size=m)])
    D = rng.uniform(0.003, 0.02, m)
    y = X @ np.array([0.5, 0.05]) + rng.normal(0, np.sqrt(0.004 + D))

    def parts(a):  # written out with full matrices, not with the module's code
        V = np.diag(a + D)
        Vi = np.linalg.inv(V)
        XtViX = X.T @ Vi @ X
        beta = np.linalg.solve(XtViX, X.T @ Vi @ y)
        P = Vi - Vi @ X @ np.linalg.solve(XtViX, X.T @ Vi)
        loglik = -0.5 * (np.linalg.slogdet(V)[1] + np.linalg.slogdet(XtViX)[1] + y @ P @ y)
        gamma = a / (a + D)
        theta = gamma * y + (1 - gamma) * (X @ beta)
        var = gamma * D + (1 - gamma) ** 2 * np.einsum("ij,jk,ik->i", X, np.linalg.inv(XtViX), X)
        return loglik, theta, var

    ref = parts(0.004)[0]

    def e(fn):
        def dens(a):
            return np.exp(parts(a)[0] - ref)
        return quad(lambda a: fn(a) * dens(a), 0, np.inf, limit=200)[0] / quad(dens, 0, np.inf, limit=200)[0]

    h = hierarchical_bayes(y, D, X)
    assert h.sigma2_u == pytest.approx(e(lambda a: a), rel=2e-3)
    for i in (0, 4, 8):
        mean = e(lambda a: parts(a)[1][i])
        second = e(lambda a: parts(a)[2][i] + parts(a)[1][i] ** 2)
        assert h.estimate[i] == pytest.approx(mean, rel=1e-4)
        assert h.mse[i] == pytest.approx(second - mean ** 2, rel=2e-3)


# --- the model against simulated truth ------------------------------------------------------------

@pytest.mark.parametrize("method", ["reml", "amrl_yl", "amrl_ll", "hb"])
def test_recovers_simulated_parameters_and_beats_direct(method):
    rng = np.random.default_rng(42)
    m = 400
    X = np.column_stack([np.ones(m), rng.normal(size=m)])
    beta, s2 = np.array([0.55, 0.08]), 0.003
    D = rng.uniform(0.002, 0.03, m)
    theta = X @ beta + rng.normal(0, np.sqrt(s2), m)
    y = theta + rng.normal(0, np.sqrt(D))
    f = hierarchical_bayes(y, D, X) if method == "hb" else fit(y, D, X, method)
    assert f.converged
    assert f.beta == pytest.approx(beta, abs=0.02)
    assert f.sigma2_u == pytest.approx(s2, rel=0.35)
    rmse_direct = np.sqrt(np.mean((y - theta) ** 2))
    rmse = np.sqrt(np.mean((f.estimate - theta) ** 2))
    assert rmse < 0.6 * rmse_direct
    assert np.sqrt(f.mse.mean()) == pytest.approx(rmse, rel=0.25)  # the MSE estimates the actual error
    assert 0.9 <= np.mean(np.abs(f.estimate - theta) <= Z95 * np.sqrt(f.mse)) <= 0.99


def test_intervals_hold_in_the_replications_where_reml_puts_the_variance_at_zero():
    """42 areas, a small area-effect variance: REML returns 0 in about a third of 300 replications.
    There the EBLUP is the regression fit and its MSE loses the model-error term; the hierarchical-
    Bayes interval keeps its coverage, the adjusted estimates never reach 0."""
    rng = np.random.default_rng(7)
    m = 42
    X = np.column_stack([np.ones(m), rng.normal(size=(m, 2))])
    D = rng.uniform(0.006, 0.02, m)
    beta, a = np.array([0.55, 0.06, -0.03]), 0.0015
    hb, reml, zero, adjusted = [], [], [], []
    for _ in range(300):
        theta = X @ beta + rng.normal(0, np.sqrt(a), m)
        y = theta + rng.normal(0, np.sqrt(D))
        h, f = hierarchical_bayes(y, D, X), fit(y, D, X, "reml")
        hb.append(np.abs(h.estimate - theta) <= Z95 * np.sqrt(h.mse))
        reml.append(np.abs(f.eblup - theta) <= Z95 * np.sqrt(f.mse))
        zero.append(f.sigma2_u == 0.0)
        adjusted.append(min(h.sigma2_u, fit(y, D, X, "amrl_yl").sigma2_u, fit(y, D, X, "amrl_ll").sigma2_u))
    hb, reml, zero = np.array(hb), np.array(reml), np.array(zero)
    assert 0.2 < zero.mean() < 0.5
    assert min(adjusted) > 0.0
    assert hb.mean() >= 0.95
    assert hb[zero].mean() >= 0.93
    assert reml[zero].mean() < hb[zero].mean() - 0.03


@pytest.mark.parametrize("method", ["hb_flat", "amrl_yl"])
def test_synthetic_estimate_uses_nothing_of_the_areas_own_data(method):
    """Changing area 5's direct estimate and sample size changes neither its synthetic estimate nor
    that estimate's MSE (the other helper publishes them where the direct cell is suppressed)."""
    rng = np.random.default_rng(11)
    m = 30
    X = np.column_stack([np.ones(m), rng.normal(size=m)])
    D = rng.uniform(0.005, 0.02, m)
    y = X @ np.array([0.5, 0.05]) + rng.normal(0, np.sqrt(0.002 + D))
    est, mse = leave_one_out_synthetic(y, D, X, method)
    y2, D2 = y.copy(), D.copy()
    y2[5], D2[5] = 0.99, 0.0001
    est2, mse2 = leave_one_out_synthetic(y2, D2, X, method)
    assert est2[5] == pytest.approx(est[5], abs=1e-12) and mse2[5] == pytest.approx(mse[5], abs=1e-12)
    assert est2[6] != pytest.approx(est[6], abs=1e-6)  # the others do see area 5


# --- a wave that cannot be modelled ----------------------------------------------------------------

def _provision(codes, years):
    rng = np.random.default_rng(5)
    rows = [{"municipality_code": c, "year": y, "recipients_per_1000": rng.uniform(10, 30),
             "expenditure_per_resident_eur": rng.uniform(50, 150), "residents_per_specialist": rng.uniform(800, 1500)}
            for y in years for c in codes]
    return pd.DataFrame(rows)


def test_model_function_skips_a_wave_with_too_few_areas_and_says_why():
    codes = [f"{i:07d}" for i in range(1, 43)]
    direct = pd.DataFrame({"n_unweighted": [30, 25, 40], "sum_w": [30.0, 25.0, 40.0], "sum_w2": [31.0, 26.0, 42.0],
                           "share": [0.5, 0.6, 0.55]}, index=codes[:3])
    out = estimate_wave(2029, direct, 0.55, _provision(codes, [2028]), codes, load_config())
    assert len(out) == 42 and set(out["fit_status"]) == {"skipped"}
    assert out["skip_reason"].str.startswith("too few areas with a direct estimate: 3 areas").all()
    assert out["modelled_estimate"].isna().all() and out["synthetic_estimate"].isna().all()
    assert out.set_index("municipality_code").loc[codes[:3], "direct_estimate"].tolist() == [0.5, 0.6, 0.55]
    assert (out["covariate_year"] == 2028).all()


def test_model_function_does_not_use_a_partial_covariate_year():
    codes = [f"{i:07d}" for i in range(1, 43)]
    provision = pd.concat([_provision(codes, [2027, 2028]), _provision(codes[:1], [2029])])
    rng = np.random.default_rng(2)
    n = rng.integers(10, 40, 42)
    direct = pd.DataFrame({"n_unweighted": n, "sum_w": n.astype(float), "sum_w2": n * 1.1,
                           "share": rng.uniform(0.4, 0.7, 42)}, index=codes)
    out = estimate_wave(2029, direct, 0.55, provision, codes, load_config())
    assert set(out["fit_status"]) == {"fitted"} and (out["covariate_year"] == 2028).all()
    no_year = estimate_wave(2029, direct, 0.55, _provision(codes[:10], [2028]), codes, load_config())
    assert set(no_year["fit_status"]) == {"skipped"}
    assert no_year["skip_reason"].str.startswith("no year of provision figures covers every current municipality").all()


@pytest.mark.e2e
def test_dbt_model_skips_an_unfittable_wave_and_publishes_the_rest(sample_build, tmp_path):
    """dbt runs the real int_trust_small_area on a copy of the built warehouse in which 2027 has
    respondents in only 4 municipalities and 2028's provision figures cover one municipality (a
    partial year, as in issue 12): the model returns rows for every wave, 2027 skipped with its
    reason, 2028 fitted on the 2027 covariates; nothing fails."""
    wh = tmp_path / "trust.duckdb"
    shutil.copyfile(sample_build.paths.warehouse_path, wh)
    with duckdb.connect(str(wh)) as con:
        keep = [r[0] for r in con.execute(
            """select distinct geo_code from intermediate.int_indicator_cells where wave_year = 2027
               and geo_level = 'municipality' order by geo_code limit 4""").fetchall()]
        con.execute("""delete from intermediate.int_indicator_cells where wave_year = 2027
                       and geo_level = 'municipality' and geo_code not in (select unnest(?))""", [keep])
        con.execute("""delete from intermediate.int_provision__per_capita where year = 2028
                       and municipality_code <> (select min(municipality_code) from intermediate.int_provision__per_capita)""")
    env = {**os.environ, "TRUST_DBT_DATABASE": str(wh)}
    dbt = [os.path.join(os.path.dirname(sys.executable), "dbt"), "run", "--select", "int_trust_small_area",
           "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT / "dbt_project"),
           "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    done = subprocess.run(dbt, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with duckdb.connect(str(wh), read_only=True) as con:
        rows = con.execute(
            """select wave_year, fit_status, any_value(skip_reason), count(*), count(direct_estimate),
                      count(modelled_estimate), any_value(covariate_year)
               from intermediate.int_trust_small_area group by 1, 2 order by 1""").fetchall()
    by_wave = {r[0]: r[1:] for r in rows}
    assert sorted(by_wave) == [2017, 2022, 2024, 2025, 2026, 2027, 2028]
    status, reason, n, n_direct, n_model, _ = by_wave[2027]
    assert (status, n, n_direct, n_model) == ("skipped", 42, 4, 0)
    assert reason.startswith("too few areas with a direct estimate: 4 areas")
    assert by_wave[2028][0] == "fitted" and by_wave[2028][5] == 2027 and by_wave[2028][4] == 42
    assert all(by_wave[w][0] == "fitted" and by_wave[w][4] == 42 for w in (2017, 2022, 2024, 2025, 2026))


# --- the model on the warehouse and on replicate samples -----------------------------------------

def test_warehouse_model_has_a_row_per_wave_and_municipality_and_never_a_zero_variance(sample_build):
    with sample_build.warehouse() as con:
        got = con.execute(
            """select count(*), count(distinct wave_year), count(distinct municipality_code),
                      count(*) filter (where fit_status <> 'fitted'), min(sigma2_u),
                      count(*) filter (where synthetic_mse is null or modelled_mse is null)
               from intermediate.int_trust_small_area""").fetchone()
    assert got[:4] == (7 * 42, 7, 42, 0)
    assert got[4] > 0 and got[5] == 0


def test_benchmark_direct_estimates_are_the_warehouse_cells(sample_build):
    """The replicate benchmark computes direct estimates in pandas; on the bundled sample's
    respondents they must equal int_indicator_cells, or the benchmark would judge another model."""
    with sample_build.warehouse() as con:
        resp = con.execute(
            """select r.current_municipality_code as municipality_code, r.weight as w,
                      coalesce(cast(a.harmonised_value as varchar), a.missing_reason) as answer
               from marts.fct_survey_answers a join marts.fct_respondent r using (respondent_key)
               where a.wave_year = 2026 and a.item_code = 'trust_social_service'""").df()
        cells = con.execute(
            """select geo_code, n_unweighted, sum_w, sum_w2, share_incl_hard_to_say from intermediate.int_indicator_cells
               where wave_year = 2026 and indicator_code = 'trust_top2' and subgroup_type = 'all'
                 and geo_level = 'municipality'""").df().set_index("geo_code").sort_index()
        national = con.execute(
            """select share_incl_hard_to_say from intermediate.int_indicator_cells where wave_year = 2026
               and indicator_code = 'trust_top2' and subgroup_type = 'all' and geo_level = 'national'""").fetchone()[0]
    direct, p_nat = direct_estimates(resp)
    direct = direct.sort_index()
    assert list(direct.index) == list(cells.index)
    assert direct["n_unweighted"].tolist() == cells["n_unweighted"].tolist()
    assert direct["share"].to_numpy() == pytest.approx(cells["share_incl_hard_to_say"].to_numpy(), abs=1e-12)
    assert direct["sum_w2"].to_numpy() == pytest.approx(cells["sum_w2"].to_numpy(), rel=1e-12)
    assert p_nat == pytest.approx(national, abs=1e-12)


@pytest.mark.e2e
def test_replicate_samples_model_intervals_hold_and_beat_direct(sample_build):
    """8 replicate samples of every wave (docs/small_area.md's table has 100): what 8 can honestly show."""
    rows, raw = replicate_benchmark(load_inputs(sample_build.paths.warehouse_path), 8, seed=99)
    assert {r["wave"] for r in rows} == {2022, 2024, 2025, 2026, 2027, 2028}
    fitted = raw[raw["fit_status"] == "fitted"]
    assert len(fitted) == 8 * 6 * 42
    assert (fitted["sigma2_u"] > 0).all()
    for r in rows:
        assert r["rmse_model"] < 0.75 * r["rmse_direct"], r
        assert r["rmse_synthetic"] < r["rmse_direct"], r
    totals = overall(raw)
    assert totals["coverage_model"] >= 0.92, totals
    assert totals["coverage_synthetic"] >= 0.92, totals
    # where REML collapses the variance to 0, the model's intervals still cover (REML's do not)
    zero = fitted["sigma2_u_reml"] == 0
    assert zero.any()
    cov = np.abs(fitted["modelled_estimate"] - fitted["truth"]) <= Z95 * np.sqrt(fitted["modelled_mse"])
    cov_reml = np.abs(fitted["reml_estimate"] - fitted["truth"]) <= Z95 * np.sqrt(fitted["reml_mse"])
    assert cov[zero].mean() > cov_reml[zero].mean()


def test_bundled_sample_model_beats_direct_against_the_truth(sample_build):
    rows = benchmark(sample_build.paths.warehouse_path, sample_build.truth)
    assert {r["wave"] for r in rows} == {2022, 2024, 2025, 2026, 2027, 2028}
    for r in rows:
        assert r["rmse_fh_same_areas"] < r["rmse_direct"], r
    # one sample: 252 intervals, so only a loose bound (the replicate test above is the real check)
    assert np.mean([r["fh_ci95_coverage"] for r in rows]) >= 0.85


# --- raking ---------------------------------------------------------------------------------------

def test_raked_wave_reproduces_the_region_by_sex_population(sample_build):
    """2025 (no delivered weights) is raked to the joint region x sex distribution of the reference
    population; the targets are summed here from the seed CSV by hand."""
    with (DBT_SEED_DIR / "reference" / "ref_municipalities_2021.csv").open(encoding="utf-8") as fh:
        units = list(csv.DictReader(fh))
    target: dict[tuple[str, str], float] = {}
    for u in units:
        for sex, col in (("female", "population_females"), ("male", "population_males")):
            key = (u["stat_region_2009_2023"], sex)
            target[key] = target.get(key, 0) + int(u[col])
    total = sum(target.values())
    target = {k: v / total for k, v in target.items()}
    with sample_build.warehouse() as con:
        got = {(reg, sex): share for reg, sex, share in con.execute(
            """select m.region_2009_2023, r.sex, sum(r.weight) / sum(sum(r.weight)) over ()
               from marts.fct_respondent r join marts.dim_municipality m
                 on m.municipality_code = r.municipality_code_delivered and m.boundary_set = r.municipality_boundary_set
               where r.wave_year = 2025 group by 1, 2""").fetchall()}
        source, mean_w, margins = con.execute(
            """select string_agg(distinct weight_source), avg(weight), string_agg(distinct raking_margins)
               from intermediate.int_survey__weights where wave_year = 2025""").fetchone()
        unweighted_female = con.execute(
            "select avg(case when sex = 'female' then 1.0 else 0 end) from marts.fct_respondent where wave_year = 2025"
        ).fetchone()[0]
    assert source == "raked" and mean_w == pytest.approx(1.0)
    assert "region" in margins and "sex" in margins and "ALL ages" in margins
    assert set(got) == set(target)
    assert got == pytest.approx(target, abs=1e-9)
    # the weights did something: the sample's sex split differs from the population's
    assert abs(unweighted_female - sum(v for (_, s), v in target.items() if s == "female")) > 1e-3


def test_municipal_headline_uses_direct_only_where_published_and_reliable(sample_build):
    with sample_build.warehouse() as con:
        bad = con.execute(
            """select count(*) from marts.mart_trust_comparisons t
               join marts.mart_indicator_estimates e on e.indicator_code = 'trust_top2' and e.geo_level = 'municipality'
                 and e.geo_code = t.geo_code and e.wave_year = t.wave_year and e.subgroup_type = 'all'
                 and e.measure = 'share_incl_hard_to_say'
               where t.geo_level = 'municipality'
                 and ((t.estimate_type = 'direct') <> (not e.is_suppressed and e.is_reliable)
                      or (t.estimate_type = 'direct' and t.estimate <> e.estimate))"""
        ).fetchone()[0]
        counts = con.execute(
            "select count(*), count(distinct geo_code), count(*) filter (where estimate is null) "
            "from marts.mart_trust_comparisons where geo_level = 'municipality'").fetchone()
    assert bad == 0
    assert counts == (42 * 7, 42, 0)
