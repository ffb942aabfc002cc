"""The published results on the sample are the results of record, to the last bit.

tests/published_digest.json holds the digest of every published mart built from the seeded sample
(tests/state.py:published_digest). Speed work must not change it; a change of results on purpose
updates it in the same commit, which says why:

    .venv/bin/python -m tests.state <the sample build's snapshot> > tests/published_digest.json

A build that is not bit-identical from one run to the next (e.g. sums of doubles in a parallel,
order-dependent order) fails here too.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.state import published_digest

RECORD = Path(__file__).with_name("published_digest.json")


def test_published_marts_equal_the_digest_of_record(sample_build):
    expected = json.loads(RECORD.read_text(encoding="utf-8"))
    got = published_digest(sample_build.paths.published_path)
    changed = sorted(t for t in expected.keys() | got.keys() if expected.get(t) != got.get(t))
    assert not changed, f"published results changed in {changed}: if on purpose, record the new digest (see the docstring)"
