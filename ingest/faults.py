"""Fault injection for the tests that prove a failed or killed run changes nothing. Inert unless
TRUST_FAULT_AT names a fault:

  <point>                 SIGKILL the process at a named point (POINTS; `checkpoint(name)` marks them)
  dbt:model-error:<model> a dbt SQL model fails (macro fault_point, as a pre-hook of the model)
  dbt:python-crash:<model> a dbt Python model raises (python_model_fault at the top of the model)
  dbt:test-failure        a dbt data test fails (dbt_project/tests/fault_point_test.sql)
"""
from __future__ import annotations

import os
import signal

POINTS = ("archive:copied", "working-copy:made", "survey:parsed", "survey:in-transaction", "admin:in-transaction",
          "check:before-store", "dbt:built", "landing:change", "promote:before-replace", "audit:before-replace")


def checkpoint(name: str) -> None:
    if os.environ.get("TRUST_FAULT_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def python_model_fault(model: str) -> None:
    """Called at the top of a dbt Python model."""
    if os.environ.get("TRUST_FAULT_AT") == f"dbt:python-crash:{model}":
        raise RuntimeError(f"injected fault: dbt Python model {model} crashed (TRUST_FAULT_AT)")
