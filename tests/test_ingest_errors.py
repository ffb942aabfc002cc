"""Bad deliveries are rejected with an error naming file, place and value; nothing reaches raw tables."""
from __future__ import annotations

import numpy as np
import pytest
from openpyxl import load_workbook

from ingest.codebook import codebook_for_wave, load_codebook
from ingest.errors import IngestError
from ingest.sample.quality import World
from ingest.sample.admin_extracts import SEED_ROWS, current_municipalities, write_workbook
from ingest.sample.survey_waves import generate_2017, write_sav_2017
from ingest.warehouse import load_admin_extract, load_survey_wave


@pytest.fixture
def wave():
    return generate_2017(np.random.default_rng(11))


def raw_counts(con):
    return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
            for t in ("survey_cells", "survey_waves", "codebook_values", "admin_table_rows")}


def _reject(con, path, loader):
    before = raw_counts(con)
    with pytest.raises(IngestError) as err:
        loader(con, path)
    assert raw_counts(con) == before
    status = con.execute("select status from audit.file_loads order by loaded_at desc limit 1").fetchone()
    assert status == ("rejected",)
    return err.value


def load_2017(con, path):
    return load_survey_wave(con, path, codebook_for_wave(2017))


@pytest.mark.parametrize(
    "mutate, column, value, row",
    [
        (lambda df: df.__setitem__("Q12_APMIER", df["Q12_APMIER"].where(df.index != 4, 7)), "Q12_APMIER", 7.0, 5),
        (lambda df: df.__setitem__("VECUMS", df["VECUMS"].where(df.index != 9, 16)), "VECUMS", 16.0, 10),
        (lambda df: df.__setitem__("ID", df["ID"].where(df.index != 20, df["ID"].iloc[3])), "ID", None, 21),
        (lambda df: df.__setitem__("NOVADS", df["NOVADS"].where(df.index != 2, "0999999")), "NOVADS", "0999999", 3),
    ],
    ids=["code_not_in_codebook", "age_out_of_range", "duplicate_id", "unknown_municipality"],
)
def test_bad_wave_is_rejected_with_its_place(con, tmp_path, wave, mutate, column, value, row):
    mutate(wave)
    path = tmp_path / "wave.sav"
    write_sav_2017(wave, path)
    err = _reject(con, path, load_2017)
    assert err.file.endswith("wave.sav") and err.column == column and err.row == row
    if value is not None:
        assert err.value == value


def test_missing_codebook_variable_is_rejected(con, tmp_path, wave):
    path = tmp_path / "wave.sav"
    write_sav_2017(wave.drop(columns=["Q20_APSVERA"]), path)
    err = _reject(con, path, load_2017)
    assert err.column == "Q20_APSVERA" and "codebook" in err.problem


