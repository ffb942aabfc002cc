"""LM data-table workbooks as municipalities fill them in, made by hand (tests/foreign/builder.py).
Each either loads, with its figures checked against values computed here, or is rejected with a
message checked word for word naming the sheet and cell; a rejected workbook changes no raw table."""
from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.readers.admin_table import parse_number
from ingest.warehouse import admin_files, load_admin_extract
from tests.foreign.builder import LM_HEADER, lm_rows, workbook

SHEET1 = "Dienas aprūpes centri"
SHEET2 = "Obligātie pakalpojumi"
AGES = [3, 40, 300, 250, 280, 120, 19]  # 0-17 ... 90+, sum 1012


def spaced(n: int) -> str:
    """A number as a person types it into a text cell: "1 012"."""
    return f"{n:,}".replace(",", " ")


def dac_rows() -> list[list]:
    """The LABIS rows of sheet 1, with the total of row 7 left blank (only its sub-rows known)."""
    return [
        ["7", "Dienas aprūpes centra pakalpojums pilngadīgām personām", "Personu skaits pašvaldībā", None, None, None,
         "X", None, None, None, None, None, None, "X", "VDEĀVK/LABIS"],
        ["7.1.", None, "t.sk. I grupa", spaced(1012), spaced(540), "472", *[spaced(a) for a in AGES], "x", "LABIS"],
        ["7.2.", None, "t.sk. II grupa", 60, 31, 29, "x", 4, 20, 14, 12, 8, 2, "x", "LABIS"],
        ["11", None, "Saņēmēji pašvaldībā", 65, 35, 30, "x", None, None, None, None, None, None, "61 230,50",
         "SPOLIS"],
    ]


def services_rows() -> list[list]:
    """Sheet 2: row 13 (total blank), its ten sub-rows with recipients and expenditure, 14 and 15."""
    rows = [["13", None, "Obligāto pakalpojumu saņēmēji", None, None, None, "x", "x", "x", "x", "x", "x", "x", None,
             "SPOLIS"]]
    for k in range(1, 11):
        total = 10 * k + 1
        rows.append([f"13.{k}.", None, f"t.sk. pakalpojums {k}", total, None, None, "x", "x", "x", "x", "x", "x", "x",
                     f"{1000 * k + 0.25:.2f}".replace(".", ","), "SPOLIS"])
    rows.append(["14", None, "Rindā gada beigās", 7, 4, 3, "x", "x", "x", "x", "x", "x", "x", "x", "SPOLIS"])
    rows.append(["15", None, "Sociālā darba speciālisti", 12, 11, 1, "x", "x", "x", "x", "x", "x", "x", "x", "SPOLIS"])
    return rows


def kekava(path: Path, *, title: dict | None = None, year: int = 2029, extra_cells: dict | None = None,
           merges: list[str] | None = None, sheet2: bool = True) -> Path:
    """Ķekavas novads as its social service filled the table in."""
    cells = title if title is not None else {"A1": "Sociālās vides izpētes datu tabula",
                                             "A2": "Pašvaldība: Ķekavas novads (0034000)",
                                             "A3": f"Pārskata gads: {year}"}
    first = {"name": SHEET1,
             "cells": {**cells, "A5": "Dienas aprūpes centru pakalpojumi", "A10": "LABIS dati par saņēmējiem",
                       "A13": "Aizpildīja: Anna Bērziņa, tālr. 67000000", **(extra_cells or {})},
             "rows": [(6, LM_HEADER)] + lm_rows(7, dac_rows()[:3]) + lm_rows(11, dac_rows()[3:]),
             "merges": ["A5:O5", "A10:O10", *(merges or [])]}
    sheets = [first]
    if sheet2:
        sheets.append({"name": SHEET2, "cells": {"A1": "Sociālie pakalpojumi (SPOLIS gada pārskats)"},
                       "rows": [(2, LM_HEADER)] + lm_rows(3, services_rows())})
    return workbook(path, sheets)


def raw_rows(con) -> int:
    return con.execute("select count(*) from raw.admin_table_rows").fetchone()[0]


def rejected(con, path: Path, year: int = 2029) -> IngestError:
    before = raw_rows(con)
    with pytest.raises(IngestError) as err:
        load_admin_extract(con, path, expected_year=year)
    assert raw_rows(con) == before
    assert con.execute("select status from audit.file_loads order by loaded_at desc limit 1").fetchone() == ("rejected",)
    return err.value


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setenv("TRUST_TODAY", "2030-03-02")


