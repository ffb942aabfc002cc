"""Every SQL query in reports/ runs offline against the published snapshot and returns the
columns its page uses; the snapshot holds marts only; the report layer's DuckDB opens it."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import duckdb
import pytest

from ingest.settings import REPORTS_DIR

SOURCES = REPORTS_DIR / "sources" / "warehouse"
PAGES = sorted((REPORTS_DIR / "pages").rglob("*.md"))
CORE_COMPONENTS = REPORTS_DIR / "node_modules" / "@evidence-dev" / "core-components"

FENCE = re.compile(r"```sql\s+(\w+)\s*\n(.*?)```", re.S)
COMPONENT = re.compile(r"<([A-Z]\w*)\b(.*?)(/?)>", re.S)
ATTR = re.compile(r"(\w+)=(\{[^}]*\}|\"[^\"]*\"|'[^']*'|[^\s/>]+)")
COLUMN_ATTRS = {"x", "y", "y2", "value", "series", "id", "comparison", "sparkline", "name", "size", "label", "link",
                "column", "low", "high", "category", "color", "hollow"}
# The site's own chart components (reports/components/*.svelte), besides Evidence's core components.
PROJECT_COMPONENTS = REPORTS_DIR / "components"
# Templated pages ([municipality].md) get a real value for their parameters.
PARAMS = {"${params.municipality}": "0001000"}
RESPONDENT_LEVEL = re.compile(r"\b(fct_respondent|fct_survey_answers|int_\w+|raw\.|stg_\w+|audit\.)", re.I)


CHAINED = re.compile(r"\$\{(\w+)\}")


def page_queries(text: str) -> dict[str, str]:
    """Each query of a page, with its parameters filled in and Evidence's query chaining
    (``from ${other_query}``) resolved into subqueries."""
    queries = {}
    for name, sql in FENCE.findall(text):
        for param, value in PARAMS.items():
            sql = sql.replace(param, value)
        queries[name] = CHAINED.sub(lambda m: f"({queries[m.group(1)]})", sql)
    return queries


def component_uses(text: str):
    """(component, query, columns) for each component; <Column id=…> inherits its DataTable's data."""
    uses, current_table = [], None
    for name, attrs, _ in COMPONENT.findall(FENCE.sub("", text)):
        parsed = {k: v.strip("\"'") for k, v in ATTR.findall(attrs)}
        data = parsed.get("data", "")
        # data={query} or data={query.where(`...`)}: the query is the leading name
        query = re.match(r"\{?(\w+)", data).group(1) if data else (current_table if name == "Column" else None)
        if name == "DataTable":
            current_table = query
        columns = []
        for key, value in parsed.items():
            if key in COLUMN_ATTRS:
                columns += re.findall(r"\w+", value.strip("{}[]")) if value.startswith("{") else [value]
        uses.append((name, query, columns))
    return uses


