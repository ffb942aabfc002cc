"""Issue 21, the loader's part: deliveries made by a careless or hostile hand, each built here by hand
(tests/foreign/builder.py, openpyxl, pyreadstat, bytes), never by ingest/sample/. Each one is refused
before it can cost anything (quarantined: named, recorded, held) or rejected with its exact message,
and nothing of it reaches the raw tables. The catalogue is tests/bad_input_catalogue.yml.

No pipeline runs here (tests/test_hostile_runs.py runs them): the loader is called as the ingest
assets call it, on a warehouse file in a temp folder (the `con` fixture), whose archive is beside it.
"""
from __future__ import annotations

import builtins
import io
import os
import signal
import stat
import subprocess
import sys
import time
import tracemalloc
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ingest import limits as limits_module
from ingest.codebook import load_codebook
from ingest.errors import IngestError, OverLimit, printable
from ingest.intake import sha256_file, take
from ingest.settings import REPO_ROOT
from ingest.warehouse import load_admin_extract, load_survey_wave, wave_folders
from tests.foreign.builder import codebook_yaml, csv_bytes, write_bytes, write_sav
from tests.foreign.test_admin_workbooks import SHEET1, kekava
from tests.foreign.test_survey_deliveries import HEADER, rows_by_rule



@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setenv("TRUST_TODAY", "2029-06-30")


def fingerprint(con) -> dict:
    """{table: (rows, sum of row hashes)} of every table but the audit's (tests/state.py's fingerprint,
    taken through the test's own connection): equal before and after means nothing was loaded."""
    out = {}
    for schema, table in con.execute("select table_schema, table_name from information_schema.tables "
                                     "where table_type = 'BASE TABLE' and table_schema <> 'audit'").fetchall():
        cols = [c for (c,) in con.execute("select column_name from information_schema.columns where table_schema = ? "
                                          "and table_name = ? order by ordinal_position", [schema, table]).fetchall()]
        row = "hash(" + ", ".join(f'"{c}"' for c in cols) + ")"
        n, h = con.execute(f'select count(*), coalesce(sum({row}::hugeint), 0) from "{schema}"."{table}"').fetchone()
        out[f"{schema}.{table}"] = (int(n), int(h))
    return out


def refused(con, call):
    """Run `call` (a load expected to refuse its delivery); the warehouse's tables must not change."""
    before = fingerprint(con)
    result = call()
    assert fingerprint(con) == before, "a refused delivery changed the warehouse"
    return result


def rejected(con, call) -> IngestError:
    before = fingerprint(con)
    with pytest.raises(IngestError) as err:
        call()
    assert fingerprint(con) == before, "a rejected delivery changed the warehouse"
    assert audit(con)[-1][0] == "rejected"
    return err.value


def audit(con) -> list[tuple]:
    return con.execute("select status, file_path, message, archive_path from audit.file_loads order by loaded_at"
                       ).fetchall()


def archive_of(tmp_path: Path) -> dict[str, str]:
    """{relative path: sha256} of every file of the test warehouse's archive (read here, as root may)."""
    root = tmp_path / "archive"
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()} \
        if root.exists() else {}


@pytest.fixture
def opened(monkeypatch):
    """The (device, inode) of every file this process opens through Python while the test runs: a file
    never in it was never read (os.open, open, io.open; the C readers get only archived copies' paths)."""
    seen: set[tuple[int, int]] = set()
    real_os_open, real_open = os.open, builtins.open

    def os_open(path, flags, *a, **k):
        fd = real_os_open(path, flags, *a, **k)
        st = os.fstat(fd)
        seen.add((st.st_dev, st.st_ino))
        return fd

    def b_open(file, *a, **k):
        fh = real_open(file, *a, **k)
        try:
            st = os.fstat(fh.fileno())
            seen.add((st.st_dev, st.st_ino))
        except (OSError, ValueError, AttributeError):
            pass
        return fh

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", b_open)
    monkeypatch.setattr(io, "open", b_open)
    return seen


