"""End to end (issue 22, "Done when" 2; items 5, 6 and 8's .xls): LM workbooks for a new year arrive one
at a time. On a copy of the built sample (years to 2028), Ķekavas novads' 2029 workbook is loaded with
`make load` as it arrives: it loads, its figures are published, the year says "1 of 42 delivered" (the
per-capita mart, make status, the data-quality page), no gate calls the partial year an error, and
every figure published for earlier years stays exactly as it was. Then the same workbook given again
from the landing folder is one delivery; Ogre's LABIS table arrives as an Excel 97 .xls; and a second,
different workbook for Ķekava 2029 put beside the first is refused by the loader naming both files,
before any transformation (no dbt test ever sees it). Figures are computed here from the workbooks made
here."""
from __future__ import annotations

import contextlib
import csv
import io
import shutil

import duckdb
import pytest
import xlwt

from ingest.settings import DBT_SEED_DIR, REPORTS_DIR
from tests.conftest import run_pipeline, use_data_dir
from tests.foreign.builder import LM_HEADER, lm_rows, workbook
from tests.state import table_fingerprints
from tests.foreign.test_label_coded_wave_e2e import page_query_on

pytestmark = pytest.mark.e2e

KEKAVA, OGRE = "0034000", "0040000"
STATUS_TABLES = {"quality_status", "quality_file_loads", "_quality_info", "_snapshot_info", "quality_admin_years",
                 "quality_rows_excluded"}
YEAR_TABLES = {"fct_service_provision": "year", "mart_provision_per_capita": "year"}


