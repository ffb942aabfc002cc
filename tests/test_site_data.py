"""The report site's data files are covered by the snapshot attacks (issue 20).

The Evidence site ships, next to its pages, one parquet file per source query
(reports/sources/warehouse/*.sql) under build/data/: `evidence sources` writes them to
.evidence/template/static/data/ and `evidence build` copies them into the site unchanged. A reader of
the site can download every one of them, so the intruder holds them too (docs/disclosure_attacks.md).

Here the sources step runs on the sample build's snapshot in a temporary copy of reports/ (about 10 s;
no site build: the files are what the build ships), and
- every source query must produce its file (a query that fails ships nothing, and the site would
  miss a table: then this test says which);
- every shipped table must be a subset of a snapshot table: its rows, on the columns it shares with
  the snapshot table it comes from, are rows of that table, and any other column holds only values
  of some snapshot column (a renamed one) - so the attacks on the snapshot cover the site;
- the cheap attacks (A5-A8) run on the shipped tables themselves and recover nothing.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingest.settings import REPORTS_DIR
from tests.disclosure import intervals, simple
from tests.disclosure.published import Published, load_snapshot, rules
from tests.disclosure.truth import load_truth

pytestmark = pytest.mark.e2e

# what each shipped table restates (the site's query name -> the snapshot table it reads)
SITE_TO_SNAPSHOT = {
    "indicator_estimates": "mart_indicator_estimates", "indicator_changes": "mart_indicator_changes",
    "client_satisfaction": "mart_client_satisfaction", "trust_provision": "mart_trust_provision",
    "trust_comparisons": "mart_trust_comparisons", "trust_provision_fit": "mart_trust_provision_fit",
    "trust_provision_link": "mart_trust_provision_link", "provision_per_capita": "mart_provision_per_capita",
    "waves": "dim_wave", "municipalities": "dim_municipality", "indicators": "dim_indicator",
    "quality_file_loads": "quality_file_loads", "quality_status": "quality_status",
}


@pytest.fixture(scope="module")
def site_files(sample_build, tmp_path_factory):
    node_modules = REPORTS_DIR / "node_modules"
    if not (node_modules / "@evidence-dev" / "evidence").exists():
        pytest.fail("reports/node_modules has no Evidence: run `make setup`")
    site = tmp_path_factory.mktemp("site") / "reports"
    site.mkdir()
    for name in ("evidence.config.yaml", "package.json"):
        shutil.copy(REPORTS_DIR / name, site / name)
    for name in ("pages", "sources"):
        shutil.copytree(REPORTS_DIR / name, site / name, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    (site / "node_modules").symlink_to(node_modules)
    shutil.copyfile(sample_build.paths.published_path, site / "sources" / "warehouse" / "trust_reports.duckdb")
    run = subprocess.run(["npm", "run", "sources"], cwd=site, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "EVIDENCE_TELEMETRY_DISABLED": "true"})
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    files = {p.stem: p for p in (site / ".evidence" / "template" / "static" / "data").rglob("*.parquet")}
    queries = sorted(p.stem for p in (site / "sources" / "warehouse").glob("*.sql"))
    errors = [ln.strip() for ln in log.splitlines() if "✖" in ln or "Error" in ln]
    with duckdb.connect() as con:
        tables = {name: con.execute("select * from read_parquet(?)", [str(path)]).df() for name, path in files.items()}
    return {"queries": queries, "tables": tables, "errors": errors, "log": log}


@pytest.fixture(scope="module")
def snapshot(sample_build):
    return load_snapshot(sample_build.paths.published_path)


def test_every_source_query_ships_its_file(site_files):
    missing = sorted(set(site_files["queries"]) - set(site_files["tables"]))
    assert not missing, f"source queries that shipped nothing: {missing}; errors: {site_files['errors']}"


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as whole UTC milliseconds (the site's files keep milliseconds, in UTC without a zone)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = (pd.to_datetime(out[c], utc=True) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    return out


def test_every_shipped_table_is_a_subset_of_a_snapshot_table(site_files, snapshot):
    con = duckdb.connect()
    comparable = {name: _comparable(df) for name, df in snapshot.items()}
    for name, df in comparable.items():
        con.register(f"snap_{name}", df)
    problems = []
    for name, df in site_files["tables"].items():
        df = _comparable(df)
        source = SITE_TO_SNAPSHOT.get(name)
        # a table joined from several (indicator coverage, snapshot info) is checked column by column
        shared = [c for c in df.columns if c in snapshot[source].columns] if source else []
        con.register("shipped", df)
        cols = ", ".join(f'"{c}"' for c in shared)
        if shared:
            extra = con.execute(f"select count(*) from (select {cols} from shipped except select {cols} "
                                f"from snap_{source})").fetchone()[0]
            if extra:
                problems.append(f"{name}: {extra} rows on {shared} not in {source}")
        for c in df.columns:
            if c in shared:
                continue
            if not any(_values_within(con, c, t, sc) for t, sdf in comparable.items() for sc in sdf.columns
                       if _same_kind(sdf[sc], df[c])):
                problems.append(f"{name}.{c}: values found in no snapshot column")
        con.unregister("shipped")
    assert not problems, "\n".join(problems)


def _same_kind(a: pd.Series, b: pd.Series) -> bool:
    kinds = (pd.api.types.is_numeric_dtype, pd.api.types.is_datetime64_any_dtype, pd.api.types.is_bool_dtype)
    return any(k(a) and k(b) for k in kinds) or str(a.dtype) == str(b.dtype) or (
        pd.api.types.is_string_dtype(a) and pd.api.types.is_string_dtype(b))


def _values_within(con, column, table, snap_column) -> bool:
    try:
        return con.execute(f'select count(*) from (select distinct "{column}" as v from shipped where "{column}" '
                           f'is not null except select distinct "{snap_column}" from snap_{table})').fetchone()[0] == 0
    except duckdb.Error:
        return False


def test_cheap_attacks_on_the_shipped_tables_recover_nothing(site_files, snapshot, sample_build):
    truth = load_truth(sample_build.paths.warehouse_path)
    r = rules()
    shipped = {SITE_TO_SNAPSHOT.get(n, n): df for n, df in site_files["tables"].items()}
    # the shipped tables in place of the snapshot's where they restate a whole table (the intruder holds
    # both; the snapshot fills in what the site does not ship)
    whole = {k: v for k, v in shipped.items() if k in snapshot and set(snapshot[k].columns) <= set(v.columns)}
    pub = Published("site", {**snapshot, **whole}, {"small_area": "hb_flat_synthetic"})
    results = [simple.attack_group(pub, truth), simple.attack_siblings(pub, truth, r),
               simple.attack_exact_counts(pub, truth, tables=shipped),
               intervals.attack_interval_inversion(pub, truth)]
    for res in results:
        assert not res.false_constraints() and not res.failures, res.report()
        assert not res.hits and not res.narrow, res.report()
    assert results[2].stats["tables scanned"] == len(shipped)
    assert re.match(r"dim_wave\.n_respondents_delivered", results[2].stats["public by decision"]), results[2].stats
