"""The GE gate: a passing suite passes, failing data fails, a broken validation is a crash,
and a failed gate stops the marts, the published snapshot and the report refresh."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from expectations.frames import admin_frame, survey_wave_frames
from expectations.runner import validate
from ingest.sample.survey_waves import generate_2017, write_sav_2017
from tests.conftest import run_pipeline


@pytest.fixture
def raw_con(copy_of_build):
    import duckdb

    con = duckdb.connect(str(copy_of_build.warehouse_path))
    yield con
    con.close()


def test_passing_suites_pass(raw_con):
    survey = validate("raw_survey_wave", survey_wave_frames(raw_con)[0])
    admin = validate("raw_admin_extract", admin_frame(raw_con))
    assert survey.status == "passed", survey.summary()
    assert admin.status == "passed", admin.summary()
    assert len(survey.results) >= 10 and len(admin.results) >= 10


def test_failing_data_fails_and_names_the_problem(raw_con):
    frame = admin_frame(raw_con)
    frame.df.loc[0, "women"] = -5  # negative count
    frame.df.loc[1, "sex_sum_gap"] = 7  # total != women + men
    outcome = validate("raw_admin_extract", frame)
    assert outcome.status == "failed"
    failed = {(f.column, f.expectation_type) for f in outcome.failures}
    assert failed == {("women", "expect_column_values_to_be_between"),
                      ("sex_sum_gap", "expect_column_values_to_be_between")}
    assert not any(f.crashed for f in outcome.failures)


def test_a_crashed_validation_is_reported_as_crash_not_failure(raw_con, tmp_path):
    frame = admin_frame(raw_con)
    frame.df = frame.df.drop(columns=["year"])  # the suite refers to a column that is not there
    outcome = validate("raw_admin_extract", frame)
    assert outcome.status == "crashed"
    assert any(f.crashed and "year" in (f.error or "") for f in outcome.failures)

    (tmp_path / "broken_suite.yml").write_text("name: broken\nexpectations:\n  - type: expect_no_such_thing\n")
    outcome = validate("broken_suite", admin_frame(raw_con), suites_dir=tmp_path)
    assert outcome.status == "crashed"
    assert "ExpectNoSuchThing" in outcome.error


def _published_marts(path):
    """Contents of the snapshot's marts (its gate-status tables are refreshed even when blocked)."""
    import duckdb

    from orchestration.publish import PUBLISHED

    with duckdb.connect(str(path), read_only=True) as con:
        return {n: con.execute(f"select count(*), sum(hash(t)::hugeint) from main.{n} t").fetchone()
                for _, n in PUBLISHED}


def test_broken_wave_blocks_marts_snapshot_and_reports(copy_of_build):
    paths = copy_of_build
    snapshot_before = _published_marts(paths.published_path)
    # A wave in which 60 % of the clients answer "hard to say": valid codes, so it loads,
    # but the gate's plausibility expectation must stop it.
    wave = generate_2017(np.random.default_rng(7))
    clients = wave.index[wave["Q1_KLIENTS"] == 1]
    wave.loc[clients[: int(len(clients) * 0.6)], "Q12_APMIER"] = 9
    wave_dir = paths.survey_landing / "2017"
    shutil.rmtree(wave_dir)
    write_sav_2017(wave, wave_dir / "ex_ante_2017_corrected.sav")

    summary = run_pipeline()

    assert not summary.success
    gate = next(c for c in summary.checks if c["name"] == "ge_raw_survey_wave")
    assert gate["passed"] is False
    assert "Q12_APMIER__asked" in gate["report"] and "hard to say" in gate["report"]
    assert {"dbt_build", "publish__report_snapshot", "reports__evidence_site"} <= set(summary.skipped_steps)
    assert not summary.materialized_any("marts/")
    assert not summary.materialized_any("publish/") and not summary.materialized_any("reports/")
    assert _published_marts(paths.published_path) == snapshot_before  # the last good marts are kept
    assert "ge_raw_survey_wave" in summary.render() and "FAILED" in summary.render()

    import duckdb

    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        status = con.execute(
            """select status, n_failed from audit.validation_runs
               where suite = 'raw_survey_wave' and data_ref = 'survey wave 2017'
               order by validated_at desc limit 1"""
        ).fetchone()
        failing = con.execute(
            """select e.column_name from audit.validation_expectations e
               join audit.validation_runs r using (validation_id)
               where r.status = 'failed' and not e.success and r.data_ref = 'survey wave 2017'"""
        ).fetchall()
    assert status == ("failed", 1)
    assert failing == [("Q12_APMIER__asked",)]


def test_an_oversized_wave_is_stopped_by_the_mart_gate_and_reports_keep_the_last_snapshot(copy_of_build):
    """A 2028 file with 6000 respondents instead of ~2000 (say, the firm's panel file instead of the
    wave): every row is valid, so the raw gate and the dbt tests pass, but the wave-on-wave gate on
    the published marts (at most 2.5 times the previous wave's respondents) blocks the snapshot and
    the report refresh."""
    import dataclasses

    import duckdb

    from ingest.sample.survey_generic import WAVES, generate_wave

    paths = copy_of_build
    snapshot_before = _published_marts(paths.published_path)
    spec = dataclasses.replace(next(s for s in WAVES if s.wave == 2028), n=6000)
    shutil.rmtree(paths.survey_landing / "2028")
    generate_wave(spec, paths.survey_landing, np.random.default_rng(5))

    summary = run_pipeline()

    assert not summary.success
    checks = {c["name"]: c for c in summary.checks}
    assert checks["ge_raw_survey_wave"]["passed"] is True
    gate = checks["ge_mart_indicator_estimates"]
    assert gate["passed"] is False and "respondents_ratio" in gate["report"]
    assert summary.materialized_any("marts/")  # dbt ran ...
    assert {"publish__report_snapshot", "reports__evidence_site"} <= set(summary.skipped_steps)  # ... but nothing after
    assert _published_marts(paths.published_path) == snapshot_before
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        observed = con.execute(
            """select e.observed, e.unexpected_examples from audit.validation_expectations e
               join audit.validation_runs r using (validation_id)
               where r.suite = 'mart_wave_changes' and e.column_name = 'respondents_ratio'
               order by r.validated_at desc limit 1""").fetchone()
    assert "6.0" in observed[1]  # 6000 / 1000 respondents of the reduced 2027 wave
    # the snapshot's marts are the last good ones, but its gate status shows what was blocked
    with duckdb.connect(str(paths.published_path), read_only=True) as snap:
        blocked = snap.execute("select suite from quality_status where blocked_downstream").fetchall()
        published_2028 = snap.execute(
            "select n_unweighted from mart_client_satisfaction where wave_year = 2028").fetchone()[0]
    assert ("mart_wave_changes",) in blocked
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        new_2028 = con.execute("select n_unweighted from marts.mart_client_satisfaction where wave_year = 2028").fetchone()[0]
    assert new_2028 > published_2028  # the oversized wave reached the warehouse's marts, not the reports