def inode(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def spaced(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def lower_limit(monkeypatch, section: str, key: str, value) -> None:
    """A lower limit for one test (the limits are data, ingest/config/limits.yml)."""
    doc = {k: dict(v) for k, v in limits_module.limits().items()}
    doc[section][key] = value
    monkeypatch.setattr(limits_module, "limits", lambda: doc)


def no_calamine(monkeypatch):
    """Any attempt to open a workbook with python-calamine fails the test."""
    import python_calamine

    def refuse(*a, **k):
        raise AssertionError("python-calamine opened a workbook that is over the limits")
    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", refuse)


# --- 1. resource limits before parsing ------------------------------------------------------------------

@pytest.mark.parametrize("cell, problem", [
    ("XFD1000100", "a cell at XFD1000100: its column (sheet 'Dienas aprūpes centri'): 16 384 is over the limit of 60 "
                   "(ingest/config/limits.yml, admin_workbook.max_columns)"),
    ("A1000100", "a cell at A1000100: its row (sheet 'Dienas aprūpes centri'): 1 000 100 is over the limit of 2 000 "
                 "(ingest/config/limits.yml, admin_workbook.max_rows)"),
], ids=["far_right", "far_down"])
def test_a_stray_cell_is_quarantined_before_any_reader_opens_the_workbook(con, tmp_path, monkeypatch, cell, problem):
    """One value at XFD1000100 made python-calamine allocate 524 340 428 800 bytes and abort every run
    from then on. Now the sheet's cells are measured first; the workbook is quarantined, not parsed."""
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx", extra_cells={cell: 1})
    no_calamine(monkeypatch)
    result = refused(con, lambda: load_admin_extract(con, path, expected_year=2029))
    message = f"file {path}: {problem}; the file was not parsed"
    assert (result["status"], result["message"]) == ("quarantined", message)
    [(status, file_path, audited, archived)] = audit(con)
    assert (status, file_path, audited) == ("quarantined", str(path), message)
    assert Path(archived) == tmp_path / "archive" / sha256_file(path) / "kekava.xlsx"  # a matched file: archived
    # delivered again unchanged: held, not read again and not recorded again
    again = load_admin_extract(con, path, expected_year=2029)
    assert again["status"] == "held" and len(audit(con)) == 1


def test_a_survey_sheet_longer_than_its_codebook_allows_is_quarantined(con, tmp_path, monkeypatch):
    """A wave sheet's rows are bounded by its codebook (expected_respondents max + survey_sheet.extra_rows),
    counted from the cells it holds, not from the <dimension> it claims."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Dati"
    ws.append(HEADER)
    for r in rows_by_rule(40, ["0001000"]):
        ws.append([str(v) for v in r])
    ws["B300"] = 1  # expected at most 200 respondents + 100 extra rows: a cell on row 300 is within ...
    ws["C302"] = 1  # ... one on row 302 is not
    path = tmp_path / "landing" / "survey" / "2029" / "dati.xlsx"
    path.parent.mkdir(parents=True)
    wb.save(path)
    cb_path = tmp_path / "wave_2029.yml"
    cb_path.write_text(codebook_yaml(2029, fmt="excel", data_file="*.xlsx", fieldwork=("2029-02-01", "2029-03-31")),
                       encoding="utf-8")
    no_calamine(monkeypatch)
    result = refused(con, lambda: load_survey_wave(con, path, load_codebook(cb_path)))
    assert result["status"] == "quarantined"
    assert result["message"] == (
        f"file {path}: a cell at C302: its row (sheet 'Dati'): 302 is over the limit of 300 (ingest/config/limits.yml, "
        "expected_respondents max of codebook wave_2029.yml + survey_sheet.extra_rows); the file was not parsed")


def test_a_sheet_whose_xml_inflates_past_the_limit_is_quarantined(con, tmp_path, monkeypatch):
    """A zip member's inflated size is checked against workbook.max_part_bytes (lowered here to 30 000
    bytes; the real limit is the same setting), before and while it is read."""
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx",
                  extra_cells={f"A{r}": "teksts " * 10 for r in range(100, 600)})
    import zipfile

    with zipfile.ZipFile(path) as z:
        size = z.getinfo("xl/worksheets/sheet1.xml").file_size
    assert size > 30_000
    lower_limit(monkeypatch, "workbook", "max_part_bytes", 30_000)
    no_calamine(monkeypatch)
    result = refused(con, lambda: load_admin_extract(con, path, expected_year=2029))
    assert result["message"] == (f"file {path}: part 'xl/worksheets/sheet1.xml' inflated, in bytes: "
                                 f"{spaced(size)} is over the limit of 30 000 (ingest/config/limits.yml, "
                                 "workbook.max_part_bytes); the file was not parsed")


def test_a_file_over_the_size_limit_is_not_read_at_all(con, tmp_path, monkeypatch, opened):
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx")
    size = path.stat().st_size
    lower_limit(monkeypatch, "file", "max_bytes", 1000)
    result = refused(con, lambda: load_admin_extract(con, path, expected_year=2029))
    assert result["message"] == (f"file {path}: the file's size in bytes: {spaced(size)} is over the limit of 1 000 "
                                 "(ingest/config/limits.yml, file.max_bytes); the file was not parsed")
    assert archive_of(tmp_path) == {}  # not copied: not read


def billion_laughs(levels: int) -> str:
    """Nested aliases, typed here: each level nine references to the one before."""
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [9, 10], ids=["nine_levels", "one_level_deeper"])
def test_a_billion_laughs_codebook_is_refused_in_milliseconds(tmp_path, levels):
    """2.3 KB of nested aliases took 3.9 GB and 92 s to load; one level deeper died with a MemoryError
    traceback. The bounded loader counts every node with its aliases written out and stops at max_nodes."""
    head = codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"))
    text = head + billion_laughs(levels)
    line = head.count("\n") + 5  # lol0 holds 10 nodes, lol1 91, lol2 820, lol3 7 381, lol4 66 430: the fifth list
    path = tmp_path / "wave_2029.yml"
    path.write_text(text, encoding="utf-8")
    assert len(text.encode()) < 4000
    tracemalloc.start()
    t0 = time.monotonic()
    with pytest.raises(OverLimit) as err:
        load_codebook(path)
    seconds = time.monotonic() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 2 and peak < 20_000_000, (seconds, peak)
    assert err.value.describe() == (
        f"file {path}, line {line}: the codebook written out (every alias expanded) has more than 50000 nodes: the "
        "value starting here alone has 66430 (ingest/config/limits.yml, codebook.max_nodes); the codebook was not "
        "read further")


def test_codebook_aliases_that_share_a_code_map_still_load(tmp_path):
    """The limit is on the expansion, not on aliases: the sample's own codebooks share code maps with them."""
    text = codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31")).replace(
        "codes: {1: 1, 2: 2, 3: 3, 4: 4, 9: hard_to_say}", "codes: &trust {1: 1, 2: 2, 3: 3, 4: 4, 9: hard_to_say}")
    text += "  trust_municipality: {variable: uzt2, codes: *trust}\n"
    path = tmp_path / "wave_2029.yml"
    path.write_text(text, encoding="utf-8")
    cb = load_codebook(path)
    assert [v.codes for v in cb.items] == [{1.0: ("1", None), 2.0: ("2", None), 3.0: ("3", None), 4.0: ("4", None),
                                            9.0: (None, "hard_to_say")}] * 2


