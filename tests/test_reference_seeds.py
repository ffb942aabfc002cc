"""The committed municipality seeds are what ingest/reference_seeds.py builds from ../shared/reference."""
from __future__ import annotations

import csv

import pytest

from ingest import reference_seeds
from ingest.settings import DBT_SEED_DIR

REF = reference_seeds.DEFAULT_REFERENCE_DIR


def _rows(name):
    with (DBT_SEED_DIR / "reference" / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.skipif(not REF.exists(), reason=f"reference folder {REF} not present beside the repository")
def test_committed_seeds_equal_a_rebuild():
    assert reference_seeds.main(["--check"]) == 0


def test_seed_counts_and_the_aglona_split():
    assert len(_rows("ref_municipalities_2021")) == 43
    assert len(_rows("ref_municipalities_pre2021")) == 119
    xwalk = _rows("ref_crosswalk_2009_2021")
    assert len(xwalk) == 120
    parts = [r for r in xwalk if r["relation"] == "PART"]
    assert {r["old_name"] for r in parts} == {"Aglonas novads"}
    assert {r["new_name"] for r in parts} == {"Preiļu novads", "Krāslavas novads"}
    assert all(r["source_file"] for r in xwalk)
    assert all(len(r["atvk_code"]) == 7 for r in _rows("ref_municipalities_pre2021"))
