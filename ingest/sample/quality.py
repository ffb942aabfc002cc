"""The synthetic world behind the sample: seeded municipal traits of the current municipalities
(42-set) and how strongly trust depends on service quality. A World is the generator's known truth
as a parameter (`python -m orchestration.cli sample --seed N --trust-provision-effect X`).

quality(code): a "quality of the social service". It moves the admin figures (more recipients and
specialists per resident) and, by `trust_provision_effect`, the survey answers (trust is higher
where quality is higher). With the effect at 0 the world has no trust-provision link at all: the
admin figures still follow quality, trust does not.

area_effect(code, wave): what else makes a municipality's trust differ, which the admin figures
do NOT reflect (local reputation, a scandal, the mayor): a persistent part plus a part of its
own in every wave, independent of quality. Without it the small-area model would be tested on a
world built for it (trust fully explained by the covariates but for their own noise).

Both are standard normal draws seeded by the world's seed and the unit's code (and the wave), so
one seed gives the same world in every run and at every scale, and another seed another world.
Earlier units take the traits of their current successor (the split Aglonas novads: Preiļu).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ingest.settings import read_seed

DEFAULT_SEED = 20170
# Trust shift per standard deviation of service quality, in the unit of survey_generic.improved():
# probability mass moved from the negative to the positive trust answers (about the shift of the
# top-2 share). The shipped sample's link.
DEFAULT_TRUST_PROVISION_EFFECT = 0.10

# Sizes of the area effect, in the same unit.
AREA_EFFECT_PERSISTENT_SD = 0.04
AREA_EFFECT_WAVE_SD = 0.025


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


@dataclass(frozen=True)
class World:
    """The truth the sample is drawn from: its seed and trust's dependence on service quality."""
    seed: int = DEFAULT_SEED
    trust_provision_effect: float = DEFAULT_TRUST_PROVISION_EFFECT

    def quality(self, code: str) -> float:
        """Standard-normal quality of the current unit a code belongs to."""
        return float(np.random.default_rng([self.seed, int(current_unit(code)), 0]).standard_normal())

    def area_effect(self, code: str, wave: int) -> float:
        """Shift of trust in the current unit a code belongs to, not explained by quality."""
        unit = int(current_unit(code))
        persistent = np.random.default_rng([self.seed, unit, 1]).standard_normal()
        of_wave = np.random.default_rng([self.seed, unit, 2, wave]).standard_normal()
        return float(AREA_EFFECT_PERSISTENT_SD * persistent + AREA_EFFECT_WAVE_SD * of_wave)

    def trust_shift(self, code: str, wave: int) -> float:
        """A municipality's trust shift: the part service quality explains (which the admin figures
        also reflect) plus the area effect they do not."""
        return self.trust_provision_effect * self.quality(code) + self.area_effect(code, wave)

    def as_dict(self) -> dict:
        return {"seed": self.seed, "trust_provision_effect": self.trust_provision_effect,
                "area_effect_persistent_sd": AREA_EFFECT_PERSISTENT_SD, "area_effect_wave_sd": AREA_EFFECT_WAVE_SD}
