"""SIGKILL at random moments of a load: whatever the moment, the warehouse, the snapshot and the
landing folder are each either exactly as before or exactly as after a complete load, never half of
either; the snapshot is never ahead of the warehouse; the lock is free; and the next load converges
to the same state as a load that was never killed.

Where the moments fall (TRUST_KILL_TRIALS trials, default 20, seeded by TRUST_KILL_SEED, default 2026):
a third are drawn uniformly over the length of an unkilled load ("whole"); a third uniformly over the
WRITE-TO-PROMOTE window, from the moment the run's working copy exists to the moment it replaces the
live warehouse ("window": the kill comes that long after the trial's own `working-copy:made`); and a
third over the end of that window, from dbt's build being done to the replace ("narrow": after
`dbt:built`). Every trial runs with TRUST_TRACE_CHECKPOINTS, so each kill is placed by the last named
point (ingest/faults.py) its process passed; at least a quarter must land inside the window and at
least one inside its end. The trials, where each landed and its outcome go to data/logs/random_kills.json
(a CI artefact), so a failing trial can be replayed.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest

from ingest.lock import warehouse_lock
from ingest.working_copy import leftovers
from tests.state import folder_state, table_fingerprints
from tests.test_operations import cli, cli_env, corrected_wave

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPORT = Path(__file__).resolve().parents[1] / "data" / "logs" / "random_kills.json"

# load_id is a fresh uuid per load, and the audit records when: not part of the state compared
VOLATILE_COLUMNS = {"load_id", "loaded_at", "validated_at", "validation_id", "run_id", "published_at",
                    "refreshed_at", "archive_path", "file_path"}
# the points of a load in order; the window runs from the working copy's existence to its promotion
ORDER = ("load:staged", "run:created", "working-copy:made", "archive:copied", "survey:parsed", "survey:in-transaction",
         "admin:in-transaction", "dbt:built", "check:before-store", "landing:change", "landing:exchanged",
         "promote:before-replace", "promote:replaced", "publish:before-replace", "publish:replaced")
WINDOW = ORDER[ORDER.index("working-copy:made"): ORDER.index("promote:before-replace") + 1]
WINDOW_END = ORDER[ORDER.index("dbt:built"): ORDER.index("promote:before-replace") + 1]


def comparable_state(paths) -> dict:
    return {
        "warehouse": table_fingerprints(paths.warehouse_path, skip={"audit.file_loads", "audit.validation_runs",
                                                                     "audit.validation_expectations"},
                                        ignore_columns=VOLATILE_COLUMNS),
        "snapshot": table_fingerprints(paths.published_path, skip={"quality_status", "quality_file_loads",
                                                                   "_quality_info", "_snapshot_info"},
                                       ignore_columns=VOLATILE_COLUMNS),
        "landing": folder_state(paths.landing_dir),
    }


def read_trace(path: Path) -> list[tuple[float, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        t, _pid, name = line.split(" ", 2)
        out.append((float(t), name))
    return out


@pytest.fixture(scope="module")
def kill_setup(sample_build, tmp_path_factory):
    """The sample build plus a corrected 2027 wave; the state before and after an unkilled load, and when
    that load passed each named point (seconds from its start)."""
    root = tmp_path_factory.mktemp("kills")
    base = root / "base"
    shutil.copytree(sample_build.paths.data_dir, base)
    new_file, _ = corrected_wave(root, 2027)
    from ingest.settings import resolve_paths

    before_paths = resolve_paths(base)
    before = comparable_state(before_paths)
    ref = root / "reference"
    shutil.copytree(base, ref)
    ref_paths = resolve_paths(ref)
    trace = root / "reference_trace.txt"
    t0 = time.time()
    proc = cli(["load", str(new_file), "--wave", "2027"], cli_env(ref_paths, root / "ref_home",
                                                                   TRUST_TRACE_CHECKPOINTS=str(trace)))
    out, _ = proc.communicate(timeout=1200)
    duration = time.time() - t0
    assert proc.returncode == 0, out[-3000:]
    after = comparable_state(ref_paths)
    assert after["warehouse"] != before["warehouse"] and after["landing"] != before["landing"]
    points = {}
    for t, name in read_trace(trace):
        points.setdefault(name, round(t - t0, 3))
    assert {"working-copy:made", "dbt:built", "promote:replaced"} <= set(points), points
    return {"root": root, "base": base, "new_file": new_file, "before": before, "after": after,
            "duration": duration, "points": points}


def which(state: dict, before: dict, after: dict) -> dict[str, str]:
    return {part: ("before" if state[part] == before[part] else "after" if state[part] == after[part] else "MIXED")
            for part in ("warehouse", "snapshot", "landing")}


def write_report(setup: dict, outcomes: list, trials: int) -> None:
    """Every trial so far: what it aimed at, when it was killed, the last point its process passed,
    whether that is inside the write-to-promote window, which state each part was left in, and whether
    the next load recovered (written after each trial, so a failure keeps the trials before it)."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({
        "seed": int(os.environ.get("TRUST_KILL_SEED", "2026")), "trials": trials,
        "unkilled_load_seconds": round(setup["duration"], 1),
        "unkilled_load_points_s": setup["points"],
        "window": f"{WINDOW[0]} .. {WINDOW[-1]} (the working copy exists, not yet promoted); its end: "
                  f"{WINDOW_END[0]} .. {WINDOW_END[-1]}",
        "compared": "order-independent fingerprints of every table of the warehouse and the snapshot "
                    "(audit timestamps and load ids left out) and the landing folder's files and checksums",
        "outcomes": outcomes}, indent=1), encoding="utf-8")


