"""Run the build_warehouse job through Dagster and summarise what happened.

The CLI and the tests both call ``run_build``; there is no second code path: it
materialises the same job that ``dagster dev`` shows, on a persistent instance
(DAGSTER_HOME) so the run appears in the UI.
"""
from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from dagster import DagsterEventType, DagsterInstance

from ingest import faults
from ingest.errors import printable
from ingest.landing import delivered_years
from ingest.pseudonym import SAMPLE_SALT_WARNING, uses_sample_salt
from ingest.settings import DEFAULT_DAGSTER_HOME, Paths, Settings  # noqa: F401 (DEFAULT_DAGSTER_HOME re-exported)
from orchestration.partitions import DELIVERY_YEARS, WRITER_TAGS, range_tags_of
from orchestration.writer import process_tags, site_after_failure

INSTANCE_CONFIG = Path(__file__).resolve().parent / "dagster.yaml"


@dataclass
class RunSummary:
    run_id: str
    success: bool
    paths: Paths
    step_failures: dict[str, str] = field(default_factory=dict)
    skipped_steps: list[str] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    run_error: str | None = None  # why a run failed outside any step (e.g. the warehouse lock was not free)
    refused: list[dict] = field(default_factory=list)  # this run's deliveries rejected or quarantined (audit)
    started_steps: list[str] = field(default_factory=list)  # the steps that began, in the order they began
    settings: Settings | None = None  # the run's settings (the salt the warning is about)

    def failure_line(self) -> str:
        """Where the run failed, as it happened: in the steps that failed (a gate's blocking check fails its
        step), after its steps ran, or before any step began (e.g. the warehouse lock was not free)."""
        failed = [s for s in self.started_steps if s in self.step_failures] + \
            sorted(s for s in self.step_failures if s not in self.started_steps)
        if failed:
            blocked = [s for s in failed if "blocking asset check failed" in self.step_failures[s]]
            why = " (a blocking quality gate failed: see the checks above)" if blocked else " (see below)"
            return (f"the run FAILED in step{'s' if len(failed) > 1 else ''} {', '.join(failed)}{why}, after "
                    f"{len(self.started_steps)} step{'s' if len(self.started_steps) != 1 else ''} began")
        if self.started_steps:
            return f"the run FAILED after {len(self.started_steps)} steps began: {printable(self.run_error or 'no step failed')}"
        return f"the run FAILED before its steps could run: {printable(self.run_error or 'no step began')}"

    def materialized_any(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k in self.materialized)

    def render(self) -> str:
        lines = [f"Run {self.run_id}: {'SUCCESS' if self.success else 'FAILED'}"]
        if uses_sample_salt(self.settings) and self.materialized_any("raw/"):
            lines.append(f"  WARNING: {SAMPLE_SALT_WARNING}")
        dbt_checks = [c for c in self.checks if not c["name"].startswith("ge_")]
        for c in [c for c in self.checks if c["name"].startswith("ge_")] + [c for c in dbt_checks if not c["passed"]]:
            lines.append(f"  check {c['name']} on {c['asset']}: {'PASSED' if c['passed'] else 'FAILED'}"
                         + (f" - {c['description']}" if c["description"] else ""))
            if not c["passed"] and c.get("report"):
                lines += ["      " + line for line in c["report"].replace("```", "").strip().splitlines()]
        if dbt_checks:
            failed = sum(not c["passed"] for c in dbt_checks)
            lines.append(f"  dbt tests as asset checks: {len(dbt_checks) - failed} passed, {failed} failed")
        if not self.success:
            lines.append("  " + self.failure_line())
        for r in self.refused:  # names escaped: a delivered name cannot start a line of its own
            message = printable(r["message"] or "")
            named = message if message.startswith("file ") else f"file {printable(r['file_path'])}: {message}"
            lines.append(f"  {r['status'].upper()}: {named}")
        for step, message in self.step_failures.items():
            if "blocking asset check failed" not in message:  # the failed checks are listed above
                lines.append(f"  step {step} FAILED: {message}")
        if self.skipped_steps:
            lines.append("  not run (blocked upstream): " + ", ".join(self.skipped_steps))
        groups = sorted({k.split("/")[0] for k in self.materialized})
        distinct = len(set(self.materialized))
        lines.append(f"  materialized {distinct} assets ({', '.join(groups)})"
                     + (f"; {len(self.materialized)} materializations with the ingest assets' year partitions"
                        if len(self.materialized) != distinct else ""))
        if self.step_seconds:
            slowest = sorted(self.step_seconds.items(), key=lambda kv: -kv[1])
            lines.append("  step times: " + ", ".join(f"{k} {v:.1f} s" for k, v in slowest))
        lines.append(f"Warehouse:          {self.paths.warehouse_path}")
        if self.materialized_any("publish/"):
            lines.append(f"Published snapshot: {self.paths.published_path}")
        else:
            lines.append("Published snapshot: not refreshed in this run (the last good one, if any, is kept)")
        if self.report.get("built"):
            lines.append(f"Report site:        {self.report.get('site')} ({self.report.get('reason')})")
        elif self.report:
            lines.append(f"Report site:        NOT BUILT - {self.report.get('reason')}")
        else:
            lines.append("Report site:        not refreshed in this run")
        return "\n".join(lines)