def figures(con) -> dict[str, dict]:
    df = con.execute("select * from raw.admin_table_rows").df()
    return {r["row_no"]: r for r in df.to_dict("records")}


# --- loads ----------------------------------------------------------------------------------------------------------

def test_a_workbook_as_a_municipality_fills_it_loads(con, tmp_path):
    path = kekava(tmp_path / "admin" / "2029" / "Ķekava 2029 gala versija.xlsx")
    result = load_admin_extract(con, path, expected_year=2029)
    assert (result["status"], result["key"]) == ("loaded", "0034000/2029")
    rows = figures(con)
    assert sorted(rows) == sorted(["7", "7.1", "7.2", "11", "13", *[f"13.{k}" for k in range(1, 11)], "14", "15"])
    assert {r["sheet"] for r in rows.values()} == {SHEET1, SHEET2}
    # numbers typed as text: "1 012" and "61 230,50"
    assert parse_number(rows["7.1"]["total"]) == 1012 and parse_number(rows["7.1"]["women"]) == 540
    assert sum(parse_number(rows["7.1"][c]) for c in ("age_0_17", "age_18_24", "age_25_54", "age_55_64",
                                                      "age_65_79", "age_80_89", "age_90_plus")) == sum(AGES)
    assert parse_number(rows["11"]["expenditure_eur"]) == 61230.5
    # totals left blank where only the sub-rows are known stay "not reported"; the sub-rows carry the figures
    assert con.execute("select row_no from raw.admin_table_rows where total is null order by 1").fetchall() == [
        ("13",), ("7",)]
    assert sum(parse_number(rows[f"13.{k}"]["total"]) for k in range(1, 11)) == sum(10 * k + 1 for k in range(1, 11))
    assert sum(parse_number(rows[f"13.{k}"]["expenditure_eur"]) for k in range(1, 11)) == \
        pytest.approx(sum(1000 * k + 0.25 for k in range(1, 11)))
    assert con.execute("select distinct municipality_code, municipality_name, year from raw.admin_table_rows"
                       ).fetchall() == [("0034000", "Ķekavas novads", 2029)]
    # the section rows and the filler's name are not data: skipped, and the name is stored nowhere
    assert [r["excel_row"] for r in rows.values() if r["sheet"] == SHEET1] == [7, 8, 9, 11]
    assert con.execute("select count(*) from raw.admin_table_rows where source_comment like '%Bērziņa%' "
                       "or data_type like '%Bērziņa%'").fetchone() == (0,)
    assert "row 13 of sheet 'Dienas aprūpes centri' skipped: text only ('Aizpildīja: Anna Bērziņa, tālr. 67000000')" \
        in result["notes"]


@pytest.mark.parametrize(
    "title",
    [
        {"A2": "Pašvaldība", "B2": "Ķekavas novads", "D2": "ATVK", "E2": 34000, "A3": "Gads", "B3": 2029},
        {"C1": "Pašvaldība: Ķekavas novads", "C2": "Sociālās vides izpētes datu tabula par 2029. gadu"},
        {"A1": "Pašvaldības nosaukums:", "A2": "Ķekavas novads", "A3": "Teritorijas kods: LV0034000",
         "A4": "Periods: 01.01.2029.-31.12.2029."},
    ],
    ids=["label_value_cells_code_as_number", "name_only_year_in_heading", "labels_above_values_csp_code"],
)
def test_the_title_is_read_for_its_meaning(con, tmp_path, title):
    path = kekava(tmp_path / "admin" / "2029" / "atskaite.xlsx", title=title)
    result = load_admin_extract(con, path, expected_year=2029)
    assert result["key"] == "0034000/2029"


def test_lowercase_x_markers_load_as_not_available(con, tmp_path):
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx")
    load_admin_extract(con, path, expected_year=2029)
    marks = con.execute("select age_0_17, expenditure_eur from raw.admin_table_rows where row_no = '7.2'").fetchone()
    assert marks == ("x", "x")
    # every x the two sheets hold, counted from the rows written above
    written = sum(str(v) == "x" for r in dac_rows() + services_rows() for v in r[3:14])
    columns = ["total", "women", "men", "age_0_17", "age_18_24", "age_25_54", "age_55_64", "age_65_79", "age_80_89",
               "age_90_plus", "expenditure_eur"]
    stored = con.execute("select " + " + ".join(f"count(*) filter (where {c} = 'x')" for c in columns)
                         + " from raw.admin_table_rows").fetchone()[0]
    assert stored == written


