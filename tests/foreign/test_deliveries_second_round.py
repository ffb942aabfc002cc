"""Deliveries, second round (issue 22), made by hand in the shapes firms and municipalities send them
(tests/foreign/builder.py; the sample generator makes none of them). Each loads with its figures
checked against values computed here, or is refused (or held) with its message checked word for word.

1. answers as text labels; 2. numbers as text; 3. the firm's own row status; 4. messages name the file
as given; 6. one municipality-year, one workbook; 8. a wave in several files, its coverage, .xls tables.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest
import xlwt
from openpyxl import Workbook

from ingest.codebook import load_codebook
from ingest.errors import IngestError
from ingest.numbers import NumberFormat, parse_number
from ingest.survey.apply_codebook import label_inventory
from ingest.warehouse import AdminItem, load_admin_extract, load_admin_extracts, load_survey_wave
from tests.foreign.builder import LM_HEADER, codebook_yaml, csv_bytes, write_bytes, write_sav
from tests.foreign.test_admin_workbooks import dac_rows, kekava, services_rows
from tests.foreign.test_survey_deliveries import HEADER, counts, rows_by_rule, units_42

FIELDWORK = ("2029-02-01", "2029-03-31")
TRUST = ["Pilnīgi uzticos", "Drīzāk uzticos", "Drīzāk neuzticos", "Pilnīgi neuzticos", "Grūti pateikt"]
TRUST_LABELS = ('    labels: {"Pilnīgi uzticos": 1, "Drīzāk uzticos": 2, "Drīzāk neuzticos": 3, "Pilnīgi neuzticos": 4, '
                '"Grūti pateikt": hard_to_say}\n')


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setenv("TRUST_TODAY", "2029-06-30")


def write_codebook(tmp_path: Path, text: str, wave: int = 2029):
    path = tmp_path / "codebooks" / f"wave_{wave}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return load_codebook(path)


def labelled_codebook(*, fmt="csv", data_file="*.csv", extra="", delivery_extra="", coverage=None,
                      trust_extra="") -> str:
    """The builder's codebook with sex, client and trust mapped by labels instead of codes."""
    text = codebook_yaml(2029, fmt=fmt, data_file=data_file, fieldwork=FIELDWORK, delivery_extra=delivery_extra,
                         coverage=coverage, extra=extra)
    text = text.replace("sex: {variable: dzim, codes: {1: male, 2: female}}",
                        'sex: {variable: dzim, labels: {"Vīrietis": male, "Sieviete": female}}')
    text = text.replace('client: {variable: kl, codes: {1: "true", 2: "false"}}',
                        'client: {variable: kl, labels: {"Jā": "true", "Nē": "false"}}')
    return text.replace("  trust_social_service: {variable: uzt, codes: {1: 1, 2: 2, 3: 3, 4: 4, 9: hard_to_say}}\n",
                        "  trust_social_service:\n    variable: uzt\n" + TRUST_LABELS + trust_extra)


def labelled_rows(n: int, codes: list[str], first_id: int = 290001) -> list[list]:
    """n respondents as text labels, by rule: [resp, pasv, dzim, vec, kl, uzt, svars]."""
    return [[first_id + i, codes[i % len(codes)], "Vīrietis" if i % 2 else "Sieviete", 20 + i % 50,
             "Jā" if i % 3 == 0 else "Nē", TRUST[i % 5], "1,5" if i % 4 == 0 else "1"] for i in range(n)]


def raw_values(con, variable: str) -> list:
    return [r[0] for r in con.execute(
        "select coalesce(value_text, cast(value_num as varchar)) from raw.survey_cells where variable = ? "
        "order by row_number", [variable]).fetchall()]


