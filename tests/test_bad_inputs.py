"""Bad inputs not covered by test_ingest_errors.py / test_admin_extracts.py: each is rejected with an
error naming the file and the place, and nothing reaches the raw tables (the catalogue of all of them
is tests/bad_input_catalogue.yml)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from openpyxl import load_workbook

from ingest.codebook import codebook_for_wave, load_codebook
from ingest.errors import IngestError
from ingest.sample.quality import World
from ingest.sample.survey_generic import WAVES, generate_wave
from ingest.sample.survey_waves import generate_2017, write_sav_2017
from ingest.warehouse import load_admin_extract, load_survey_wave, survey_files
from tests.test_admin_extracts import edit, workbook
from tests.test_ingest_errors import raw_counts

TESTS = Path(__file__).resolve().parent




def rejected(con, loader, path) -> IngestError:
    before = raw_counts(con)
    with pytest.raises(IngestError) as err:
        loader(con, path)
    assert raw_counts(con) == before, "a rejected file changed the raw tables"
    last = con.execute("select status, message, archive_path from audit.file_loads order by loaded_at desc limit 1").fetchone()
    assert last[0] == "rejected" and str(Path(path).name) in last[1]
    assert last[2] and Path(last[2]).exists(), "the rejected file is archived too"
    assert str(path) in err.value.describe()
    return err.value


def load_2017(con, path):
    return load_survey_wave(con, path, codebook_for_wave(2017))


@pytest.fixture
def wave2017():
    return generate_2017(np.random.default_rng(11))


def test_empty_survey_file(con, tmp_path):
    path = tmp_path / "wave.sav"
    path.write_bytes(b"")
    assert "empty" in rejected(con, load_2017, path).problem


def test_empty_admin_workbook(con, tmp_path):
    path = tmp_path / "LM_datu_tabula_0031000_2022.xlsx"
    path.write_bytes(b"")
    assert "empty" in rejected(con, load_admin_extract, path).problem


def test_extra_column_not_in_codebook_is_ignored_and_not_stored(con, tmp_path, wave2017):
    """A column the codebook does not map (an interviewer id) loads nowhere: listed as ignored in the
    result and in audit.ignored_columns, and none of its values is stored."""
    wave2017["INTERVJETAJS"] = 7654321.0
    path = tmp_path / "wave.sav"
    write_sav_2017(wave2017, path)
    result = load_2017(con, path)
    assert result["status"] == "loaded"
    assert "ignored column 'INTERVJETAJS' (position 22): not in codebook wave_2017.yml; not stored" in result["notes"]
    assert con.execute("select column_name, position, reason from audit.ignored_columns order by position").fetchall() \
        == [("REGIONS", 2, "listed in delivery.extra_columns"), ("INTERVJETAJS", 22, "not in codebook wave_2017.yml")]
    assert con.execute("select count(*) from raw.survey_cells where variable in ('INTERVJETAJS', 'REGIONS') "
                       "or value_num = 7654321").fetchone() == (0,)
    assert con.execute("select count(*) from raw.survey_variables where variable = 'INTERVJETAJS'").fetchone() == (0,)


def test_extra_column_not_in_codebook_with_strict_columns(con, tmp_path, wave2017):
    wave2017["INTERVJETAJS"] = 7.0
    path = tmp_path / "wave.sav"
    write_sav_2017(wave2017, path)
    strict = tmp_path / "wave_2017.yml"
    strict.write_text(codebook_for_wave(2017).path.read_text(encoding="utf-8") + "strict_columns: true\n",
                      encoding="utf-8")
    err = rejected(con, lambda c, p: load_survey_wave(c, p, load_codebook(strict)), path)
    assert err.column == "INTERVJETAJS" and err.value == ["INTERVJETAJS"]
    assert err.problem == ("columns not in codebook wave_2017.yml, which says strict_columns: true: map them, keep "
                           "them (kept_attributes) or list them in delivery.extra_columns")


@pytest.mark.parametrize("bad_weight", [0.0, -1.5], ids=["zero", "negative"])
def test_weight_not_positive(con, tmp_path, wave2017, bad_weight):
    wave2017.loc[wave2017.index[6], "SVARS"] = bad_weight
    path = tmp_path / "wave.sav"
    write_sav_2017(wave2017, path)
    err = rejected(con, load_2017, path)
    assert (err.row, err.column, err.value) == (7, "SVARS", bad_weight)


def test_wave_file_with_another_waves_codebook(con, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUST_TODAY", "2029-01-01")  # the 2028 codebook's fieldwork is over
    spec = next(s for s in WAVES if s.wave == 2026)
    generate_wave(spec, tmp_path / "survey", np.random.default_rng(3), World())
    path = tmp_path / "survey" / "2026" / spec.file_name
    err = rejected(con, lambda c, p: load_survey_wave(c, p, codebook_for_wave(2028)), path)
    assert err.problem == "variables named in codebook wave_2028.yml are not in the file"


def test_two_code_lists_beside_a_csv_wave_are_refused_not_one_picked(con, tmp_path):
    """An old code list left beside the new one (found from outside: the first by name was read, the other
    ignored without a word)."""
    spec = next(s for s in WAVES if s.wave == 2024)
    generate_wave(spec, tmp_path / "survey", np.random.default_rng(3), World())
    folder = tmp_path / "survey" / "2024"
    code_list = next(folder.glob("*_kodi.csv"))
    shutil.copyfile(code_list, folder / "aaa_old_kodi.csv")
    err = rejected(con, lambda c, p: load_survey_wave(c, p, codebook_for_wave(2024)), folder / spec.file_name)
    assert "2 files beside it match the code list" in err.problem
    assert sorted(err.value) == sorted(["aaa_old_kodi.csv", code_list.name])


def test_wave_folder_whose_codebook_names_another_wave(tmp_path):
    folder = tmp_path / "survey" / "2026"
    folder.mkdir(parents=True)
    (folder / "wave_2026.yml").write_text(
        codebook_for_wave(2028).path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(IngestError) as err:
        survey_files(tmp_path / "survey")
    assert err.value.column == "wave" and err.value.value == 2028 and "survey/2026/" in err.value.problem


def test_admin_extract_filed_under_another_year(con, tmp_path):
    path = workbook(tmp_path, year=2022)
    err = rejected(con, lambda c, p: load_admin_extract(c, p, expected_year=2023), path)
    assert "reports year 2022" in err.problem and err.value == 2022


def test_merged_header_cells_that_hide_a_column(con, tmp_path):
    """A header merged over two value columns leaves the second without a name: rejected, not guessed."""
    path = workbook(tmp_path)
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    ws.merge_cells("E8:F8")  # women + men under one merged header
    wb.save(path)
    err = rejected(con, load_admin_extract, path)
    assert err.row == 8 and err.sheet and err.value == ["men"] and "header lacks columns" in err.problem


def test_catalogue_lists_at_least_twenty_tested_bad_inputs():
    """Every entry of the catalogue names a test that exists (file, function and, if given, its case id)."""
    catalogue = yaml.safe_load((TESTS / "bad_input_catalogue.yml").read_text(encoding="utf-8"))
    assert len(catalogue) >= 20
    for entry in catalogue:
        file, _, name = entry["test"].partition("::")
        func, _, case = name.partition("[")
        source = (TESTS / file).read_text(encoding="utf-8")
        assert re.search(rf"def {func}\(", source), entry
        if case:
            assert f'"{case.rstrip("]")}"' in source, entry
        assert entry["error_names"], entry
