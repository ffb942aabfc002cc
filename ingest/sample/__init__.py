"""The seeded sample generator: writes delivery files into a landing folder,
and the generator's known truth (computed from its own rows) next to them."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ingest.pseudonym import write_sample_manifest
from ingest.sample.admin_extracts import generate_admin
from ingest.sample.quality import DEFAULT_SEED, DEFAULT_TRUST_PROVISION_EFFECT, World
from ingest.sample.survey_generic import WAVES, generate_wave
from ingest.sample.survey_waves import generate_2017, truth_2017, write_sav_2017

TRUTH_FILE = "sample_truth.json"


def generate_sample(landing_dir: Path, seed: int = DEFAULT_SEED, scale: int = 1,
                    trust_provision_effect: float = DEFAULT_TRUST_PROVISION_EFFECT) -> dict:
    """Write the sample deliveries under ``landing_dir``; return the known truth.

    survey/2017/ex_ante_2017_iedzivotaji.sav                 SPSS, pre-reform codes
    survey/2022/ex_post_2022_iedzivotaji_klienti.xlsx        Excel, question-text header + code sheet
    survey/2024|2025/uzticesanas_monitorings_<y>_dati.csv    Windows-1257 CSV + *_kodi.csv code list
    survey/2026|2028/monitorings_<y>_pilnais.sav             SPSS, full scope, 42 units
    survey/2027/monitorings_2027_dati.csv                    CSV, reduced scope
    admin/2022/LM_datu_tabula_<atvk>_2022.xlsx               one per municipality

    `scale` multiplies every wave's respondents (benchmarks): the 2017 wave is repeated `scale`
    times with new ids (its published shares stay exact), the later waves are drawn `scale` times
    larger. The admin extracts do not scale: there is one per municipality and year at any scale.

    The seed draws the world (ingest.sample.quality.World: service quality and area effects of every
    municipality) and the sample from it; `trust_provision_effect` is trust's shift per standard
    deviation of service quality (0: no trust-provision link at all). The 2017 wave reproduces the
    published 2017 figures and has no municipal differences in any world.
    """
    world = World(seed=seed, trust_provision_effect=trust_provision_effect)
    landing_dir = Path(landing_dir)
    rng = np.random.default_rng(seed)
    wave = generate_2017(rng)
    if scale > 1:
        wave = pd.concat([wave.assign(ID=wave["ID"] + i * 10_000_000) for i in range(scale)], ignore_index=True)
    write_sav_2017(wave, landing_dir / "survey" / "2017" / "ex_ante_2017_iedzivotaji.sav")
    survey = {"2017": truth_2017(wave)}
    for spec in WAVES:
        spec = dataclasses.replace(spec, n=spec.n * scale)
        survey[str(spec.wave)] = generate_wave(spec, landing_dir / "survey", rng, world)
    truth = {
        "seed": seed,
        "scale": scale,
        "world": world.as_dict(),
        "survey": survey,
        "admin": generate_admin(rng, landing_dir / "admin", world),
    }
    (landing_dir.parent / TRUTH_FILE).write_text(json.dumps(truth, indent=1, ensure_ascii=False), encoding="utf-8")
    last_year = max([int(y) for y in survey] + [int(y) for y in truth["admin"]["years"]])
    write_sample_manifest(landing_dir, last_year)  # the sample's files: its salt and its clock apply to them only
    return truth