# --- 2. numbers as text: one rule ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, decimal, unit, number", [
    ("1,1217", ".", "weight", 1.1217),        # a decimal comma in a point file: it cannot group thousands
    (" 1,1217 ", ".", "weight", 1.1217),      # spaces around
    ("0,875", ".", "weight", 0.875),          # a leading 0 groups nothing
    ("1\u00a0234,5", ",", None, 1234.5),      # a no-break space groups thousands
    ("1\u202f234\u202f567", ".", None, 1234567.0),  # narrow no-break spaces
    ("1,234.5", ".", None, 1234.5),           # commas group thousands before the decimal point
    ("1.234,5", ",", None, 1234.5),           # points group thousands before the decimal comma
    ("2.5", ",", None, 2.5),                  # a decimal point in a comma file
    ("\t34 ", ".", "years", 34.0),
    ("-3", ".", "code", -3.0),
])
def test_a_number_written_as_text_is_read_by_the_one_rule(text, decimal, unit, number):
    assert parse_number(text, NumberFormat(decimal=decimal, unit=unit)) == (number, None)


AMBIGUOUS_POINT = ("this delivery's decimal mark is '.' (delivery.decimal in its codebook). Write thousands with a "
                   "space and decimals with the decimal mark, or declare the file's decimal mark in the codebook")


@pytest.mark.parametrize("text, decimal, unit, problem", [
    ("1.234,5", ".", None, "ambiguous number: ',' stands after the decimal mark '.' (is '.' a thousands separator and "
                           "',' the decimal mark?); " + AMBIGUOUS_POINT),
    ("1,234", ".", None, "ambiguous number: 1,234 is 1234 with ',' as a thousands separator or 1.234 with ',' as a "
                         "decimal mark; " + AMBIGUOUS_POINT),
    ("199,013", ",", "eur", "ambiguous number: 199 013 (',' as a thousands separator) or 199.013 (',' as a decimal "
                            "mark)? A value in eur has at most 2 decimals; write thousands with a space ('199 013') "
                            "(ingest/config/numbers.yml)"),
    ("1 2", ".", None, "not a number"),        # a thousands group has three digits
    ("12 3456", ".", None, "not a number"),
    ("1,2,3", ",", None, "not a number: the decimal mark ',' appears 2 times"),
])
def test_a_number_that_can_be_read_two_ways_is_refused(text, decimal, unit, problem):
    assert parse_number(text, NumberFormat(decimal=decimal, unit=unit)) == (None, problem)


def test_an_ambiguous_weight_is_refused_with_the_value_as_written(con, tmp_path):
    rows = rows_by_rule(40, ["0001000"])
    rows[4][6] = "1.234,5"  # the CSV's decimal mark is ','; here a point after a comma-less group: 1234.5
    rows[6][6] = "1,121.5"
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", csv_bytes(HEADER, rows))
    cb = write_codebook(tmp_path, codebook_yaml(2029, fieldwork=FIELDWORK, coverage=["0001000"]))
    with pytest.raises(IngestError) as err:
        load_survey_wave(con, path, cb)
    assert err.value.describe() == (
        f"file {path}, line 8 (respondent 290007), column 'svars': ambiguous number: '.' stands after the decimal "
        "mark ',' (is ',' a thousands separator and '.' the decimal mark?); this delivery's decimal mark is ',' "
        "(delivery.decimal in its codebook). Write thousands with a space and decimals with the decimal mark, or "
        "declare the file's decimal mark in the codebook (value: '1,121.5')")


