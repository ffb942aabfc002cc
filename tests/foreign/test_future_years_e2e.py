"""End to end: years after the sample's, loaded through the real pipeline into the marts.

On a copy of the built sample warehouse, with the clock (TRUST_TODAY) in May 2031: a 2031 survey
wave (a hand-made CSV on the 42 units, Madonas novads under its 2021 code 0038000) and 2030
extracts of all 42 current municipalities (hand-made workbooks, Madona again as 0038000). No
year constant stops them; the 2030 per-capita figures use the newest population available,
flagged as such. Built once for the module."""
from __future__ import annotations

import csv
import shutil

import duckdb
import pytest

from ingest.settings import CODEBOOK_DIR, DBT_SEED_DIR
from tests.conftest import run_pipeline, use_data_dir
from tests.foreign.builder import LM_HEADER, codebook_yaml, csv_bytes, lm_rows, workbook, write_bytes
from tests.foreign.test_survey_deliveries import HEADER, rows_by_rule

pytestmark = pytest.mark.e2e


def _seed(name: str) -> list[dict]:
    with (DBT_SEED_DIR / "reference" / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _units() -> list[tuple[str, str]]:
    """(code as the extract writes it, name): the 42 units, Madonas novads under its 2021 code."""
    units = sorted({(r["new_atvk_code"], r["new_name"]) for r in _seed("ref_crosswalk_2021_2025")})
    return [("0038000" if code == "0038001" else code, name) for code, name in units]


def recipients(k: int, before: int) -> int:
    """Recipients of mandatory service 13.k, by rule: the municipality's total of the year before
    (`before`) spread over the ten services, plus one in the odd ones (so the 2030 total is
    before + 5: plausible next to 2028, as the quality gate requires)."""
    return before // 10 + (k <= before % 10) + k % 2


def expenditure(k: int, before: float) -> str:
    """Expenditure on service 13.k as the extract writes it (thousands separated by spaces, a
    decimal comma): the year before's total spread over the ten services, plus k euros 50."""
    return f"{int(before // 10) + k:,}".replace(",", " ") + ",50"


def extract_2030(path, code: str, name: str, i: int, before: tuple[int, float]):
    rows = [["13", None, "Obligāto pakalpojumu saņēmēji", None, None, None, *["x"] * 7, None, "SPOLIS"]]
    for k in range(1, 11):
        rows.append([f"13.{k}.", None, f"t.sk. pakalpojums {k}", recipients(k, before[0]), None, None, *["x"] * 7,
                     expenditure(k, before[1]), "SPOLIS"])
    rows += [["14", None, "Rindā gada beigās", 2 + i % 3, None, None, *["x"] * 7, "x", "SPOLIS"],
             ["15", None, "Sociālā darba speciālisti", 5 + i % 4, None, None, *["x"] * 7, "x", "SPOLIS"]]
    return workbook(path, [{"name": "Obligātie pakalpojumi",
                            "cells": {"A1": f"Pašvaldība: {name} ({code})", "A2": "Pārskata gads: 2030"},
                            "rows": [(4, LM_HEADER)] + lm_rows(5, rows)}])


def _current(code: str) -> str:
    return "0038001" if code == "0038000" else code


def figures_2028(warehouse) -> dict[str, tuple[int, float]]:
    """Each current municipality's 2028 recipients and expenditure in the built sample (the year
    before the hand-made 2030 extracts)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {code: (int(r), float(e)) for code, r, e in con.execute(
            """select municipality_code, recipients_mandatory_services, expenditure_mandatory_services_eur
               from intermediate.int_provision__per_capita where year = 2028""").fetchall()}


@pytest.fixture(scope="module")
def future_build(sample_build, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("future_years")
    shutil.copytree(sample_build.paths.data_dir, root / "data")
    paths = use_data_dir(mp, root / "data")
    mp.setenv("TRUST_TODAY", "2031-05-04")
    codebooks = root / "codebooks"
    shutil.copytree(CODEBOOK_DIR, codebooks)
    (codebooks / "wave_2031.yml").write_text(
        codebook_yaml(2031, fieldwork=("2031-02-03", "2031-03-27"), expected=(500, 5000),
                      extra="kept_attributes:\n  interview_date: {variable: int_datums}\n"), encoding="utf-8")
    mp.setenv("TRUST_CODEBOOK_DIR", str(codebooks))
    codes = [code for code, _ in _units()]
    wave = rows_by_rule(630, codes, first_id=310001)
    # the firm's file also carries an interview date (kept) and the interviewer's name (not mapped: ignored)
    extra = [[f"2031-02-{3 + i % 20:02d}", f"Intervētāja {i % 9}"] for i in range(len(wave))]
    write_bytes(paths.survey_landing / "2031" / "monitorings_2031_dati.csv",
                csv_bytes(HEADER + ["int_datums", "intervetajs"], [r + e for r, e in zip(wave, extra)]))
    before = figures_2028(paths.warehouse_path)
    for i, (code, name) in enumerate(_units()):
        extract_2030(paths.admin_landing / "2030" / f"{name} 2030.xlsx", code, name, i, before[_current(code)])
    summary = run_pipeline()
    yield paths, wave, summary, before
    mp.undo()


def test_a_2031_wave_and_2030_extracts_load_and_reach_the_marts(future_build):
    paths, wave, summary, _ = future_build
    assert summary.success, summary.render()
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        n, madona = con.execute(
            """select count(*), count(*) filter (where current_municipality_code = '0038001')
               from marts.fct_respondent where wave_year = 2031""").fetchone()
        exact, published = (con.execute(
            f"""select estimate from {table}
               where indicator_code = 'trust_top2' and wave_year = 2031 and geo_level = 'national'
                 and subgroup_type = 'all' and measure = 'share_incl_hard_to_say'""").fetchone()
            for table in ("intermediate.int_indicator_estimates", "marts.mart_indicator_estimates"))
        aliases = con.execute("select source_kind, delivered_code, sum(rows_affected) from audit.code_aliases_applied "
                              "group by all order by all").fetchall()
    assert n == 630 and madona == sum(r[1] == "0038000" for r in wave)
    weights = [float(r[6].replace(",", ".")) for r in wave]
    top2 = sum(w for r, w in zip(wave, weights) if r[5] in (1, 2)) / sum(weights)
    assert exact == (pytest.approx(top2),)
    assert published == (pytest.approx(round(top2, 2)),)  # shares are published to two decimals
    assert aliases == [("admin", "0038000", 1), ("survey", "0038000", madona)]


def test_a_kept_attribute_is_kept_and_an_unmapped_name_is_stored_nowhere(future_build):
    paths, wave, summary, _ = future_build
    assert summary.success
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        kept = con.execute("select value_text from raw.survey_cells where wave = 2031 and variable = 'int_datums' "
                           "order by row_number").fetchall()
        names = con.execute("select count(*) from raw.survey_cells where value_text like 'Intervētāja%'").fetchone()
        ignored = con.execute("select column_name, position from audit.ignored_columns where partition_key = '2031'"
                              ).fetchall()
    assert [r[0] for r in kept] == [f"2031-02-{3 + i % 20:02d}" for i in range(len(wave))]
    assert names == (0,) and ignored == [("intervetajs", 9)]


def test_a_year_after_the_reference_population_uses_the_newest_with_a_flag(future_build):
    paths, _, summary, before = future_build
    assert summary.success
    ref = {r["atvk_code"]: int(r["population"]) for r in _seed("ref_municipalities_2021")}
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        rows = {code: (r, p, basis, src, per1000) for code, r, p, basis, src, per1000 in con.execute(
            """select municipality_code, recipients_mandatory_services, population, population_basis,
                      population_source, recipients_per_1000
               from marts.mart_provision_per_capita where year = 2030""").fetchall()}
    assert len(rows) == 42
    r, p, basis, src, per1000 = rows["0034000"]  # Ķekavas novads
    assert r == before["0034000"][0] + 5 and p == ref["0034000"]
    assert basis == "newest_available" and "newest available" in src and "2030" in src
    assert per1000 == pytest.approx(1000 * r / p)
    r, p, basis, _, _ = rows["0038001"]  # merged Madona: its 2021 code in the workbook, both parts' population
    assert r == before["0038001"][0] + 5 and p == ref["0038000"] + ref["0055000"]
    assert basis == "newest_available"
    assert {b for _, _, b, _, _ in rows.values()} == {"newest_available"}
