"""What starts runs without a person: the landing-folder sensor and the yearly schedule.

Both launch the build_warehouse job, whose runs carry the writer tag, so the run queue
(dagster.yaml, `concurrency.runs.tag_concurrency_limits`) lets one writer run at a time; the
rest wait in the queue.
"""
from __future__ import annotations

import json

from dagster import (
    DefaultScheduleStatus, DefaultSensorStatus, RunFailureSensorContext, RunRequest, SensorEvaluationContext,
    SensorResult, SkipReason, run_failure_sensor, schedule, sensor,
)

from ingest.landing import codebook_available, fingerprints
from ingest.settings import codebook_dir, resolve_paths
from orchestration.partitions import DELIVERY_YEARS, WRITER_TAGS, range_tags_of


def plan_landing_runs(landing_dir, cursor: dict, known_partitions: set[str], codebooks) -> tuple[list, list, dict, list]:
    """Decide what the sensor does, as plain data (tested without a Dagster instance):
    (new partitions, [(year, run_key)], new cursor, messages)."""
    seen = fingerprints(landing_dir)
    new_cursor = dict(cursor)
    runs, new_partitions, messages = [], [], []
    for year, kinds in sorted(seen.items()):
        changed = {k: fp for k, fp in kinds.items() if cursor.get(f"{year}/{k}") != fp}
        if not changed:
            continue
        if "survey" in changed and not (codebook_available(year, codebooks)
                                         or codebook_available(year, landing_dir / "survey" / str(year))):
            messages.append(f"survey/{year}/ has files but no codebook wave_{year}.yml yet: waiting for it")
            changed.pop("survey")
            if not changed:
                continue
        if str(year) not in known_partitions:
            new_partitions.append(str(year))
        for k, fp in changed.items():
            new_cursor[f"{year}/{k}"] = fp
        runs.append((year, f"{year}:" + ",".join(f"{k}={kinds[k]}" for k in sorted(kinds))))
        messages.append(f"delivery year {year}: {', '.join(sorted(changed))} arrived or changed")
    return new_partitions, runs, new_cursor, messages


@sensor(
    job_name="build_warehouse",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches the landing folder (survey/<wave>/, admin/<year>/): a new or changed delivery adds its "
                "year as a partition and loads it (a wave waits until its codebook is there too).",
)
def landing_folder_sensor(context: SensorEvaluationContext):
    paths = resolve_paths()
    cursor = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(DELIVERY_YEARS.name))
    new_partitions, runs, new_cursor, messages = plan_landing_runs(paths.landing_dir, cursor, known, codebook_dir())
    for m in messages:
        context.log.info(m)
    if not runs:
        return SkipReason("; ".join(messages) or f"nothing new in {paths.landing_dir}")
    return SensorResult(
        run_requests=[RunRequest(run_key=key, partition_key=str(year), tags=WRITER_TAGS) for year, key in runs],
        dynamic_partitions_requests=[DELIVERY_YEARS.build_add_request(new_partitions)] if new_partitions else [],
        cursor=json.dumps(new_cursor, sort_keys=True),
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


@run_failure_sensor(
    monitored_jobs=None,
    default_status=DefaultSensorStatus.RUNNING,
    description="After a failed or blocked run, refresh the gate status in the published snapshot (the marts "
                "stay the last good ones), so the report's data-quality page shows what was blocked.",
)
def quality_status_after_failure(context: RunFailureSensorContext):
    from orchestration.publish import refresh_quality_status

    paths = resolve_paths()
    if refresh_quality_status(paths.warehouse_path, paths.published_path):
        context.log.info(f"run {context.dagster_run.run_id[:8]} failed: gate status refreshed in {paths.published_path}")
