"""A survey wave file's one way to the warehouse (ingest/survey): read -> apply_codebook -> validate ->
write, each step in its own module, the modules importing in one direction only, and a load entering
each step once and in that order (a wave in parts: read and apply_codebook once per part, then the
wave validated and written once)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.codebook import codebook_for_wave
from ingest.errors import IngestError
from ingest.sample.survey_waves import generate_2017, write_sav_2017
from ingest.warehouse import load_survey_wave
from tests.foreign.test_deliveries_second_round import parts_codebook
from tests.foreign.test_survey_deliveries import HEADER, deliver, rows_by_rule, units_42
from tests.foreign.builder import codebook_yaml, csv_bytes, write_bytes

ROOT = Path(__file__).resolve().parents[1]
SURVEY = ROOT / "ingest" / "survey"
STEPS = ("read", "apply_codebook", "validate", "write")
PACKAGE = "ingest.survey."


def _imports(module: str) -> tuple[set[str], list[tuple[str, int]]]:
    """The package's modules a module of ingest/survey imports at its top, and any import of an
    `ingest` module inside a function (module, line)."""
    tree = ast.parse((SURVEY / f"{module}.py").read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
            top.add(node.module[len(PACKAGE):])
        elif isinstance(node, ast.Import):
            top |= {a.name[len(PACKAGE):] for a in node.names if a.name.startswith(PACKAGE)}
    inner = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ingest"):
                    inner.append((node.module, node.lineno))
                elif isinstance(node, ast.Import) and any(a.name.startswith("ingest") for a in node.names):
                    inner.append((node.names[0].name, node.lineno))
    return top, inner


def test_the_steps_import_in_one_direction():
    allowed = {  # each step may use the steps before it, never one after it
        "read": set(),
        "apply_codebook": {"read"},
        "validate": {"read", "apply_codebook"},
        "write": {"read", "apply_codebook", "validate"},
        "load": set(STEPS),
    }
    for module, before in allowed.items():
        top, inner = _imports(module)
        assert top <= before, f"ingest/survey/{module}.py imports {sorted(top - before)}, a later step"
        assert not inner, f"ingest/survey/{module}.py imports inside a function: {inner}"
    assert _imports("load")[0] == set(STEPS), "only load walks every step"
    assert _imports("__init__")[0] == set(), "importing one step does not import the others"


def test_the_warehouse_enters_the_path_through_load_only():
    tree = ast.parse((ROOT / "ingest" / "warehouse.py").read_text())
    used = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith(PACKAGE)}
    assert used == {"ingest.survey.load"}
    assert not (ROOT / "ingest" / "readers" / "survey_file.py").exists()


class StepTrace:
    """The step modules a load enters, in order, consecutive repeats collapsed. A step is entered when a
    function of its module is called from outside the step modules (the path: load.py, warehouse.py);
    a step calling a helper of an earlier one (validate naming a place with read's Places) or pandas
    calling back a step's own lambda is within that step, not a new visit."""

    def __init__(self):
        self.entered: list[str] = []

    @staticmethod
    def _step(frame) -> str | None:
        name = frame.f_globals.get("__name__", "")
        return name[len(PACKAGE):] if name.startswith(PACKAGE) and name[len(PACKAGE):] in STEPS else None

    def __call__(self, frame, event, arg):
        if event != "call":
            return
        step = self._step(frame)
        if step is None:
            return
        caller = frame.f_back
        while caller is not None and not caller.f_globals.get("__name__", "").startswith(("ingest", "tests")):
            caller = caller.f_back  # pandas, numpy, dataclasses: look through to our own caller
        if caller is not None and self._step(caller) is not None:
            return
        if not self.entered or self.entered[-1] != step:
            self.entered.append(step)

    def run(self, fn, *args, **kw):
        sys.setprofile(self)
        try:
            return fn(*args, **kw)
        finally:
            sys.setprofile(None)


def test_a_wave_file_visits_each_step_once_in_order(con, tmp_path):
    path = tmp_path / "landing" / "survey" / "2017" / "wave_2017.sav"
    write_sav_2017(generate_2017(np.random.default_rng(11)), path)
    trace = StepTrace()
    result = trace.run(load_survey_wave, con, path, codebook_for_wave(2017))
    assert result["status"] == "loaded"
    assert trace.entered == ["read", "apply_codebook", "validate", "write"]


def test_a_wave_in_parts_is_read_and_converted_per_part_then_validated_and_written_once(con, tmp_path):
    folder = tmp_path / "landing" / "survey" / "2029"
    a = write_bytes(folder / "dati_riga.csv", csv_bytes(HEADER, rows_by_rule(30, ["0001000"], first_id=100001)))
    b = write_bytes(folder / "dati_regioni.csv",
                    csv_bytes(HEADER, rows_by_rule(60, [u for u in units_42() if u != "0001000"], first_id=200001)))
    trace = StepTrace()
    result = trace.run(load_survey_wave, con, [a, b], parts_codebook(tmp_path))
    assert result["status"] == "loaded" and result["respondents"] == 90
    # read and apply_codebook once per part (two parts), then the union validated and written once
    assert trace.entered == ["read", "apply_codebook", "read", "apply_codebook", "validate", "write"]


def test_a_wave_refused_by_validation_never_reaches_write(con, tmp_path):
    rows = rows_by_rule(40, ["0001000"])
    rows[11][HEADER.index("svars")] = "0"
    path, cb = deliver(tmp_path, 2029, "dati.csv", csv_bytes(HEADER, rows),
                       codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31")))
    trace = StepTrace()
    with pytest.raises(IngestError, match="weight is missing, zero, negative or not finite"):
        trace.run(load_survey_wave, con, path, cb)
    assert trace.entered == ["read", "apply_codebook", "validate"]
