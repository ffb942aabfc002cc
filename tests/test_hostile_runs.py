"""Issue 21, the runs' part: a landing folder full of what a careless or hostile hand puts there, commands
repeated after an unclear result, and two operators loading at once. Each scenario runs the real
pipeline on a private copy of the sample build and compares fingerprints (tests/state.py) of the
warehouse, the audit (its facts: each once, without record ids, times and run ids), the snapshot, the
landing folder (entries described, never followed), the archive (contents and modes) and the staging
folder, before and after. Every hostile delivery is made here by hand (openpyxl edits, bytes, links).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.foreign.test_admin_workbooks import kekava
from tests.state import archive_state, audit_facts, folder_state, table_fingerprints, warehouse_state
from tests.test_hostile_deliveries import billion_laughs
from tests.test_operations import cli, cli_env

pytestmark = pytest.mark.e2e

# a load's uuid and its time differ between two loads of the same data
VOLATILE = {"load_id", "loaded_at", "validated_at", "validation_id", "run_id", "published_at", "refreshed_at",
            "recorded_at"}


@pytest.fixture
def ops(copy_of_build, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("TRUST_REPORTS", "skip")
    return copy_of_build


def state(paths, volatile: bool = False) -> dict:
    """Everything a command may change. `volatile`: leave out load ids and times in the warehouse too (two
    different runs that load the same files make different load ids)."""
    wh = paths.warehouse_path
    return {
        "warehouse": (table_fingerprints(wh, skip={"audit.file_loads", "audit.validation_runs",
                                                   "audit.validation_expectations", "audit.ignored_columns",
                                                   "audit.code_aliases_applied"}, ignore_columns=VOLATILE)
                      if volatile else warehouse_state(wh)),
        "audit": audit_facts(wh, paths.data_dir if volatile else None),
        # the published marts (what a publish says about itself, when and which run, and the data-quality
        # tables drawn from the audit are left out: the audit is compared as facts above)
        "snapshot": table_fingerprints(paths.published_path, skip={"quality_status", "quality_file_loads",
                                                                   "_quality_info", "_snapshot_info"},
                                       ignore_columns=VOLATILE if volatile else frozenset()),
        "landing": folder_state(paths.landing_dir),
        "archive": archive_state(paths.warehouse_path.parent / "archive"),
        "incoming": folder_state(paths.data_dir / "incoming"),
    }


def differences(a: dict, b: dict) -> dict:
    return {part: sorted(k for k in a[part].keys() | b[part].keys() if a[part].get(k) != b[part].get(k))[:8]
            for part in a if a[part] != b[part]}


def main(*args) -> int:
    from orchestration.cli import main as cli_main

    return cli_main([str(a) for a in args])


def file_loads(paths, since: int = 0) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        return con.execute("select status, file_path, message from audit.file_loads order by loaded_at, file_path "
                           f"offset {since}").fetchall()


def edited_workbook(paths, tmp_path: Path, code: str, note: str, year: int = 2028) -> Path:
    """The municipality's landing workbook with its source comment re-typed by hand: a new delivery whose
    figures are the ones in force (the gates pass)."""
    from openpyxl import load_workbook

    src = paths.admin_landing / str(year) / f"LM_datu_tabula_{code}_{year}.xlsx"
    target = tmp_path / "delivered" / note / src.name
    target.parent.mkdir(parents=True)
    wb = load_workbook(src)
    ws = wb.worksheets[0]
    header = next(r for r in range(1, 30) if ws.cell(r, 1).value == "Nr.p.k.")
    ws.cell(header + 1, 15).value = f"{note} (labots)"
    wb.save(target)
    return target


def edited_wave(paths, tmp_path: Path) -> Path:
    """The 2027 wave re-delivered with one respondent's trust answer changed by hand (and its code list)."""
    folder = paths.survey_landing / "2027"
    target = tmp_path / "delivered" / "wave"
    target.mkdir(parents=True)
    data = next(folder.glob("*_dati.csv"))
    lines = data.read_bytes().split(b"\r\n")
    col = lines[0].split(b";").index(b"uztic")  # codebook wave_2027.yml: trust_social_service
    fields = lines[1].split(b";")
    fields[col] = b"2" if fields[col] != b"2" else b"3"
    lines[1] = b";".join(fields)
    (target / data.name).write_bytes(b"\r\n".join(lines))
    for code_list in folder.glob("*_kodi.csv"):
        shutil.copyfile(code_list, target / code_list.name)
    return target / data.name


# --- 1 and 3: hostile entries in landing -------------------------------------------------------------------