def evidence_like(snapshot) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB where each source query's result is a table warehouse.<name>, as Evidence
    exposes them to page queries; the snapshot stays attached read-only as ``snap``."""
    con = duckdb.connect()
    con.execute(f"attach '{snapshot}' as snap (read_only)")
    con.execute("use snap")
    con.execute("attach ':memory:' as ev")
    con.execute("create schema ev.warehouse")
    for sql_file in sorted(SOURCES.glob("*.sql")):
        con.execute(f"create table ev.warehouse.{sql_file.stem} as {sql_file.read_text(encoding='utf-8')}")
    con.execute("use ev")
    return con


@pytest.fixture(scope="module")
def report_db(sample_build):
    con = evidence_like(sample_build.paths.published_path)
    yield con
    con.close()


def test_there_are_pages_and_source_queries():
    assert PAGES and list(SOURCES.glob("*.sql"))


def test_source_queries_return_rows(report_db):
    """Every source has rows: Evidence ships no data file for an empty one and the strict build fails.
    The sample's firm excludes no rows, so quality_rows_excluded gives its placeholder row alone
    (tests/foreign/test_deliveries_second_round.py fills the table with a firm's excluded rows)."""
    for sql_file in SOURCES.glob("*.sql"):
        n = report_db.execute(f"select count(*) from warehouse.{sql_file.stem}").fetchone()[0]
        assert n > 0, sql_file.name
    assert report_db.execute("select wave_year, rows_excluded from warehouse.quality_rows_excluded").fetchall() \
        == [(None, 0)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_queries_run_and_have_the_columns_components_use(report_db, page):
    text = page.read_text(encoding="utf-8")
    queries = page_queries(text)
    assert queries, f"{page.name} has no query"
    columns, rows = {}, {}
    for name, sql in queries.items():
        result = report_db.execute(sql)
        columns[name] = {d[0] for d in result.description}
        rows[name] = len(result.fetchall())
    assert any(rows.values()), f"{page.name}: every query returned no rows"
    uses = [u for u in component_uses(text) if u[1]]
    markup = FENCE.sub("", text)
    # a page may hand its queries to a component through its script (the trust-provision chooser)
    assert uses or any(re.search(rf"\b{name}\b", markup) for name in queries), f"{page.name} shows no data"
    for component, query, cols in uses:
        assert query in queries, f"{page.name}: <{component}> uses undefined query {query}"
        missing = set(cols) - columns[query]
        assert not missing, f"{page.name}: <{component} data={{{query}}}> uses columns {missing} the query lacks"
    # {query[0].column} in the text and the script: the column exists
    for query, col in re.findall(r"\b(\w+)\[0\]\.(\w+)", markup):
        if query in queries:
            assert col in columns[query], f"{page.name}: {query}[0].{col} is not a column of {query}"


@pytest.mark.skipif(not CORE_COMPONENTS.exists(), reason="reports/node_modules not installed (run `make setup`)")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_components_exist_in_core_components(page):
    exported = set()
    for f in CORE_COMPONENTS.rglob("index.js"):
        exported |= set(re.findall(r"export \{ default as (\w+) \}", f.read_text(encoding="utf-8", errors="ignore")))
    exported |= {f.stem for f in PROJECT_COMPONENTS.glob("*.svelte")}
    used = {name for name, _, _ in component_uses(page.read_text(encoding="utf-8"))}
    assert used and used <= exported, f"not exported by core-components nor in reports/components: {used - exported}"


def test_snapshot_holds_published_marts_only(sample_build):
    from orchestration.publish import PUBLISHED

    with sample_build.snapshot() as con:
        tables = {r[0] for r in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables").fetchall()}
        columns = {r[0] for r in con.execute("select column_name from information_schema.columns").fetchall()}
    from orchestration.publish import QUALITY_DATA_TABLES, QUALITY_TABLES

    assert tables == ({f"main.{name}" for _, name in PUBLISHED} | {f"main.{name}" for name in QUALITY_TABLES}
                      | {f"main.{name}" for name in QUALITY_DATA_TABLES} | {"main._snapshot_info", "main._quality_info"})
    assert not {"main.fct_respondent", "main.fct_survey_answers"} & tables
    assert "respondent_key" not in columns  # no respondent-level rows in anything published
    for sql_file in SOURCES.glob("*.sql"):
        assert "fct_respondent" not in sql_file.read_text() and "int_survey" not in sql_file.read_text()


@pytest.mark.skipif(shutil.which("node") is None or not (REPORTS_DIR / "node_modules" / "@duckdb" / "node-api").exists(),
                    reason="node or reports/node_modules missing (run `make setup`)")
def test_report_layer_duckdb_opens_the_snapshot(sample_build):
    out = subprocess.run(
        ["node", "scripts/open_snapshot.mjs", str(sample_build.paths.published_path)],
        cwd=REPORTS_DIR, capture_output=True, text=True, timeout=120, check=True,
    )
    info = json.loads(out.stdout.strip().splitlines()[-1])
    with sample_build.snapshot() as con:
        expected = con.execute("select count(*) from mart_client_satisfaction").fetchone()[0]
    assert info["counts"]["mart_client_satisfaction"] == expected


def test_no_report_query_touches_respondent_level_or_raw_tables():
    texts = [f.read_text(encoding="utf-8") for f in SOURCES.glob("*.sql")]
    texts += [sql for page in PAGES for sql in page_queries(page.read_text(encoding="utf-8")).values()]
    offending = [t for t in texts if RESPONDENT_LEVEL.search(t)]
    assert not offending, offending


def test_templated_municipality_page_covers_every_municipality(sample_build, report_db):
    page = REPORTS_DIR / "pages" / "municipalities" / "[municipality].md"
    text = page.read_text(encoding="utf-8")
    codes = [r[0] for r in report_db.execute("select municipality_code from warehouse.municipalities").fetchall()]
    assert len(codes) == 42
    for code in codes[:: 7]:
        for name, sql in page_queries(text.replace("${params.municipality}", code)).items():
            rows = report_db.execute(sql).fetchall()
            if name in ("municipality", "trust_here", "headline", "provision_latest", "cells_table"):
                assert rows, (code, name)


def test_trust_provision_page_reads_published_direct_estimates_and_the_fitted_slope_only(report_db):
    """A modelled municipal value must never appear as evidence of the link: the page's queries read the
    link marts only (no comparisons, no estimates mart with model values), and every column its script
    reads from a row exists in that page's queries."""
    page = REPORTS_DIR / "pages" / "trust-provision.md"
    text = page.read_text(encoding="utf-8")
    queries = page_queries(text)
    tables = {t for sql in queries.values() for t in re.findall(r"warehouse\.(\w+)", sql)}
    assert tables == {"trust_provision", "trust_provision_fit", "trust_provision_link"}, tables
    code = [re.sub(r"--[^\n]*", "", sql) for sql in queries.values()]  # the SQL, its comments aside
    assert not any("modelled" in sql or "estimate_type" in sql for sql in code)
    columns = set()
    for sql in queries.values():
        columns |= {d[0] for d in report_db.execute(sql).description}
    script = text.split("<script>", 1)[1].split("</script>", 1)[0]
    read = set(re.findall(r"\b(?:r|o|w|here|chosen)\.(\w+)", FENCE.sub("", text)))
    assert read and read <= columns, read - columns
    assert "trust_direct" in script and "trust_estimate" not in text
