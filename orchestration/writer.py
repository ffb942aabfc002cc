"""The one writer of the warehouse: a Dagster resource every writing step of a run shares.

For the whole run (the job runs in one process, `in_process_executor`), the resource
  1. takes the warehouse lock (ingest/lock.py; a second writer waits, then fails naming the holder),
  2. marks runs whose process died as failed (so the UI and the run queue do not wait for them),
  3. makes the run's working copy of the live warehouse (ingest/working_copy.py) and finishes a
     landing-folder change a killed run left half done,
  4. hands out connections to the working copy (ingest, gates) and its path (dbt),
  5. promotes the working copy over the live file when every gate has passed (the publish step), and
  6. when the run ends without promoting: records its audit rows in the live warehouse (rejected
     and quarantined deliveries, gate results), refreshes the snapshot's data-quality tables, drops
     the working copy. The live warehouse and the snapshot's marts stay exactly as they were.
"""
from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, DagsterRunStatus, InitResourceContext, RunsFilter
from pydantic import PrivateAttr

from ingest import faults, landing_changes, working_copy
from ingest.archive import archive_root
from ingest.intake import clear_stale_parts
from ingest.lock import warehouse_lock
from ingest.settings import Paths, Settings, resolve_paths
from ingest.staging import process_start_time
from ingest.warehouse import DDL, connect
from orchestration.report_site import build_site, site_metadata
from orchestration.snapshot import refresh_quality_status

PID_TAG, HOST_TAG, PID_START_TAG = "trust/pid", "trust/host", "trust/pid_start"
JOURNAL = ".landing-changes.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_runs(instance, log=print) -> list[str]:
    """Runs of this machine whose process is gone (killed, even by SIGKILL) are marked failed, so the
    UI stops showing them in progress and the run queue (one writer run at a time) does not wait for
    them for ever: STARTED/STARTING ones, and NOT_STARTED ones that carry a process (`make run` and
    `make load` tag a run with their process when they create it; a kill between the run's creation
    and its start left it NOT_STARTED for ever). Runs the daemon queued carry no process: not touched."""
    host = socket.gethostname()
    reaped = []
    runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING,
                                                  DagsterRunStatus.NOT_STARTED]))
    for run in runs:
        pid, run_host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if not (pid and pid.isdigit() and run_host == host and int(pid) != os.getpid()):
            continue
        started = run.tags.get(PID_START_TAG)
        gone = not _alive(int(pid)) or (started is not None and started != str(process_start_time(int(pid))))
        if gone:
            when = "before it started" if run.status == DagsterRunStatus.NOT_STARTED else ""
            instance.report_run_failed(run, f"the run's process (pid {pid}) is gone: it was killed or crashed"
                                            f"{' ' + when if when else ''}; nothing it did was promoted")
            reaped.append(run.run_id)
            log(f"marked run {run.run_id[:8]} failed: its process {pid} is gone")
    return reaped


def process_tags() -> dict[str, str]:
    """The tags that name this process on a run it creates (pid, start time, host)."""
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    start = process_start_time(os.getpid())
    if start is not None:
        tags[PID_START_TAG] = str(start)
    return tags


def site_after_failure(paths: Paths) -> Path:
    """Where a failed run's writer leaves the outcome of the site rebuild for the run's summary."""
    path = paths.data_dir / "logs" / "report_site_after_failure.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def landing_journal(paths: Paths) -> Path:
    return landing_changes.journal_path(paths.warehouse_path)


def apply_landing_changes(paths: Paths, changes: list[dict]) -> None:
    """Replace delivered files in the landing folder: each change is {"remove": path} (the file is in
    the archive already) or {"place": archived copy, "to": path, "sha256": its checksum}; each folder
    changes in one step, journalled and finished by the next run after a kill
    (ingest/landing_changes.py)."""
    landing_changes.apply(landing_journal(paths), paths.landing_dir, changes)


def replay_landing_journal(paths: Paths) -> bool:
    old = paths.landing_dir / JOURNAL  # where an older version kept its journal (a list of changes)
    if old.exists():
        landing_changes.apply(landing_journal(paths), paths.landing_dir,
                              json.loads(old.read_text(encoding="utf-8")))
        old.unlink()
        return True
    return landing_changes.replay(landing_journal(paths), paths.landing_dir)


@dataclass
class GateFailure:
    gate: str
    why: str
    years: set[int] | None  # None: the failure cannot be tied to delivery years


@dataclass
class RunSession:
    """What one run did so far; lives for the run in the writer resource."""

    paths: Paths
    run_id: str
    work: Path
    landing_changes: list[dict] = field(default_factory=list)
    gate_failures: list[GateFailure] = field(default_factory=list)
    failure: str | None = None
    promoted: bool = False
    settings: Settings = field(default_factory=Settings.from_env)  # read when the run took the writer