def test_madona_under_its_2021_code_loads_as_the_merged_unit(con, tmp_path):
    title = {"A2": "Pašvaldība: Madonas novads (0038000)", "A3": "Gads: 2029"}
    path = kekava(tmp_path / "admin" / "2029" / "Madona.xlsx", title=title)
    result = load_admin_extract(con, path, expected_year=2029)
    assert result["key"] == "0038001/2029"
    assert con.execute("select distinct municipality_code from raw.admin_table_rows").fetchall() == [("0038001",)]
    assert con.execute("select variable, delivered_code, applied_code from audit.code_aliases_applied").fetchall() == [
        ("title block", "0038000", "0038001")]


def test_a_2030_workbook_loads_once_2030_has_come(con, tmp_path, monkeypatch):
    path = kekava(tmp_path / "admin" / "2030" / "kekava_2030.xlsx", year=2030)
    monkeypatch.setenv("TRUST_TODAY", "2029-12-31")
    err = rejected(con, path, 2030)
    assert err.describe() == (f"file {path}, sheet '{SHEET1}': the extract's year is after the current year 2029 "
                              "(today is 2029-12-31): a report from the future? Check the year in the title "
                              "(value: 2030)")
    monkeypatch.setenv("TRUST_TODAY", "2031-02-01")
    # a rejected delivery is held until someone retries it (`make load` does): retry=True
    assert load_admin_extract(con, path, expected_year=2030, retry=True)["key"] == "0034000/2030"


def test_excel_lock_files_and_hidden_files_are_not_deliveries(tmp_path):
    good = kekava(tmp_path / "admin" / "2029" / "Kekava.XLSX")
    (tmp_path / "admin" / "2029" / "~$Kekava.XLSX").write_bytes(b"owner file of an open workbook")
    (tmp_path / "admin" / "2029" / ".~lock.Kekava.XLSX#").write_bytes(b"LibreOffice lock")
    assert admin_files(tmp_path / "admin") == [good]


# --- rejected -----------------------------------------------------------------------------------------------------

def test_a_formula_without_a_saved_value_is_rejected_naming_its_cell(con, tmp_path):
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx", extra_cells={"D9": "=E9+F9"})
    err = rejected(con, path)
    assert err.describe() == (f"file {path}, cell '{SHEET1}'!D9: formula =E9+F9 has no saved value (the workbook was "
                              "written by a program that does not calculate formulas): open and save it in Excel or "
                              "LibreOffice, or type the value")


def test_merged_cells_among_the_figures_are_rejected_naming_the_cell(con, tmp_path):
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx", merges=["E9:F9"])
    err = rejected(con, path)
    assert err.describe() == (f"file {path}, cell '{SHEET1}'!E9: merged cells E9:F9 among the figures: a merged cell "
                              "shows one value over several cells and the others read as 'not reported'; unmerge "
                              "them and fill every cell")


def test_fractional_persons_are_rejected_but_expenditure_may_have_cents(con, tmp_path):
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx", extra_cells={"D9": "60,5"})
    err = rejected(con, path)
    assert err.describe() == f"file {path}, cell '{SHEET1}'!D9: a count of persons must be a whole number (value: '60,5')"


def test_a_title_label_without_a_value_is_rejected_naming_its_cell(con, tmp_path):
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx", title={"A2": "Pašvaldība:", "A3": "Gads: 2029"})
    err = rejected(con, path)
    assert err.describe() == f"file {path}, cell '{SHEET1}'!A2: 'Pašvaldība' has no value beside it (value: 'Pašvaldība:')"


def test_a_workbook_that_never_names_its_municipality_is_rejected(con, tmp_path):
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx", title={"A3": "Gads: 2029"})
    err = rejected(con, path)
    assert err.describe() == (f"file {path}, sheet '{SHEET1}': no sheet names the municipality (a cell such as "
                              "'Pašvaldība: Ķekavas novads (0034000)' or 'ATVK kods' above the header)")


def test_a_file_name_naming_another_municipality_is_rejected(con, tmp_path):
    path = kekava(tmp_path / "admin" / "2029" / "LM_datu_tabula_0031000_2029.xlsx")
    err = rejected(con, path)
    assert err.describe() == (f"file {path}, cell '{SHEET1}'!A2: the file name says municipality 0031000 but the "
                              "workbook's title says 0034000: which is right? Correct the title or the file name "
                              "(value: '0034000')")
