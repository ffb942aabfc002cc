"""Figures of record typed by hand beside the published digest (tests/published_digest.json).

The digest compares the code with its own earlier output: regenerated blindly it would hide a wrong
result. These figures were computed without the warehouse's code, straight from the bundled sample's
landing files, and typed here as literals:

- survey shares: pandas / pyreadstat on the delivered file, the codebook's codes read by eye
  (ingest/codebooks/wave_<year>.yml), the firm's delivered weight; "share incl. hard to say" is
  sum(w * [answer in 1, 2]) / sum(w) over respondents who answered 1-4 or "hard to say" (refusals out):
    2024 (CSV, cp1257, ';', decimal commas, weight `svars`, item `q_uztic`, hard to say = 99):
        df = pd.read_csv(".../2024/uzticesanas_monitorings_2024_dati.csv", sep=";", decimal=",",
                         encoding="cp1257", dtype={"pasv_kods": str})
    2026 (SPSS, weight `WGT`, item `T1`, hard to say = 8):
        df, _ = pyreadstat.read_sav(".../2026/monitorings_2026_pilnais.sav")
  "share with an opinion" leaves "hard to say" out of the base; "hard to say share" counts it.
- admin figures: Rīga's 2024 LM workbook (LM_datu_tabula_0001000_2024.xlsx, sheet "SPOLIS gada
  pārskats") read in a spreadsheet: recipients of mandatory services = the sum of rows 13.1-13.10
  (3122 + 182 + 2054 + 657 + 177 + 151 + 237 + 301 + 424 + 351), row 14 waiting at year end, row 15
  social-work specialists.
The generator draws the sample from a fixed seed, so these stay the sample's figures until the
generator itself changes (then recompute them the same way, by hand).
"""
from __future__ import annotations

import math

import pytest


SURVEY = [  # wave, geo_level, geo_code, measure, share computed from the delivered file
    (2024, "national", "LV", "share_incl_hard_to_say", 0.5642600179164109),
    (2024, "municipality", "0001000", "share_incl_hard_to_say", 0.5351966267573324),
    (2026, "national", "LV", "share_incl_hard_to_say", 0.5929029222973482),
    (2026, "national", "LV", "share_with_opinion", 0.7203421898231323),
    (2026, "national", "LV", "hard_to_say_share", 0.17691490145409167),
]


@pytest.mark.parametrize("wave, geo_level, geo_code, measure, share", SURVEY,
                         ids=[f"{w}-{g}-{m}" for w, _, g, m, _ in SURVEY])
def test_trust_shares_equal_the_hand_computed_ones(sample_build, wave, geo_level, geo_code, measure, share):
    query = """select estimate from {table} where indicator_code = 'trust_top2' and subgroup_type = 'all'
               and wave_year = ? and geo_level = ? and geo_code = ? and measure = ?"""
    args = [wave, geo_level, geo_code, measure]
    with sample_build.warehouse() as con:
        exact = con.execute(query.format(table="intermediate.int_indicator_estimates"), args).fetchall()
    with sample_build.snapshot() as con:
        published = con.execute(query.format(table="mart_indicator_estimates"), args).fetchall()
    assert len(exact) == 1 and math.isclose(exact[0][0], share, rel_tol=0, abs_tol=1e-12)
    assert published == [(round(share, 2),)]  # no share here sits at a half


def test_rigas_2024_service_figures_equal_the_workbook(sample_build):
    with sample_build.snapshot() as con:
        row = con.execute("""select recipients_mandatory_services, waiting_year_end, social_work_specialists,
                                    population, recipients_per_1000, residents_per_specialist
                             from mart_provision_per_capita where municipality_code = '0001000' and year = 2024""").fetchone()
    recipients, waiting, specialists, population, per_1000, per_specialist = row
    assert (recipients, waiting, specialists) == (7656, 918, 488)
    assert math.isclose(per_1000, 1000 * 7656 / population, rel_tol=1e-12)
    assert math.isclose(per_specialist, population / 488, rel_tol=1e-12)
