"""Adding a wave needs only its data file and its codebook: a 2029 wave with renamed variables,
a new code for "hard to say" and one new item flows into the facts with no code change."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingest.settings import CODEBOOK_DIR
from ingest.warehouse import known_municipality_codes
from tests.conftest import run_pipeline

CODEBOOK_2029 = """
wave: 2029
title_lv: "Monitorings 2029 (izmēģinājuma vilnis)"
title_en: "Monitoring 2029 (test wave)"
scope: annual
boundary_set: post2025_42
age_range: [18, 80]
delivery:
  format: csv
  data_file: "*.csv"
  encoding: cp1257
  delimiter: ";"
  decimal: ","
respondent_id: r_id
weight: wt
attributes:
  municipality_code: {variable: vieta}
  sex: {variable: dz, codes: {1: female, 2: male}}
  age: {variable: gadi}
  client: {variable: kl, codes: {1: "true", 2: "false"}}
items:
  trust_social_service: {variable: uzt, codes: {1: 1, 2: 2, 3: 3, 4: 4, 77: hard_to_say}}
  client_satisfaction: {variable: apm, codes: {1: 1, 2: 2, 3: 3, 4: 4, 77: hard_to_say}, blank: not_applicable}
  client_rating_waiting_time:
    variable: gaid
    codes: {1: 1, 2: 2, 3: 3, 4: 4, 77: hard_to_say}
    blank: not_applicable
    label_lv: "Gaidīšanas laiks līdz pakalpojumam bija pieņemams"
    label_en: "The waiting time for the service was acceptable"
    scale: agreement_4
"""


def wave_2029() -> pd.DataFrame:
    """600 respondents built by rule, so every expected figure can be counted by hand."""
    n = 600
    codes = sorted(known_municipality_codes("post2025_42"))
    rows = []
    for i in range(n):
        client = i % 3 == 0
        rows.append({
            "r_id": 290001 + i,
            "vieta": codes[i % len(codes)],
            "dz": 1 + i % 2,
            "gadi": 20 + i % 60,
            "kl": 1 if client else 2,
            "uzt": [1, 2, 2, 3, 77][i % 5],
            "apm": [1, 1, 2, 2, 2, 3, 4, 77][(i // 3) % 8] if client else None,
            "gaid": [1, 2, 3, 77][(i // 3) % 4] if client else None,
            "wt": 2.5 if client and (i // 3) % 8 == 0 else 1.0,
        })
    return pd.DataFrame(rows)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    def cell(v):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return ""
        if isinstance(v, float):
            return f"{v:g}".replace(".", ",")
        return str(v)

    lines = [";".join(df.columns)] + [";".join(cell(v) for v in row) for row in df.itertuples(index=False)]
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1257"))


@pytest.fixture
def with_wave_2029(copy_of_build, tmp_path, monkeypatch):
    codebooks = tmp_path / "codebooks"
    shutil.copytree(CODEBOOK_DIR, codebooks)
    (codebooks / "wave_2029.yml").write_text(CODEBOOK_2029, encoding="utf-8")
    monkeypatch.setenv("TRUST_CODEBOOK_DIR", str(codebooks))
    df = wave_2029()
    folder = copy_of_build.survey_landing / "2029"
    folder.mkdir(parents=True)
    write_csv(df, folder / "monitorings_2029.csv")
    return copy_of_build, df


@pytest.mark.e2e
def test_new_wave_flows_into_the_facts_without_code_change(with_wave_2029):
    paths, df = with_wave_2029
    summary = run_pipeline()
    assert summary.success, summary.render()

    clients = df[df["kl"] == 1]
    w = clients["wt"]
    hand = {  # weighted shares over clients incl. "hard to say", counted from the rows above
        "share_fully": w[clients["apm"] == 1].sum() / w.sum(),
        "share_rather": w[clients["apm"] == 2].sum() / w.sum(),
        "share_rather_not": w[clients["apm"] == 3].sum() / w.sum(),
        "share_not_at_all": w[clients["apm"] == 4].sum() / w.sum(),
        "share_hard_to_say": w[clients["apm"] == 77].sum() / w.sum(),
    }
    with duckdb.connect(str(paths.warehouse_path), read_only=True) as con:
        n, n_clients = con.execute(
            "select count(*), count(*) filter (where is_client) from marts.fct_respondent where wave_year = 2029"
        ).fetchone()
        mart = con.execute("select * from intermediate.int_client_satisfaction where wave_year = 2029").df().iloc[0]
        item = con.execute(
            "select label_lv, label_en, scale_code, is_in_catalogue, waves_asked from marts.dim_item "
            "where item_code = 'client_rating_waiting_time'"
        ).fetchone()
        hard = con.execute(
            """select count(*) from marts.fct_survey_answers where wave_year = 2029 and source_code = 77
               and missing_reason = 'hard_to_say' and harmonised_value is null"""
        ).fetchone()[0]
        new_item_values = dict(con.execute(
            """select value_label_en, count(*) from marts.fct_survey_answers
               where wave_year = 2029 and item_code = 'client_rating_waiting_time' and harmonised_value is not null
               group by 1"""
        ).fetchall())
        wave = con.execute("select scope, delivery_format, boundary_set from marts.dim_wave where wave_year = 2029").fetchone()
        trust = con.execute(
            """select estimate, ci_low, ci_high, n_effective from intermediate.int_indicator_estimates
               where indicator_code = 'trust_top2' and wave_year = 2029 and geo_level = 'national'
                 and subgroup_type = 'all' and measure = 'share_incl_hard_to_say'"""
        ).fetchone()
    # Closed form on the hand-made wave (unrounded, in the warehouse): p = sum(w * top2) / sum(w); the
    # linearised variance (600 respondents); the NCHS effective n; Korn-Graubard (Clopper-Pearson on it).
    from scipy import stats

    w_all = df["wt"].to_numpy()
    top2 = df["uzt"].isin([1, 2]).to_numpy()
    p = (w_all * top2).sum() / w_all.sum()
    var = 600 / 599 * ((w_all * (top2 - p)) ** 2).sum() / w_all.sum() ** 2
    n_eff = min(len(w_all), p * (1 - p) / var)
    lo, hi = stats.beta.ppf(0.025, n_eff * p, n_eff * (1 - p) + 1), stats.beta.ppf(0.975, n_eff * p + 1, n_eff * (1 - p))
    assert trust == (pytest.approx(p), pytest.approx(lo), pytest.approx(hi), pytest.approx(n_eff))
    assert (n, n_clients) == (600, 200)
    assert mart["n_unweighted"] == 200
    for column, expected in hand.items():
        assert mart[column] == pytest.approx(expected, abs=1e-12), column
    assert item == ("Gaidīšanas laiks līdz pakalpojumam bija pieņemams",
                    "The waiting time for the service was acceptable", "agreement_4", False, "2029")
    # 77 = hard to say: trust (120 of 600) + satisfaction (25 clients) + waiting time (50 clients)
    assert hard == 120 + 25 + 50
    assert new_item_values == {"Fully agree": 50, "Rather agree": 50, "Rather disagree": 50}
    assert wave == ("annual", "csv", "post2025_42")
