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
