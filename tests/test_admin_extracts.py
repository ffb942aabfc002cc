"""LABIS/SPOLIS workbooks: every validation rule fires on a bad workbook with its place, older
layouts parse to the same numbers, and nothing of a rejected workbook reaches raw tables or marts."""
from __future__ import annotations

import duckdb
import numpy as np
import pytest
from openpyxl import load_workbook

from ingest.errors import IngestError
from ingest.readers.admin_table import parse_number, read_admin_table
from ingest.sample.admin_extracts import SEED_ROWS, SHEET_LM, SHEET_SPOLIS, spolis_rows, write_workbook
from ingest.warehouse import connect, load_admin_extract
from tests.conftest import run_pipeline

JEKABPILS = {"atvk_code": "0031000", "name": "Jēkabpils novads", "population": 38134}
# Sheet 1 layout: header on row 8; rows 7, 7.1, 7.2 ... on rows 9, 10, 11 ...; columns A row number,
# D total, E women, F men, G-M age bands, N expenditure.


def workbook(tmp_path, name="extract.xlsx", legacy=False, year=2022):
    rows = {**SEED_ROWS, **spolis_rows(np.random.default_rng(5), JEKABPILS["population"], year)}
    path = tmp_path / name
    write_workbook(path, JEKABPILS, year, rows, legacy=legacy)
    return path


def edit(path, cells: dict, sheet=SHEET_LM):
    wb = load_workbook(path)
    for cell, value in cells.items():
        wb[sheet][cell] = value
    wb.save(path)


@pytest.mark.parametrize(
    "cells, sheet, problem, row, column, value",
    [
        ({"A10": "7.9"}, SHEET_LM, "unknown indicator row", 10, "A", "7.9"),
        ({"A11": "7.1"}, SHEET_LM, "appears twice", 11, "A", "7.1"),
        ({"E10": "daudz"}, SHEET_LM, "not a number", 10, "E", "daudz"),
        ({"H10": -7}, SHEET_LM, "negative", 10, "H", "-7"),
        ({"E10": 192}, SHEET_LM, "is not women + men", 10, "D", "345"),
        ({"I10": 64}, SHEET_LM, "sum of the age bands", 10, "D", "345"),
        ({"D10": 2}, SHEET_SPOLIS, "is not women + men", 10, "D", "2"),
    ],
    ids=["unknown_row", "duplicate_row", "not_a_number", "negative", "sex_sum", "age_sum", "spolis_sheet"],
)
def test_each_rule_fires_with_its_place(tmp_path, cells, sheet, problem, row, column, value):
    path = workbook(tmp_path)
    edit(path, cells, sheet)
    with pytest.raises(IngestError) as err:
        read_admin_table(path)
    e = err.value
    assert problem in e.problem
    assert (e.sheet, e.row, e.column, e.value) == (sheet, row, column, value)
    assert e.file.endswith("extract.xlsx")


def test_future_year_is_rejected(tmp_path, monkeypatch):
    """A year after today's (TRUST_TODAY stands for the clock) is refused; no constant caps years."""
    monkeypatch.setenv("TRUST_TODAY", "2030-06-15")
    path = workbook(tmp_path)
    edit(path, {"B5": 2031}, SHEET_LM)
    edit(path, {"B5": 2031}, SHEET_SPOLIS)
    with pytest.raises(IngestError) as err:
        read_admin_table(path)
    assert err.value.problem == ("the extract's year is after the current year 2030 (today is 2030-06-15): a report "
                                 "from the future? Check the year in the title") and err.value.value == 2031
    edit(path, {"B5": 2030}, SHEET_LM)
    edit(path, {"B5": 2030}, SHEET_SPOLIS)
    assert read_admin_table(path).year == 2030  # the same workbook for this year loads


def test_sheets_with_different_title_blocks_are_rejected(tmp_path):
    path = workbook(tmp_path)
    edit(path, {"B4": "0042000"}, SHEET_SPOLIS)
    with pytest.raises(IngestError) as err:
        read_admin_table(path)
    assert err.value.sheet == SHEET_SPOLIS and "title block differs" in err.value.problem


def test_older_layout_parses_to_the_same_numbers(tmp_path):
    """Two header rows with merged group cells, numbers as text with spaces and decimal commas."""
    new = read_admin_table(workbook(tmp_path, "new.xlsx")).rows
    old = read_admin_table(workbook(tmp_path, "old.xlsx", legacy=True)).rows
    assert any(" " in str(v) or "," in str(v) for v in old["expenditure_eur"].dropna())
    cols = ["total", "women", "men", "age_18_24", "expenditure_eur"]
    as_numbers = lambda df: [[parse_number(v) for v in r] for r in df[cols].astype(object).to_numpy()]  # noqa: E731
    assert list(old["row_no"]) == list(new["row_no"])
    assert as_numbers(old) == as_numbers(new)


def test_a_second_extract_for_the_same_municipality_year_is_rejected(tmp_path):
    con = connect(tmp_path / "wh.duckdb")
    seen: dict[str, str] = {}
    first = workbook(tmp_path, "a.xlsx")
    second = workbook(tmp_path, "b.xlsx")
    edit(second, {"D18": 41, "E18": 22})  # row 11 (recipients): a different but valid file
    assert load_admin_extract(con, first, seen=seen)["status"] == "loaded"
    before = con.execute("select count(*), min(source_file) from raw.admin_table_rows").fetchone()
    with pytest.raises(IngestError) as err:
        load_admin_extract(con, second, seen=seen)
    assert "a second extract for municipality/year 0031000/2022" in err.value.problem and "a.xlsx" in err.value.problem
    assert con.execute("select count(*), min(source_file) from raw.admin_table_rows").fetchone() == before


@pytest.mark.e2e
def test_rejected_workbook_reaches_neither_raw_tables_nor_marts(copy_of_build):
    paths = copy_of_build
    target = paths.admin_landing / "2022" / "LM_datu_tabula_0031000_2022.xlsx"

    def provision(con):
        return con.execute(
            """select row_no, source_column, value from marts.fct_service_provision
               where municipality_code = '0031000' and year = 2022 order by all"""
        ).fetchall()

    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        before = provision(con)
        load_ids = con.execute("select distinct load_id from raw.admin_table_rows where municipality_code = '0031000' "
                               "and year = 2022").fetchall()
    edit(target, {"E10": 192})  # women 192 + men 154 != total 345

    summary = run_pipeline()

    assert not summary.success
    message = summary.step_failures["load_admin_extracts"]
    assert "LM_datu_tabula_0031000_2022.xlsx" in message and "cell 'Datu tabula'!D10" in message
    assert "dbt_build" in summary.skipped_steps and not summary.materialized_any("marts/")
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        assert provision(con) == before
        assert con.execute("select distinct load_id from raw.admin_table_rows where municipality_code = '0031000' "
                           "and year = 2022").fetchall() == load_ids
        status = con.execute("select status from audit.file_loads where file_name = ? order by loaded_at desc limit 1",
                             [target.name]).fetchone()
    assert status == ("rejected",)