def kill_when(proc, trace: Path, target: str, rng: random.Random, setup: dict, t0: float) -> dict:
    """Wait for the trial's moment and kill it there; return what was aimed at and when it happened."""
    pts, duration = setup["points"], setup["duration"]
    if target == "whole":
        event, delay = None, rng.uniform(0.0, duration)
    elif target == "window":
        event, delay = "working-copy:made", rng.uniform(0.0, pts["promote:replaced"] - pts["working-copy:made"])
    else:
        event, delay = "dbt:built", rng.uniform(0.0, pts["promote:replaced"] - pts["dbt:built"])
    start = t0
    if event is not None:
        while proc.poll() is None and not any(name == event for _, name in read_trace(trace)):
            time.sleep(0.02)
        seen = [t for t, name in read_trace(trace) if name == event]
        start = seen[0] if seen else time.time()
    while proc.poll() is None and time.time() < start + delay:
        time.sleep(0.01)
    finished = proc.poll() is not None
    if not finished:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    passed = [name for _, name in read_trace(trace)]
    last = passed[-1] if passed else "(start-up: no point passed)"
    in_window = not finished and last in WINDOW
    return {"target": target, "after_point": event, "delay_s": round(delay, 2),
            "killed_at_s": round(time.time() - t0, 2), "had_finished": finished, "last_point": last,
            "in_window": in_window, "in_window_end": in_window and last in WINDOW_END}


def test_sigkill_at_random_moments_changes_nothing_or_everything(kill_setup):
    from ingest.settings import resolve_paths

    trials = int(os.environ.get("TRUST_KILL_TRIALS", "20"))
    rng = random.Random(int(os.environ.get("TRUST_KILL_SEED", "2026")))
    s = kill_setup
    outcomes = []
    for i in range(trials):
        target = ("whole", "window", "window_end")[i % 3]
        data = s["root"] / f"trial_{i}"
        shutil.copytree(s["base"], data)
        paths = resolve_paths(data)
        trace = s["root"] / f"trace_{i}.txt"
        env = cli_env(paths, s["root"] / f"home_{i}")
        t0 = time.time()
        proc = cli(["load", str(s["new_file"]), "--wave", "2027"], {**env, "TRUST_TRACE_CHECKPOINTS": str(trace)})
        landed = kill_when(proc, trace, target, rng, s, t0)
        state = comparable_state(paths)
        got = which(state, s["before"], s["after"])
        outcomes.append({**landed, "left": got, "recovered": False})
        write_report(s, outcomes, trials)
        print(f"trial {i}: {landed}: {got}")
        assert "MIXED" not in got.values(), f"trial {i} ({landed}) left a half state: {got}"
        assert not (got["snapshot"] == "after" and got["warehouse"] == "before"), "the snapshot ran ahead"
        with warehouse_lock(paths.warehouse_path, "test", timeout=5):
            pass  # the killed process's lock is gone
        # the next load converges to the state of a load that was never killed
        again = cli(["load", str(s["new_file"]), "--wave", "2027"], env)
        out, _ = again.communicate(timeout=1200)
        assert again.returncode == 0, f"trial {i}: the load after the kill failed:\n{out[-3000:]}"
        assert which(comparable_state(paths), s["before"], s["after"]) == dict.fromkeys(("warehouse", "snapshot", "landing"), "after")
        assert leftovers(paths.warehouse_path) == []
        outcomes[-1]["recovered"] = True
        write_report(s, outcomes, trials)
        shutil.rmtree(data)
    killed = [o for o in outcomes if not o["had_finished"]]
    in_window = [o for o in outcomes if o["in_window"]]
    print(f"{len(killed)} of {trials} trials killed mid-load, {len(in_window)} inside the write-to-promote window "
          f"({sum(o['in_window_end'] for o in outcomes)} in its end); outcomes: {outcomes}")
    assert len(killed) >= trials * 0.8  # the draws really hit the load, not its aftermath
    assert len(in_window) >= trials / 4, "too few kills landed between the working copy's write and its promotion"
    assert any(o["in_window_end"] for o in outcomes), "no kill landed between dbt's build and the promotion"
