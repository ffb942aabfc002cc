"""The sample generator is seeded, and its files carry the published 2017 figures
(checked by reading the delivered .sav independently of the pipeline)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from ingest.sample import generate_sample


@pytest.fixture(scope="module")
def sample(sample_build):
    """The session's sample, as the shared build's generator wrote it: (landing folder, truth)."""
    return sample_build.paths.landing_dir, sample_build.truth


@pytest.mark.e2e
def test_same_seed_same_sample(sample, tmp_path):
    (la, ta), lb = sample, tmp_path / "landing"
    tb = generate_sample(lb)
    assert json.dumps(ta, sort_keys=True) == json.dumps(json.loads(json.dumps(tb)), sort_keys=True)
    # the same files (their bytes differ only in the workbooks' creation times)
    files = lambda root: sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files(la) == files(lb)


def test_sav_has_latvian_labels_user_missing_and_published_shares(sample):
    landing, _ = sample
    df, meta = pyreadstat.read_sav(str(landing / "survey" / "2017" / "ex_ante_2017_iedzivotaji.sav"),
                                   user_missing=True)
    assert len(df) == 3012 and (df["Q1_KLIENTS"] == 1).sum() == 683
    assert df["VECUMS"].between(18, 74).all()
    assert meta.variable_value_labels["Q12_APMIER"][1.0] == "Pilnīgi apmierināts"
    assert {"lo": 99.0, "hi": 99.0} in meta.missing_ranges["Q12_APMIER"]
    clients = df[df["Q1_KLIENTS"] == 1]
    shares = clients.groupby("Q12_APMIER")["SVARS"].sum() / clients["SVARS"].sum()
    assert shares.round(6).to_dict() == {1.0: 0.28, 2.0: 0.50, 3.0: 0.12, 4.0: 0.07, 9.0: 0.03}
    assert (df["Q20_APSVERA"] == 1).mean() == pytest.approx(0.08, abs=0.0005)
    assert set(df.loc[df["Q1_KLIENTS"] == 2, "Q12_APMIER"]) == {99.0}  # routing


def test_admin_extracts_one_per_reporting_municipality_and_year(sample):
    landing, truth = sample
    counts = {int(d.name): len(list(d.glob("*.xlsx"))) for d in (landing / "admin").iterdir()}
    assert counts == {**{y: 119 for y in range(2017, 2021)}, **{y: 43 for y in range(2021, 2025)},
                      **{y: 42 for y in range(2025, 2029)}}
    assert len(truth["admin"]["values"]) == sum(counts.values())
    ages = ("age_0_17", "age_18_24", "age_25_54", "age_55_64", "age_65_79", "age_80_89", "age_90_plus")
    for key, rows in truth["admin"]["values"].items():
        for row_no in ("7.1", "7.2", "7.4", *(f"13.{i}" for i in range(1, 11))):
            r = rows[row_no]
            assert r["women"] + r["men"] == r["total"], (key, row_no)
            assert sum(r.get(k, 0) for k in ages) == r["total"], (key, row_no)


def test_truth_has_area_effects_the_covariates_do_not_explain(sample):
    """Municipal trust = the part service quality explains (quality also drives the admin figures,
    i.e. the model's covariates) + an area effect independent of it. On the logit scale the area
    effect's sd is about half the quality part's (on average over worlds; one world of 42 municipalities
    scatters around that); it is partly persistent across waves."""
    _, truth = sample
    effects = {}
    for wave in ("2022", "2024", "2025", "2026", "2027", "2028"):
        comp = truth["survey"][wave]["true_trust_top2_logit_components"]
        assert len(comp) == 42
        q = np.array([c["logit_quality_part"] for c in comp.values()])
        a = np.array([c["logit_area_effect"] for c in comp.values()])
        assert 0.12 < a.std(ddof=1) < 0.30, wave
        assert 0.2 < a.std(ddof=1) / q.std(ddof=1) < 1.0, wave
        assert abs(np.corrcoef(a, q)[0, 1]) < 0.4, wave
        true = truth["survey"][wave]["true_trust_top2_by_municipality"]
        logit = np.log(np.array([true[c] for c in comp]) / (1 - np.array([true[c] for c in comp])))
        assert logit == pytest.approx(q + a, abs=1e-12)
        effects[wave] = a
    assert 0.3 < np.corrcoef(effects["2022"], effects["2028"])[0, 1] < 0.95


def test_worlds_differ_by_seed_and_keep_their_proportions():
    """The seed draws the world: over 200 worlds the area effect's sd is about half the quality
    part's (0.047 against 0.10 in shift units), quality is standard normal across worlds, and the
    area effect does not follow quality; with the effect at 0 trust does not depend on quality."""
    from ingest.sample.quality import World
    from ingest.sample.survey_generic import current_codes

    codes = current_codes()
    ratios, qs, corr = [], [], []
    for seed in range(200):
        w = World(seed=seed)
        q = np.array([w.quality(c) for c in codes])
        a = np.array([w.area_effect(c, 2026) for c in codes])
        ratios.append(a.std(ddof=1) / (w.trust_provision_effect * q.std(ddof=1)))
        qs.append(q)
        corr.append(np.corrcoef(a, q)[0, 1])
    assert 0.40 < np.mean(ratios) < 0.56
    assert abs(np.mean(np.concatenate(qs))) < 0.05 and 0.95 < np.std(np.concatenate(qs)) < 1.05
    assert abs(np.mean(corr)) < 0.03
    assert World(seed=1).quality(codes[0]) != World(seed=2).quality(codes[0])
    null = World(seed=5, trust_provision_effect=0.0)
    assert all(null.trust_shift(c, 2026) == null.area_effect(c, 2026) for c in codes)


def test_trust_answers_follow_the_true_municipal_rates():
    """A large draw of the 2026 design: every municipality's share of "fully + rather" among those
    who answer (refusals out, "hard to say" in) is within 4 standard errors of its true rate."""
    from ingest.codebook import codebook_for_wave
    from ingest.sample.quality import World, current_unit
    from ingest.sample.survey_generic import WAVES, draw_harmonised, true_municipal_trust

    spec = dataclasses.replace(next(s for s in WAVES if s.wave == 2026), n=250_000)
    cb = codebook_for_wave(2026)
    world = World()
    df = draw_harmonised(spec, cb, np.random.default_rng(1), world)
    answered = df[df["trust_social_service"] != "refused"]
    top2 = answered["trust_social_service"].isin(["1", "2"])
    got = top2.groupby(answered["municipality_code"].map(current_unit)).agg(["mean", "size"])
    true = pd.Series(true_municipal_trust(spec, cb, world))
    assert sorted(got.index) == sorted(true.index)
    se = np.sqrt(true * (1 - true) / got["size"])
    z = (got["mean"] - true) / se
    assert (z.abs() < 4).all(), z[z.abs() >= 4]
    # no common bias (refusals counted in the base would put every rate 0.5 points too low)
    pooled = (got["size"] * (got["mean"] - true)).sum() / got["size"].sum()
    assert abs(pooled) < 3 * np.sqrt((got["size"] * true * (1 - true)).sum()) / got["size"].sum()