def test_excel_text_cells_and_spss_strings_take_the_same_rule(con, tmp_path):
    """Weights typed as text with a decimal comma (and spaces) in a sheet and in an SPSS string variable."""
    weights = ["1,1217", " 0,8783", "1,25 ", "0,75"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Dati"
    ws.append(HEADER)
    rows = rows_by_rule(40, ["0001000"])
    for i, r in enumerate(rows):
        ws.append([r[0], r[1], r[2], r[3], r[4], r[5], weights[i % 4]])
    path = tmp_path / "landing" / "survey" / "2029" / "aptauja.xlsx"
    path.parent.mkdir(parents=True)
    wb.save(path)
    cb = write_codebook(tmp_path, codebook_yaml(2029, fmt="excel", data_file="*.xlsx", fieldwork=FIELDWORK,
                                                 coverage=["0001000"]))
    assert load_survey_wave(con, path, cb)["respondents"] == 40
    expected = [[1.1217, 0.8783, 1.25, 0.75][i % 4] for i in range(40)]
    assert [float(v) for v in raw_values(con, "svars")] == expected

    df = pd.DataFrame({c: [r[j] for r in rows] for j, c in enumerate(HEADER)})
    df["svars"] = [weights[i % 4] for i in range(40)]
    df["pasv"] = df["pasv"].astype(str)
    sav = write_sav(tmp_path / "spss" / "survey" / "2029" / "dati.sav", df)
    cb2 = write_codebook(tmp_path / "spss", codebook_yaml(2029, fmt="spss", data_file="*.sav", fieldwork=FIELDWORK,
                                                           coverage=["0001000"]).replace(
        "delivery:\n  format: spss\n", "delivery:\n  format: spss\n  decimal: \",\"\n"))
    con.execute("delete from raw.survey_cells")
    assert load_survey_wave(con, sav, cb2)["respondents"] == 40
    assert [float(v) for v in raw_values(con, "svars")] == expected


# --- 1. answers as text labels ---------------------------------------------------------------------------------

def test_a_label_coded_wave_loads_and_each_answer_keeps_the_label_it_matched(con, tmp_path):
    rows = labelled_rows(50, ["0001000", "0034000"])
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", csv_bytes(HEADER, rows))
    cb = write_codebook(tmp_path, labelled_codebook(coverage=["0001000", "0034000"]))
    assert load_survey_wave(con, path, cb)["respondents"] == 50
    assert raw_values(con, "uzt") == [TRUST[i % 5] for i in range(50)]
    assert raw_values(con, "dzim") == ["Vīrietis" if i % 2 else "Sieviete" for i in range(50)]
    by_label = dict(con.execute("select source_label, coalesce(harmonised_value, missing_reason) from raw.codebook_values "
                                "where source_variable = 'uzt'").fetchall())
    assert by_label == {"Pilnīgi uzticos": "1", "Drīzāk uzticos": "2", "Drīzāk neuzticos": "3",
                        "Pilnīgi neuzticos": "4", "Grūti pateikt": "hard_to_say"}
    assert sum(float(w) for w in raw_values(con, "svars")) == sum(1.5 if i % 4 == 0 else 1.0 for i in range(50))


def test_labels_match_after_nfc_and_spaces_and_case_only_when_told(con, tmp_path):
    rows = labelled_rows(40, ["0001000"])
    nfd = unicodedata.normalize("NFD", "Drīzāk uzticos")
    rows[1][5] = f"  {nfd.replace(' ', chr(160) + ' ')} "  # decomposed letters, a no-break and a plain space
    rows[2][5] = "drīzāk neuzticos"
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv",
                       csv_bytes(HEADER, rows, encoding="utf-8"))
    text = labelled_codebook(coverage=["0001000"]).replace("encoding: cp1257", "encoding: utf-8")
    cb = write_codebook(tmp_path, text)
    with pytest.raises(IngestError) as err:  # case counts by default
        load_survey_wave(con, path, cb)
    assert err.value.describe() == (
        f"file {path}, line 4 (respondent 290003), column 'uzt': label not in codebook wave_2029.yml "
        "(items.trust_social_service.labels; matched after spaces are normalised, letter case counts) "
        "(value: 'drīzāk neuzticos')")
    cb = write_codebook(tmp_path, text.replace("    variable: uzt\n", "    variable: uzt\n    ignore_case: true\n"))
    assert load_survey_wave(con, path, cb)["status"] == "loaded"
    assert raw_values(con, "uzt")[:3] == ["Pilnīgi uzticos", "Drīzāk uzticos", "Drīzāk neuzticos"]