def test_truncated_sav_is_rejected(con, tmp_path, wave):
    path = tmp_path / "wave.sav"
    write_sav_2017(wave, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    err = _reject(con, path, load_2017)
    assert "SPSS" in err.problem


def test_same_file_twice_changes_nothing(con, tmp_path, wave):
    path = tmp_path / "wave.sav"
    write_sav_2017(wave, path)
    assert load_2017(con, path)["status"] == "loaded"
    before = raw_counts(con)
    assert load_2017(con, path)["status"] == "unchanged"
    # every delivered column but REGIONS (listed as unused in the codebook: ignored, not stored)
    assert raw_counts(con) == before == {**before, "survey_cells": len(wave) * (wave.shape[1] - 1)}


def test_codebook_errors_name_the_key(tmp_path):
    bad = tmp_path / "wave_2099.yml"
    text = codebook_for_wave(2017).path.read_text(encoding="utf-8").replace("scope: baseline", "scope: weekly")
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(IngestError) as err:
        load_codebook(bad)
    assert err.value.column == "scope" and err.value.value == "weekly"


def _workbook(tmp_path, rows=SEED_ROWS):
    muni = next(m for m in current_municipalities() if m["atvk_code"] == "0031000")
    path = tmp_path / "extract.xlsx"
    write_workbook(path, muni, 2022, rows)
    return path


@pytest.mark.parametrize(
    "edits, row, column, value",
    [
        ({"O8": "Piezīmes"}, 8, "O", "Piezīmes"),   # a header cell the layout does not know
        ({"A12": "septiņi"}, 12, "A", "septiņi"),   # an indicator row without a number
        ({"B4": "0999000"}, 4, "B", "0999000"),  # a municipality code that does not exist (title cell B4)
    ],
    ids=["unknown_header", "row_without_number", "unknown_municipality"],
)
def test_bad_admin_workbook_is_rejected_with_its_place(con, tmp_path, edits, row, column, value):
    path = _workbook(tmp_path)
    wb = load_workbook(path)
    for cell, text in edits.items():
        wb.active[cell] = text
    wb.save(path)
    err = _reject(con, path, load_admin_extract)
    assert err.file.endswith("extract.xlsx")
    assert (err.row, err.column, err.value) == (row, column, value)


@pytest.fixture
def csv_2024(tmp_path):
    from ingest.sample.quality import World
    from ingest.sample.survey_generic import WAVES, generate_wave

    spec = next(s for s in WAVES if s.wave == 2024)
    generate_wave(spec, tmp_path / "survey", np.random.default_rng(3), World())
    return tmp_path / "survey" / "2024" / spec.file_name


def load_2024(con, path):
    return load_survey_wave(con, path, codebook_for_wave(2024))


def test_csv_code_list_in_the_wrong_encoding_is_rejected(con, csv_2024):
    code_list = next(csv_2024.parent.glob("*_kodi.csv"))
    code_list.write_bytes(code_list.read_bytes().decode("cp1257").encode("utf-8"))
    err = _reject(con, csv_2024, load_2024)
    assert err.file == str(code_list) and "UTF-8" in err.problem and "cp1257" in err.problem


def test_csv_with_undecodable_bytes_is_rejected_with_its_line(con, csv_2024):
    lines = csv_2024.read_bytes().split(b"\r\n")
    lines[4] = lines[4].replace(b";", b";\x81", 1)  # 0x81 is not a character in Windows-1257
    csv_2024.write_bytes(b"\r\n".join(lines))
    err = _reject(con, csv_2024, load_2024)
    assert "not valid cp1257" in err.problem and err.row == 5


def test_csv_text_in_a_coded_column_is_rejected(con, csv_2024):
    lines = csv_2024.read_bytes().decode("cp1257").split("\r\n")
    header = lines[0].split(";")
    cells = lines[3].split(";")
    cells[header.index("q_uztic")] = "daudz"
    lines[3] = ";".join(cells)
    csv_2024.write_bytes("\r\n".join(lines).encode("cp1257"))
    err = _reject(con, csv_2024, load_2024)
    assert (err.row, err.column, err.value, err.problem) == (4, "q_uztic", "daudz", "not a number")


@pytest.mark.e2e
def test_every_sample_wave_loads(con, tmp_path):
    from ingest.sample import generate_sample
    from ingest.warehouse import survey_files

    truth = generate_sample(tmp_path / "landing")
    for wave, path in survey_files(tmp_path / "landing" / "survey"):
        result = load_survey_wave(con, path, codebook_for_wave(wave))
        assert result["status"] == "loaded"
        assert result["respondents"] == truth["survey"][str(wave)]["n_respondents"]


def test_error_values_are_shown_as_written_and_the_public_text_holds_none_of_them():
    """Values as the file shows them (5, not np.float64(5.0); empty, not nan); describe_public (what a
    published page may say) has the place and the problem but no value, respondent id or machine path."""
    err = IngestError("/srv/landing/survey/2029/dati.csv", "code not in codebook wave_2029.yml", row=12,
                      row_word="line", column="uzt", value=np.float64(5.0), respondent=np.float64(290011.0))
    assert err.describe() == ("file /srv/landing/survey/2029/dati.csv, line 12 (respondent 290011), column 'uzt': "
                              "code not in codebook wave_2029.yml (value: 5)")
    assert err.describe_public() == "file dati.csv, line 12, column 'uzt': code not in codebook wave_2029.yml"
    empty = IngestError("f.sav", "weight is missing, zero, negative or not finite", row=3, value=np.float64("nan"))
    assert empty.describe() == "file f.sav, row 3: weight is missing, zero, negative or not finite (value: empty)"
    cell = IngestError("x.xlsx", "negative value", sheet="Dienas aprūpes centri", row=12, column="D", value="-7")
    assert cell.describe() == "file x.xlsx, cell 'Dienas aprūpes centri'!D12: negative value (value: '-7')"