def prepare_dagster_home(settings: Settings | None = None) -> Path:
    """DAGSTER_HOME (default .dagster_home/) with the project's instance settings
    (orchestration/dagster.yaml: one writer run at a time, the rest queue; no telemetry). The
    variable is set for Dagster, which opens its instance from it (and for the processes it starts)."""
    home = (settings or Settings.from_env()).dagster_home
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = INSTANCE_CONFIG.read_text(encoding="utf-8")
    if not config.exists() or config.read_text(encoding="utf-8") != wanted:
        config.write_text(wanted, encoding="utf-8")
    return home


def dagster_instance(settings: Settings | None = None) -> DagsterInstance:
    """The persistent instance in DAGSTER_HOME, created on first use.

    Dagster's SQLite storages create their tables and stamp their schema version when first
    opened; two processes doing that at once on a new DAGSTER_HOME collide (UNIQUE constraint on
    alembic_version). So the instance is opened, and every storage touched, under an exclusive
    lock on DAGSTER_HOME/.instance.lock; later openers find the schema in place.
    """
    home = prepare_dagster_home(settings)
    fd = os.open(home / ".instance.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        instance = DagsterInstance.get()
        instance.get_runs(limit=1)
        instance.get_dynamic_partitions("delivery_year")
        instance.all_instigator_state()
        return instance
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def register_delivery_years(instance: DagsterInstance, years: list[int]) -> list[str]:
    """Add delivered years missing from the dynamic partitions; return all partition keys in order."""
    known = instance.get_dynamic_partitions(DELIVERY_YEARS.name)
    missing = [str(y) for y in sorted(set(years)) if str(y) not in known]
    if missing:
        instance.add_dynamic_partitions(DELIVERY_YEARS.name, missing)
    return instance.get_dynamic_partitions(DELIVERY_YEARS.name)


def _fault_after_run_created(instance: DagsterInstance) -> None:
    """TRUST_FAULT_AT=run:created (tests): the process is killed right after Dagster has recorded the
    run and before it starts, as a kill at that moment would (ingest/faults.py)."""
    if not faults.armed("run:created"):
        return
    create = instance.create_run_for_job

    def create_then_die(*args, **kwargs):
        run = create(*args, **kwargs)
        faults.fault_point("run:created")
        return run

    instance.create_run_for_job = create_then_die


def refused_in_run(warehouse_path: Path, run_id: str) -> list[dict]:
    """The deliveries a run rejected or quarantined, from the live warehouse's audit (a failed run's
    audit rows are recorded there too)."""
    if not Path(warehouse_path).exists():
        return []
    try:
        con = duckdb.connect(str(warehouse_path), read_only=True)
    except duckdb.Error:
        return []
    try:
        rows = con.execute("""select status, file_path, message from audit.file_loads
                              where run_id = ? and status in ('rejected', 'quarantined')
                              order by loaded_at, file_path""", [run_id]).fetchall()
    except duckdb.Error:
        return []
    finally:
        con.close()
    return [{"status": s, "file_path": f, "message": m} for s, f, m in rows]


def _value(entry):
    return getattr(entry, "value", entry)


def run_build(instance: DagsterInstance | None = None, log_level: str = "INFO",
              job_name: str = "build_warehouse", year: int | None = None,
              ingest_config: dict | None = None, settings: Settings | None = None) -> RunSummary:
    """Run a job in-process, as the UI, the sensor and the schedule would launch it (same job, same
    writer tag). build_warehouse runs over every delivered year (one run over the partition
    range), or over one `year`; `ingest_config` is the ingest assets' run config (deliveries
    staged by `make load`, retrying held ones). The run's writer resource holds the warehouse
    lock, so a second load started meanwhile waits (TRUST_LOCK_TIMEOUT) or fails naming the holder.
    The settings (default: read from the environment once here) arm the run's faults (tests) for the run."""
    settings = settings or Settings.from_env()
    with faults.configured(settings):
        return _run_build(settings, instance, log_level, job_name, year, ingest_config)


def _run_build(settings: Settings, instance: DagsterInstance | None, log_level: str, job_name: str,
               year: int | None, ingest_config: dict | None) -> RunSummary:
    # the definitions pull in dagster-dbt, the dbt manifest and the gates; `make status` and `make ui` do not
    from orchestration.definitions import build_definitions  # lazy: dagster-dbt, dbt's manifest, GX gates

    defs = build_definitions()
    instance = instance or dagster_instance(settings)
    paths = settings.paths.ensure()
    job = defs.resolve_job_def(job_name)
    kwargs = {"tags": dict(job.tags or {})}
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if job.partitions_def is not None:
        # the run names its process from its creation: a kill before it starts leaves it NOT_STARTED, and
        # the next run or `make status` sees the process is gone and marks it failed (writer.reap_dead_runs)
        kwargs["tags"].update({**WRITER_TAGS, **process_tags()})
        keys = register_delivery_years(instance, delivered_years(paths.landing_dir) + ([year] if year else []))
        if year is not None:
            kwargs["partition_key"] = str(year)
        elif keys:
            kwargs["tags"].update(range_tags_of(keys))
        else:
            raise SystemExit(f"nothing delivered under {paths.landing_dir} (survey/<wave>/, admin/<year>/)")
        if ingest_config:
            run_config["ops"] = {op: {"config": ingest_config} for op in ("load_survey_waves", "load_admin_extracts")}
    site_after_failure(paths).unlink(missing_ok=True)
    _fault_after_run_created(instance)
    result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config, **kwargs)
    summary = RunSummary(result.run_id, result.success, paths, settings=settings)
    summary.refused = refused_in_run(paths.warehouse_path, result.run_id)
    if not result.success and site_after_failure(paths).exists():  # rebuilt to show what was blocked
        summary.report = json.loads(site_after_failure(paths).read_text(encoding="utf-8"))
    started = set()
    for event in result.all_events:
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            started.add(event.step_key)
            summary.started_steps.append(event.step_key)
        elif kind == DagsterEventType.STEP_SUCCESS:
            summary.step_seconds[event.step_key] = event.event_specific_data.duration_ms / 1000
        elif kind == DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            summary.step_failures[event.step_key] = error.message.strip() if error else "failed"
        elif kind == DagsterEventType.RUN_FAILURE and event.event_specific_data is not None:
            error = event.event_specific_data.error
            while error is not None and error.cause is not None:
                error = error.cause  # the root cause (e.g. WarehouseBusy under the resource's wrapper)
            if error is not None:
                summary.run_error = error.message.strip()
        elif kind == DagsterEventType.STEP_SKIPPED:
            summary.skipped_steps.append(event.step_key)
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            summary.checks.append({
                "name": ev.check_name,
                "asset": ev.asset_key.to_user_string(),
                "passed": ev.passed,
                "description": ev.description or "",
                "report": _value(ev.metadata.get("report", "")) if ev.metadata else "",
            })
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            key = mat.asset_key.to_user_string()
            summary.materialized.append(key)
            if key == "reports/evidence_site":
                summary.report = {k: _value(v) for k, v in mat.metadata.items()}
    # In-process runs emit no event for steps that never start because a blocking check failed upstream.
    summary.skipped_steps += sorted(set(job.graph.node_names()) - started - set(summary.skipped_steps))
    return summary