def figures_2028(warehouse) -> dict[str, tuple[int, float]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {code: (int(r), float(e)) for code, r, e in con.execute(
            """select municipality_code, recipients_mandatory_services, expenditure_mandatory_services_eur
               from intermediate.int_provision__per_capita where year = 2028""").fetchall()}


def lm_2029(before: tuple[int, float]) -> list[list]:
    """A 2029 table by rule, plausible next to the municipality's 2028 figures: each of the ten mandatory
    services gets a tenth of 2028's recipients (+1 in the odd ones) and of its expenditure (+k euros 50)."""
    recipients, spent = before
    rows = [["13", None, "Obligāto pakalpojumu saņēmēji", None, None, None, *["x"] * 7, None, "SPOLIS"]]
    for k in range(1, 11):
        rows.append([f"13.{k}.", None, f"t.sk. pakalpojums {k}", recipients // 10 + (k <= recipients % 10) + k % 2,
                     None, None, *["x"] * 7, f"{int(spent // 10) + k:,}".replace(",", " ") + ",50", "SPOLIS"])
    rows += [["14", None, "Rindā gada beigās", 3, None, None, *["x"] * 7, "x", "SPOLIS"],
             ["15", None, "Sociālā darba speciālisti", 9, None, None, *["x"] * 7, "x", "SPOLIS"]]
    return rows


def totals(rows: list[list]) -> tuple[int, float]:
    """Recipients and expenditure of the ten services, read from the rows as a person would."""
    services = [r for r in rows if r[0].startswith("13.")]
    return (sum(int(r[3]) for r in services),
            sum(float(r[13].replace(" ", "").replace(",", ".")) for r in services))


def kekava_xlsx(path, rows, *, comment: str = "SPOLIS"):
    rows = [r[:14] + [comment] for r in rows]
    return workbook(path, [{"name": "Obligātie pakalpojumi",
                            "cells": {"A1": f"Pašvaldība: Ķekavas novads ({KEKAVA})", "A2": "Pārskata gads: 2029"},
                            "rows": [(4, LM_HEADER)] + lm_rows(5, rows)}])


def ogre_xls(path, rows):
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("LABIS eksports")
    ws.write(0, 0, f"Pašvaldība: Ogres novads ({OGRE})")
    ws.write(1, 0, "Pārskata gads: 2029")
    for j, h in enumerate(LM_HEADER):
        ws.write(3, j, h)
    for i, row in enumerate(rows, start=4):
        for j, v in enumerate(row):
            if v is not None:
                ws.write(i, j, v)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(str(path))
    return path


def published_before_2029(snapshot) -> dict:
    """Every published table's fingerprint, the admin marts over the years before 2029 only."""
    out = table_fingerprints(snapshot, skip=STATUS_TABLES)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        for table, col in YEAR_TABLES.items():
            n, h = con.execute(f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {table} t "
                               f"where {col} < 2029").fetchone()
            out[f"main.{table}"] = (int(n), int(h))
    return out


@pytest.fixture(scope="module")
def partial(sample_build, tmp_path_factory):
    from orchestration.cli import main

    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("partial_year")
    shutil.copytree(sample_build.paths.data_dir, root / "data")
    paths = use_data_dir(mp, root / "data")
    mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    mp.setenv("TRUST_REPORTS", "skip")
    before = figures_2028(paths.warehouse_path)
    published = published_before_2029(paths.published_path)
    out = {}

    def cli(name, *args):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main([str(a) for a in args])
        out[name] = (rc, buf.getvalue())

    incoming = root / "no pašvaldībām"
    k_rows, o_rows = lm_2029(before[KEKAVA]), lm_2029(before[OGRE])
    kekava = kekava_xlsx(incoming / "Ķekava 2029.xlsx", k_rows)
    cli("kekava", "load", kekava, "--year", "2029")
    state = {"after_kekava": published_before_2029(paths.published_path)}
    cli("status", "status")
    cli("again", "load", paths.admin_landing / "2029" / "Ķekava 2029.xlsx", "--year", "2029")
    ogre = ogre_xls(incoming / "Ogre_LABIS_2029.xls", o_rows)
    cli("ogre", "load", ogre, "--year", "2029")
    state["after_ogre"] = published_before_2029(paths.published_path)
    # a second workbook for Ķekava 2029, different, put beside the first by hand
    second = kekava_xlsx(paths.admin_landing / "2029" / "Ķekava 2029 labots.xlsx", k_rows, comment="SPOLIS (labots)")
    duplicate = run_pipeline(year=2029)
    yield paths, published, state, out, (k_rows, o_rows), second, duplicate
    mp.undo()


def test_the_first_workbook_of_a_new_year_loads_on_arrival(partial):
    paths, _, _, out, (k_rows, _), _, _ = partial
    rc, text = out["kekava"]
    assert rc == 0, text
    lines = text.splitlines()
    assert ("  check ge_mart_provision_per_capita on marts/mart_provision_per_capita: PASSED - provision on provision "
            "per municipality and year: passed; provision_by_year on provision by year: passed") in lines
    recipients, spent = totals(k_rows)
    with duckdb.connect(str(paths.published_path), read_only=True) as snap:
        fct = snap.execute("""select row_no, measure, value from fct_service_provision
                              where municipality_code = ? and year = 2029 and source_column in ('total', 'expenditure_eur')
                                and row_no like '13.%' and value is not null order by row_no, measure""",
                           [KEKAVA]).fetchall()
    assert sum(v for _, m, v in fct if m == "count") == recipients
    assert sum(v for _, m, v in fct if m == "expenditure_eur") == pytest.approx(spent)


def test_the_partial_year_says_how_many_have_delivered_and_publishes_its_figures(partial):
    paths, _, _, _, (k_rows, o_rows), _, _ = partial
    with open(DBT_SEED_DIR / "reference" / "ref_municipalities_2021.csv", encoding="utf-8") as fh:
        population = {r["atvk_code"]: int(r["population"]) for r in csv.DictReader(fh)}
    with duckdb.connect(str(paths.published_path), read_only=True) as snap:
        rows = snap.execute("""select municipality_code, recipients_mandatory_services, recipients_per_1000,
                                      year_coverage_en, year_coverage_lv, is_complete_year
                               from mart_provision_per_capita where year = 2029 order by 1""").fetchall()
    (k_r, _), (o_r, _) = totals(k_rows), totals(o_rows)
    assert rows == [
        (KEKAVA, k_r, pytest.approx(1000 * k_r / population[KEKAVA]), "2 of 42 delivered", "2 no 42 iesniegti", False),
        (OGRE, o_r, pytest.approx(1000 * o_r / population[OGRE]), "2 of 42 delivered", "2 no 42 iesniegti", False)]
    years = page_query_on(paths.published_path, "data-quality.md", "admin_years", ["quality_admin_years"],
                          "year, year_coverage_en, status")
    assert years[0] == ("2029", "2 of 42 delivered", "daļējs / partial")
    assert years[1] == ("2028", "42 of 42 delivered", "pilns / complete")


def test_make_status_says_n_of_42_delivered(partial):
    _, _, _, out, _, _, _ = partial
    rc, text = out["status"]
    [row] = [line for line in text.splitlines() if "of 42 delivered" in line and " 2029 " in line]
    assert [cell.strip() for cell in row.strip("│ ").split("│")][:3] == ["2029", "1 of 42 delivered", "partial"]


def test_every_figure_published_for_earlier_years_stays_unchanged(partial):
    _, published, state, _, _, _, _ = partial
    assert state["after_kekava"] == published
    assert state["after_ogre"] == published


def test_the_same_workbook_given_from_the_landing_folder_is_one_delivery(partial):
    paths, _, _, out, (k_rows, _), _, _ = partial
    rc, text = out["again"]
    assert rc == 0, text
    assert "dbt tests as asset checks" in text and " 0 failed" in text
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        files = con.execute("select distinct source_file from raw.admin_table_rows where municipality_code = ? "
                            "and year = 2029", [KEKAVA]).fetchall()
        n = con.execute("select count(*) from raw.admin_table_rows where municipality_code = ? and year = 2029",
                        [KEKAVA]).fetchone()[0]
    assert files == [("Ķekava 2029.xlsx",)] and n == len(k_rows)


def test_an_excel_97_labis_table_loads_through_the_pipeline(partial):
    paths, _, _, out, (_, o_rows), _, _ = partial
    rc, text = out["ogre"]
    assert rc == 0, text
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        assert con.execute("select distinct source_file from raw.admin_table_rows where municipality_code = ? "
                           "and year = 2029", [OGRE]).fetchall() == [("Ogre_LABIS_2029.xls",)]
    assert (paths.admin_landing / "2029" / "Ogre_LABIS_2029.xls").is_file()


def test_a_second_workbook_for_one_municipality_year_is_refused_by_the_loader_naming_both(partial):
    paths, _, _, _, _, second, summary = partial
    assert not summary.success
    text = summary.render()
    # the loader reads a year's workbooks in name order: the one read second is refused, naming the first
    first, later = sorted([second.name, "Ķekava 2029.xlsx"])
    assert (f"  REJECTED: file {second.parent / later}: a second extract for municipality/year {KEKAVA}/2029 (the "
            f"first is {first}); deliver one extract per municipality and year (value: '{KEKAVA}/2029')"
            ) in text.splitlines()
    assert "dbt_build" in summary.skipped_steps and "dbt_build" not in summary.step_seconds
    assert not any(c["name"].startswith("unique") and not c["passed"] for c in summary.checks)
