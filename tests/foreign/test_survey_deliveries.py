"""Survey waves shaped like real firms' deliveries, made by hand (tests/foreign/builder.py).
Each either loads, with its figures checked against values computed here, or is rejected with
a message checked word for word; a rejected file leaves the raw tables as they were."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest.codebook import load_codebook
from ingest.errors import IngestError
from ingest.settings import DBT_SEED_DIR
from ingest.warehouse import load_survey_wave
from tests.foreign.builder import codebook_yaml, csv_bytes, write_bytes, write_sav

RAW = ("survey_cells", "survey_waves", "survey_variables", "survey_value_labels", "codebook_values")
HEADER = ["resp", "pasv", "dzim", "vec", "kl", "uzt", "svars"]


def units_42() -> list[str]:
    """The 42 current units, read here from the reference seed file itself."""
    with (DBT_SEED_DIR / "reference" / "ref_crosswalk_2021_2025.csv").open(encoding="utf-8") as fh:
        return sorted({r["new_atvk_code"] for r in csv.DictReader(fh)})


def rows_by_rule(n: int, codes: list[str], first_id: int = 290001) -> list[list]:
    """n respondents built by rule: [resp, pasv, dzim, vec, kl, uzt, svars] (weights with decimal commas)."""
    return [[first_id + i, codes[i % len(codes)], 1 + i % 2, 20 + i % 50, 1 if i % 3 == 0 else 2,
             [1, 2, 2, 3, 9][i % 5], "1,5" if i % 4 == 0 else "1"] for i in range(n)]


def counts(con) -> dict:
    return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW}


def codebook(tmp_path: Path, wave: int, text: str):
    cb_path = tmp_path / "codebooks" / f"wave_{wave}.yml"
    cb_path.parent.mkdir(parents=True, exist_ok=True)
    cb_path.write_text(text, encoding="utf-8")
    return load_codebook(cb_path)


def deliver(tmp_path: Path, wave: int, name: str, data: bytes, codebook_text: str) -> tuple[Path, object]:
    return write_bytes(tmp_path / "landing" / "survey" / str(wave) / name, data), codebook(tmp_path, wave, codebook_text)


def rejected(con, path: Path, cb) -> IngestError:
    before = counts(con)
    with pytest.raises(IngestError) as err:
        load_survey_wave(con, path, cb)
    assert counts(con) == before, "a rejected file changed the raw tables"
    assert con.execute("select status from audit.file_loads order by loaded_at desc limit 1").fetchone() == ("rejected",)
    return err.value


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setenv("TRUST_TODAY", "2029-06-30")


def cell_values(con, wave: int, variable: str) -> list:
    return [r[0] for r in con.execute(
        "select coalesce(value_text, cast(value_num as varchar)) from raw.survey_cells where wave = ? and variable = ? "
        "order by row_number", [wave, variable]).fetchall()]


# --- 1. the merged Madonas novads under its 2021 code ---------------------------------------------------------

def test_madona_under_its_2021_code_loads_as_the_merged_unit(con, tmp_path):
    codes = [c for c in units_42() if c != "0038001"] + ["0038000", "0055000"]  # the firm's code list: 2021 codes
    rows = rows_by_rule(86, codes)
    path, cb = deliver(tmp_path, 2029, "monitorings_2029_dati.csv", csv_bytes(HEADER, rows),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31")))
    result = load_survey_wave(con, path, cb)
    assert result["status"] == "loaded" and result["respondents"] == 86
    n_madona = sum(r[1] == "0038000" for r in rows)
    n_varakl = sum(r[1] == "0055000" for r in rows)
    delivered = [r[1] for r in rows]
    expected = ["0038001" if c in ("0038000", "0055000") else c for c in delivered]
    assert cell_values(con, 2029, "pasv") == expected
    assert con.execute("select delivered_code, applied_code, rows_affected, alias_valid_from, alias_valid_to "
                       "from audit.code_aliases_applied order by 1").fetchall() == [
        ("0038000", "0038001", n_madona, pd.Timestamp("2025-07-01").date(), None),
        ("0055000", "0038001", n_varakl, pd.Timestamp("2025-07-01").date(), None)]
    assert (f"municipality code 0038000 read as 0038001 in {n_madona} rows (alias valid 2025-07-01 to open, "
            "seed reference/ref_code_aliases)") in result["notes"]


def test_merged_code_alias_does_not_apply_before_the_merger(con, tmp_path):
    """The same alias for a wave whose fieldwork (spring 2025) was before the 1 July 2025 merger."""
    rows = rows_by_rule(40, ["0001000", "0038000"])
    path, cb = deliver(tmp_path, 2025, "m_2025.csv", csv_bytes(HEADER, rows),
                       codebook_yaml(2025, fieldwork=("2025-02-03", "2025-03-28")))
    err = rejected(con, path, cb)
    assert err.describe() == (
        f"file {path}, line 3 (respondent 290002), column 'pasv': municipality code unknown in boundary set "
        "post2025_42; its alias for 0038001 (seed reference/ref_code_aliases) is valid 2025-07-01 to open, which "
        "does not cover 2025-02-03 to 2025-03-28 (value: '0038000')")


# --- 2. names, interview dates and interviewer ids --------------------------------------------------------------

FIELD_HEADER = HEADER[:2] + ["pasv_nosaukums", "intervijas_datums", "intervetajs"] + HEADER[2:]


def field_rows(n: int) -> list[list]:
    names = {"0001000": "Rīga", "0034000": "Ķekavas novads", "0038001": "Madonas novads"}
    out = []
    for r in rows_by_rule(n, list(names)):
        out.append(r[:2] + [names[r[1]], f"2029-02-{1 + r[0] % 28:02d}", f"INT-{r[0] % 7:03d}"] + r[2:])
    return out


def test_columns_the_codebook_does_not_map_are_ignored_and_not_stored(con, tmp_path):
    rows = field_rows(30)
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(FIELD_HEADER, rows),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"), coverage=["0001000", "0034000", "0038001"]))
    result = load_survey_wave(con, path, cb)
    assert result["status"] == "loaded" and result["respondents"] == 30
    assert result["notes"] == [
        "ignored column 'pasv_nosaukums' (position 3): not in codebook wave_2029.yml; not stored",
        "ignored column 'intervijas_datums' (position 4): not in codebook wave_2029.yml; not stored",
        "ignored column 'intervetajs' (position 5): not in codebook wave_2029.yml; not stored"]
    assert con.execute("select column_name, position from audit.ignored_columns order by position").fetchall() == [
        ("pasv_nosaukums", 3), ("intervijas_datums", 4), ("intervetajs", 5)]
    stored = con.execute("select count(*) from raw.survey_cells where value_text in ('Rīga', 'Ķekavas novads') "
                         "or value_text like 'INT-%' or value_text like '2029-02-%'").fetchone()[0]
    assert stored == 0
    assert sorted(r[0] for r in con.execute("select variable from raw.survey_variables").fetchall()) == sorted(HEADER)
    # the figures of the mapped columns are untouched by the columns in between
    assert cell_values(con, 2029, "uzt") == [str(float(r[-2])) for r in rows]
    weights = [float(r[-1].replace(",", ".")) for r in rows]
    assert [float(v) for v in cell_values(con, 2029, "svars")] == weights


def test_a_declared_text_attribute_is_kept_as_delivered(con, tmp_path):
    rows = field_rows(30)
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(FIELD_HEADER, rows),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"), coverage=["0001000", "0034000", "0038001"],
                                     extra="kept_attributes:\n  interview_date: {variable: intervijas_datums}\n"))
    result = load_survey_wave(con, path, cb)
    assert result["status"] == "loaded"
    assert cell_values(con, 2029, "intervijas_datums") == [r[3] for r in rows]
    assert con.execute("select role, item_code from raw.codebook_variables where source_variable = 'intervijas_datums'"
                       ).fetchall() == [("kept", "interview_date")]
    ignored = con.execute("select column_name from audit.ignored_columns order by position").fetchall()
    assert [r[0] for r in ignored] == ["pasv_nosaukums", "intervetajs"]


def test_strict_columns_refuses_columns_the_codebook_does_not_map(con, tmp_path):
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(FIELD_HEADER, field_rows(30)),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"), extra="strict_columns: true\n"))
    err = rejected(con, path, cb)
    assert err.describe() == (
        f"file {path}, column 'pasv_nosaukums': columns not in codebook wave_2029.yml, which says strict_columns: "
        "true: map them, keep them (kept_attributes) or list them in delivery.extra_columns "
        "(value: pasv_nosaukums, intervijas_datums, intervetajs)")


# --- 3. SPSS with string variables -------------------------------------------------------------------------------

def spss_frame(n: int) -> pd.DataFrame:
    codes = units_42()
    return pd.DataFrame({
        "ID": [f"R{i:04d}" for i in range(1, n + 1)],                      # text ids
        "NOVADS": [codes[i % 42] for i in range(n)],                         # string variable A7
        "DZIMUMS": [float(1 + i % 2) for i in range(n)],
        "VECUMS": [float(18 + i % 60) for i in range(n)],
        "KLIENTS": [float(1 if i % 4 == 0 else 2) for i in range(n)],
        "UZTICAS": [str([1, 2, 3, 9][i % 4]) for i in range(n)],            # a coded item delivered as text
        "INTERVIJETAJS": [f"Intervētājs {i % 5}" for i in range(n)],          # a name: not to be stored
        "DATUMS": [pd.Timestamp("2029-02-01") + pd.Timedelta(days=i % 20) for i in range(n)],
        "SVARS": [0.75 if i % 2 else 1.25 for i in range(n)],
    })


def test_spss_with_string_variables_loads(con, tmp_path):
    df = spss_frame(60)
    path = write_sav(tmp_path / "landing" / "survey" / "2029" / "monitorings_2029.sav", df,
                     labels={"UZTICAS": "Uzticēšanās sociālajam dienestam"}, formats={"DATUMS": "DATE11"})
    cb = codebook(tmp_path, 2029, codebook_yaml(
        2029, fmt="spss", data_file="*.sav", fieldwork=("2029-02-01", "2029-03-31"), id_var="ID", weight="SVARS",
        muni="NOVADS", sex="DZIMUMS", age="VECUMS", client="KLIENTS", trust="UZTICAS"))
    result = load_survey_wave(con, path, cb)
    assert result["status"] == "loaded" and result["respondents"] == 60
    trust = pd.Series([float(v) for v in cell_values(con, 2029, "UZTICAS")])
    assert trust.value_counts().to_dict() == df["UZTICAS"].astype(float).value_counts().to_dict()
    ids = [r[0] for r in con.execute("select distinct respondent_source_id from raw.survey_cells order by 1").fetchall()]
    assert ids == sorted(df["ID"])
    ignored = con.execute("select column_name from audit.ignored_columns order by position").fetchall()
    assert [r[0] for r in ignored] == ["INTERVIJETAJS", "DATUMS"]
    assert con.execute("select count(*) from raw.survey_cells where value_text like 'Intervētājs%'").fetchone() == (0,)


def test_spss_code_not_in_codebook_is_shown_as_written(con, tmp_path):
    df = spss_frame(60)
    df.loc[6, "DZIMUMS"] = 5.0
    path = write_sav(tmp_path / "landing" / "survey" / "2029" / "monitorings_2029.sav", df)
    cb = codebook(tmp_path, 2029, codebook_yaml(
        2029, fmt="spss", data_file="*.sav", fieldwork=("2029-02-01", "2029-03-31"), id_var="ID", weight="SVARS",
        muni="NOVADS", sex="DZIMUMS", age="VECUMS", client="KLIENTS", trust="UZTICAS"))
    err = rejected(con, path, cb)
    assert err.describe() == (f"file {path}, row 7 (respondent R0007), column 'DZIMUMS': code not in codebook "
                              "wave_2029.yml (value: 5). If the survey firm excluded this row itself (a status column "
                              "of its own), the codebook can say so: row_status (docs/codebooks.md)")


# --- 4. encodings and the shape of the CSV -------------------------------------------------------------------------

def test_utf8_csv_with_a_byte_order_mark_declared_utf8_loads(con, tmp_path):
    rows = rows_by_rule(40, ["0001000", "0034000"])
    cb_text = codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"),
                            coverage=["0001000", "0034000"]).replace("encoding: cp1257", "encoding: utf-8")
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(HEADER, rows, encoding="utf-8", bom=True), cb_text)
    result = load_survey_wave(con, path, cb)
    assert result["respondents"] == 40
    ids = [int(r[0]) for r in con.execute("select distinct respondent_source_id from raw.survey_cells").fetchall()]
    assert sorted(ids) == [r[0] for r in rows]


def test_utf8_csv_with_a_byte_order_mark_declared_cp1257_is_rejected(con, tmp_path):
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(HEADER, rows_by_rule(40, ["0001000"]), encoding="utf-8",
                                                              bom=True),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31")))
    err = rejected(con, path, cb)
    assert err.describe() == (f"file {path}: the file is UTF-8 encoded (it starts with a UTF-8 byte-order mark), "
                              "but its codebook says cp1257; re-export it or correct delivery.encoding")


def test_a_column_named_twice_is_rejected_in_words(con, tmp_path):
    header = HEADER + ["uzt"]
    rows = [r + [r[5]] for r in rows_by_rule(40, ["0001000"])]
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(header, rows),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31")))
    err = rejected(con, path, cb)
    assert err.describe() == (f"file {path}, line 1, column 'uzt': column 'uzt' appears twice in the header "
                              "(columns 6 and 8); name each column once")


def test_a_trailing_separator_on_every_line_is_an_empty_column_and_ignored(con, tmp_path):
    rows = rows_by_rule(40, ["0001000", "0034000"])
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(HEADER, rows, trailing_sep=True),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"), coverage=["0001000", "0034000"]))
    result = load_survey_wave(con, path, cb)
    assert result["respondents"] == 40
    assert result["notes"] == ["ignored column '(column 8, no name)' (position 8): empty column after the last one "
                               "(a trailing ';'?); not stored"]
    assert [float(v) for v in cell_values(con, 2029, "svars")] == [float(r[-1].replace(",", ".")) for r in rows]


def test_a_truncated_last_line_is_called_truncated(con, tmp_path):
    rows = rows_by_rule(40, ["0001000"])
    data = csv_bytes(HEADER, rows)
    cut = data[: data.rstrip(b"\r\n").rfind(b";", 0, data.rstrip(b"\r\n").rfind(b";"))]  # mid-line, 2 fields lost
    path, cb = deliver(tmp_path, 2029, "dati.csv", cut, codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31")))
    err = rejected(con, path, cb)
    assert err.describe() == (f"file {path}, line 41: the last line is truncated: it has 5 of the 7 fields of the "
                              "header and the file ends without a line break; was the file cut off?")


@pytest.mark.parametrize(
    "column, bad, problem",
    [("svars", "inf", "weight is missing, zero, negative or not finite"),
     ("vec", "34,5", "age is not a whole number of years")],
    ids=["infinite_weight", "fractional_age"],
)
def test_values_that_pass_as_numbers_but_are_impossible(con, tmp_path, column, bad, problem):
    rows = rows_by_rule(40, ["0001000"])
    rows[11][HEADER.index(column)] = bad
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(HEADER, rows),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31")))
    err = rejected(con, path, cb)
    assert err.describe() == f"file {path}, line 13 (respondent 290012), column '{column}': {problem} (value: '{bad}')"


def test_a_two_million_line_csv_is_refused_before_it_is_parsed(con, tmp_path, monkeypatch):
    import ingest.survey.read as reader

    def must_not_parse(*a, **k):
        raise AssertionError("the file was decoded or parsed before its size was checked")

    monkeypatch.setattr(reader, "_decode", must_not_parse)
    monkeypatch.setattr(reader, "_csv_records", must_not_parse)
    line = b"290001;0001000;1;40;2;1;1\r\n"
    data = b";".join(h.encode() for h in HEADER) + b"\r\n" + line * 2_000_000
    path, cb = deliver(tmp_path, 2029, "dati.csv", data, codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"),
                                                                      expected=(500, 20000)))
    err = rejected(con, path, cb)
    assert err.describe() == (f"file {path}: the file has 2000000 data lines, more than the 20000 respondents expected "
                              "for wave 2029 (expected_respondents in codebook wave_2029.yml or "
                              "ingest/config/survey_delivery.yml); it was not read further")


# --- 5. the calendar -----------------------------------------------------------------------------------------------

def test_a_2031_wave_loads_once_its_fieldwork_is_over(con, tmp_path, monkeypatch):
    rows = rows_by_rule(42, units_42(), first_id=310001)
    path, cb = deliver(tmp_path, 2031, "monitorings_2031.csv", csv_bytes(HEADER, rows),
                       codebook_yaml(2031, fieldwork=("2031-02-03", "2031-03-28")))
    monkeypatch.setenv("TRUST_TODAY", "2031-03-15")
    err = rejected(con, path, cb)
    assert err.describe() == (f"file {path}: the wave's fieldwork (2031-02-03 to 2031-03-28, codebook wave_2031.yml) "
                              "ends after today (2031-03-15): a delivery from the future? Check the codebook's wave "
                              "and fieldwork")
    monkeypatch.setenv("TRUST_TODAY", "2031-05-04")
    assert load_survey_wave(con, path, cb)["status"] == "held"  # rejected before: not read again unasked ...
    result = load_survey_wave(con, path, cb, retry=True)  # ... until someone retries it (`make load` does)
    assert result["status"] == "loaded" and result["respondents"] == 42
    assert con.execute("select wave, n_respondents from raw.survey_waves").fetchall() == [(2031, 42)]


# --- 6. an Excel wave written by a script ----------------------------------------------------------------------------

def excel_wave(tmp_path: Path, edit=None) -> tuple[Path, object]:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Dati"
    ws.append(HEADER)
    for r in rows_by_rule(30, ["0001000", "0034000"]):
        ws.append([r[0], r[1], r[2], r[3], r[4], r[5], float(r[6].replace(",", "."))])
    if edit:
        edit(ws)
    path = tmp_path / "landing" / "survey" / "2029" / "aptauja_2029.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    cb = codebook(tmp_path, 2029, codebook_yaml(2029, fmt="excel", data_file="*.xlsx",
                                                fieldwork=("2029-02-01", "2029-03-31"),
                                                coverage=["0001000", "0034000"]))
    return path, cb


def test_an_excel_wave_loads_with_its_figures(con, tmp_path):
    path, cb = excel_wave(tmp_path)
    assert load_survey_wave(con, path, cb)["respondents"] == 30
    rows = rows_by_rule(30, ["0001000", "0034000"])
    assert [float(v) for v in cell_values(con, 2029, "svars")] == [float(r[6].replace(",", ".")) for r in rows]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ws: ws.__setitem__("G5", "=1/2"),
         "cell 'Dati'!G5: formula =1/2 has no saved value (the workbook was written by a program that does not "
         "calculate): open and save it in Excel or LibreOffice, or deliver values"),
        (lambda ws: ws.merge_cells("E6:F6"),
         "cell 'Dati'!E6: merged cells E6:F6: one value shown over several cells; unmerge them and fill every cell"),
    ],
    ids=["formula_without_value", "merged_cells"],
)
def test_an_excel_wave_with_a_formula_or_merged_cells_is_rejected(con, tmp_path, edit, message):
    path, cb = excel_wave(tmp_path, edit)
    err = rejected(con, path, cb)
    assert err.describe() == f"file {path}, {message}"


def test_a_wave_far_smaller_than_expected_is_refused(con, tmp_path):
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(HEADER, rows_by_rule(12, ["0001000"])),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"), expected=(500, 20000)))
    err = rejected(con, path, cb)
    assert err.describe() == (f"file {path}: the file has 12 respondents, fewer than the 500 respondents expected for "
                              "wave 2029 (expected_respondents in codebook wave_2029.yml or "
                              "ingest/config/survey_delivery.yml): a truncated or partial delivery?")
