"""End to end (issue 22, item 8): a wave delivered in two parts, and a survey of one municipality.

On a copy of the built sample:
- wave 2029 comes from two teams: the Rīga team's compressed SPSS file (.zsav) first. Alone, it has no
  respondents in five regions: the run goes on, the wave is held and named incomplete, and nothing of it
  is published (no "national" figure without the regions). When the regions team's file arrives, the wave
  is the union of both and is published, its national figure computed here from both files' rows;
- wave 2030 is a local survey of Rīga (codebook coverage.municipalities): it loads without failing any
  test (dbt, gates), the small-area model skips it with its reason, and it is published for Rīga only:
  no national figure, no national client satisfaction."""
from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pyreadstat
import pytest

from tests.conftest import run_pipeline, use_data_dir
from tests.foreign.builder import codebook_yaml
from tests.foreign.test_survey_deliveries import units_42

pytestmark = pytest.mark.e2e

COLUMNS = ["resp", "pasv", "dzim", "vec", "kl", "uzt", "svars"]
TRUST = [1, 2, 2, 3, 4, 2, 1, 9]  # codes of the builder's codebook: 9 = hard to say (1 in 8)


def part(first_id: int, units: list[str], n: int) -> pd.DataFrame:
    """A part of a wave by rule; Rīga's team numbers its respondents from 100001, the regions team from 200001."""
    return pd.DataFrame({
        "resp": [float(first_id + i) for i in range(n)], "pasv": [units[i % len(units)] for i in range(n)],
        "dzim": [float(1 + i % 2) for i in range(n)], "vec": [float(18 + i % 62) for i in range(n)],
        "kl": [float(1 if i % 3 == 0 else 2) for i in range(n)], "uzt": [float(TRUST[i % 8]) for i in range(n)],
        "svars": [1.2 if i % 2 else 0.8 for i in range(n)]})


def top2(frames: list[pd.DataFrame]) -> float:
    df = pd.concat(frames)
    return float(df.loc[df["uzt"].isin([1.0, 2.0]), "svars"].sum() / df["svars"].sum())


