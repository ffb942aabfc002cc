"""What starts runs without a person: the landing-folder sensor and the yearly schedule.

Both launch the build_warehouse job, whose runs carry the writer tag, so the run queue
(dagster.yaml, `concurrency.runs.tag_concurrency_limits`) lets one writer run at a time; the
rest wait in the queue. Every run also takes the warehouse lock in its writer resource.

The sensor's cursor is a short summary of what it saw (`{"files": 816, "digest": "…"}`), shown on
its page in the UI; the checksum of every workbook it hashed (re-read only when a file's size or
modification time changes) is kept in a file under the data folder (`hash_cache_path`).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb
from dagster import (
    DefaultScheduleStatus, DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason,
    schedule, sensor,
)

from ingest.codebook import codebook_for_delivery
from ingest.errors import IngestError, printable
from ingest.file_patterns import UnsafePattern
from ingest.intake import entry_identity, entry_problem, unsafe_entries
from ingest.landing import codebook_available, year_entries
from ingest.settings import Paths, Settings
from ingest.warehouse import admin_files, delivery_identity, sha256_of, survey_delivery_parts, survey_files
from orchestration.partitions import DELIVERY_YEARS, WRITER_TAGS, range_tags_of
from orchestration.writer import reap_dead_runs

HASH_CACHE = Path("sensor") / "landing_hashes.json"  # under the data folder


def hash_cache_path(paths: Paths) -> Path:
    return paths.data_dir / HASH_CACHE


def load_hash_cache(path: Path, cursor: str | None = None) -> dict:
    """The sensor's checksums of the landing files ({path: [size, mtime_ns, sha256]}); a cursor written
    by an older version held them itself and seeds the cache once. Unreadable: start afresh (re-hash)."""
    try:
        cache = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(cache, dict):
            return cache
    except (OSError, ValueError):
        pass
    try:
        old = json.loads(cursor) if cursor else {}
    except ValueError:
        old = {}
    return {k: v for k, v in old.items() if isinstance(v, list)} if isinstance(old, dict) else {}


def save_hash_cache(path: Path, cache: dict) -> None:
    """Written beside itself and moved into place: a killed tick leaves the old cache or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cache, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def landing_digest(cache: dict) -> str:
    """One checksum over every file's checksum the sensor has seen."""
    return hashlib.sha256(json.dumps({k: v[2] for k, v in sorted(cache.items())}).encode()).hexdigest()


def cursor_of(cache: dict) -> str:
    """The sensor's cursor: a short summary of the landing files it saw, not their list."""
    return json.dumps({"files": len(cache), "digest": landing_digest(cache)[:16]}, sort_keys=True)


def _hashes(files: list[Path], cache: dict) -> dict[str, str]:
    """sha256 of each file, re-read only when its size or modification time changed."""
    out = {}
    for p in files:
        st = p.lstat()
        key = str(p)
        hit = cache.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            out[key] = hit[2]
        else:
            out[key] = sha256_of(p)
            cache[key] = [st.st_size, st.st_mtime_ns, out[key]]
    return out


def known_deliveries(warehouse_path: Path) -> tuple[dict[str, str], set[tuple[int, str]], set[str]]:
    """From the live warehouse's audit: the identity each survey wave holds now, the (year, identity)
    of the admin extracts held now, and identities held back (rejected or quarantined, not retried)."""
    if not Path(warehouse_path).exists():
        return {}, set(), set()
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        rows = con.execute("""
            with current as (
                select source_kind, partition_key, coalesce(delivery_sha256, sha256) as identity,
                       row_number() over (partition by source_kind, partition_key order by loaded_at desc) as rn
                from audit.file_loads where status in ('loaded', 'unchanged')
            ), last as (
                select coalesce(delivery_sha256, sha256) as identity, status,
                       row_number() over (partition by coalesce(delivery_sha256, sha256) order by loaded_at desc) as rn
                from audit.file_loads where status in ('loaded', 'unchanged', 'rejected', 'quarantined', 'not_promoted')
            )
            select 'current', source_kind, partition_key, identity from current where rn = 1
            union all
            select 'held', null, null, identity from last where rn = 1 and status in ('rejected', 'quarantined')
        """).fetchall()
    except duckdb.CatalogException:
        return {}, set(), set()
    finally:
        con.close()
    survey = {k: i for what, kind, k, i in rows if what == "current" and kind == "survey"}
    admin = {(int(k.rsplit("/", 1)[1]), i) for what, kind, k, i in rows if what == "current" and kind == "admin"}
    held = {i for what, _, _, i in rows if what == "held"}
    return survey, admin, held


