"""The seeded sample generator: writes delivery files into a landing folder,
and the generator's known truth (computed from its own rows) next to them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ingest.sample.admin_extracts import generate_admin
from ingest.sample.survey_waves import generate_2017, truth_2017, write_sav_2017

DEFAULT_SEED = 20170
TRUTH_FILE = "sample_truth.json"


def generate_sample(landing_dir: Path, seed: int = DEFAULT_SEED) -> dict:
    """Write the sample deliveries under ``landing_dir``; return the known truth.

    survey/2017/ex_ante_2017_iedzivotaji.sav
    admin/2022/LM_datu_tabula_<atvk>_2022.xlsx   (one per municipality)
    """
    landing_dir = Path(landing_dir)
    rng = np.random.default_rng(seed)
    wave = generate_2017(rng)
    write_sav_2017(wave, landing_dir / "survey" / "2017" / "ex_ante_2017_iedzivotaji.sav")
    truth = {
        "seed": seed,
        "survey": {"2017": truth_2017(wave)},
        "admin": generate_admin(rng, landing_dir / "admin"),
    }
    (landing_dir.parent / TRUTH_FILE).write_text(json.dumps(truth, indent=1, ensure_ascii=False), encoding="utf-8")
    return truth