def test_hostile_landing_entries_are_quarantined_by_name_and_the_run_goes_on(ops, tmp_path):
    from orchestration.pipeline import run_build

    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret_dati.csv"
    secret.write_bytes(b"vards;personas_kods\nAnna;010101-12345\n")
    os.chmod(secret, 0o600)
    wb_outside = kekava(outside / "kekava.xlsx", year=2028)
    (outside / "year").mkdir()
    kekava(outside / "year" / "somewhere.xlsx", year=2030)
    wave = ops.survey_landing / "2027"
    admin = ops.admin_landing / "2028"
    entries = {
        wave / "secret_dati.csv": lambda p: os.symlink(secret, p),
        wave / "wave_2027.yml": lambda p: p.write_text((Path(__file__).parents[1] / "ingest" / "codebooks" /
                                                         "wave_2027.yml").read_text(encoding="utf-8")
                                                        + billion_laughs(9), encoding="utf-8"),
        admin / "LM_otrs_vards_2028.xlsx": lambda p: os.link(wb_outside, p),
        admin / "pipe.xlsx": lambda p: os.mkfifo(p),
        admin / "kekava_xfd.xlsx": lambda p: kekava(p, year=2028, extra_cells={"XFD1000100": 1}),
        ops.admin_landing / "2030": lambda p: os.symlink(outside / "year", p),
    }
    for path, make in entries.items():
        make(path)
    before = state(ops)
    n_before = len(file_loads(ops))
    summary = run_build(log_level="ERROR")
    assert summary.success, summary.render()
    pipe_or_link = ("a delivery must be a regular file of its own in the landing folder; it was not followed or "
                    "read. Put a copy of the file itself there")
    cb_line = (Path(__file__).parents[1] / "ingest" / "codebooks" / "wave_2027.yml").read_text(
        encoding="utf-8").count("\n") + 5
    expected = {
        ("quarantined", str(wave / "secret_dati.csv"),
         f"file {wave / 'secret_dati.csv'}: a symbolic link (to {str(secret)!r}): {pipe_or_link}"),
        ("quarantined", str(wave / "wave_2027.yml"),
         f"file {wave / 'wave_2027.yml'}, line {cb_line}: the codebook written out (every alias expanded) has more "
         "than 50000 nodes: the value starting here alone has 66430 (ingest/config/limits.yml, codebook.max_nodes); "
         "the codebook was not read further"),
        ("quarantined", str(admin / "LM_otrs_vards_2028.xlsx"),
         f"file {admin / 'LM_otrs_vards_2028.xlsx'}: a hard link (one of 2 names of the same file; the others may lie "
         f"outside the landing folder): {pipe_or_link}"),
        ("quarantined", str(admin / "pipe.xlsx"), f"file {admin / 'pipe.xlsx'}: a named pipe (fifo): {pipe_or_link}"),
        ("quarantined", str(admin / "kekava_xfd.xlsx"),
         f"file {admin / 'kekava_xfd.xlsx'}: a cell at XFD1000100: its column (sheet 'Dienas aprūpes centri'): 16 384 "
         "is over the limit of 60 (ingest/config/limits.yml, admin_workbook.max_columns); the file was not parsed"),
        ("quarantined", str(ops.admin_landing / "2030"),
         f"file {ops.admin_landing / '2030'}: a symbolic link (to {str(outside / 'year')!r}): {pipe_or_link}"),
    }
    assert set(file_loads(ops, n_before)) == expected
    assert {(r["status"], r["file_path"], r["message"]) for r in summary.refused} == expected
    after = state(ops)
    # nothing of them reached the warehouse or the snapshot; landing is as it was (nothing was removed or followed)
    for part in ("warehouse", "snapshot", "landing", "incoming"):
        assert after[part] == before[part], part
    # the archive gained the two files a delivery rule matched and that were read (bounded) to be refused
    added = {k: v for k, v in after["archive"].items() if k not in before["archive"]}
    from ingest.intake import sha256_file

    xfd, cb = sha256_file(admin / "kekava_xfd.xlsx"), sha256_file(wave / "wave_2027.yml")
    assert added == {xfd: "folder 700", f"{xfd}/kekava_xfd.xlsx": f"{xfd} 400",
                     cb: "folder 700", f"{cb}/wave_2027.yml": f"{cb} 400"}
    assert not any(sha256_file(p) in k for p in (secret, wb_outside) for k in after["archive"])
    # a second run finds the same and records nothing new: held, the run goes on
    again = run_build(log_level="ERROR")
    assert again.success and again.refused == []
    assert differences(state(ops), after) == {}


