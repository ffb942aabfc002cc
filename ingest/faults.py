"""Fault injection for the tests that prove a failed or killed run changes nothing. Inert unless
TRUST_FAULT_AT names a fault:

  <point>                 SIGKILL the process at a named point (POINTS; `checkpoint(name)` marks them)
  dbt:model-error:<model> a dbt SQL model fails (macro fault_point, as a pre-hook of the model)
  dbt:python-crash:<model> a dbt Python model raises (python_model_fault at the top of the model)
  dbt:test-failure        a dbt data test fails (dbt_project/tests/fault_point_test.sql)

The points, in the order a `make load` passes them (tests/test_fault_points.py drives each one):

  load:staged             `make load` staged the delivery in its own folder, the run is not created yet
  run:created             Dagster recorded the run, which has not started (orchestration/pipeline.py)
  working-copy:made       the run's working copy of the warehouse exists
  archive:copied          a delivered file is copied, before its archived copy is moved into place
  survey:parsed           a wave file is read and checked, nothing written yet
  survey:in-transaction   its rows are in the working copy's open transaction, not committed
  admin:in-transaction    the workbooks' rows likewise
  dbt:built               dbt has built the working copy
  check:before-store      the gates have run, their results not stored
  landing:change          the new landing folder is built beside landing, not exchanged yet
  landing:exchanged       landing holds the new folder; the warehouse is not promoted yet
  promote:before-replace  the working copy is complete, about to replace the live warehouse
  publish:before-replace  the warehouse is promoted; the new snapshot is written, not moved into place
  audit:before-replace    (a failed run) its audit rows are in a copy of the live file, not moved into place

TRUST_TRACE_CHECKPOINTS=<file>: every point passed is appended to the file with the time (the
random-kill trials use it to say where each kill landed).

One hook: the settings module reads both variables (`Settings.fault`, `Settings.trace_checkpoints`);
an entry point (the CLI, `pipeline.run_build`) hands them over once with `configure(settings)`, and
production code only calls `fault_point(name)`. Unconfigured, every point is inert. dbt's SQL faults
are dbt's own `env_var('TRUST_FAULT_AT')` (dbt_project/macros/fault_point.sql), in dbt's process.
"""
from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager

from ingest.settings import Settings

POINTS = ("load:staged", "run:created", "working-copy:made", "archive:copied", "survey:parsed",
          "survey:in-transaction", "admin:in-transaction", "dbt:built", "check:before-store", "landing:change",
          "landing:exchanged", "promote:before-replace", "publish:before-replace", "audit:before-replace")

_configured: Settings | None = None  # the one hook: set by the entry point from its settings


def configure(settings: Settings | None) -> Settings | None:
    """Arm (or with None, disarm) the faults of this process from `settings`; returns the previous."""
    global _configured
    previous, _configured = _configured, settings
    return previous


@contextmanager
def configured(settings: Settings):
    """Faults armed from `settings` for a block (an in-process run), disarmed as before after it."""
    previous = configure(settings)
    try:
        yield
    finally:
        configure(previous)


def armed(name: str) -> bool:
    """Whether the configured fault is `name` (e.g. "run:created")."""
    return _configured is not None and _configured.fault == name


def trace(name: str) -> None:
    """Note that the process passed `name` (only with TRUST_TRACE_CHECKPOINTS)."""
    path = _configured.trace_checkpoints if _configured is not None else None
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{time.time():.6f} {os.getpid()} {name}\n")


def fault_point(name: str) -> None:
    trace(name)
    if armed(name):
        os.kill(os.getpid(), signal.SIGKILL)


checkpoint = fault_point  # the name the loader's modules use


def python_model_fault(model: str, settings: Settings) -> None:
    """Called at the top of a dbt Python model (in dbt's process, with the settings it read)."""
    if settings.fault == f"dbt:python-crash:{model}":
        raise RuntimeError(f"injected fault: dbt Python model {model} crashed (TRUST_FAULT_AT)")
