"""The analysts' guide cannot go stale: every SQL example of docs/analysts.md runs against the
published snapshot and returns rows, and the generated table reference is current."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestration.published_docs import OUT, render

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "analysts.md"
BLOCKS = re.findall(r"```sql\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_guide_has_examples():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("query", BLOCKS, ids=[f"example{i + 1}" for i in range(len(BLOCKS))])
def test_every_sql_example_runs_on_the_snapshot(sample_build, query):
    with sample_build.snapshot() as s:
        rows = s.execute(query).fetchall()
    assert rows, query


def test_the_published_table_reference_is_current():
    assert OUT.read_text(encoding="utf-8") == render(), "run `python -m orchestration.published_docs`"
