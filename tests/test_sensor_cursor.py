"""The landing sensor's cursor is a short summary shown on its UI page, not the checksum of every
workbook: those are kept in a file under the data folder (orchestration/automation.py)."""
from __future__ import annotations

import json

from dagster import DagsterInstance, SensorResult, build_sensor_context


def test_the_sensor_cursor_is_a_short_summary_of_the_sample_landing(sample_build, tmp_path, monkeypatch):
    from orchestration.automation import HASH_CACHE, landing_folder_sensor

    paths = sample_build.paths
    monkeypatch.setenv("TRUST_DATA_DIR", str(tmp_path / "data"))  # the hash cache goes here
    monkeypatch.setenv("TRUST_LANDING_DIR", str(paths.landing_dir))
    monkeypatch.setenv("TRUST_WAREHOUSE_PATH", str(paths.warehouse_path))
    with DagsterInstance.ephemeral() as instance:
        first = landing_folder_sensor(build_sensor_context(instance=instance))
        assert isinstance(first, SensorResult) and not first.run_requests  # the build holds every delivery
        assert len(first.cursor) < 200, first.cursor
        assert json.loads(first.cursor)["files"] == 816
        cache = tmp_path / "data" / HASH_CACHE
        assert len(json.loads(cache.read_text(encoding="utf-8"))) == 816
        written = cache.stat().st_mtime_ns
        again = landing_folder_sensor(build_sensor_context(instance=instance, cursor=first.cursor))
        assert again.cursor == first.cursor and not again.run_requests
        assert cache.stat().st_mtime_ns == written  # nothing changed: the cache is not rewritten


def test_a_cursor_of_the_older_kind_seeds_the_cache(tmp_path):
    from orchestration.automation import cursor_of, load_hash_cache

    old = json.dumps({"/l/admin/2024/a.xlsx": [10, 20, "ab" * 32]})
    cache = load_hash_cache(tmp_path / "none.json", old)
    assert cache == json.loads(old)
    assert json.loads(cursor_of(cache))["files"] == 1
