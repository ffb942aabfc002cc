"""Yearly operations: partitions, sensor, schedule, one writer, archive, re-delivery, dry run,
and a killed load that leaves the warehouse as it was."""
from __future__ import annotations

import json
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
from ingest.sample.survey_generic import WAVES, generate_wave
from ingest.settings import REPO_ROOT
from ingest.warehouse import sha256_of

MARTS = ("mart_indicator_estimates", "mart_client_satisfaction", "mart_provision_per_capita", "dim_wave",
         "mart_trust_provision")
RAW = ("survey_waves", "survey_cells", "admin_table_rows")


class Contents(dict):
    """Table contents, compared with a relative tolerance of 1e-6 on floats: DuckDB's parallel sums of
    doubles differ in the last bits between two builds of the same data, and the small-area model's
    REML fit amplifies that a little; keys, flags, suppression and nulls must be identical."""

    def __eq__(self, other):
        import pandas as pd

        if set(self) != set(other):
            return False
        for t in self:
            try:
                pd.testing.assert_frame_equal(self[t], other[t], check_exact=False, rtol=1e-6, atol=1e-12)
            except AssertionError as exc:
                print(f"table {t} differs: {exc}")
                return False
        return True

    def __repr__(self):
        return f"<contents of {', '.join(self)}>"


def fingerprint(warehouse: Path, schema: str, tables) -> Contents:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return Contents({t: con.execute(f"select * from {schema}.{t} order by all").df() for t in tables})
    finally:
        con.close()


def corrected_2026(tmp_path: Path, seed: int = 99) -> tuple[Path, dict]:
    spec = next(s for s in WAVES if s.wave == 2026)
    truth = generate_wave(spec, tmp_path / "redelivery", np.random.default_rng(seed))
    return tmp_path / "redelivery" / "2026" / spec.file_name, truth


# --- definitions ---------------------------------------------------------------------------