def plan_landing_runs(landing_dir: Path, warehouse_path: Path, codebooks: Path, cache: dict) -> tuple[list[int], list[str]]:
    """Which delivery years hold a delivery the warehouse does not hold yet (and has not held back),
    as plain data (tested without a Dagster instance): (years, messages). Nothing is read through a
    link: entries that are not regular files start a run (which refuses them by name) until they are
    on record, and are then held like any refused delivery."""
    landing_dir = Path(landing_dir)
    survey_now, admin_now, held = known_deliveries(warehouse_path)
    years, messages = set(), []

    def screen(kind: str, year: int, entries: list[tuple[Path, str]]) -> None:
        for entry, problem in entries:
            if entry_identity(entry, problem) not in held:
                years.add(year)
                messages.append(f"{kind}/{year}/{printable(entry.name)}: {problem}: the run refuses it by name")

    survey_root = landing_dir / "survey"
    for year, d, problem in year_entries(survey_root):
        if problem:
            screen("survey", year, [(d, problem)])
            continue
        screen("survey", year, unsafe_entries(d))
        if not any(entry_problem(p) is None and not p.name.startswith(".") for p in d.iterdir()):
            continue
        if not (codebook_available(year, codebooks) or codebook_available(year, d)):
            messages.append(f"survey/{year}/ has files but no codebook wave_{year}.yml yet: waiting for it")
            continue
        try:
            data_files = [f for _, f in survey_files(survey_root, {year})]
            identity = delivery_identity(survey_delivery_parts(data_files, codebook_for_delivery(d)))
        except (IngestError, UnsafePattern, ValueError) as exc:
            messages.append(f"survey/{year}/ cannot be read as a delivery yet ({printable(str(exc))}): the run will "
                            "say why")
            years.add(year)
            continue
        if survey_now.get(str(year)) != identity and identity not in held:
            years.add(year)
            messages.append(f"survey wave {year}: a new or changed delivery")
    for year, d, problem in year_entries(landing_dir / "admin"):
        screen("admin", year, [(d, problem)] if problem else unsafe_entries(d))
    hashes = _hashes(admin_files(landing_dir / "admin"), cache)
    for path, sha in hashes.items():
        year = int(Path(path).parent.name)
        if (year, sha) not in admin_now and sha not in held:
            if year not in years:
                messages.append(f"admin extracts {year}: a new or changed workbook")
            years.add(year)
    return sorted(years), messages


@sensor(
    job_name="build_warehouse",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches the landing folder (survey/<wave>/, admin/<year>/) against what the warehouse holds "
                "(audit.file_loads): deliveries it does not hold yet start one run over all their years (a wave "
                "waits until its codebook is there too; rejected or quarantined deliveries are not retried).",
)
def landing_folder_sensor(context: SensorEvaluationContext):
    reap_dead_runs(context.instance, log=context.log.info)
    settings = Settings.from_env()
    paths = settings.paths
    cache_path = hash_cache_path(paths)
    cache = load_hash_cache(cache_path, context.cursor)
    before = dict(cache)
    years, messages = plan_landing_runs(paths.landing_dir, paths.warehouse_path, settings.codebook_dir, cache)
    for m in messages:
        context.log.info(m)
    if cache != before or not cache_path.exists():
        save_hash_cache(cache_path, cache)
    cursor = cursor_of(cache)
    if not years:
        return SensorResult(skip_reason=SkipReason("; ".join(messages) or f"nothing new in {paths.landing_dir}"),
                            cursor=cursor)
    known = context.instance.get_dynamic_partitions(DELIVERY_YEARS.name)
    new = [str(y) for y in years if str(y) not in known]
    state = hashlib.sha256(json.dumps({k: v[2] for k, v in sorted(cache.items())}).encode()
                           + json.dumps(years).encode()).hexdigest()[:16]
    if len(years) == 1:
        request = RunRequest(run_key=f"landing:{state}", partition_key=str(years[0]), tags=WRITER_TAGS)
    else:
        order = known + new
        span = order[min(order.index(str(y)) for y in years): max(order.index(str(y)) for y in years) + 1]
        request = RunRequest(run_key=f"landing:{state}", tags={**WRITER_TAGS, **range_tags_of(span)})
    return SensorResult(
        run_requests=[request],
        dynamic_partitions_requests=[DELIVERY_YEARS.build_add_request(new)] if new else [],
        cursor=cursor,
    )


@schedule(
    job_name="build_warehouse",
    cron_schedule="0 6 1 4 *",
    execution_timezone="Europe/Riga",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Yearly reconciliation on 1 April, 06:00 Riga time (after the survey firm's spring delivery and "
                "the LM's annual extracts): one run over every delivery year; unchanged files are skipped by checksum.",
)
def yearly_reload(context):
    years = context.instance.get_dynamic_partitions(DELIVERY_YEARS.name)
    if not years:
        return SkipReason("no delivery years known yet: drop files into the landing folder or run `make run`")
    return RunRequest(run_key=f"yearly-{context.scheduled_execution_time:%Y}",
                      tags={**WRITER_TAGS, **range_tags_of(years)})
