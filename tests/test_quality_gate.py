"""The GE plausibility gates: passing suites pass, failing data fails and names the years it
points at, a broken validation is a crash (not failed data), and each rule has one owner."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from expectations.frames import PLAUSIBILITY, provision_frame, survey_frame
from expectations.runner import SUITES_DIR, validate, validate_all


@pytest.fixture(scope="module")
def wh(sample_build):
    con = duckdb.connect(str(sample_build.paths.warehouse_path), read_only=True)
    yield con
    con.close()


def test_every_plausibility_suite_passes_on_the_sample(wh):
    outcomes = validate_all([(suite, build(wh)) for suite, (_, build) in PLAUSIBILITY.items()])
    assert [o.status for o in outcomes] == ["passed"] * len(PLAUSIBILITY), [o.summary() for o in outcomes]
    assert sum(len(o.results) for o in outcomes) >= 10


def test_failing_data_fails_and_names_the_years_it_points_at(wh):
    frame = survey_frame(wh)
    frame.df.loc[frame.df["wave_year"] == 2028, "respondents_ratio"] = 6.0  # a panel file instead of the wave
    outcome = validate("survey_waves", frame)
    assert outcome.status == "failed"
    assert [(f.column, f.expectation_type) for f in outcome.failures] == [
        ("respondents_ratio", "expect_column_values_to_be_between")]
    assert outcome.failed_years == {2028}

    frame = provision_frame(wh)
    row = frame.df.index[(frame.df["year"] == 2024)][0]
    frame.df.loc[row, "recipients_per_1000"] = 446_028.0  # an extract typed in the wrong unit
    outcome = validate("provision", frame)
    assert outcome.status == "failed" and outcome.failed_years == {2024}


def test_a_crashed_validation_is_reported_as_crash_not_failure(wh, tmp_path):
    frame = survey_frame(wh)
    frame.df = frame.df.drop(columns=["respondents_ratio"])  # the suite refers to a column that is not there
    outcome = validate("survey_waves", frame)
    assert outcome.status == "crashed"
    assert any(f.crashed and "respondents_ratio" in (f.error or "") for f in outcome.failures)
    assert outcome.failed_years is None  # a crash points at no delivery

    (tmp_path / "broken_suite.yml").write_text("name: broken\nexpectations:\n  - type: expect_no_such_thing\n")
    outcome = validate("broken_suite", survey_frame(wh), suites_dir=tmp_path)
    assert outcome.status == "crashed" and "ExpectNoSuchThing" in outcome.error


def test_gates_judge_plausibility_only_each_rule_has_one_owner():
    """File structure is the loader's, model structure dbt's tests: no suite repeats them."""
    structural = {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
                  "expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set",
                  "expect_table_row_count_to_be_between"}
    suites = sorted(Path(SUITES_DIR).glob("*.yml"))
    assert {p.stem for p in suites} == set(PLAUSIBILITY)
    for path in suites:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for e in spec["expectations"]:
            assert e["type"] not in structural, f"{path.name}: {e['type']} is a structural rule"
            assert e.get("why"), f"{path.name}: every expectation says why"