class WarehouseWriter(ConfigurableResource):
    """The warehouse's writer for one run. Empty data_dir = the settings' folders (TRUST_* variables or
    the defaults); the rest of the settings (lock timeout, archive, reports, faults) are read once when
    the run takes the writer (ingest/settings.py)."""

    data_dir: str = ""
    _session: RunSession | None = PrivateAttr(default=None)

    @property
    def settings(self) -> Settings:
        return Settings.from_env()

    @property
    def paths(self) -> Paths:
        return resolve_paths(self.data_dir or None, self.settings).ensure()

    @property
    def session(self) -> RunSession:
        if self._session is None:
            raise RuntimeError("the warehouse writer is used outside a run")
        return self._session

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext):
        settings = self.settings
        paths = resolve_paths(self.data_dir or None, settings).ensure()
        run = context.run
        run_id = run.run_id if run else "adhoc"
        log = context.log.info if context.log else print
        if run is not None and context.instance is not None and run.tags.get(PID_TAG) != str(os.getpid()):
            context.instance.add_run_tags(run_id, process_tags())
        job = run.job_name if run else "run"
        with faults.configured(settings), warehouse_lock(paths.warehouse_path, f"dagster run {run_id[:8]} ({job})",
                                                         timeout=settings.lock_timeout, log=log):
            if context.instance is not None:
                reap_dead_runs(context.instance, log=log)
            if replay_landing_journal(paths):
                log("finished a landing-folder change a killed run had begun")
            if clear_stale_parts(archive_root(paths.warehouse_path, settings)):
                log("removed what a killed run left half-copied in the archive")
            self._session = RunSession(paths, run_id, working_copy.start(paths.warehouse_path), settings=settings)
            try:
                yield self
            finally:
                try:
                    self._finish(log)
                finally:
                    self._session = None

    @contextmanager
    def connection(self):
        """A read-write connection to the run's working copy (closed before dbt opens it)."""
        con = connect(self.session.work)
        try:
            yield con
        finally:
            con.close()

    def promote(self) -> None:
        """Every gate passed: apply the run's landing changes, then make the working copy live."""
        s = self.session
        if s.failure or s.gate_failures:
            raise RuntimeError("a run with a failed step or gate cannot be promoted")
        if s.landing_changes:
            apply_landing_changes(s.paths, s.landing_changes)
        working_copy.promote(s.work, s.paths.warehouse_path)
        s.promoted = True

    def _finish(self, log) -> None:
        s = self._session
        if s is None or s.promoted:
            return
        try:
            rows = _this_runs_audit(s)
            with working_copy.updated_live(s.paths.warehouse_path, DDL) as live:
                _record_failed_run(live, s, rows)
            log(f"run not promoted: the live warehouse keeps its last good state; "
                f"{sum(1 for r in rows['file_loads'] if r['status'] == 'quarantined')} deliveries quarantined")
        finally:
            working_copy.discard(s.work)
        if refresh_quality_status(s.paths.warehouse_path, s.paths.published_path):
            # the site is rebuilt (its figures stay the last good ones) so its data-quality page shows the block
            site = build_site(s.paths.published_path, s.paths.data_dir / "logs" / "report_build.log",
                              settings=s.settings)
            log(f"report site after the failed run: {site.reason}")
            site_after_failure(s.paths).write_text(json.dumps(site_metadata(site), default=str), encoding="utf-8")


def _this_runs_audit(s: RunSession) -> dict[str, list[dict]]:
    """The audit rows the run wrote into its working copy, with the statuses of a run that was not
    promoted: loaded deliveries a gate implicates are quarantined, the others were not promoted."""
    out = {"file_loads": [], "validation_runs": [], "validation_expectations": []}
    if not s.work.exists():
        return out
    con = duckdb.connect(str(s.work), read_only=True)
    try:
        def rows(sql, params):
            cur = con.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

        out["file_loads"] = rows("select * from audit.file_loads where run_id = ?", [s.run_id])
        out["validation_runs"] = rows("select * from audit.validation_runs where run_id = ?", [s.run_id])
        out["validation_expectations"] = rows(
            "select e.* from audit.validation_expectations e join audit.validation_runs r using (validation_id) "
            "where r.run_id = ?", [s.run_id])
    except duckdb.Error:
        pass  # a working copy without the audit tables yet: nothing to carry over
    finally:
        con.close()
    loaded = [r for r in out["file_loads"] if r["status"] == "loaded"]
    # a gate that points at no delivery of this run (say, the year after the new one) still blocked
    # it: the run's new deliveries are the only change from the last good state, so it holds them all
    pointed = any(_implicating_gate(s, r) for r in loaded)
    for r in loaded:
        gate = _implicating_gate(s, r) or (s.gate_failures[0] if s.gate_failures and not pointed else None)
        what = f"{'survey wave' if r['source_kind'] == 'survey' else 'admin extract'} {r['delivery_year'] or ''}".strip()
        if gate is not None:
            r["status"] = "quarantined"
            r["message"] = f"quarantined: blocked by the quality gate {gate.gate}: {gate.why}"
            r["public_message"] = f"{what}: quarantined: blocked by the quality gate {gate.gate}"
        else:
            r["status"] = "not_promoted"
            r["message"] = f"not promoted: the run failed ({s.failure or 'see the run log'}); retried next run"
            r["public_message"] = f"{what}: not promoted (the run failed); retried next run"
    return out


def _implicating_gate(s: RunSession, row: dict) -> GateFailure | None:
    for g in s.gate_failures:
        if g.years is None or (row["delivery_year"] is not None and int(row["delivery_year"]) in g.years):
            return g
    return None


def _record_failed_run(live, s: RunSession, rows: dict[str, list[dict]]) -> None:
    for table, records in rows.items():
        if not records:
            continue
        cols = [r[0] for r in live.execute(f"describe audit.{table}").fetchall()]
        live.executemany(
            f"insert into audit.{table} ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
            [[rec.get(c) for c in cols] for rec in records])
