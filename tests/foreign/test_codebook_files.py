"""Codebooks are delivered files too: validated against a schema (a misspelt or unknown key is
named with its line), and their file patterns can never reach outside the wave's folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.codebook import load_codebook
from ingest.errors import IngestError
from ingest.file_patterns import UnsafePattern, matching_files
from ingest.settings import CODEBOOK_DIR
from ingest.warehouse import survey_files


def edited(tmp_path: Path, wave: int, old: str, new: str, name: str | None = None) -> tuple[Path, list[str]]:
    text = (CODEBOOK_DIR / f"wave_{wave}.yml").read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    path = tmp_path / (name or f"wave_{wave}.yml")
    path.write_text(text, encoding="utf-8")
    return path, text.splitlines()


def line_of(lines: list[str], fragment: str) -> int:
    return next(i for i, line in enumerate(lines, 1) if fragment in line)


def test_a_misspelt_key_is_named_with_its_line(tmp_path):
    path, lines = edited(tmp_path, 2022, "blank: not_applicable", "blnak: not_applicable")
    with pytest.raises(IngestError) as err:
        load_codebook(path)
    line = line_of(lines, "blnak:")
    assert err.value.describe() == (
        f"file {path}, line {line}, key 'items.client_satisfaction.blnak': unknown key 'blnak' (did you mean "
        "'blank'?); the keys here are: variable, codes, labels, ignore_case, blank, label_lv, label_en, scale")


def test_an_unknown_top_level_key_is_named_with_its_line(tmp_path):
    path, lines = edited(tmp_path, 2026, "weight: WGT", "weights: WGT")
    with pytest.raises(IngestError) as err:
        load_codebook(path)
    assert (err.value.row, err.value.column) == (line_of(lines, "weights:"), "weights")
    assert err.value.problem.startswith("unknown key 'weights' (did you mean 'weight'?); the keys here are: wave, ")


def test_a_missing_key_is_named(tmp_path):
    path, _ = edited(tmp_path, 2026, "respondent_id: V1\n", "")
    with pytest.raises(IngestError) as err:
        load_codebook(path)
    assert (err.value.column, err.value.problem) == ("respondent_id", "required key is missing")


def test_a_value_of_the_wrong_kind_is_named_with_its_line(tmp_path):
    path, lines = edited(tmp_path, 2026, "fieldwork: {from: 2026-02-02, to: 2026-03-27}",
                         "fieldwork: {from: 2026-02-02, to: end of March}")
    with pytest.raises(IngestError) as err:
        load_codebook(path)
    assert (err.value.row, err.value.column, err.value.value) == (line_of(lines, "fieldwork:"), "fieldwork.to",
                                                                  "end of March")


@pytest.mark.parametrize(
    "pattern, problem",
    [
        ("../../canary/*_dati.csv", "must be a file name pattern, not a path: no '/' or '\\'"),
        ("/etc/*", "must be a file name pattern, not a path: no '/' or '\\'"),
        ("..\\\\canary\\\\*.csv", "must be a file name pattern, not a path: no '/' or '\\'"),
        ("C:*.csv", "must not start with a drive letter"),
        ("..*.csv", "must not contain '..'"),
    ],
    ids=["relative_traversal", "absolute", "windows_path", "drive_letter", "dot_dot"],
)
def test_a_data_file_pattern_that_is_not_a_plain_file_name_is_refused(tmp_path, pattern, problem):
    path, lines = edited(tmp_path, 2024, 'data_file: "*_dati.csv"', f'data_file: "{pattern}"')
    with pytest.raises(IngestError) as err:
        load_codebook(path)
    assert (err.value.row, err.value.column, err.value.problem) == (line_of(lines, "data_file:"), "delivery.data_file",
                                                                    problem)
    assert err.value.value == pattern.replace("\\\\", "\\")


def test_a_code_list_pattern_is_checked_too(tmp_path):
    path, _ = edited(tmp_path, 2024, 'code_list_file: "*_kodi.csv"', 'code_list_file: "../*_kodi.csv"')
    with pytest.raises(IngestError) as err:
        load_codebook(path)
    assert err.value.column == "delivery.code_list_file"


@pytest.fixture
def landing_with_canary(tmp_path):
    """survey/2024/ with a delivery, and a canary folder beside the landing that patterns must never reach."""
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "secret_dati.csv").write_text("do not touch", encoding="utf-8")
    folder = tmp_path / "landing" / "survey" / "2024"
    folder.mkdir(parents=True)
    (folder / "monitorings_DATI.CSV").write_text("resp;pasv\n", encoding="utf-8")
    os.symlink(canary / "secret_dati.csv", folder / "link_dati.csv")  # a link out of the folder
    return tmp_path, folder, canary


@pytest.mark.parametrize("pattern", ["../../canary/*", "../../../canary/*_dati.csv", "/etc/*", str(Path("/") / "tmp" / "*")])
def test_matching_files_refuses_paths_before_touching_anything(landing_with_canary, pattern):
    _, folder, canary = landing_with_canary
    before = (canary / "secret_dati.csv").stat()
    with pytest.raises(UnsafePattern):
        matching_files(folder, pattern)
    after = (canary / "secret_dati.csv").stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


def test_matching_files_matches_only_regular_files_of_the_folder(landing_with_canary):
    _, folder, _ = landing_with_canary
    assert matching_files(folder, "*_dati.csv") == [folder / "monitorings_DATI.CSV"]  # letter case ignored, no link
    assert matching_files(folder, "*") == [folder / "monitorings_DATI.CSV"]


def test_a_delivered_codebook_with_a_traversal_pattern_stops_the_wave_before_any_file_is_read(landing_with_canary):
    root, folder, canary = landing_with_canary
    text = (CODEBOOK_DIR / "wave_2024.yml").read_text(encoding="utf-8").replace(
        'data_file: "*_dati.csv"', 'data_file: "../../../canary/*_dati.csv"')
    (folder / "wave_2024.yml").write_text(text, encoding="utf-8")
    with pytest.raises(IngestError) as err:
        survey_files(root / "landing" / "survey")
    assert err.value.column == "delivery.data_file" and err.value.file == str(folder / "wave_2024.yml")
    assert (canary / "secret_dati.csv").read_text(encoding="utf-8") == "do not touch"


def test_survey_files_uses_the_same_safe_matching(landing_with_canary):
    root, folder, _ = landing_with_canary
    assert survey_files(root / "landing" / "survey") == [(2024, folder / "monitorings_DATI.CSV")]
