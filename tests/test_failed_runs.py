"""A failed or blocked run leaves everything as it was: the warehouse (every table but the audit,
which records the attempt), the published snapshot (every table but its data-quality status), and
the landing folder. A delivery a gate blocks is quarantined, the last good state stays in force for
everything else, and the next run for other years succeeds. Proven with order-independent
fingerprints of every table (tests/state.py), before and after."""
from __future__ import annotations

import shutil

import duckdb
import numpy as np
import pytest

from ingest.lock import warehouse_lock
from ingest.working_copy import leftovers
from tests.state import audit_rows, folder_state, snapshot_state, warehouse_state
from tests.test_operations import corrected_wave

pytestmark = pytest.mark.e2e


@pytest.fixture
def ops(copy_of_build, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("TRUST_REPORTS", "skip")
    return copy_of_build


def state(paths) -> dict:
    return {"warehouse": warehouse_state(paths.warehouse_path), "snapshot": snapshot_state(paths.published_path),
            "landing": folder_state(paths.landing_dir), "audit": audit_rows(paths.warehouse_path)}


def assert_nothing_changed(paths, before: dict) -> None:
    after = state(paths)
    for part in ("warehouse", "snapshot", "landing"):
        changed = {k for k in before[part].keys() | after[part].keys() if before[part].get(k) != after[part].get(k)}
        assert not changed, f"{part} changed: {sorted(changed)[:10]}"
    assert after["audit"]["audit.file_loads"] > before["audit"]["audit.file_loads"]  # the attempt is on record
    assert leftovers(paths.warehouse_path) == []
    with warehouse_lock(paths.warehouse_path, "test", timeout=5):
        pass  # the lock is free


def last_status(paths, wave: int) -> tuple[str, str, str]:
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        return con.execute("""select status, message, public_message from audit.file_loads
                              where source_kind = 'survey' and delivery_year = ? and status <> 'unchanged'
                              order by loaded_at desc limit 1""", [wave]).fetchone()


def load(*args) -> int:
    from orchestration.cli import main

    return main(["load", *map(str, args)])


@pytest.mark.parametrize("fault, status", [
    pytest.param("dbt:model-error:mart_client_satisfaction", "not_promoted", id="model_error"),
    pytest.param("dbt:python-crash:int_survey__weights", "not_promoted", id="python_crash"),
    pytest.param("dbt:test-failure", "quarantined", id="test_failure"),
])
def test_a_failing_dbt_build_changes_nothing(ops, tmp_path, monkeypatch, fault, status):
    new_file, _ = corrected_wave(tmp_path, 2027)
    before = state(ops)
    monkeypatch.setenv("TRUST_FAULT_AT", fault)
    assert load(new_file, "--wave", 2027) == 1
    assert_nothing_changed(ops, before)
    got, message, public = last_status(ops, 2027)
    assert got == status, message
    # the data-quality tables of the snapshot were refreshed: they show the attempt, in words only
    with duckdb.connect(str(ops.published_path), read_only=True) as snap:
        shown = snap.execute("select status, message from quality_file_loads where delivery_year = 2027 "
                             "order by loaded_at desc limit 1").fetchone()
    assert shown == (status, public)


def test_a_wave_blocked_by_a_gate_is_quarantined_and_the_next_runs_succeed(ops, tmp_path):
    """A 2028 file with 6000 respondents instead of ~2000 (the firm's panel file): every row is valid,
    so the loader and dbt's tests pass, but the gate on respondents against the previous wave blocks it."""
    big, _ = corrected_wave(tmp_path, 2028, n=6000, seed=5)
    before = state(ops)
    assert load(big, "--wave", 2028) == 1
    assert_nothing_changed(ops, before)
    status, message, public = last_status(ops, 2028)
    assert status == "quarantined" and "survey_waves" in message and "respondents_ratio" in message
    with duckdb.connect(str(ops.published_path), read_only=True) as snap:
        blocked = snap.execute("select suite from quality_status where blocked_downstream").fetchall()
    assert ("survey_waves",) in blocked
    # the next run for another year succeeds ...
    fixed, truth = corrected_wave(tmp_path / "b", 2027)
    assert load(fixed, "--wave", 2027) == 0
    with duckdb.connect(str(ops.warehouse_path), read_only=True) as con:
        n27, n28 = (con.execute("select n_unweighted from intermediate.int_client_satisfaction where wave_year = ?", [w])
                    .fetchone()[0] for w in (2027, 2028))
    assert n27 == truth["client_satisfaction"]["n_unweighted"]
    assert n28 == ops_truth(ops)["2028"]["client_satisfaction"]["n_unweighted"]  # the last good 2028
    # ... and retrying the same quarantined file by hand quarantines it again, changing nothing else
    before = state(ops)
    assert load(big, "--wave", 2028) == 1
    assert_nothing_changed(ops, before)


def ops_truth(paths) -> dict:
    import json

    return json.loads((paths.data_dir / "sample_truth.json").read_text(encoding="utf-8"))["survey"]


def test_absurd_admin_figures_in_landing_are_quarantined_not_a_blockade(ops, tmp_path):
    """A municipality's workbook with recipients typed a thousandfold, dropped into landing as the
    sensor would see it: well-formed, so it loads, but the provision gate blocks it. It is quarantined;
    the next run for another year, and a full run, succeed with the last good figures for it."""
    import openpyxl

    from ingest.intake import sha256_file
    from orchestration.pipeline import run_build

    workbook = sorted((ops.admin_landing / "2024").glob("*.xlsx"))[0]
    wb = openpyxl.load_workbook(workbook)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            if row[0].value is not None and str(row[0].value).startswith("13"):
                for cell in row[3:13]:
                    if isinstance(cell.value, (int, float)):
                        cell.value = cell.value * 1000
                    elif isinstance(cell.value, str) and cell.value.replace(" ", "").isdigit():
                        cell.value = str(int(cell.value.replace(" ", "")) * 1000)
    wb.save(workbook)
    landing_with_it = folder_state(ops.landing_dir)
    before = state(ops)
    summary = run_build(year=2024, log_level="ERROR")
    assert not summary.success
    before["landing"] = landing_with_it  # the run changed nothing of what it found
    assert_nothing_changed(ops, before)
    with duckdb.connect(str(ops.warehouse_path), read_only=True) as con:
        status = con.execute("select status from audit.file_loads where file_name = ? order by loaded_at desc limit 1",
                             [workbook.name]).fetchone()[0]
    assert status == "quarantined"
    assert run_build(year=2025, log_level="ERROR").success  # another year
    full = run_build(log_level="ERROR")  # every year: the quarantined workbook is held, not retried
    assert full.success, full.render()
    with duckdb.connect(str(ops.warehouse_path), read_only=True) as con:
        # held: neither loaded nor recorded again (issue 21: a run that finds nothing new records nothing new)
        held = con.execute("select status from audit.file_loads where file_name = ? and sha256 = ? order by loaded_at",
                           [workbook.name, sha256_file(workbook)]).fetchall()
        top = con.execute("select max(recipients_per_1000) from marts.mart_provision_per_capita").fetchone()[0]
    assert held == [("quarantined",)] and top < 1000


def test_a_wave_for_the_wrong_year_is_rejected_and_the_good_file_stays(ops, tmp_path, capsys):
    """The 2024 wave delivered as 2027 (same CSV layout, other variable names): rejected with its
    reason; the 2027 file in landing stays, nothing is deleted, and the next `make run` succeeds.
    What the snapshot says about it is words only: no respondent value, file name or path."""
    from orchestration.cli import main

    src = ops.survey_landing / "2024" / "uzticesanas_monitorings_2024_dati.csv"
    wrong = tmp_path / "monitorings_2027_labots_dati.csv"
    shutil.copyfile(src, wrong)
    shutil.copyfile(src.with_name(src.name.replace("_dati", "_kodi")), tmp_path / "monitorings_2027_labots_kodi.csv")
    before = state(ops)
    assert load(wrong, "--wave", 2027) == 1
    out = capsys.readouterr().out
    assert "rejected" in out and "not in the file" in out
    assert_nothing_changed(ops, before)
    assert last_status(ops, 2027)[0] == "rejected"
    assert main(["run"]) == 0
    with duckdb.connect(str(ops.published_path), read_only=True) as snap:
        published = " ".join(str(v) for row in snap.execute("select * from quality_file_loads").fetchall() for v in row)
    assert wrong.name not in published and str(ops.data_dir) not in published and "/" not in published


def test_a_duplicate_id_is_not_published(ops, tmp_path):
    """The firm's respondent id of a rejected row, and the file's name and path, stay in the audit."""
    import pandas as pd

    from orchestration.cli import main

    made, _ = corrected_wave(tmp_path, 2027)
    src = made.with_name("Ozola_piegade_labota_dati.csv")  # a delivered name that must not be published
    made.rename(src)
    df = pd.read_csv(src, sep=";", dtype=str, encoding="cp1257")
    firm_id = "777000111"
    df.loc[[1, 2], "resp_id"] = firm_id
    df.to_csv(src, sep=";", index=False, encoding="cp1257")
    assert main(["load", str(src), "--wave", "2027"]) == 1
    with duckdb.connect(str(ops.warehouse_path), read_only=True) as con:
        message = con.execute("select message from audit.file_loads where status = 'rejected'").fetchone()[0]
    assert firm_id in message  # the engineer sees it in the audit ...
    with duckdb.connect(str(ops.published_path), read_only=True) as snap:
        text = " ".join(str(v) for t, c in snap.execute(
            "select table_name, column_name from information_schema.columns where data_type = 'VARCHAR'").fetchall()
            for (v,) in snap.execute(f'select distinct "{c}" from "{t}"').fetchall())
    assert firm_id not in text and src.name not in text and "Ozola" not in text  # ... the public never
    assert str(tmp_path) not in text and str(ops.data_dir) not in text


def test_a_corrected_codebook_alone_is_a_redelivery(ops, tmp_path):
    """The same data file with a corrected codebook reloads the wave (a delivery is its file, codebook
    and code list); the same file with the same codebook again changes nothing."""
    import yaml

    from ingest.settings import REPO_ROOT

    data = ops.survey_landing / "2026" / "monitorings_2026_pilnais.sav"
    cb = yaml.safe_load((REPO_ROOT / "ingest" / "codebooks" / "wave_2026.yml").read_text(encoding="utf-8"))
    cb["title_en"] = cb["title_en"] + " (corrected codebook)"
    corrected = tmp_path / "wave_2026.yml"
    corrected.write_text(yaml.safe_dump(cb, allow_unicode=True), encoding="utf-8")
    assert load(data, "--wave", 2026, "--codebook", corrected) == 0
    assert last_status(ops, 2026)[0] == "loaded"
    with duckdb.connect(str(ops.warehouse_path), read_only=True) as con:
        assert con.execute("select title_en from marts.dim_wave where wave_year = 2026").fetchone()[0].endswith(
            "(corrected codebook)")
    assert (ops.survey_landing / "2026" / "wave_2026.yml").exists()  # the codebook now travels with the wave
    before = state(ops)["warehouse"]
    assert load(data, "--wave", 2026) == 0  # the delivered codebook is kept: unchanged
    assert last_status(ops, 2026)[0] == "loaded"  # no new load: its last real status is still the load
    assert state(ops)["warehouse"] == before


def test_a_corrected_csv_wave_replaces_its_code_list_too(ops, tmp_path):
    new_file, truth = corrected_wave(tmp_path, 2027)
    code_list = new_file.with_name(new_file.name.replace("_dati", "_kodi"))
    text = code_list.read_text(encoding="cp1257").replace("Pilnīgi uzticos", "Pilnīgi uzticos (labots)")
    code_list.write_text(text, encoding="cp1257")
    old_landing = folder_state(ops.survey_landing / "2027")
    assert load(new_file, "--wave", 2027) == 0
    landing = sorted((ops.survey_landing / "2027").iterdir())
    assert [p.name for p in landing] == sorted([new_file.name, code_list.name])
    assert folder_state(ops.survey_landing / "2027") != old_landing  # both files replaced
    assert (ops.survey_landing / "2027" / code_list.name).read_text(encoding="cp1257") == text
    with duckdb.connect(str(ops.warehouse_path), read_only=True) as con:
        labels = [r[0] for r in con.execute("select label from raw.survey_value_labels where wave = 2027").fetchall()]
        n = con.execute("select n_unweighted from intermediate.int_client_satisfaction where wave_year = 2027").fetchone()[0]
    assert "Pilnīgi uzticos (labots)" in labels
    assert n == truth["client_satisfaction"]["n_unweighted"]
