"""Every named fault point (ingest/faults.py POINTS), driven: a `make load` is killed with SIGKILL exactly
there (TRUST_FAULT_AT), and then
  - each part (warehouse, snapshot, landing) is exactly as before the load or exactly as after a load
    that was never killed, the one this point must leave (said per point below, and checked);
  - the trace of points passed ends at the point (the kill happened there, not somewhere else);
  - the lock is free, and the next load converges to the state of the unkilled load: every part, the
    audit's facts, the archive, no working files, no staging folder, no run left in progress.
The delivery is the 2027 wave with one answer changed by hand; `audit:before-replace` needs a failed
run, so it is driven with the same file carrying a code the codebook does not know (rejected).
"""
from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from ingest.faults import POINTS
from ingest.lock import warehouse_lock
from ingest.working_copy import leftovers
from tests.state import archive_state, audit_facts, folder_state
from tests.test_hostile_runs import edited_wave
from tests.test_operations import cli, cli_env
from tests.test_random_kills import comparable_state

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BEFORE, AFTER = "before", "after"
# what a kill at each point leaves, part by part (warehouse, snapshot, landing)
LEAVES = {point: (BEFORE, BEFORE, BEFORE) for point in POINTS}
LEAVES.update({
    "landing:exchanged": (BEFORE, BEFORE, AFTER),       # landing changed in one step; the warehouse not yet
    "promote:before-replace": (BEFORE, BEFORE, AFTER),
    "publish:before-replace": (AFTER, BEFORE, AFTER),   # promoted; the snapshot never runs ahead of it
})


def run(args, paths, home: Path, **extra) -> tuple[int, str]:
    proc = cli(args, cli_env(paths, home, **extra))
    out, _ = proc.communicate(timeout=1500)
    return proc.returncode, out


def full_state(paths) -> dict:
    return {**comparable_state(paths), "audit": audit_facts(paths.warehouse_path, paths.data_dir),
            "archive": {k: v for k, v in archive_state(paths.warehouse_path.parent / "archive").items()}}


@pytest.fixture(scope="module")
def setup(sample_build, tmp_path_factory):
    from ingest.settings import resolve_paths

    root = tmp_path_factory.mktemp("faults")
    base = root / "base"
    shutil.copytree(sample_build.paths.data_dir, base)
    good = edited_wave(resolve_paths(base), root / "good")
    bad_folder = root / "bad"
    shutil.copytree(good.parent, bad_folder)
    bad = bad_folder / good.name
    lines = bad.read_bytes().split(b"\r\n")
    col = lines[0].split(b";").index(b"uztic")
    fields = lines[2].split(b";")
    fields[col] = b"5"  # not a code of codebook wave_2027.yml
    lines[2] = b";".join(fields)
    bad.write_bytes(b"\r\n".join(lines))
    refs = {}
    for name, delivery, code in (("good", good, 0), ("bad", bad, 1)):
        data = root / f"ref_{name}"
        shutil.copytree(base, data)
        paths = resolve_paths(data)
        rc, out = run(["load", str(delivery), "--wave", "2027"], paths, root / f"home_ref_{name}")
        assert rc == code, out[-3000:]
        refs[name] = full_state(paths)
    before = full_state(resolve_paths(base))
    assert refs["good"]["warehouse"] != before["warehouse"] and refs["good"]["landing"] != before["landing"]
    assert refs["bad"]["warehouse"] == before["warehouse"] and refs["bad"]["audit"] != before["audit"]
    return {"root": root, "base": base, "good": good, "bad": bad, "before": before, "refs": refs}


@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_each_named_point_leaves_before_or_after_and_the_next_load_converges(setup, point):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from ingest.settings import resolve_paths

    s = setup
    failing = point == "audit:before-replace"
    delivery, after = (s["bad"], s["refs"]["bad"]) if failing else (s["good"], s["refs"]["good"])
    data = s["root"] / f"trial_{point.replace(':', '_')}"
    shutil.copytree(s["base"], data)
    paths = resolve_paths(data)
    home = s["root"] / f"home_{point.replace(':', '_')}"
    trace = s["root"] / f"trace_{point.replace(':', '_')}.txt"
    rc, out = run(["load", str(delivery), "--wave", "2027"], paths, home, TRUST_FAULT_AT=point,
                  TRUST_TRACE_CHECKPOINTS=str(trace))
    assert rc == -signal.SIGKILL, f"the load was not killed at {point}: rc {rc}\n{out[-3000:]}"
    passed = [line.split()[2] for line in trace.read_text().splitlines()]
    assert passed[-1] == point, passed[-5:]

    got = comparable_state(paths)
    expected = dict(zip(("warehouse", "snapshot", "landing"), LEAVES[point]))
    if failing:
        expected = dict.fromkeys(expected, BEFORE)
    for part, which in expected.items():
        want = (s["before"] if which == BEFORE else after)[part]
        assert got[part] == want, f"kill at {point}: {part} is neither as {which} (expected)"
    with warehouse_lock(paths.warehouse_path, "test", timeout=5):
        pass  # the killed process's lock is gone

    # the next load converges to the state of the load that was never killed
    rc, out = run(["load", str(delivery), "--wave", "2027"], paths, home)
    assert rc == (1 if failing else 0), out[-3000:]
    final = full_state(paths)
    for part in ("warehouse", "snapshot", "landing", "audit", "archive"):
        assert final[part] == after[part], f"after a kill at {point} the next load left {part} different"
    assert leftovers(paths.warehouse_path) == []
    assert not list((paths.data_dir / "incoming").iterdir())
    assert folder_state(paths.landing_dir) == after["landing"]
    os.environ["DAGSTER_HOME"], old = str(home), os.environ.get("DAGSTER_HOME")
    try:
        with DagsterInstance.get() as instance:
            stuck = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTED,
                                                           DagsterRunStatus.STARTING]))
            assert stuck == [], [(r.run_id, r.status) for r in stuck]
    finally:
        os.environ.pop("DAGSTER_HOME") if old is None else os.environ.__setitem__("DAGSTER_HOME", old)
    shutil.rmtree(data)