def test_validate_lists_every_distinct_label_per_column_with_its_count(tmp_path):
    rows = labelled_rows(47, ["0001000"])
    rows[0][5] = "Drīzāk  uzticos "  # the same label once spaces are normalised
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", csv_bytes(HEADER, rows))
    cb = write_codebook(tmp_path, codebook_yaml(2029, fieldwork=FIELDWORK))  # still numeric codes: labels listed
    trust = pd.Series([TRUST[i % 5] for i in range(47)])
    trust[0] = "Drīzāk uzticos"
    expected_trust = sorted(trust.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))
    assert label_inventory(path, cb) == {
        "dzim": [("Sieviete", 24), ("Vīrietis", 23)],
        "kl": [("Nē", 31), ("Jā", 16)],
        "uzt": expected_trust,
    }


# --- 3. the firm's own row status ----------------------------------------------------------------------------

STATUS_HEADER = HEADER + ["statuss"]


def status_rows(n: int) -> list[list]:
    rows = [r + ["pabeigta"] for r in labelled_rows(n, ["0001000"])]
    rows[3][3], rows[3][7] = 17, "izslēgts"               # a 17-year-old the firm excluded
    rows[8][5], rows[8][7] = "Nezinu", "izslēgts"         # an answer no codebook maps, excluded too
    rows[11][7] = "pārtraukta"
    return rows


def test_rows_the_firm_excluded_are_not_checked_not_loaded_and_counted(con, tmp_path):
    rows = status_rows(40)
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", csv_bytes(STATUS_HEADER, rows))
    cb = write_codebook(tmp_path, labelled_codebook(coverage=["0001000"], extra=(
        'row_status: {variable: statuss, drop: {"izslēgts": excluded_by_firm, "pārtraukta": interview_incomplete}}\n')))
    result = load_survey_wave(con, path, cb)
    assert result["respondents"] == 37
    ids = {r[0] for r in con.execute("select distinct respondent_source_id from raw.survey_cells").fetchall()}
    assert ids == {str(r[0]) for i, r in enumerate(rows) if i not in (3, 8, 11)}
    assert con.execute("select status, reason, rows_excluded from audit.rows_excluded order by status").fetchall() == [
        ("izslēgts", "excluded_by_firm", 2), ("pārtraukta", "interview_incomplete", 1)]
    assert con.execute("select count(*) from raw.survey_cells where variable = 'statuss'").fetchone() == (0,)
    assert "2 row(s) with status 'izslēgts' in column 'statuss' not loaded: interview excluded by the survey firm " \
           "(codebook row_status)" in result["notes"]


def test_a_keep_rule_drops_every_other_status(con, tmp_path):
    rows = status_rows(40)
    rows[20][7] = ""  # no status at all: not kept either
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", csv_bytes(STATUS_HEADER, rows))
    cb = write_codebook(tmp_path, labelled_codebook(coverage=["0001000"],
                                                    extra='row_status: {variable: statuss, keep: ["pabeigta"]}\n'))
    assert load_survey_wave(con, path, cb)["respondents"] == 36
    assert con.execute("select status, reason, rows_excluded from audit.rows_excluded order by status").fetchall() == [
        ("", "status_not_kept", 1), ("izslēgts", "status_not_kept", 2), ("pārtraukta", "status_not_kept", 1)]


def test_without_a_rule_the_row_is_refused_and_the_message_says_a_rule_can_be_declared(con, tmp_path):
    rows = status_rows(40)
    rows[8][5] = "Grūti pateikt"  # only the 17-year-old is left to refuse
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", csv_bytes(STATUS_HEADER, rows))
    cb = write_codebook(tmp_path, labelled_codebook(coverage=["0001000"]))
    before = counts(con)
    with pytest.raises(IngestError) as err:
        load_survey_wave(con, path, cb)
    assert err.value.describe() == (
        f"file {path}, line 5 (respondent 290004), column 'vec': age outside the wave's range 18-80 (value: '17'). "
        "If the survey firm excluded this row itself (a status column of its own), the codebook can say so: "
        "row_status (docs/codebooks.md)")
    assert counts(con) == before


# --- 8. a wave in several files, and its coverage ------------------------------------------------------------------

def parts_codebook(tmp_path: Path, coverage=None):
    return write_codebook(tmp_path, codebook_yaml(2029, fieldwork=FIELDWORK, data_file="dati_*.csv", coverage=coverage,
                                                  delivery_extra="  parts: true\n"))


