"""SIGKILL at random moments of a load: whatever the moment, the warehouse, the snapshot and the
landing folder are each either exactly as before or exactly as after a complete load, never half of
either; the snapshot is never ahead of the warehouse; the lock is free; and the next load converges
to the same state as a load that was never killed.

The kill times are drawn uniformly over the length of an unkilled load (seeded: TRUST_KILL_SEED,
default 2026; TRUST_KILL_TRIALS trials, default 20), printed, and written with their outcomes to
data/logs/random_kills.json (a CI artefact), so a failing trial can be replayed.
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
from tests.state import folder_state, snapshot_state, table_fingerprints
from tests.test_operations import cli, cli_env, corrected_wave

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPORT = Path(__file__).resolve().parents[1] / "data" / "logs" / "random_kills.json"

# load_id is a fresh uuid per load, and the audit records when: not part of the state compared
VOLATILE_COLUMNS = {"load_id", "loaded_at", "validated_at", "validation_id", "run_id", "published_at",
                    "refreshed_at", "archive_path", "file_path"}


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


@pytest.fixture(scope="module")
def kill_setup(sample_build, tmp_path_factory):
    """The sample build plus a corrected 2027 wave; the state before and after an unkilled load."""
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
    t0 = time.monotonic()
    proc = cli(["load", str(new_file), "--wave", "2027"], cli_env(ref_paths, root / "ref_home"))
    out, _ = proc.communicate(timeout=1200)
    duration = time.monotonic() - t0
    assert proc.returncode == 0, out[-3000:]
    after = comparable_state(ref_paths)
    assert after["warehouse"] != before["warehouse"] and after["landing"] != before["landing"]
    return {"root": root, "base": base, "new_file": new_file, "before": before, "after": after,
            "duration": duration}


def which(state: dict, before: dict, after: dict) -> dict[str, str]:
    return {part: ("before" if state[part] == before[part] else "after" if state[part] == after[part] else "MIXED")
            for part in ("warehouse", "snapshot", "landing")}


def write_report(setup: dict, outcomes: list, trials: int) -> None:
    """Every trial so far: when it was killed, whether the load had finished, which state each part
    was left in, and whether the next load recovered (written after each trial, so a failure keeps
    the trials before it)."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({
        "seed": int(os.environ.get("TRUST_KILL_SEED", "2026")), "trials": trials,
        "unkilled_load_seconds": round(setup["duration"], 1),
        "compared": "order-independent fingerprints of every table of the warehouse and the snapshot "
                    "(audit timestamps and load ids left out) and the landing folder's files and checksums",
        "outcomes": [{"killed_at_s": o[0], "had_finished": o[1], "left": o[2], "recovered": len(o) > 3}
                     for o in outcomes]}, indent=1), encoding="utf-8")


def test_sigkill_at_random_moments_changes_nothing_or_everything(kill_setup):
    from ingest.settings import resolve_paths

    trials = int(os.environ.get("TRUST_KILL_TRIALS", "20"))
    rng = random.Random(int(os.environ.get("TRUST_KILL_SEED", "2026")))
    s = kill_setup
    outcomes = []
    for i in range(trials):
        at = rng.uniform(0.0, s["duration"])
        data = s["root"] / f"trial_{i}"
        shutil.copytree(s["base"], data)
        paths = resolve_paths(data)
        env = cli_env(paths, s["root"] / f"home_{i}")
        proc = cli(["load", str(s["new_file"]), "--wave", "2027"], env)
        time.sleep(at)
        finished = proc.poll() is not None
        if not finished:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        state = comparable_state(paths)
        got = which(state, s["before"], s["after"])
        outcomes.append((round(at, 2), finished, got))
        write_report(s, outcomes, trials)
        print(f"trial {i}: killed at {at:.2f} s of {s['duration']:.0f} s{' (had finished)' if finished else ''}: {got}")
        assert "MIXED" not in got.values(), f"trial {i} (kill at {at:.2f} s) left a half state: {got}"
        assert not (got["snapshot"] == "after" and got["warehouse"] == "before"), "the snapshot ran ahead"
        with warehouse_lock(paths.warehouse_path, "test", timeout=5):
            pass  # the killed process's lock is gone
        # the next load converges to the state of a load that was never killed
        again = cli(["load", str(s["new_file"]), "--wave", "2027"], env)
        out, _ = again.communicate(timeout=1200)
        assert again.returncode == 0, f"trial {i}: the load after the kill failed:\n{out[-3000:]}"
        assert which(comparable_state(paths), s["before"], s["after"]) == dict.fromkeys(("warehouse", "snapshot", "landing"), "after")
        assert leftovers(paths.warehouse_path) == []
        outcomes[-1] += ("recovered",)
        write_report(s, outcomes, trials)
        shutil.rmtree(data)
    killed = [o for o in outcomes if not o[1]]
    print(f"{len(killed)} of {trials} trials killed mid-load; outcomes: {outcomes}")
    assert len(killed) >= trials * 0.8  # the draws really hit the load, not its aftermath
