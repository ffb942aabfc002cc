"""What the published snapshot carries about deliveries: words only. No delivered file name, no
machine path, no respondent id of the firm reaches what we publish."""
from __future__ import annotations

import duckdb


def _published_text(path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as snap:
        return [str(v) for t, c in snap.execute(
            "select table_name, column_name from information_schema.columns where data_type = 'VARCHAR'").fetchall()
            for (v,) in snap.execute(f'select distinct "{c}" from "{t}"').fetchall() if v is not None]


def test_no_delivered_name_or_path_is_published(sample_build):
    values = _published_text(sample_build.paths.published_path)
    text = "\n".join(values)
    delivered = [p.name for p in sample_build.paths.landing_dir.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert len(delivered) > 800
    leaked = sorted({name for name in delivered if name in text})
    assert not leaked, leaked[:5]
    assert str(sample_build.paths.data_dir) not in text and "/tmp/" not in text
    # the warehouse keeps them for engineers
    with sample_build.warehouse() as con:
        assert con.execute("select count(*) from marts.dim_wave where source_file is not null").fetchone()[0] == 7


def test_no_respondent_id_is_published(sample_build):
    with sample_build.warehouse() as con:
        ids = {r[0] for r in con.execute("select distinct respondent_source_id from intermediate.int_survey__respondents").fetchall()}
    values = set(_published_text(sample_build.paths.published_path))
    assert len(ids) > 10_000 and not ids & values


def test_every_published_table_and_column_says_what_it_holds(sample_build):
    """dbt's descriptions travel into the snapshot as comments (persist_docs, copied by the publish
    step), so `duckdb_columns().comment` answers an analyst; each equals the model's YAML description."""
    from pathlib import Path

    import yaml

    with sample_build.snapshot() as s:
        tables = dict(s.execute("select table_name, comment from duckdb_tables() where schema_name = 'main'").fetchall())
        columns = s.execute("""select table_name, column_name, comment from duckdb_columns()
                               where schema_name = 'main' and table_name in (select table_name from duckdb_tables()
                                                                            where schema_name = 'main')""").fetchall()
    assert tables and all(tables.values()), [t for t, c in tables.items() if not c]
    missing = [(t, c) for t, c, comment in columns if not comment and not t.startswith("_")]
    assert not missing, missing[:10]
    spec = yaml.safe_load((Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts"
                           / "mart_trust_provision_link.yml").read_text(encoding="utf-8"))["models"][0]
    by_column = {c["name"]: c["description"] for c in spec["columns"]}
    published = {(t, c): m for t, c, m in columns}
    assert published[("mart_trust_provision_link", "slope_pp")] == by_column["slope_pp"]
    assert tables["mart_trust_provision_link"].split()[:6] == spec["description"].split()[:6]


def test_a_withheld_row_carries_nothing_that_depends_on_its_cell(sample_build):
    """A withheld estimate row keeps only what is the same for every cell of its wave and measure: its
    interval method would say whether it is a small cell or one under 10 respondents (an outsider read
    that from ci_method before it was nulled on withheld rows)."""
    cell_dependent = ["estimate", "ci_low", "ci_high", "n_band", "n_band_low", "n_band_high", "is_reliable",
                      "reliability_reason", "needs_review", "review_reason", "ci_method"]
    with sample_build.snapshot() as con:
        withheld = con.execute("select count(*) from mart_indicator_estimates where is_suppressed").fetchone()[0]
        leaks = {c: con.execute(f"select count(*) from mart_indicator_estimates where is_suppressed and {c} is not null")
                 .fetchone()[0] for c in cell_dependent}
        reasons = con.execute("select count(distinct suppression_reason) from mart_indicator_estimates "
                              "where is_suppressed").fetchone()[0]
    assert withheld > 1000 and reasons == 1
    assert leaks == dict.fromkeys(cell_dependent, 0)