def test_a_codebook_nested_too_deep_is_refused(tmp_path):
    head = codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"))
    path = tmp_path / "wave_2029.yml"
    path.write_text(head + "x: " + "[" * 20 + "]" * 20 + "\n", encoding="utf-8")
    with pytest.raises(OverLimit) as err:
        load_codebook(path)
    # the root mapping is level 1, x's list 2, ... the 12th "[" opens level 13, all on the last line
    assert err.value.describe() == (f"file {path}, line {head.count(chr(10)) + 1}: the codebook nests deeper than 12 "
                                    "levels (ingest/config/limits.yml, codebook.max_depth); the codebook was not read "
                                    "further")


def test_a_codebook_over_its_size_limit_is_not_parsed(tmp_path):
    path = tmp_path / "wave_2029.yml"
    path.write_text(codebook_yaml(2029) + "notes: |\n" + ("  " + "x" * 99 + "\n") * 2100, encoding="utf-8")
    assert path.stat().st_size > 200_000
    with pytest.raises(OverLimit) as err:
        load_codebook(path)
    assert err.value.describe() == (f"file {path}: the codebook's size in bytes: more than 200000 "
                                    "(ingest/config/limits.yml, codebook.max_bytes); it was not parsed")


def test_a_wave_folder_with_a_refused_codebook_is_a_quarantine_not_a_failure(tmp_path):
    folder = tmp_path / "landing" / "survey" / "2029"
    write_bytes(folder / "dati.csv", csv_bytes(HEADER, rows_by_rule(40, ["0001000"])))
    (folder / "wave_2029.yml").write_text(codebook_yaml(2029) + billion_laughs(9), encoding="utf-8")
    [wf] = wave_folders(tmp_path / "landing" / "survey")
    assert isinstance(wf.problem, OverLimit) and wf.problem.file == str(folder / "wave_2029.yml")


