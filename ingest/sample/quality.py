"""Synthetic, seeded municipal traits of the current municipalities (42-set).

quality(code): a "quality of the social service". It moves both the survey answers (trust is
higher where quality is higher) and the admin figures (more recipients and specialists per
resident), so the sample has a real trust-provision link that the covariates of the small-area
model can pick up.

area_effect(code, wave): what else makes a municipality's trust differ, which the admin figures
do NOT reflect (local reputation, a scandal, the mayor): a persistent part plus a part of its
own in every wave, independent of quality. Without it the small-area model would be tested on a
world built for it (trust fully explained by the covariates but for their own noise).

Both are standard normal draws seeded by the unit's code (and the wave), so they are the same in
every run and at every scale. Earlier units take the traits of their current successor (the split
Aglonas novads: Preiļu).
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


# Sizes of the area effect, in the unit of survey_generic.improved(): probability mass moved from
# the negative to the positive trust answers (about the shift of the top-2 share). Quality moves
# trust by QUALITY_EFFECT (survey_generic) = 0.10 per standard deviation.
AREA_EFFECT_PERSISTENT_SD = 0.04
AREA_EFFECT_WAVE_SD = 0.025


def area_effect(code: str, wave: int) -> float:
    """Shift of trust in the current unit a code belongs to, not explained by quality."""
    unit = int(current_unit(code))
    persistent = np.random.default_rng([unit, 1]).standard_normal()
    of_wave = np.random.default_rng([unit, 2, wave]).standard_normal()
    return float(AREA_EFFECT_PERSISTENT_SD * persistent + AREA_EFFECT_WAVE_SD * of_wave)
