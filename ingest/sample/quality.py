"""A synthetic, seeded "quality of the social service" per current municipality (42-set).

It moves both the survey answers (trust is higher where quality is higher) and the admin
figures (more recipients and specialists per resident), so the sample has a real trust-provision
link and true municipality rates that small-area estimates can be benchmarked against.
Earlier units take the quality of their current successor (the split Aglonas novads: Preiļu).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ingest.settings import read_seed


@lru_cache(maxsize=None)
def _to_current() -> dict[str, str]:
    to_2025 = {r["old_atvk_code"]: r["new_atvk_code"] for r in read_seed("reference/ref_crosswalk_2021_2025")}
    mapping = dict(to_2025)
    mapping.update({v: v for v in to_2025.values()})
    for r in read_seed("reference/ref_crosswalk_2009_2021"):
        mapping.setdefault(r["old_atvk_code"], to_2025[r["new_atvk_code"]])  # first successor for a split unit
    return mapping


def current_unit(code: str) -> str:
    return _to_current()[code]


def quality(code: str) -> float:
    """Standard-normal quality of the current unit a code belongs to; stable across runs."""
    return float(np.random.default_rng(int(current_unit(code))).standard_normal())