def test_a_csv_line_over_the_limit_is_quarantined(con, tmp_path):
    rows = rows_by_rule(40, ["0001000"])
    rows[5][1] = "0001000" + " " * 100_000  # the 6th respondent: line 7 (after the header)
    length = len(";".join(str(v) for v in rows[5]).encode("cp1257"))
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", csv_bytes(HEADER, rows))
    cb_path = tmp_path / "wave_2029.yml"
    cb_path.write_text(codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31")), encoding="utf-8")
    result = refused(con, lambda: load_survey_wave(con, path, load_codebook(cb_path)))
    assert result["message"] == (f"file {path}: the length in bytes of line 7: {spaced(length)} is over the limit of "
                                 "100 000 (ingest/config/limits.yml, csv.max_line_bytes); the file was not parsed")
    assert audit(con)[0][:3] == ("quarantined", str(path), result["message"])


@pytest.mark.parametrize("encode, says", [
    (lambda text: text.encode("utf-16"), "UTF-16 encoded (it starts with a UTF-16 byte-order mark"),  # Excel "Unicode Text"
    (lambda text: text.encode("utf-16-be"), "NUL byte at byte 1"),                                       # no mark at all
    (lambda text: text.encode("utf-32"), "UTF-32 encoded"),
], ids=["utf16_with_mark", "utf16_without_mark", "utf32"])
def test_a_wide_encoded_csv_is_refused_saying_its_encoding(con, tmp_path, encode, says):
    """A firm's export in UTF-16 (by hand here: the sample writer never makes one) read as the
    codebook's one-byte cp1257 used to fail as "2 fields where 14 were expected"; the message says
    what the file is."""
    text = csv_bytes(HEADER, rows_by_rule(40, ["0001000"])).decode("cp1257")
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", encode(text))
    cb_path = tmp_path / "wave_2029.yml"
    cb_path.write_text(codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31")), encoding="utf-8")
    err = rejected(con, lambda: load_survey_wave(con, path, load_codebook(cb_path)))
    assert says in str(err) and "cp1257" in str(err) and str(path) in str(err), str(err)
    assert "fields" not in str(err)


def test_a_sav_whose_header_claims_too_many_variables_is_quarantined(con, tmp_path):
    df = pd.DataFrame({f"v{i}": [1.0, 2.0] for i in range(5001)})
    path = write_sav(tmp_path / "landing" / "survey" / "2029" / "dati.sav", df)
    cb_path = tmp_path / "wave_2029.yml"
    cb_path.write_text(codebook_yaml(2029, fmt="spss", data_file="*.sav", fieldwork=("2029-02-01", "2029-03-31")),
                       encoding="utf-8")
    result = refused(con, lambda: load_survey_wave(con, path, load_codebook(cb_path)))
    assert result["message"] == (f"file {path}: the file's variables: 5 001 is over the limit of 5 000 "
                                 "(ingest/config/limits.yml, spss.max_variables); the file was not parsed")


# --- 6. numbers that cannot be what they say -------------------------------------------------------------

@pytest.mark.parametrize("cell, value, problem", [
    ("N11", "199,013", "ambiguous number: 199 013 (',' as a thousands separator) or 199.013 (',' as a decimal "
                       "mark)? A value in eur has at most 2 decimals; write thousands with a space ('199 013') "
                       "(ingest/config/numbers.yml)"),
    ("N11", 199.013, "ambiguous number: 199 013 ('.' as a thousands separator) or 199.013 ('.' as a decimal mark)? "
                     "A value in eur has at most 2 decimals; write thousands with a space ('199 013') "
                     "(ingest/config/numbers.yml)"),
    ("D11", "1,297", "ambiguous number: 1 297 (',' as a thousands separator) or 1.297 (',' as a decimal mark)? "
                     "A value in persons has no decimals; write thousands with a space ('1 297') "
                     "(ingest/config/numbers.yml)"),
], ids=["eur_text", "eur_typed_number", "persons"])
def test_a_number_with_a_three_digit_tail_is_refused_as_ambiguous(con, tmp_path, cell, value, problem):
    """"199,013" EUR loaded as 199.013 and passed every gate (expenditure per resident 31.83 -> 25.55)."""
    extra = {cell: value}
    if cell == "D11":
        extra.update({"E11": 700, "F11": 597})  # women + men = 1297 either way: the sum rule cannot catch it
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx", extra_cells=extra)
    err = rejected(con, lambda: load_admin_extract(con, path, expected_year=2029))
    shown = f"'{value}'" if isinstance(value, str) else "'199.013'"
    assert err.describe() == f"file {path}, cell '{SHEET1}'!{cell}: {problem} (value: {shown})"


@pytest.mark.parametrize("value, expected", [("199 013", 199013.0), ("199,01", 199.01), ("199013", 199013.0)],
                         ids=["thousands_with_a_space", "cents", "plain"])
def test_unambiguous_euros_load_as_written(con, tmp_path, value, expected):
    from ingest.readers.admin_table import parse_number

    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx", extra_cells={"N11": value})
    assert load_admin_extract(con, path, expected_year=2029)["status"] == "loaded"
    [(text,)] = con.execute("select expenditure_eur from raw.admin_table_rows where row_no = '11'").fetchall()
    assert text == value and parse_number(text) == expected


def survey_csv(tmp_path, rows, **codebook_kw):
    # the small waves here are Rīga's: a local survey's plan (issue 22: a national plan needs every region)
    codebook_kw.setdefault("coverage", sorted({str(r[1]) for r in rows}))
    path = write_bytes(tmp_path / "landing" / "survey" / "2029" / "dati.csv", csv_bytes(HEADER, rows))
    cb_path = tmp_path / "wave_2029.yml"
    cb_path.write_text(codebook_yaml(2029, fieldwork=("2029-02-01", "2029-03-31"), **codebook_kw), encoding="utf-8")
    return path, load_codebook(cb_path)


def test_a_survey_code_written_with_a_three_digit_tail_is_ambiguous(con, tmp_path):
    rows = rows_by_rule(40, ["0001000"])
    rows[7][HEADER.index("uzt")] = "1,000"
    path, cb = survey_csv(tmp_path, rows)
    err = rejected(con, lambda: load_survey_wave(con, path, cb))
    assert err.describe() == (
        f"file {path}, line 9 (respondent 290008), column 'uzt': ambiguous number: 1 000 (',' as a thousands "
        "separator) or 1.000 (',' as a decimal mark)? A value in code has no decimals; write thousands with a space "
        "('1 000') (ingest/config/numbers.yml) (value: '1,000')")


def test_weights_at_the_smallest_double_are_refused_by_the_loader_naming_the_weights(con, tmp_path):
    """All weights 4.9E-324: they passed every loader rule and the GE gate, then failed seven dbt share
    tests that never named the weights."""
    rows = rows_by_rule(40, ["0001000"])
    for r in rows:
        r[HEADER.index("svars")] = "4.9E-324"
    path, cb = survey_csv(tmp_path, rows)
    err = rejected(con, lambda: load_survey_wave(con, path, cb))
    assert err.describe() == (
        f"file {path}, line 2 (respondent 290001), column 'svars': weight below the floor of 0.001 (weights.floor in "
        "ingest/config/survey_delivery.yml; 40 of the 40 weights are below it) (value: '4.9E-324')")


def test_weights_whose_sum_is_neither_the_respondents_nor_the_population_are_refused(con, tmp_path):
    rows = rows_by_rule(40, ["0001000"])
    for r in rows:
        r[HEADER.index("svars")] = "0,01"  # above the floor, but 40 x 0.01 = 0.4
    path, cb = survey_csv(tmp_path, rows)
    err = rejected(con, lambda: load_survey_wave(con, path, cb))
    assert err.describe() == (
        f"file {path}, column 'svars': the weights add up to 0.4 over 40 respondents: neither normalised (between 0.5 "
        "and 2 times the respondents) nor grossed up to the population (between 500000 and 2500000); weights.sum in "
        "ingest/config/survey_delivery.yml (value: 0.4)")


def test_grossed_up_weights_load(con, tmp_path):
    rows = rows_by_rule(40, ["0001000"])
    for r in rows:
        r[HEADER.index("svars")] = "37 500"  # 40 x 37 500 = 1 500 000 residents
    path, cb = survey_csv(tmp_path, rows)
    assert load_survey_wave(con, path, cb)["status"] == "loaded"
    assert con.execute("select sum(value_num) from raw.survey_cells where variable = 'svars'").fetchone() == (1500000.0,)


# --- 7. clear messages ---------------------------------------------------------------------------------

def test_a_municipality_name_typed_in_nfd_reads_as_the_unit(con, tmp_path):
    """'Ķekavas novads' with its letters as a base letter + a combining mark (NFD), and so is the label
    'Pašvaldība': refused before with a message showing a name identical to the real one."""
    name = unicodedata.normalize("NFD", "Pašvaldība: Ķekavas novads")
    assert name != "Pašvaldība: Ķekavas novads" and len(name) == len("Pašvaldība: Ķekavas novads") + 3  # š, ī, Ķ
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx", title={"A2": name, "A3": "Pārskata gads: 2029"})
    result = load_admin_extract(con, path, expected_year=2029)
    assert (result["status"], result["key"]) == ("loaded", "0034000/2029")


def test_a_name_that_only_looks_right_is_refused_showing_the_code_points(con, tmp_path):
    looks_right = "Ķekаvas novads"  # the second a is CYRILLIC SMALL LETTER A
    path = kekava(tmp_path / "admin" / "2029" / "kekava.xlsx",
                  title={"A2": f"Pašvaldība: {looks_right}", "A3": "Pārskata gads: 2029"})
    err = rejected(con, lambda: load_admin_extract(con, path, expected_year=2029))
    assert err.describe() == (
        f"file {path}, cell '{SHEET1}'!A2: the municipality 'Ķekаvas novads' is not a unit of 2029 by that name (the "
        "closest unit name is 'Ķekavas novads'; they differ at character 4: U+0430 CYRILLIC SMALL LETTER A where the "
        "unit's name has U+0061 LATIN SMALL LETTER A); add its ATVK code, e.g. 'Pašvaldība: Ķekavas novads (0034000)' "
        "(value: 'Ķekаvas novads')")


def cp1257_sav(tmp_path) -> Path:
    """A .sav whose value label is Windows-1257 bytes while the file says UTF-8: written with a
    placeholder, then the label's bytes replaced (same length; SPSS pads a label with spaces, which
    readers drop)."""
    df = pd.DataFrame({"resp": [290001.0 + i for i in range(40)], "pasv": ["0001000"] * 40,
                       "dzim": [1.0, 2.0] * 20, "vec": [30.0] * 40, "kl": [1.0] * 40,
                       "uzt": [1.0, 2.0, 3.0, 4.0] * 10, "svars": [1.0] * 40})
    path = write_sav(tmp_path / "landing" / "survey" / "2029" / "dati.sav", df,
                     value_labels={"uzt": {1.0: "Pilnigi XX uzticos", 2.0: "Drizak uzticos"}})
    data = path.read_bytes()
    assert data.count(b"Pilnigi XX uzticos") == 1
    path.write_bytes(data.replace(b"Pilnigi XX uzticos", "Pilnīgi uzticos".encode("cp1257") + b"   "))
    return path


def test_a_sav_with_cp1257_labels_names_the_variable_and_how_to_declare_the_encoding(con, tmp_path):
    path = cp1257_sav(tmp_path)
    cb_path = tmp_path / "wave_2029.yml"
    cb_path.write_text(codebook_yaml(2029, fmt="spss", data_file="*.sav", fieldwork=("2029-02-01", "2029-03-31")),
                       encoding="utf-8")
    err = rejected(con, lambda: load_survey_wave(con, path, load_codebook(cb_path)))
    assert err.describe() == (
        f"file {path}, column 'uzt': the value label of code 1 is not valid UTF-8: the file's texts are in another "
        "encoding than UTF-8 (what the file declares); if it was written in Windows-1257, say so in the wave's "
        "codebook: `delivery: {format: spss, ..., encoding: cp1257}` (value: \"b'Piln\\\\xeegi uzticos'\")")
    # declared as the message says, it loads with the label as written
    cb_path.write_text(codebook_yaml(2029, fmt="spss", data_file="*.sav", fieldwork=("2029-02-01", "2029-03-31"),
                                     delivery_extra="  encoding: cp1257\n", coverage=["0001000"]), encoding="utf-8")
    assert load_survey_wave(con, path, load_codebook(cb_path), retry=True)["status"] == "loaded"
    assert con.execute("select label from raw.survey_value_labels where variable = 'uzt' and code = 1").fetchone() \
        == ("Pilnīgi uzticos",)


def cli(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], cwd=cwd or REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_file_name_with_a_line_break_is_printed_escaped(tmp_path):
    """A workbook named 'x<newline>REJECTED: all good.xlsx' made a load print a line starting
    'REJECTED: all good.xlsx'. Every name is printed with its control characters escaped."""
    name = "x\nREJECTED: all good.xlsx"
    path = kekava(tmp_path / "in" / name, title={"A2": "Pašvaldība: Nekurienes novads", "A3": "Pārskata gads: 2029"})
    env = {**os.environ, "TRUST_DATA_DIR": str(tmp_path / "data")}
    out = cli("validate", str(path), "--year", "2029", env=env)
    assert out.returncode == 1 and out.stderr == ""
    lines = out.stdout.splitlines()
    assert not any(line.startswith("REJECTED: all good") for line in lines), out.stdout
    assert lines == [
        f"  REJECTED: file {tmp_path}/in/x\\nREJECTED: all good.xlsx, cell '{SHEET1}'!A2: the municipality 'Nekurienes "
        "novads' is not a unit of 2029 by that name; add its ATVK code, e.g. 'Pašvaldība: Ķekavas novads (0034000)' "
        "(value: 'Nekurienes novads')",
        "x\\nREJECTED: all good.xlsx: would be rejected (dry run: nothing was written)"]


def test_the_run_summary_prints_refused_names_escaped():
    from ingest.settings import resolve_paths
    from orchestration.pipeline import RunSummary

    s = RunSummary("r1", True, resolve_paths("/tmp/nowhere"),
                   refused=[{"status": "quarantined", "file_path": "/l/a\nREJECTED: all good.xlsx",
                             "message": "file /l/a\\nREJECTED: all good.xlsx: a named pipe (fifo): ..."},
                            {"status": "quarantined", "file_path": "/l/b\r\x1b[2Kc.xlsx",
                             "message": "quarantined: blocked by the quality gate provision: why"}])
    lines = s.render().splitlines()
    assert "  QUARANTINED: file /l/a\\nREJECTED: all good.xlsx: a named pipe (fifo): ..." in lines
    assert "  QUARANTINED: file /l/b\\r\\x1b[2Kc.xlsx: quarantined: blocked by the quality gate provision: why" in lines
    assert not any(line.startswith("REJECTED") for line in lines)


@pytest.mark.parametrize("what, make_it, problem", [
    ("CODEBOOK", lambda p: p, "no such file"),
    ("CODEBOOK", lambda p: (p.mkdir(), p)[1], "is a folder, not a file"),
    ("WITH", lambda p: p, "no such file"),
    ("WITH", lambda p: (p.mkdir(), p)[1], "is a folder, not a file"),
    ("FILE", lambda p: (p.mkdir(), p)[1], "is a folder, not a file"),
    ("FILE", lambda p: (os.mkfifo(p), p)[1], "is a named pipe (fifo), not a file"),
], ids=["codebook_missing", "codebook_folder", "with_missing", "with_folder", "file_folder", "file_fifo"])
@pytest.mark.parametrize("command", ["validate", "load"])
def test_a_wrong_path_given_to_make_is_a_clear_message_not_a_traceback(tmp_path, what, make_it, problem, command):
    """`make load`/`make validate` with CODEBOOK=, WITH= or FILE= naming a missing file, a folder or a pipe
    ended in FileNotFoundError / IsADirectoryError tracebacks (a pipe would have blocked the copy)."""
    good = write_bytes(tmp_path / "in" / "monitorings_dati.csv", csv_bytes(HEADER, rows_by_rule(40, ["0001000"])))
    bad = make_it(tmp_path / "in" / "nav te ; $(x)")
    env = {**os.environ, "TRUST_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path / "dh"),
           "WAVE": "2027", "FILE": str(bad if what == "FILE" else good)}
    if what != "FILE":
        env[what] = str(bad)
    out = subprocess.run(["make", "-s", "-C", str(REPO_ROOT), command], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode != 0 and "Traceback" not in out.stdout + out.stderr
    prefix = "  REJECTED: " if command == "validate" else "ERROR: "
    assert f"{prefix}{what}={bad}: {problem}" in out.stdout.splitlines(), out.stdout + out.stderr
    if command == "load":
        assert not list((tmp_path / "data" / "incoming").iterdir())  # its staging folder is gone too


# --- 3. links, second names, pipes and devices in landing --------------------------------------------------

@pytest.fixture
def outside(tmp_path) -> Path:
    secret = tmp_path / "elsewhere" / "secret.xlsx"
    kekava(secret)  # a readable workbook outside landing, which a link must not bring in
    os.chmod(secret, 0o600)
    return secret


def test_a_symlink_in_landing_is_refused_by_name_and_never_followed(con, tmp_path, outside, opened):
    link = tmp_path / "landing" / "admin" / "2029" / "LM_0034000_2029.xlsx"
    link.parent.mkdir(parents=True)
    os.symlink(outside, link)
    result = refused(con, lambda: load_admin_extract(con, link, expected_year=2029))
    message = (f"file {link}: a symbolic link (to {str(outside)!r}): a delivery must be a regular file of its own in "
               "the landing folder; it was not followed or read. Put a copy of the file itself there")
    assert (result["status"], result["message"]) == ("quarantined", message)
    assert [(s, f, m) for s, f, m, _ in audit(con)] == [("quarantined", str(link), message)]
    assert inode(outside) not in opened
    assert archive_of(tmp_path) == {}
    # a wave folder: the link is listed as refused; the matcher never returns it
    wave = tmp_path / "landing" / "survey" / "2029"
    wave.mkdir(parents=True)
    os.symlink(outside, wave / "secret_dati.csv")
    [wf] = wave_folders(tmp_path / "landing" / "survey")
    assert wf.unsafe == [(wave / "secret_dati.csv", f"a symbolic link (to {str(outside)!r})")]
    assert inode(outside) not in opened


def test_a_hard_link_to_a_file_outside_is_refused_and_not_read(con, tmp_path, outside, opened):
    link = tmp_path / "landing" / "admin" / "2029" / "LM_0034000_2029.xlsx"
    link.parent.mkdir(parents=True)
    os.link(outside, link)
    result = refused(con, lambda: load_admin_extract(con, link, expected_year=2029))
    assert result["message"] == (
        f"file {link}: a hard link (one of 2 names of the same file; the others may lie outside the landing folder): a "
        "delivery must be a regular file of its own in the landing folder; it was not followed or read. Put a copy of "
        "the file itself there")
    assert inode(outside) not in opened and archive_of(tmp_path) == {}


def _refused_within_a_minute(con, path):
    signal.alarm(60)  # opening a pipe for reading would wait for a writer for ever
    try:
        return refused(con, lambda: load_admin_extract(con, path, expected_year=2029))
    finally:
        signal.alarm(0)


def test_a_fifo_in_landing_is_refused_without_blocking(con, tmp_path):
    fifo = tmp_path / "landing" / "admin" / "2029" / "pipe.xlsx"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    assert _refused_within_a_minute(con, fifo)["message"] == (
        f"file {fifo}: a named pipe (fifo): a delivery must be a regular file of its own in the landing folder; it was "
        "not followed or read. Put a copy of the file itself there")


def test_a_device_in_landing_is_refused(con, tmp_path):
    device = tmp_path / "landing" / "admin" / "2029" / "null.xlsx"
    device.parent.mkdir(parents=True)
    try:
        os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # what /dev/null is
    except PermissionError:
        # an unprivileged container cannot make a device node at all, so nobody can drop one into its landing
        # folder either; the fifo case above tests the same refusal path (not a regular file)
        pytest.skip("this machine does not allow making a device node (no CAP_MKNOD): the device case is not tested")
    assert _refused_within_a_minute(con, device)["message"] == (
        f"file {device}: a device: a delivery must be a regular file of its own in the landing folder; it was not "
        "followed or read. Put a copy of the file itself there")


def test_archived_copies_are_owner_only(con, tmp_path):
    """A 0600 file came out 0444 (readable by everyone); now every archived copy is 0400 in 0700 folders."""
    for mode, name, note in ((0o600, "a.xlsx", "a"), (0o644, "b.xlsx", "b")):
        path = kekava(tmp_path / "landing" / "admin" / "2029" / name, extra_cells={"O15": note})
        os.chmod(path, mode)
        take(path, tmp_path / "archive")
    files = [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]
    folders = [p for p in (tmp_path / "archive").rglob("*") if p.is_dir()]
    assert len(files) == 2 and len(folders) == 2
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o400}
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o700}


@pytest.mark.parametrize("in_memory", [64 << 20, 100], ids=["read_into_memory", "streamed"])
def test_a_file_is_taken_in_once_into_an_archived_copy(tmp_path, monkeypatch, in_memory):
    """Both ways a file is taken in (small files read into memory, big ones streamed to disk) give the
    same copy, named by its checksum computed here independently; taking it again adds nothing."""
    import hashlib

    import ingest.intake as intake

    monkeypatch.setattr(intake, "IN_MEMORY", in_memory)
    path = write_bytes(tmp_path / "landing" / "x_dati.csv", b"resp;pasv\n" + b"290001;0001000\n" * 500)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    taken = take(path, tmp_path / "archive")
    assert (taken.sha256, taken.size, taken.local) == (sha, path.stat().st_size, tmp_path / "archive" / sha / "x_dati.csv")
    assert taken.local.read_bytes() == path.read_bytes()
    assert take(path, tmp_path / "archive") == taken
    assert sorted(p.name for p in (tmp_path / "archive").rglob("*")) == sorted([sha, "x_dati.csv"])  # no parts left


def test_the_archive_holds_only_files_a_delivery_rule_matched(con, tmp_path):
    folder = tmp_path / "landing" / "survey" / "2029"
    data = write_bytes(folder / "monitorings_dati.csv", csv_bytes(HEADER, rows_by_rule(40, ["0001000"])))
    codes = write_bytes(folder / "monitorings_kodi.csv", csv_bytes(["mainigais", "kods", "nozime"], [["uzt", 1, "Jā"]]))
    write_bytes(folder / "piezimes.txt", b"a note from the firm")
    write_bytes(folder / "vecais_dati.csv.bak", b"an old export")
    cb_path = folder / "wave_2029.yml"
    cb_path.write_text(codebook_yaml(2029, data_file="*_dati.csv", fieldwork=("2029-02-01", "2029-03-31"),
                                     delivery_extra='  code_list_file: "*_kodi.csv"\n', coverage=["0001000"]),
                       encoding="utf-8")
    [wf] = wave_folders(tmp_path / "landing" / "survey")
    assert load_survey_wave(con, wf.data_file, wf.codebook)["status"] == "loaded"
    assert archive_of(tmp_path) == {f"{sha256_file(p)}/{p.name}": sha256_file(p) for p in (data, codes, cb_path)}


def test_the_bytes_parsed_are_the_bytes_archived_even_if_landing_changes_meanwhile(con, tmp_path, monkeypatch, opened):
    """The loader read a landing file again after archiving it: a file replaced in between loaded figures
    that were not the archived ones. Now the archived copy is parsed, and the landing file is opened once."""
    import ingest.warehouse as warehouse

    rows = rows_by_rule(40, ["0001000"])
    path, cb = survey_csv(tmp_path, rows)
    original = sha256_file(path)
    swapped = rows_by_rule(40, ["0001000"], first_id=770001)
    real_take = warehouse.take
    landing_opens = []

    def take_then_swap(p, into):
        taken = real_take(p, into)
        if Path(p) == path:
            landing_opens.append(inode(path))
            path.write_bytes(csv_bytes(HEADER, swapped))  # the file changes in landing right after it was read
        return taken
    monkeypatch.setattr(warehouse, "take", take_then_swap)
    opened.clear()
    assert load_survey_wave(con, path, cb)["status"] == "loaded"
    ids = [r[0] for r in con.execute("select distinct respondent_source_id from raw.survey_cells order by 1").fetchall()]
    assert ids == [str(r[0]) for r in rows]  # the figures of the bytes read, not of the file now in landing
    [(sha, archived)] = con.execute("select sha256, archive_path from audit.file_loads").fetchall()
    assert sha == original == sha256_file(Path(archived))
    assert sha256_file(path) != original


def test_make_validate_says_a_file_over_a_limit_would_be_quarantined(tmp_path, monkeypatch):
    path = kekava(tmp_path / "in" / "kekava.xlsx", year=2029, extra_cells={"XFD1000100": 1})
    env = {**os.environ, "TRUST_DATA_DIR": str(tmp_path / "data")}
    out = cli("validate", str(path), "--year", "2029", env=env)
    assert out.returncode == 1 and out.stderr == ""
    assert out.stdout.splitlines() == [
        f"  QUARANTINED: file {path}: a cell at XFD1000100: its column (sheet 'Dienas aprūpes centri'): 16 384 is over "
        "the limit of 60 (ingest/config/limits.yml, admin_workbook.max_columns); the file was not parsed",
        "kekava.xlsx: would be quarantined, not read (dry run: nothing was written)"]
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.xlsx"))


def test_the_sensor_names_hostile_entries_without_following_or_opening_them(tmp_path, opened):
    """The landing-folder sensor hashes deliveries to compare them with the warehouse: it must not read
    through a link or open a pipe (it would block every tick); it starts a run that refuses them by name."""
    from orchestration.automation import plan_landing_runs

    secret = tmp_path / "outside" / "secret.xlsx"
    kekava(secret)
    folder = tmp_path / "landing" / "admin" / "2029"
    folder.mkdir(parents=True)
    os.symlink(secret, folder / "link.xlsx")
    os.mkfifo(folder / "pipe.xlsx")
    opened.clear()  # what the test itself opened to make the files
    signal.alarm(60)
    try:
        years, messages = plan_landing_runs(tmp_path / "landing", tmp_path / "none.duckdb", tmp_path / "cb", {})
    finally:
        signal.alarm(0)
    assert years == [2029]
    assert messages == [f"admin/2029/link.xlsx: a symbolic link (to {str(secret)!r}): the run refuses it by name",
                        "admin/2029/pipe.xlsx: a named pipe (fifo): the run refuses it by name"]
    assert inode(secret) not in opened


# --- 4 and 7: staging folders, runs that never started ----------------------------------------------------

def test_staging_cleanup_removes_only_folders_whose_process_is_gone(tmp_path):
    from ingest.staging import clean_staging, new_staging_folder, process_start_time

    incoming = tmp_path / "incoming"
    mine = new_staging_folder(incoming)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = incoming / f"load-{sleeper.pid}-{process_start_time(sleeper.pid)}-abc"
        reused = incoming / f"load-{sleeper.pid}-{process_start_time(sleeper.pid) - 5}-abc"  # same pid, earlier start
        done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        dead = incoming / f"load-{int(done.stdout)}-1-abc"
        for f in (live, reused, dead):
            f.mkdir()
        assert sorted(clean_staging(incoming, keep=mine)) == sorted([reused, dead])
        assert sorted(incoming.iterdir()) == sorted([mine, live])
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_run_left_not_started_by_a_killed_process_is_marked_failed(tmp_path):
    """A kill just after the run record is created left it NOT_STARTED for ever. Runs of `make run` and
    `make load` carry their process from creation; the next run or `make status` marks such a run failed,
    while a NOT_STARTED run without a process (one the daemon queued) is left alone."""
    from dagster import DagsterInstance, DagsterRunStatus

    from orchestration.definitions import defs
    from orchestration.writer import HOST_TAG, PID_TAG, reap_dead_runs

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    job = defs.resolve_job_def("build_warehouse")
    with DagsterInstance.ephemeral() as instance:
        import socket

        killed = instance.create_run_for_job(job, tags={PID_TAG: done.stdout.strip(), HOST_TAG: socket.gethostname()})
        queued = instance.create_run_for_job(job, tags={})
        assert instance.get_run_by_id(killed.run_id).status == DagsterRunStatus.NOT_STARTED
        said = []
        assert reap_dead_runs(instance, log=said.append) == [killed.run_id]
        assert instance.get_run_by_id(killed.run_id).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(queued.run_id).status == DagsterRunStatus.NOT_STARTED
        assert said == [f"marked run {killed.run_id[:8]} failed: its process {done.stdout.strip()} is gone"]


# --- the catalogue -----------------------------------------------------------------------------------------

def test_every_issue_21_case_is_in_the_catalogue_with_its_test():
    catalogue = yaml.safe_load((Path(__file__).parent / "bad_input_catalogue.yml").read_text(encoding="utf-8"))
    ours = [e for e in catalogue if str(e.get("issue")) == "21"]
    numbers = {e["case"].split(" ")[0] for e in ours}
    assert numbers == {f"21.{n}" for n in range(1, 24)}, sorted(numbers)  # the 23 cases, each at least once
    for e in ours:
        assert e["outcome"] and e["fingerprints"] and e["test"], e


__all__ = ["printable"]