@pytest.fixture(scope="module")
def parts_build(sample_build, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("wave_parts")
    shutil.copytree(sample_build.paths.data_dir, root / "data")
    paths = use_data_dir(mp, root / "data")
    mp.setenv("TRUST_TODAY", "2031-01-15")
    folder = paths.survey_landing / "2029"
    folder.mkdir(parents=True)
    (folder / "wave_2029.yml").write_text(codebook_yaml(
        2029, fmt="spss", data_file="monitorings_2029_*.*sav", fieldwork=("2029-02-01", "2029-03-31"),
        expected=(500, 5000), delivery_extra="  parts: true\n"), encoding="utf-8")
    riga = part(100001, ["0001000"], 240)
    regions = part(200001, [u for u in units_42() if u != "0001000"], 410)
    pyreadstat.write_sav(riga, str(folder / "monitorings_2029_riga.zsav"), compress=True)
    first = run_pipeline(year=2029)
    with duckdb.connect(str(paths.published_path), read_only=True) as snap:
        published_first = snap.execute("select count(*) from mart_indicator_estimates where wave_year = 2029").fetchone()[0]
        loads_first = snap.execute("select status, message from quality_file_loads where delivery_year = 2029").fetchall()
    pyreadstat.write_sav(regions, str(folder / "monitorings_2029_regioni.sav"))
    second = run_pipeline(year=2029)
    local = paths.survey_landing / "2030"
    local.mkdir(parents=True)
    (local / "wave_2030.yml").write_text(codebook_yaml(
        2030, fmt="spss", data_file="*.sav", fieldwork=("2030-02-01", "2030-03-31"), expected=(50, 500),
        coverage=["0001000"]), encoding="utf-8")
    riga_only = part(300001, ["0001000"], 150)
    pyreadstat.write_sav(riga_only, str(local / "riga_2030.sav"))
    third = run_pipeline(year=2030)
    yield paths, (first, published_first, loads_first), second, third, (riga, regions, riga_only)
    mp.undo()


def test_the_riga_part_alone_is_held_as_incomplete_and_nothing_of_it_is_published(parts_build):
    paths, (first, published, loads), _, _, _ = parts_build
    assert first.success, first.render()  # a held wave does not fail the run
    [refused] = first.refused
    folder = paths.survey_landing / "2029"
    assert refused["status"] == "quarantined"
    assert refused["message"] == (
        f"file {folder / 'monitorings_2029_riga.zsav'}: incomplete wave 2029: no respondents in 5 of the 6 regions "
        "(Kurzeme, Latgale, Pierīga, Vidzeme, Zemgale); its fieldwork plan is national (codebook wave_2029.yml has no "
        "coverage.municipalities). Held: nothing of it is loaded or published. A wave delivered in parts "
        "(delivery.parts) loads when its missing part comes; a local survey says so with coverage.municipalities")
    assert published == 0
    assert [status for status, _ in loads] == ["quarantined"]
    assert loads[0][1].startswith("survey wave 2029: held as incomplete: incomplete wave 2029: no respondents in # "
                                  "of the # regions (Kurzeme, Latgale, Pierīga, Vidzeme, Zemgale)")


def test_with_its_second_part_the_wave_is_their_union_and_national(parts_build):
    paths, _, second, _, (riga, regions, _) = parts_build
    assert second.success, second.render()
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        wave = con.execute("""select n_respondents_delivered, n_parts, source_file, regions_with_respondents
                              from marts.dim_wave where wave_year = 2029""").fetchone()
        [(exact,)] = con.execute(
            """select estimate from intermediate.int_indicator_estimates where indicator_code = 'trust_top2'
               and wave_year = 2029 and geo_level = 'national' and subgroup_type = 'all'
               and measure = 'share_incl_hard_to_say'""").fetchall()
        [(riga_region,)] = con.execute(
            """select estimate from intermediate.int_indicator_estimates where indicator_code = 'trust_top2'
               and wave_year = 2029 and geo_level = 'region' and geo_code = 'Rīga' and subgroup_type = 'all'
               and measure = 'share_incl_hard_to_say'""").fetchall()
    assert wave == (650, 2, "monitorings_2029_regioni.sav + monitorings_2029_riga.zsav", 6)
    # share incl. "hard to say": code 9 is hard to say, so the base is every respondent (none refused)
    assert exact == pytest.approx(top2([riga, regions]), abs=1e-12)
    assert riga_region == pytest.approx(top2([riga]), abs=1e-12)


def test_a_survey_of_one_municipality_loads_without_failing_any_test(parts_build):
    paths, _, _, third, _ = parts_build
    assert third.success, third.render()
    assert [c["name"] for c in third.checks if not c["passed"]] == []
    assert "dbt_build" in third.step_seconds and "ge_plausibility" in third.step_seconds


def test_a_local_survey_is_published_for_its_municipality_only_and_the_model_says_why_it_skipped(parts_build):
    paths, _, _, _, (_, _, riga_only) = parts_build
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        levels = con.execute("""select distinct geo_level, geo_code from intermediate.int_indicator_cells
                                where wave_year = 2030 order by 1, 2""").fetchall()
        [(exact,)] = con.execute(
            """select estimate from intermediate.int_indicator_estimates where indicator_code = 'trust_top2'
               and wave_year = 2030 and geo_level = 'municipality' and geo_code = '0001000' and subgroup_type = 'all'
               and measure = 'share_incl_hard_to_say'""").fetchall()
        skipped = con.execute("""select distinct fit_status, skip_reason from intermediate.int_trust_small_area
                                 where wave_year = 2030""").fetchall()
        satisfaction = con.execute("select count(*) from intermediate.int_client_satisfaction where wave_year = 2030"
                                   ).fetchone()[0]
        plan = con.execute("select coverage_plan, planned_municipalities from marts.dim_wave where wave_year = 2030"
                           ).fetchone()
    assert levels == [("municipality", "0001000"), ("region", "Rīga")]  # Rīga's region is Rīga alone
    assert exact == pytest.approx(top2([riga_only]), abs=1e-12)
    assert len(skipped) == 1 and skipped[0][0] == "skipped" and skipped[0][1].startswith("too few areas")
    assert satisfaction == 0 and plan == ("municipalities", "0001000")
    with duckdb.connect(str(paths.published_path), read_only=True) as snap:
        national = snap.execute("select count(*) from mart_indicator_estimates where wave_year = 2030 "
                                "and geo_level = 'national'").fetchone()[0]
        client = snap.execute("select count(*) from mart_client_satisfaction where wave_year = 2030").fetchone()[0]
    assert national == 0 and client == 0