def test_a_wave_in_two_files_is_their_union(con, tmp_path):
    folder = tmp_path / "landing" / "survey" / "2029"
    units = units_42()
    riga = rows_by_rule(30, ["0001000"], first_id=100001)
    regions = rows_by_rule(60, [u for u in units if u != "0001000"], first_id=200001)
    a = write_bytes(folder / "dati_riga.csv", csv_bytes(HEADER, riga))
    b = write_bytes(folder / "dati_regioni.csv", csv_bytes(HEADER, regions))
    result = load_survey_wave(con, [a, b], parts_codebook(tmp_path))
    assert result["status"] == "loaded" and result["respondents"] == 90 and result["file"] == "dati_riga.csv + dati_regioni.csv"
    assert con.execute("select n_respondents, n_parts, coverage_plan, regions_with_respondents from raw.survey_waves"
                       ).fetchall() == [(90, 2, "national", 6)]
    ids = sorted(int(r[0]) for r in con.execute("select distinct respondent_source_id from raw.survey_cells").fetchall())
    assert ids == sorted(r[0] for r in riga + regions)
    assert result["coverage"] == [f"coverage: respondents in 6 of 6 regions and {1 + min(60, 41)} of 42 "
                                  "municipalities (post2025_42)"]


def test_a_respondent_id_in_two_parts_names_both_files(con, tmp_path):
    folder = tmp_path / "landing" / "survey" / "2029"
    riga = rows_by_rule(30, ["0001000"], first_id=100001)
    regions = rows_by_rule(60, [u for u in units_42() if u != "0001000"], first_id=200001)
    regions[12][0] = 100007  # the Rīga team's 7th respondent
    a = write_bytes(folder / "dati_riga.csv", csv_bytes(HEADER, riga))
    b = write_bytes(folder / "dati_regioni.csv", csv_bytes(HEADER, regions))
    before = counts(con)
    with pytest.raises(IngestError) as err:
        load_survey_wave(con, [a, b], parts_codebook(tmp_path))
    assert err.value.describe() == (
        f"file {b}, line 14, column 'resp': respondent id 100007 is also in {a} (line 8): respondent ids must be "
        "unique across the parts of a wave (codebook delivery.parts) (value: '100007')")
    assert counts(con) == before


def test_a_wave_missing_regions_is_held_as_incomplete(con, tmp_path):
    """The Rīga team's compressed SPSS file alone: nothing loaded, held, named incomplete."""
    df = pd.DataFrame({c: [r[j] for r in rows_by_rule(60, ["0001000"])] for j, c in enumerate(HEADER)})
    df["svars"] = 1.0
    path = tmp_path / "landing" / "survey" / "2029" / "riga.zsav"
    path.parent.mkdir(parents=True)
    import pyreadstat

    pyreadstat.write_sav(df, str(path), compress=True)
    cb = write_codebook(tmp_path, codebook_yaml(2029, fmt="spss", data_file="*.zsav", fieldwork=FIELDWORK))
    before = counts(con)
    result = load_survey_wave(con, path, cb)
    assert result["status"] == "quarantined"
    assert result["message"] == (
        f"file {path}: incomplete wave 2029: no respondents in 5 of the 6 regions (Kurzeme, Latgale, Pierīga, "
        "Vidzeme, Zemgale); its fieldwork plan is national (codebook wave_2029.yml has no coverage.municipalities). "
        "Held: nothing of it is loaded or published. A wave delivered in parts (delivery.parts) loads when its "
        "missing part comes; a local survey says so with coverage.municipalities")
    assert counts(con) == before
    assert con.execute("select status, public_message from audit.file_loads").fetchall() == [(
        "quarantined", "survey wave 2029: held as incomplete: incomplete wave 2029: no respondents in # of the # "
                       "regions (Kurzeme, Latgale, Pierīga, Vidzeme, Zemgale); its fieldwork plan is national (codebook "
                       "… has no coverage.municipalities). Held: nothing of it is loaded or published. A wave delivered "
                       "in parts (delivery.parts) loads when its missing part comes; a local survey says so with "
                       "coverage.municipalities")]
    assert load_survey_wave(con, path, cb)["status"] == "held"  # the same delivery again: not read again


