"""Yearly operations: partitions, the one writer, the sensor, the schedule, the archive, the CLI,
run monitoring, and deliveries that must not reach a shell or escape their folder."""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pytest
import yaml

from ingest.lock import warehouse_lock
from ingest.sample.quality import World
from ingest.sample.survey_generic import WAVES, generate_wave
from ingest.settings import REPO_ROOT
from ingest.warehouse import sha256_of
from tests.state import folder_state, snapshot_state, warehouse_state


def corrected_wave(tmp_path: Path, wave: int = 2027, seed: int = 99, **changes) -> tuple[Path, dict]:
    """A re-drawn delivery of a sample wave (its file and, for CSV waves, its code list)."""
    import dataclasses

    spec = dataclasses.replace(next(s for s in WAVES if s.wave == wave), **changes)
    truth = generate_wave(spec, tmp_path / "redelivery", np.random.default_rng(seed), World())
    return tmp_path / "redelivery" / str(wave) / spec.file_name, truth


def cli(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "orchestration.cli", *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, **kw)


def cli_env(paths, tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_") or k in ("TRUST_PSEUDONYM_SALT", "TRUST_TODAY")}
    env.update(TRUST_DATA_DIR=str(paths.data_dir), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               TRUST_REPORTS="skip", GX_ANALYTICS_ENABLED="false", **extra)
    return env


# --- definitions ---------------------------------------------------------------------------

def test_one_writer_mechanism_for_every_run():
    from dagster import AssetKey

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in (AssetKey(["raw", "survey_cells"]), AssetKey(["raw", "admin_table_rows"])):
        assert graph.get(key).partitions_def.name == "delivery_year"
    assert graph.get(AssetKey(["marts", "mart_indicator_estimates"])).partitions_def is None
    job = defs.resolve_job_def("build_warehouse")
    assert job.tags.get("trust/warehouse") == "writer"
    # one process per run, so the writer resource holds the lock and the working copy from first to last step
    assert job.executor_def.name == "in_process"
    writers = {n for n, node in job.graph.node_dict.items() if "writer" in node.definition.required_resource_keys}
    assert {"load_survey_waves", "load_admin_extracts", "dbt_build", "ge_plausibility",
            "publish__report_snapshot"} <= writers
    instance_cfg = yaml.safe_load((REPO_ROOT / "orchestration" / "dagster.yaml").read_text(encoding="utf-8"))
    assert {"key": "trust/warehouse", "value": "writer", "limit": 1} in instance_cfg["concurrency"]["runs"]["tag_concurrency_limits"]
    assert instance_cfg["run_monitoring"]["enabled"] is True
    assert {s.name for s in defs.sensors} == {"landing_folder_sensor"}
    assert [s.name for s in defs.schedules] == ["yearly_reload"]
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {"ge_dim_wave", "ge_mart_provision_per_capita", "ge_mart_client_satisfaction"} <= checks


def test_cli_runs_carry_the_writer_tag_and_their_process(sample_build):
    """`make run`/`make load` run the same job as the UI, with the same writer tag, and record their
    process so a run killed with it can be marked failed."""
    run = sample_build.instance.get_run_by_id(sample_build.summary.run_id)
    assert run.tags["trust/warehouse"] == "writer"
    assert run.tags["trust/pid"] == str(os.getpid()) and run.tags["trust/host"]


# --- the sensor and the schedule -----------------------------------------------------------

def test_sensor_starts_from_what_the_warehouse_holds(sample_build, tmp_path):
    """On a warehouse `make` just built, the sensor launches nothing (it used to launch 12 rebuilds);
    a changed workbook and a new wave start ONE run over both their years."""
    from ingest.settings import codebook_dir
    from orchestration.automation import plan_landing_runs

    paths = sample_build.paths
    cache: dict = {}
    years, messages = plan_landing_runs(paths.landing_dir, paths.warehouse_path, codebook_dir(), cache)
    assert years == [], messages
    assert len(cache) == 816  # every workbook hashed once ...
    first = dict(cache)
    years, _ = plan_landing_runs(paths.landing_dir, paths.warehouse_path, codebook_dir(), cache)
    assert years == [] and cache == first  # ... and not re-read while unchanged

    landing = tmp_path / "landing"
    shutil.copytree(paths.landing_dir, landing)
    workbook = sorted((landing / "admin" / "2024").glob("*.xlsx"))[0]
    shutil.copyfile(sorted((landing / "admin" / "2023").glob("*.xlsx"))[0], workbook)  # content changed
    new_file, _ = corrected_wave(tmp_path, 2027)
    wave_dir = landing / "survey" / "2029"
    wave_dir.mkdir()
    shutil.copyfile(new_file, wave_dir / "monitorings_2029_dati.csv")
    shutil.copyfile(new_file.with_name(new_file.name.replace("_dati", "_kodi")), wave_dir / "monitorings_2029_kodi.csv")
    codebooks = tmp_path / "codebooks"
    shutil.copytree(codebook_dir(), codebooks)
    years, messages = plan_landing_runs(landing, paths.warehouse_path, codebooks, {})
    assert years == [2024], messages  # the wave waits for its codebook
    assert any("no codebook wave_2029.yml" in m for m in messages)
    text = (codebooks / "wave_2027.yml").read_text(encoding="utf-8").replace("wave: 2027", "wave: 2029")
    (codebooks / "wave_2029.yml").write_text(text, encoding="utf-8")
    years, _ = plan_landing_runs(landing, paths.warehouse_path, codebooks, {})
    assert years == [2024, 2029]


def test_sensor_puts_every_changed_year_of_a_tick_into_one_run(sample_build, tmp_path, monkeypatch):
    from dagster import DagsterInstance, SensorResult, build_sensor_context

    from orchestration.automation import landing_folder_sensor

    data = tmp_path / "data"
    shutil.copytree(sample_build.paths.data_dir, data, ignore=shutil.ignore_patterns("archive", "published"))
    monkeypatch.setenv("TRUST_DATA_DIR", str(data))
    for y in (2022, 2026):
        wb = sorted((data / "landing" / "admin" / str(y)).glob("*.xlsx"))[0]
        shutil.copyfile(sorted((data / "landing" / "admin" / "2021").glob("*.xlsx"))[1], wb)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("delivery_year", [str(y) for y in range(2017, 2029)])
        result = landing_folder_sensor(build_sensor_context(instance=instance))
        assert isinstance(result, SensorResult) and len(result.run_requests) == 1
        tags = result.run_requests[0].tags
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == ("2022", "2026")
        assert tags["trust/warehouse"] == "writer"
        again = landing_folder_sensor(build_sensor_context(instance=instance, cursor=result.cursor))
        assert again.run_requests[0].run_key == result.run_requests[0].run_key  # same state: Dagster dedupes it


def test_yearly_schedule_runs_once_over_every_delivery_year():
    from dagster import build_schedule_context, instance_for_test

    from orchestration.automation import yearly_reload

    with instance_for_test() as instance:
        instance.add_dynamic_partitions("delivery_year", ["2017", "2022", "2028"])
        when = datetime(2027, 4, 1, 6, 0, tzinfo=timezone.utc)
        request = yearly_reload(build_schedule_context(instance=instance, scheduled_execution_time=when))
        assert request.run_key == "yearly-2027"
        assert request.tags["dagster/asset_partition_range_start"] == "2017"
        assert request.tags["dagster/asset_partition_range_end"] == "2028"
        assert request.tags["trust/warehouse"] == "writer"


# --- the sample build ----------------------------------------------------------------------

def test_every_delivered_file_is_archived_read_only_with_its_checksum(sample_build):
    con = sample_build.warehouse()
    rows = con.execute("select file_path, sha256, archive_path from audit.file_loads").fetchall()
    con.close()
    landing_files = [p for p in sample_build.paths.landing_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(rows) >= 816 + 7
    for _, sha, archived in rows:
        archived = Path(archived)
        assert archived.parent.name == sha and sha256_of(archived) == sha
        assert not archived.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    archive = sample_build.paths.warehouse_path.parent / "archive"
    archived_shas = {p.name for p in archive.iterdir()}
    assert {sha256_of(p) for p in landing_files} <= archived_shas  # code lists too
    # the codebooks that read the waves are archived too: a delivery is its file, codebook and code list
    assert {sha256_of(p) for p in (REPO_ROOT / "ingest" / "codebooks").glob("wave_*.yml")} <= archived_shas


def test_validation_history_and_data_docs(sample_build):
    con = sample_build.warehouse()
    suites = {r[0] for r in con.execute("select distinct suite from audit.validation_runs").fetchall()}
    con.close()
    assert suites == {"survey_waves", "provision", "provision_by_year", "client_satisfaction"}
    docs = sample_build.paths.quality_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert "survey_waves__all" in index and "provision__all" in index
    assert list((docs / "validations").rglob("*.html"))


def test_no_working_files_are_left_after_a_run(sample_build):
    from ingest.working_copy import leftovers

    assert leftovers(sample_build.paths.warehouse_path) == []
    assert not (sample_build.paths.landing_dir / ".landing-changes.json").exists()


def test_the_salt_is_in_no_sql_and_no_dbt_file(sample_build):
    salt = os.environ["TRUST_PSEUDONYM_SALT"]
    for folder in (REPO_ROOT / "target", REPO_ROOT / "logs"):
        for p in folder.rglob("*"):
            if p.is_file() and p.stat().st_size < 50_000_000:
                assert salt.encode() not in p.read_bytes(), p
    con = sample_build.warehouse()
    try:
        for schema, table, column in con.execute(
                "select table_schema, table_name, column_name from information_schema.columns "
                "where data_type = 'VARCHAR' and table_catalog = current_database()").fetchall():
            hits = con.execute(f'select count(*) from "{schema}"."{table}" where "{column}" like ?',
                               [f"%{salt}%"]).fetchone()[0]
            assert hits == 0, (schema, table, column)
    finally:
        con.close()


def test_the_sample_salt_refuses_what_the_generator_did_not_make(tmp_path, monkeypatch):
    from ingest.pseudonym import SAMPLE_SALT, check_deliveries_allowed, write_sample_manifest

    landing = tmp_path / "landing"
    (landing / "survey" / "2027").mkdir(parents=True)
    sample = landing / "survey" / "2027" / "a_dati.csv"
    sample.write_bytes(b"resp_id;x\n1;2\n")
    write_sample_manifest(landing)
    real = tmp_path / "real_dati.csv"
    real.write_bytes(b"resp_id;x\n7;8\n")
    monkeypatch.delenv("TRUST_PSEUDONYM_SALT")
    monkeypatch.delenv("TRUST_PSEUDONYM_SALT_FILE", raising=False)
    assert check_deliveries_allowed([sample, real], landing) == [real]
    monkeypatch.setenv("TRUST_PSEUDONYM_SALT", SAMPLE_SALT)
    assert check_deliveries_allowed([real], landing) == [real]
    monkeypatch.setenv("TRUST_PSEUDONYM_SALT", "a real secret")
    assert check_deliveries_allowed([real], landing) == []


def test_a_quote_in_the_data_folder_does_not_break_publishing(tmp_path):
    from orchestration.publish import publish_snapshot

    folder = tmp_path / "O'Brien; drop table x; --"
    folder.mkdir()
    wh = folder / "trust.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema marts; create table marts.m as select 1 as a")
    con.execute("create schema audit")
    con.execute("create table audit.validation_runs (validation_id varchar, suite varchar, data_ref varchar, "
                "partition_key varchar, status varchar, n_expectations int, n_failed int, validated_at timestamptz)")
    con.execute("create table audit.validation_expectations (validation_id varchar, column_name varchar, "
                "expectation_type varchar, why varchar, crashed boolean, success boolean)")
    con.execute("create table audit.file_loads (source_kind varchar, delivery_year int, delivery_sha256 varchar, "
                "sha256 varchar, status varchar, public_message varchar, rows_loaded bigint, loaded_at timestamptz)")
    con.close()
    counts = publish_snapshot(wh, folder / "snap.duckdb", [("marts", "m")])
    assert counts == {"m": 1}


# --- the CLI -------------------------------------------------------------------------------

def test_validate_writes_nothing(sample_build, tmp_path, capsys):
    from orchestration.cli import main

    before = sha256_of(sample_build.paths.warehouse_path)
    good, _ = corrected_wave(tmp_path, 2026)
    assert main(["validate", str(good), "--wave", "2026"]) == 0
    assert "structure is sound" in capsys.readouterr().out
    bad = tmp_path / "monitorings_2026_pilnais_bad.sav"
    bad.write_bytes(good.read_bytes()[:5000])
    assert main(["validate", str(bad), "--wave", "2026"]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and "would be rejected" in out
    assert sha256_of(sample_build.paths.warehouse_path) == before
    assert not list((sample_build.paths.warehouse_path.parent / "archive").glob(f"{sha256_of(good)}*"))


@pytest.mark.parametrize("name", [
    'a";touch INJECTED;echo "_dati.csv',
    "O'Brien ; $(touch INJECTED2) `touch INJECTED3` ķēde ā_dati.csv",
    "spaces and ; semicolons_dati.csv",
])
def test_make_hands_file_names_to_the_cli_without_a_shell(sample_build, tmp_path, name):
    """`make validate FILE=...` with names holding quotes, `;`, `$(...)`, spaces and Latvian letters:
    the CLI gets the name exactly, and nothing in it runs."""
    src, _ = corrected_wave(tmp_path, 2027)
    target = tmp_path / "in" / name
    target.parent.mkdir()
    shutil.copyfile(src, target)
    shutil.copyfile(src.with_name(src.name.replace("_dati", "_kodi")), target.parent / "x_kodi.csv")
    env = {**os.environ, "TRUST_DATA_DIR": str(sample_build.paths.data_dir)}
    out = subprocess.run(["make", "-s", "-C", str(REPO_ROOT), "validate", f"FILE={target}", "WAVE=2027"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{name}: its structure is sound" in out.stdout
    for folder in (tmp_path, REPO_ROOT, target.parent):
        assert not list(folder.glob("INJECTED*")), "a delivered name reached a shell"


@pytest.mark.e2e
def test_a_codebook_pattern_cannot_reach_outside_its_folder(sample_build, tmp_path, monkeypatch, capsys):
    """A codebook whose data_file climbs out of the wave folder (or is absolute) is refused by name
    before any file is touched: the canary outside the project stays, nothing is archived."""
    from orchestration.cli import main

    data = tmp_path / "data"
    shutil.copytree(sample_build.paths.data_dir, data)
    monkeypatch.setenv("TRUST_DATA_DIR", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    canary = tmp_path / "canary" / "x_dati.csv"
    canary.parent.mkdir()
    canary.write_text("do not touch")
    src, _ = corrected_wave(tmp_path, 2027)
    for pattern in ("../../../../canary/*_dati.csv", str(canary.parent / "*_dati.csv"), "..\\\\x_dati.csv"):
        cb = yaml.safe_load((REPO_ROOT / "ingest" / "codebooks" / "wave_2027.yml").read_text(encoding="utf-8"))
        cb["delivery"]["data_file"] = pattern
        cb_path = tmp_path / "wave_2027.yml"
        cb_path.write_text(yaml.safe_dump(cb, allow_unicode=True), encoding="utf-8")
        landing_before = folder_state(data / "landing")
        archive_before = sorted((data / "warehouse" / "archive").iterdir())
        assert main(["load", str(src), "--wave", "2027", "--codebook", str(cb_path)]) == 1
        out = capsys.readouterr().out
        assert "file name pattern" in out and repr(pattern) in out
        assert canary.read_text() == "do not touch"
        assert folder_state(data / "landing") == landing_before
        assert sorted((data / "warehouse" / "archive").iterdir()) == archive_before


# --- the one writer ------------------------------------------------------------------------

def test_writer_lock_is_exclusive_across_processes(tmp_path):
    wh = tmp_path / "wh.duckdb"
    code = ("import sys; from ingest.lock import warehouse_lock\n"
            f"with warehouse_lock(__import__('pathlib').Path({str(wh)!r}), 'child', timeout=1): pass")
    with warehouse_lock(wh, "parent"):
        child = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert child.returncode != 0 and "WarehouseBusy" in child.stderr and "parent" in child.stderr
    child = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert child.returncode == 0, child.stderr


@pytest.mark.e2e
def test_processes_opening_a_new_dagster_home_at_once_do_not_collide(tmp_path):
    # Dagster's SQLite storages stamp their schema on first open; without the instance lock two
    # processes starting on a new DAGSTER_HOME fail with "UNIQUE constraint failed: alembic_version".
    code = ("from orchestration.pipeline import dagster_instance, register_delivery_years\n"
            "print(register_delivery_years(dagster_instance(), [2017, 2020]))")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs
    assert all("['2017', '2020']" in o for o in outs), outs


@pytest.mark.e2e
def test_a_second_writer_waits_then_fails_naming_the_holder(copy_of_build, tmp_path):
    wh = copy_of_build.warehouse_path
    before = warehouse_state(wh)
    new_file, _ = corrected_wave(tmp_path, 2027)
    with warehouse_lock(wh, "test holding the warehouse"):
        proc = cli(["load", str(new_file), "--wave", "2027"], cli_env(copy_of_build, tmp_path, TRUST_LOCK_TIMEOUT="2"))
        out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert "is being written by" in out and "test holding the warehouse" in out and "TRUST_LOCK_TIMEOUT" in out
    assert warehouse_state(wh) == before


@pytest.mark.e2e
def test_a_run_whose_process_was_killed_is_marked_failed(copy_of_build, tmp_path):
    """A run killed with SIGKILL stayed STARTED for ever (the UI showed it running, the writer queue
    waited for it). The next run, the sensor and `make status` mark it failed."""
    from dagster import DagsterRunStatus

    from orchestration.pipeline import dagster_instance

    env = cli_env(copy_of_build, tmp_path)
    proc = cli(["run"], env)
    home = Path(env["DAGSTER_HOME"])
    deadline = time.monotonic() + 300
    os.environ["DAGSTER_HOME"], old = str(home), os.environ.get("DAGSTER_HOME")
    try:
        started = []
        while time.monotonic() < deadline and not started:
            time.sleep(1)
            with dagster_instance() as instance:  # opened under the instance lock, as the CLI opens it
                started = [r for r in instance.get_runs() if r.status == DagsterRunStatus.STARTED
                           and r.tags.get("trust/pid")]
        assert started, "the run never started"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        status = subprocess.run([sys.executable, "-m", "orchestration.cli", "status"], cwd=REPO_ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert "marked run" in status.stdout and "FAILURE" in status.stdout, status.stdout[-2000:]
        with dagster_instance() as instance:
            assert instance.get_run_by_id(started[0].run_id).status == DagsterRunStatus.FAILURE
    finally:
        os.environ.pop("DAGSTER_HOME") if old is None else os.environ.__setitem__("DAGSTER_HOME", old)


@pytest.mark.e2e
def test_two_loads_started_at_once_one_runs_the_other_waits(copy_of_build, tmp_path):
    wh = copy_of_build.warehouse_path
    new_file, truth = corrected_wave(tmp_path, 2027)
    env = cli_env(copy_of_build, tmp_path)
    a = cli(["load", str(new_file), "--wave", "2027"], env)
    b = cli(["run"], env)
    out_a, _ = a.communicate(timeout=900)
    out_b, _ = b.communicate(timeout=900)
    assert a.returncode == 0 and b.returncode == 0, (out_a[-2000:], out_b[-2000:])
    assert "waiting for the warehouse lock" in out_a + out_b
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select sha256 from raw.survey_waves where wave = 2027").fetchone()[0] == sha256_of(new_file)
    n = con.execute("select n_unweighted from intermediate.int_client_satisfaction where wave_year = 2027").fetchone()[0]
    con.close()
    assert n == truth["client_satisfaction"]["n_unweighted"]


@pytest.mark.e2e
def test_make_ui_started_in_the_background_stops_with_ui_stop(tmp_path):
    """`dagster dev` inherited "ignore SIGINT" when backgrounded and kept running; `make ui-stop` stops it."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "UI_PORT": str(port),
           "TRUST_DATA_DIR": str(tmp_path / "data")}
    ignore_int = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731  as a backgrounded job
    ui = subprocess.Popen(["make", "-s", "-C", str(REPO_ROOT), "ui"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=ignore_int)
    try:
        deadline = time.monotonic() + 240
        up = False
        while time.monotonic() < deadline and not up:
            time.sleep(1)
            try:
                up = urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2).status == 200
            except OSError:
                pass
        assert up, "the UI did not come up"
        pgid = int((tmp_path / "home" / "ui.pid").read_text())
        os.killpg(pgid, 0)  # dagster dev runs in its own process group
        stop = subprocess.run(["make", "-s", "-C", str(REPO_ROOT), "ui-stop"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert "stopped" in stop.stdout, stop.stdout + stop.stderr
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
        ui.wait(timeout=60)
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGKILL)


@pytest.mark.parametrize("gates, failure, expected", [
    ([("provision", {2024})], None, {"survey": "not_promoted", "admin": "quarantined"}),
    ([("survey_waves", {2027})], None, {"survey": "quarantined", "admin": "not_promoted"}),
    ([("provision", {2025})], None, {"survey": "quarantined", "admin": "quarantined"}),  # points at no delivery
    ([("dbt data tests", None)], None, {"survey": "quarantined", "admin": "quarantined"}),
    ([], "dbt could not build mart_x", {"survey": "not_promoted", "admin": "not_promoted"}),
])
def test_a_blocked_run_quarantines_what_the_gate_points_at(tmp_path, gates, failure, expected):
    """Which of a failed run's deliveries are quarantined (held until corrected or retried) and which
    merely not promoted (retried next run): the gate's years decide; a model error quarantines nothing."""
    from ingest.settings import resolve_paths
    from ingest.warehouse import connect
    from orchestration.writer import GateFailure, RunSession, _this_runs_audit

    work = tmp_path / "wh.duckdb.building"
    con = connect(work)
    for kind, year in (("survey", 2027), ("admin", 2024)):
        con.execute("insert into audit.file_loads (load_id, source_kind, partition_key, file_name, file_path, sha256, "
                    "size_bytes, status, loaded_at, delivery_year, run_id) values (?, ?, ?, 'f', '/f', 'x', 1, "
                    "'loaded', now(), ?, 'run-1')", [f"{kind}-load", kind, str(year), year])
    con.execute("insert into audit.file_loads (load_id, source_kind, partition_key, file_name, file_path, sha256, "
                "size_bytes, status, loaded_at, delivery_year, run_id) values ('old', 'survey', '2026', 'f', '/f', "
                "'y', 1, 'loaded', now(), 2026, 'an earlier run')")
    con.close()
    session = RunSession(resolve_paths(tmp_path), "run-1", work,
                         gate_failures=[GateFailure(g, "why", y) for g, y in gates], failure=failure)
    rows = _this_runs_audit(session)["file_loads"]
    assert {r["source_kind"]: r["status"] for r in rows} == expected  # the earlier run's row is not this run's
    for r in rows:
        assert "/" not in r["public_message"] and r["public_message"].startswith(
            "survey wave 2027" if r["source_kind"] == "survey" else "admin extract 2024")


def test_the_sample_clock_applies_to_the_generators_files_only(tmp_path, monkeypatch):
    """The sample simulates deliveries up to 2028, ahead of the machine's clock: its own files are checked
    against 1 January after its last year; any other file, even in the same folder, against today's date."""
    import datetime

    from ingest.pseudonym import write_sample_manifest
    from ingest.settings import today

    monkeypatch.delenv("TRUST_TODAY", raising=False)
    landing = tmp_path / "landing"
    (landing / "survey" / "2028").mkdir(parents=True)
    made = landing / "survey" / "2028" / "made_by_the_generator.sav"
    made.write_bytes(b"sample bytes")
    write_sample_manifest(landing, last_year=2028)
    other = landing / "survey" / "2028" / "delivered_by_hand.sav"
    other.write_bytes(b"other bytes")
    real = datetime.date.today()
    assert today(made) == max(real, datetime.date(2029, 1, 1))
    assert today(other) == real and today() == real