def test_make_load_of_a_file_over_a_limit_is_quarantined_and_says_so(ops, tmp_path, capsys):
    """Given to `make load` instead of dropped into landing: taken in, quarantined before any reader opens
    it, the run goes on (and succeeds), the command says the file was not loaded and exits 1."""
    path = kekava(tmp_path / "delivered" / "kekava_2028.xlsx", year=2028, extra_cells={"XFD1000100": 1})
    before = state(ops)
    capsys.readouterr()
    assert main("load", path, "--year", 2028) == 1
    out = capsys.readouterr().out.splitlines()
    message = (f"file {path}: a cell at XFD1000100: its column (sheet 'Dienas aprūpes centri'): 16 384 is over the "
               "limit of 60 (ingest/config/limits.yml, admin_workbook.max_columns); the file was not parsed")
    assert f"  QUARANTINED: {message}" in out
    assert "kekava_2028.xlsx was not loaded: quarantined (see above); the landing folder is unchanged for it" in out
    assert any(line.startswith("Run ") and line.endswith(": SUCCESS") for line in out)  # the run went on
    after = state(ops)
    for part in ("warehouse", "snapshot", "landing", "incoming"):
        assert after[part] == before[part], part
    assert file_loads(ops, len(file_loads(ops)) - 1) == [("quarantined", str(path), message)]


# --- 2. repeated commands --------------------------------------------------------------------------------

def test_repeating_a_command_leaves_everything_as_one_run_would(ops, tmp_path, capsys):
    """`make run`, `make load` (an LM workbook, a CSV wave) and `make validate`, each twice: the second
    changes nothing, the landing folder included (a second `make load` of the same workbook deleted it
    from landing)."""
    assert main("run") == 0
    once = state(ops)
    assert main("run") == 0
    assert differences(state(ops), once) == {}

    workbook = edited_workbook(ops, tmp_path, "0034000", "Ķekavas novads")
    assert main("load", workbook, "--year", 2028) == 0
    once = state(ops)
    target = ops.admin_landing / "2028" / workbook.name
    assert once["landing"][str(target.relative_to(ops.landing_dir))] == folder_state(workbook.parent)[workbook.name]
    assert main("load", workbook, "--year", 2028) == 0
    assert differences(state(ops), once) == {}
    assert target.is_file()

    data = edited_wave(ops, tmp_path)
    assert main("load", data, "--wave", 2027) == 0
    once = state(ops)
    assert once["landing"][f"survey/2027/{data.name}"] == folder_state(data.parent)[data.name]
    assert main("load", data, "--wave", 2027) == 0
    assert differences(state(ops), once) == {}

    capsys.readouterr()
    assert main("validate", workbook, "--year", 2028) == 0
    assert main("validate", workbook, "--year", 2028) == 0
    assert capsys.readouterr().out.count("its structure is sound") == 2
    assert differences(state(ops), once) == {}


# --- 4. two operators at once ------------------------------------------------------------------------------

def test_two_loads_started_at_once_both_succeed_in_either_order(sample_build, tmp_path):
    """The first load's start cleared all of data/incoming, the other load's staging folder included: the
    waiting load then said "the file does not exist" and recorded a good delivery as rejected. Now each
    load stages in its own folder and only folders of dead loads are removed. Both orders of start, and
    the same two loads one after the other, end in the same state."""
    from ingest.settings import resolve_paths

    def fresh(name: str):
        data = tmp_path / name / "data"
        shutil.copytree(sample_build.paths.data_dir, data)
        return resolve_paths(data)

    base = fresh("base")
    a = edited_workbook(base, tmp_path, "0034000", "Ķekavas novads")
    b = edited_workbook(base, tmp_path, "0031000", "Jēkabpils novads")
    loads = {"a": ["load", str(a), "--year", "2028"], "b": ["load", str(b), "--year", "2028"]}

    seq = fresh("sequential")
    for key in ("a", "b"):
        proc = cli(loads[key], cli_env(seq, tmp_path / "sequential"))
        out, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0, out[-3000:]
    reference = state(seq, volatile=True)

    for order in (("a", "b"), ("b", "a")):
        paths = fresh("".join(order))
        env = cli_env(paths, tmp_path / "".join(order))
        procs = [cli(loads[key], env) for key in order]  # started at once
        outs = [p.communicate(timeout=1200)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [o[-3000:] for o in outs]
        assert "waiting for the warehouse lock" in "".join(outs)
        assert "does not exist" not in "".join(outs)
        got = state(paths, volatile=True)
        assert differences(got, reference) == {}, order
        with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
            assert con.execute("select count(*) from audit.file_loads where status = 'rejected'").fetchone() == (0,)