def test_a_local_survey_loads_and_refuses_respondents_outside_its_plan(con, tmp_path):
    rows = rows_by_rule(40, ["0001000"])
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", csv_bytes(HEADER, rows))
    cb = write_codebook(tmp_path, codebook_yaml(2029, fieldwork=FIELDWORK, coverage=["0001000"]))
    result = load_survey_wave(con, path, cb)
    assert result["respondents"] == 40
    assert con.execute("select coverage_plan, planned_municipalities, municipalities_with_respondents "
                       "from raw.survey_waves").fetchall() == [("municipalities", "0001000", 1)]
    rows[5][1] = "0034000"
    path2 = write_bytes(tmp_path / "b" / "survey" / "2029" / "dati.csv", csv_bytes(HEADER, rows))
    with pytest.raises(IngestError) as err:
        load_survey_wave(con, path2, cb)
    assert err.value.describe() == (f"file {path2}: 1 respondent(s) in municipalities outside the wave's fieldwork plan "
                                    "(coverage.municipalities of codebook wave_2029.yml) (value: 0034000)")


# --- 4. messages name the file as given ------------------------------------------------------------------------

def test_a_staged_code_list_is_named_as_it_was_given(con, tmp_path):
    staged = tmp_path / "incoming" / "load-1-2-x" / "survey" / "2029"
    data = write_bytes(staged / "dati.csv", csv_bytes(HEADER, rows_by_rule(40, ["0001000"])))
    codes = write_bytes(staged / "dati_kodi.csv", "mainigais;kods;nozime\r\nuzt;viens;Pilnīgi uzticos\r\n".encode("cp1257"))
    cb = write_codebook(tmp_path, codebook_yaml(2029, fieldwork=FIELDWORK, coverage=["0001000"], data_file="dati.csv",
                                                 delivery_extra='  code_list_file: "*_kodi.csv"\n'))
    given = {str(data): "/home/inženiere/saņemts/dati.csv", str(codes): "/home/inženiere/saņemts/dati_kodi.csv"}
    with pytest.raises(IngestError) as err:
        load_survey_wave(con, data, cb, delivered_as=given)
    assert err.value.describe() == ("file /home/inženiere/saņemts/dati_kodi.csv, line 2, column 'kods': a code in the "
                                    "code list is not a number (value: 'viens')")
    assert "load-1-2-x" not in con.execute("select file_path from audit.file_loads").fetchone()[0]


# --- 6. one municipality-year, one workbook -------------------------------------------------------------------------

def test_a_landing_workbook_given_again_is_the_same_delivery(con, tmp_path):
    landing = kekava(tmp_path / "landing" / "admin" / "2029" / "kekava.xlsx")
    staged = tmp_path / "incoming" / "admin" / "2029" / "kekava.xlsx"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(landing.read_bytes())
    results, rejected = load_admin_extracts(con, [AdminItem(staged, 2029, True, shown_as=landing),
                                                  AdminItem(landing, 2029, False, replaceable=True)])
    assert rejected == [] and [r["status"] for r in results] == ["loaded", "same_delivery"]
    rows = len(dac_rows()) + len(services_rows())
    assert con.execute("select count(*), count(distinct source_file) from raw.admin_table_rows").fetchone() == (rows, 1)


def test_two_workbooks_for_one_municipality_year_are_refused_by_the_loader_naming_both(con, tmp_path):
    first = kekava(tmp_path / "landing" / "admin" / "2029" / "kekava.xlsx")
    second = kekava(tmp_path / "landing" / "admin" / "2029" / "Ķekava labots.xlsx", extra_cells={"O11": "SPOLIS (labots)"})
    results, rejected = load_admin_extracts(con, [AdminItem(first, 2029, False), AdminItem(second, 2029, False)])
    assert [r["status"] for r in results] == ["loaded"]
    assert [e.describe() for e in rejected] == [
        f"file {second}: a second extract for municipality/year 0034000/2029 (the first is kekava.xlsx); deliver one "
        "extract per municipality and year (value: '0034000/2029')"]