def test_ingest_is_partitioned_by_delivery_year_and_writers_share_one_pool():
    from dagster import AssetKey

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in (AssetKey(["raw", "survey_cells"]), AssetKey(["raw", "admin_table_rows"])):
        assert graph.get(key).partitions_def.name == "delivery_year"
    assert graph.get(AssetKey(["marts", "mart_indicator_estimates"])).partitions_def is None
    job = defs.resolve_job_def("build_warehouse")
    assert job.tags.get("trust/warehouse") == "writer"
    pools = {node.name: node.definition.pool for node in job.graph.node_dict.values()}
    assert pools and all(p == "warehouse_writer" for n, p in pools.items() if n != "reports__evidence_site"), pools
    instance_cfg = yaml.safe_load((REPO_ROOT / "orchestration" / "dagster.yaml").read_text(encoding="utf-8"))
    assert instance_cfg["concurrency"]["pools"]["default_limit"] == 1
    assert {"key": "trust/warehouse", "value": "writer", "limit": 1} in instance_cfg["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {s.name for s in defs.sensors} == {"landing_folder_sensor", "quality_status_after_failure"}
    assert [s.name for s in defs.schedules] == ["yearly_reload"]
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {"ge_mart_indicator_estimates", "ge_mart_provision_per_capita", "ge_mart_client_satisfaction"} <= checks


def test_sensor_adds_a_wave_when_its_file_and_codebook_land(tmp_path):
    from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context

    from orchestration.automation import landing_folder_sensor

    landing = tmp_path / "landing"
    wave_dir = landing / "survey" / "2029"
    wave_dir.mkdir(parents=True)
    (wave_dir / "monitorings_2029.sav").write_bytes(b"not yet checked")
    codebooks = tmp_path / "codebooks"
    codebooks.mkdir()
    env = {"TRUST_DATA_DIR": str(tmp_path), "TRUST_CODEBOOK_DIR": str(codebooks)}
    old = {k: os.environ.get(k) for k in [*env, "TRUST_LANDING_DIR", "TRUST_WAREHOUSE_PATH"]}
    try:
        os.environ.update(env)
        for k in ("TRUST_LANDING_DIR", "TRUST_WAREHOUSE_PATH"):
            os.environ.pop(k, None)
        with DagsterInstance.ephemeral() as instance:
            first = landing_folder_sensor(build_sensor_context(instance=instance))
            assert isinstance(first, SkipReason) and "no codebook wave_2029.yml" in first.skip_message
            shutil.copyfile(REPO_ROOT / "ingest" / "codebooks" / "wave_2028.yml", codebooks / "wave_2029.yml")
            second = landing_folder_sensor(build_sensor_context(instance=instance))
            assert isinstance(second, SensorResult)
            assert [r.partition_key for r in second.run_requests] == ["2029"]
            assert second.dynamic_partitions_requests[0].partition_keys == ["2029"]
            cursor = second.cursor
            instance.add_dynamic_partitions("delivery_year", ["2029"])
            third = landing_folder_sensor(build_sensor_context(instance=instance, cursor=cursor))
            assert isinstance(third, SkipReason)  # nothing changed
            time.sleep(0.01)
            (wave_dir / "monitorings_2029.sav").write_bytes(b"a corrected delivery")
            fourth = landing_folder_sensor(build_sensor_context(instance=instance, cursor=cursor))
            assert [r.partition_key for r in fourth.run_requests] == ["2029"]
            assert fourth.run_requests[0].run_key != second.run_requests[0].run_key
            assert not fourth.dynamic_partitions_requests  # the year is known already
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


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
    landing_files = [p for p in sample_build.paths.landing_dir.rglob("*") if p.is_file()]
    assert len(rows) >= 816 + 7
    for _, sha, archived in rows:
        archived = Path(archived)
        assert archived.parent.name == sha and sha256_of(archived) == sha
        assert not archived.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    archive = sample_build.paths.warehouse_path.parent / "archive"
    archived_shas = {p.name for p in archive.iterdir()}
    assert {sha256_of(p) for p in landing_files} <= archived_shas  # code lists too


def test_validation_history_and_data_docs(sample_build):
    con = sample_build.warehouse()
    suites = {r[0] for r in con.execute("select distinct suite from audit.validation_runs").fetchall()}
    con.close()
    assert {"raw_survey_wave", "raw_admin_extract", "mart_indicator_estimates", "mart_wave_changes",
            "mart_provision_per_capita", "mart_provision_by_year", "mart_client_satisfaction"} <= suites
    docs = sample_build.paths.quality_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert "raw_survey_wave__2017" in index and "mart_indicator_estimates__all" in index
    assert list((docs / "validations").rglob("*.html"))


# --- CLI -----------------------------------------------------------------------------------

def test_validate_is_a_dry_run(copy_of_build, tmp_path, capsys):
    from orchestration.cli import main

    good, _ = corrected_2026(tmp_path)
    before = sha256_of(copy_of_build.warehouse_path)
    assert main(["validate", str(good), "--wave", "2026"]) == 0
    assert "would load" in capsys.readouterr().out
    bad = tmp_path / "bad.sav"
    bad.write_bytes(good.read_bytes()[:5000])
    assert main(["validate", str(bad), "--wave", "2026"]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and str(bad) in out
    assert sha256_of(copy_of_build.warehouse_path) == before
    assert not list((copy_of_build.warehouse_path.parent / "archive").glob(f"{sha256_of(good)}*"))


def test_corrected_redelivery_replaces_the_wave_and_keeps_both_in_the_audit(copy_of_build, tmp_path, monkeypatch):
    from orchestration.cli import main

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("TRUST_REPORTS", "skip")
    wh = copy_of_build.warehouse_path
    con = duckdb.connect(str(wh), read_only=True)
    old_sha = con.execute("select sha256 from raw.survey_waves where wave = 2026").fetchone()[0]
    audit_before = dict(con.execute("select partition_key, count(*) from audit.file_loads group by 1").fetchall())
    con.close()
    new_file, truth = corrected_2026(tmp_path)
    assert main(["load", str(new_file), "--wave", "2026"]) == 0

    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select sha256 from raw.survey_waves where wave = 2026").fetchone()[0] == sha256_of(new_file)
    loads = con.execute("""select sha256, archive_path from audit.file_loads
                           where partition_key = '2026' and status = 'loaded' order by loaded_at""").fetchall()
    assert [s for s, _ in loads][-2:] == [old_sha, sha256_of(new_file)]
    assert all(Path(a).exists() for _, a in loads)
    audit_after = dict(con.execute("select partition_key, count(*) from audit.file_loads group by 1").fetchall())
    # a one-year run touched only its year (the wave and the 2026 admin extracts, found unchanged)
    other_years = lambda audit: {k: v for k, v in audit.items() if not k.endswith("2026")}  # noqa: E731
    assert other_years(audit_after) == other_years(audit_before)
    con2 = con.execute("select count(*) from audit.file_loads where partition_key like '%/2026' and status = 'unchanged'")
    n_extracts = len(list((copy_of_build.admin_landing / "2026").glob("*.xlsx")))
    assert con2.fetchone()[0] == n_extracts  # the 2026 admin extracts were checked and found unchanged
    sat = con.execute("select n_unweighted, top2_share from marts.mart_client_satisfaction where wave_year = 2026").fetchone()
    con.close()
    assert sat[0] == truth["client_satisfaction"]["n_unweighted"]
    assert sat[1] == pytest.approx(truth["client_satisfaction"]["top2_weighted"], abs=1e-6)
    landing = copy_of_build.survey_landing / "2026"
    assert [p.name for p in landing.iterdir()] == [new_file.name]
    # the same file again changes nothing
    marts_before = fingerprint(wh, "marts", MARTS)
    assert main(["load", str(new_file), "--wave", "2026"]) == 0
    assert fingerprint(wh, "marts", MARTS) == marts_before
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select status from audit.file_loads where partition_key = '2026' "
                       "order by loaded_at desc limit 1").fetchone()[0] == "unchanged"
    con.close()


# --- safety: killed loads, concurrent loads ------------------------------------------------

def _cli(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "orchestration.cli", *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, **kw)


def _env(paths, tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    env.update(TRUST_DATA_DIR=str(paths.data_dir), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               TRUST_REPORTS="skip", GX_ANALYTICS_ENABLED="false", **extra)
    return env


@pytest.mark.parametrize("point", ["archive:copied", "survey:parsed", "survey:in-transaction", "dbt:built"])
def test_a_killed_load_leaves_the_warehouse_as_it_was(copy_of_build, tmp_path, point):
    wh = copy_of_build.warehouse_path
    marts_before = fingerprint(wh, "marts", MARTS)
    raw_before = fingerprint(wh, "raw", RAW)
    new_file, _ = corrected_2026(tmp_path)
    proc = _cli(["load", str(new_file), "--wave", "2026"], _env(copy_of_build, tmp_path, TRUST_FAULT_AT=point))
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, out[-3000:]
    # the warehouse opens (read-write: no lock left behind, no corruption) and its marts are as before
    con = duckdb.connect(str(wh))
    con.close()
    assert fingerprint(wh, "marts", MARTS) == marts_before
    if point != "dbt:built":  # before the wave's transaction committed: the raw tables are as before too
        assert fingerprint(wh, "raw", RAW) == raw_before
    with warehouse_lock(wh, "test", timeout=5):
        pass  # the killed process's lock is gone


def test_a_load_killed_in_the_middle_of_dbt_then_a_clean_reload(copy_of_build, tmp_path):
    wh = copy_of_build.warehouse_path
    marts_before = fingerprint(wh, "marts", MARTS)
    new_file, truth = corrected_2026(tmp_path)
    env = _env(copy_of_build, tmp_path)
    proc = _cli(["load", str(new_file), "--wave", "2026"], env)
    deadline = time.monotonic() + 300
    while not list(wh.parent.glob(wh.name + ".build-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(4)  # dbt is building models in the working copy
    assert proc.poll() is None, "the load finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert fingerprint(wh, "marts", MARTS) == marts_before
    # the next load recovers: the leftover working copy is dropped, the wave is built
    again = _cli(["load", str(new_file), "--wave", "2026"], env)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out[-3000:]
    assert not list(wh.parent.glob(wh.name + ".build-*"))
    con = duckdb.connect(str(wh), read_only=True)
    n = con.execute("select n_unweighted from marts.mart_client_satisfaction where wave_year = 2026").fetchone()[0]
    con.close()
    assert n == truth["client_satisfaction"]["n_unweighted"]


def test_a_second_writer_waits_then_fails_with_a_clear_message(copy_of_build, tmp_path):
    wh = copy_of_build.warehouse_path
    before = fingerprint(wh, "raw", RAW)
    new_file, _ = corrected_2026(tmp_path)
    with warehouse_lock(wh, "test holding the warehouse"):
        proc = _cli(["load", str(new_file), "--wave", "2026"], _env(copy_of_build, tmp_path, TRUST_LOCK_TIMEOUT="2"))
        out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert "is being written by" in out and "test holding the warehouse" in out and "TRUST_LOCK_TIMEOUT" in out
    assert fingerprint(wh, "raw", RAW) == before


def test_two_loads_started_at_once_one_runs_the_other_waits(copy_of_build, tmp_path):
    wh = copy_of_build.warehouse_path
    new_file, truth = corrected_2026(tmp_path)
    env = _env(copy_of_build, tmp_path)
    a = _cli(["load", str(new_file), "--wave", "2026"], env)
    b = _cli(["run"], env)
    out_a, _ = a.communicate(timeout=900)
    out_b, _ = b.communicate(timeout=900)
    assert a.returncode == 0 and b.returncode == 0, (out_a[-2000:], out_b[-2000:])
    assert "waiting for the warehouse lock" in out_a + out_b
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select sha256 from raw.survey_waves where wave = 2026").fetchone()[0] == sha256_of(new_file)
    n = con.execute("select n_unweighted from marts.mart_client_satisfaction where wave_year = 2026").fetchone()[0]
    con.close()
    assert n == truth["client_satisfaction"]["n_unweighted"]


def test_writer_lock_is_exclusive_across_processes(tmp_path):
    wh = tmp_path / "wh.duckdb"
    code = ("import sys; from ingest.lock import warehouse_lock\n"
            f"with warehouse_lock(__import__('pathlib').Path({str(wh)!r}), 'child', timeout=1): pass")
    with warehouse_lock(wh, "parent"):
        child = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert child.returncode != 0 and "WarehouseBusy" in child.stderr and "parent" in child.stderr
    child = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert child.returncode == 0, child.stderr


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