# --- 8. LABIS tables in Excel 97 .xls -------------------------------------------------------------------------------

def xls_workbook(path: Path, *, merge_figures: bool = False) -> Path:
    """Ķekavas novads' table as LABIS exports it: Excel 97-2003, one sheet."""
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Datu tabula")
    ws.write(0, 0, "Pašvaldība: Ķekavas novads (0034000)")
    ws.write(1, 0, "Pārskata gads: 2029")
    for j, h in enumerate(LM_HEADER):
        ws.write(3, j, h)
    for i, row in enumerate(dac_rows() + services_rows(), start=4):
        for j, v in enumerate(row):
            if v is not None and not (merge_figures and i == 5 and j in (4, 5)):
                ws.write(i, j, v)
    if merge_figures:
        ws.write_merge(5, 5, 4, 5, "1 012")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(str(path))
    return path


def test_an_excel_97_labis_table_loads_with_its_figures(con, tmp_path):
    path = xls_workbook(tmp_path / "admin" / "2029" / "Kekava_LABIS_2029.xls")
    assert path.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    result = load_admin_extract(con, path, expected_year=2029)
    assert result["status"] == "loaded" and result["key"] == "0034000/2029"
    got = dict(con.execute("select row_no, total_value from raw.admin_table_rows").fetchall())
    assert got["7.1"] == 1012 and got["7.2"] == 60 and got["14"] == 7 and got["15"] == 12
    assert sum(got[f"13.{k}"] for k in range(1, 11)) == sum(10 * k + 1 for k in range(1, 11))
    spent = dict(con.execute("select row_no, expenditure_eur_value from raw.admin_table_rows").fetchall())
    assert spent["11"] == 61230.5 and sum(spent[f"13.{k}"] for k in range(1, 11)) == sum(1000 * k + 0.25
                                                                                         for k in range(1, 11))


def test_merged_figures_in_an_xls_table_are_refused(con, tmp_path):
    path = xls_workbook(tmp_path / "admin" / "2029" / "Kekava_LABIS_2029.xls", merge_figures=True)
    with pytest.raises(IngestError) as err:
        load_admin_extract(con, path, expected_year=2029)
    assert err.value.describe().startswith(f"file {path}, cell 'Datu tabula'!E6: merged cells E6:F6")


# --- codebook: labels and rules are checked before anything is read -----------------------------------------------

@pytest.mark.parametrize("edit, problem", [
    (lambda t: t.replace("codes: {1: 1, 2: 2, 3: 3, 4: 4, 9: hard_to_say}", 'codes: {"Pilnīgi uzticos": 1}'),
     "source codes must be numbers; for text labels (\"Drīzāk uzticos\") write 'labels:' instead of 'codes:'"),
    (lambda t: t.replace("codes: {1: 1, 2: 2, 3: 3, 4: 4, 9: hard_to_say}",
                         'codes: {1: 1}, labels: {"Pilnīgi uzticos": 1}'),
     "a variable's values are mapped by 'codes' (numbers) or by 'labels' (text), not both"),
    (lambda t: t.replace("codes: {1: 1, 2: 2, 3: 3, 4: 4, 9: hard_to_say}",
                         'labels: {"Drīzāk uzticos": 2, "Drīzāk  uzticos ": 3}'),
     "labels 'Drīzāk uzticos' and 'Drīzāk uzticos' are the same label once spaces are normalised"),
    (lambda t: t + 'row_status: {variable: statuss, drop: {"izslēgts": nepatīk}}\n',
     "a dropped status maps to a reason: one of excluded_by_firm, interview_incomplete "
     "(ingest/config/survey_delivery.yml row_exclusion_reasons)"),
])
def test_a_codebook_s_labels_and_rules_are_checked(tmp_path, edit, problem):
    with pytest.raises(IngestError) as err:
        write_codebook(tmp_path, edit(codebook_yaml(2029, fieldwork=FIELDWORK)))
    assert err.value.problem == problem


# --- the run summary says where a run failed ---------------------------------------------------------------------

def test_the_run_summary_names_the_step_that_failed():
    from ingest.settings import resolve_paths
    from orchestration.pipeline import RunSummary

    steps = ["load_admin_extracts", "load_survey_waves", "dbt_build", "ge_plausibility"]
    blocked = RunSummary("r1", False, resolve_paths(), started_steps=steps,
                         step_failures={"ge_plausibility": "1 blocking asset check failed"},
                         run_error='Execution of run for "build_warehouse" failed. Steps failed: [\'ge_plausibility\'].')
    assert blocked.failure_line() == ("the run FAILED in step ge_plausibility (a blocking quality gate failed: see the "
                                      "checks above), after 4 steps began")
    never = RunSummary("r2", False, resolve_paths(), run_error="the warehouse is locked by pid 7")
    assert never.failure_line() == "the run FAILED before its steps could run: the warehouse is locked by pid 7"


def test_make_load_of_one_part_takes_the_wave_s_other_parts_from_landing_along(tmp_path, monkeypatch):
    """`make load FILE=<the regions team's file>` for a wave in parts: the Rīga team's part already in landing
    stays a part of the wave (staged with it); a part of the same name would be replaced."""
    import argparse

    from ingest.settings import resolve_paths
    from orchestration.cli import _stage

    monkeypatch.setenv("TRUST_DATA_DIR", str(tmp_path / "data"))
    paths = resolve_paths().ensure()
    landing = paths.survey_landing / "2029"
    riga = write_bytes(landing / "dati_riga.csv", csv_bytes(HEADER, rows_by_rule(30, ["0001000"], first_id=100001)))
    (landing / "wave_2029.yml").write_text(codebook_yaml(2029, fieldwork=FIELDWORK, data_file="dati_*.csv",
                                                         delivery_extra="  parts: true\n"), encoding="utf-8")
    given = write_bytes(tmp_path / "saņemts" / "dati_regioni.csv",
                        csv_bytes(HEADER, rows_by_rule(60, [u for u in units_42() if u != "0001000"], first_id=200001)))
    args = argparse.Namespace(file=str(given), codebook=None, with_files=[], wave=2029, year=None)
    config, notes = _stage(paths, args, tmp_path / "staged")
    staged = tmp_path / "staged" / "survey" / "2029"
    assert sorted(p.name for p in staged.iterdir()) == ["dati_regioni.csv", "dati_riga.csv", "wave_2029.yml"]
    assert (staged / "dati_riga.csv").read_bytes() == riga.read_bytes()
    assert config["delivered_as"][str(staged / "dati_riga.csv")] == str(riga)
    assert config["delivered_as"][str(staged / "dati_regioni.csv")] == str(given.resolve())
    assert "with the wave's other parts in the landing folder: dati_riga.csv" in notes


def test_parts_that_together_are_fewer_than_expected_are_refused(con, tmp_path):
    folder = tmp_path / "landing" / "survey" / "2029"
    a = write_bytes(folder / "dati_riga.csv", csv_bytes(HEADER, rows_by_rule(30, ["0001000"], first_id=100001)))
    b = write_bytes(folder / "dati_regioni.csv", csv_bytes(HEADER, rows_by_rule(
        60, [u for u in units_42() if u != "0001000"], first_id=200001)))
    cb = write_codebook(tmp_path, codebook_yaml(2029, fieldwork=FIELDWORK, data_file="dati_*.csv", expected=(500, 20000),
                                                delivery_extra="  parts: true\n"))
    with pytest.raises(IngestError) as err:
        load_survey_wave(con, [a, b], cb)
    assert err.value.describe() == (
        f"file {a}: the wave's 2 parts (dati_riga.csv, dati_regioni.csv) have 90 respondents together, fewer than the "
        "500 expected for wave 2029 (expected_respondents in codebook wave_2029.yml or ingest/config/survey_delivery.yml)")
