"""The shipped codebooks checked against something they were not made from (issue 22, item 7).

For the waves 2022-2028 the sample generator encodes its answers with the inverse of the very
codebooks the loader decodes with: a reversed scale (1 <-> 4) in a shipped wave_20xx.yml would pass
every figure test. So each wave's questionnaire is typed here, code by code, in its own wording
("Pilnīgi uzticos", "Grūti pateikt", "Vīrietis"), as the firms' documentation gives it (docs/deliveries.md,
"Survey waves", and docs/codebooks.md: the 2022 file was delivered with 4 = "fully trust", its sex coded 1 = woman). The
wording decides the harmonised value through the harmonised scale's own labels
(dbt_project/seeds/answer_scales.csv) and the missing kinds' wording below: the code whose wording is
"Pilnīgi uzticos" must map to the value labelled "Pilnīgi uzticos". The 2017 codebook is checked
against its delivery's own value labels (the SPSS file, whose labels the generator types by hand).
A reversed scale, swapped sexes or a "hard to say" mapped as a refusal fail here; a test below
proves it on each shipped codebook reversed."""
from __future__ import annotations

import csv
import dataclasses
import re

import numpy as np
import pyreadstat
import pytest

from ingest.codebook import codebook_for_wave, load_codebook
from ingest.settings import CODEBOOK_DIR, DBT_SEED_DIR

# --- what words mean -------------------------------------------------------------------------------

MISSING_WORDS = {"Grūti pateikt": "hard_to_say", "Atteicās atbildēt": "refused",
                 "Nav jautāts": "not_applicable", "Nav jautāts (nav klients)": "not_applicable"}
ATTRIBUTE_WORDS = {"sex": {"Vīrietis": "male", "Sieviete": "female"}, "client": {"Jā": "true", "Nē": "false"}}
ANSWER_WORDS = {"Jā, apsvēru, bet nevērsos": "Jā"}  # the 2017 questionnaire's longer "yes"


def _seed(path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


SCALE_OF_ITEM = {r["item_code"]: r["scale_code"] for r in _seed(DBT_SEED_DIR / "item_catalogue.csv")}
VALUE_OF_LABEL = {(r["scale_code"], r["label_lv"]): r["value"] for r in _seed(DBT_SEED_DIR / "answer_scales.csv")}


def expected_target(role: str, item: str | None, wording: str) -> tuple[str | None, str | None]:
    """(harmonised value, missing reason) that a code with this wording must map to."""
    if wording in MISSING_WORDS:
        return None, MISSING_WORDS[wording]
    if role != "item":
        return ATTRIBUTE_WORDS[role][wording], None
    scale = SCALE_OF_ITEM[item]
    return VALUE_OF_LABEL[(scale, ANSWER_WORDS.get(wording, wording))], None


def mismatches(cb, questionnaire: dict[str, dict[int, str]]) -> list[str]:
    """Every code of the codebook whose mapping disagrees with the questionnaire's wording, and every
    coded variable or code the questionnaire and the codebook do not share."""
    out = []
    coded = {v.variable: v for v in cb.variables if v.codes}
    for variable in sorted(set(coded) | set(questionnaire)):
        if variable not in questionnaire or variable not in coded:
            out.append(f"{variable}: in {'the codebook' if variable in coded else 'the questionnaire'} only")
            continue
        var, words = coded[variable], questionnaire[variable]
        codes = {int(c) for c in var.codes}
        if codes != set(words):
            out.append(f"{variable}: codes {sorted(codes)} in the codebook, {sorted(words)} in the questionnaire")
        for code in sorted(codes & set(words)):
            want = expected_target(var.role, var.item_code, words[code])
            got = var.codes[float(code)]
            if got != want:
                out.append(f"{variable} code {code} ({words[code]!r}): codebook maps it to {got}, the wording to {want}")
    return out


# --- the questionnaires, typed from their wording ----------------------------------------------------

TRUST = ["Pilnīgi uzticos", "Drīzāk uzticos", "Drīzāk neuzticos", "Pilnīgi neuzticos"]
SATISFIED = ["Pilnīgi apmierināts", "Drīzāk apmierināts", "Drīzāk neapmierināts", "Pilnīgi neapmierināts"]
AGREE = ["Pilnīgi piekrītu", "Drīzāk piekrītu", "Drīzāk nepiekrītu", "Pilnīgi nepiekrītu"]


def scale(words: list[str], codes: list[int], **extra: str) -> dict[int, str]:
    """The answer codes of a four-point question as the questionnaire prints them, then its extra codes."""
    return {**dict(zip(codes, words)), **{int(k.lstrip("m")): w for k, w in extra.items()}}


def m(code: int) -> str:
    return f"m{code}"


# 2022/23 ex-post (Excel, code sheet "Kodi"): the scale printed from "not at all" up, 4 = fully; 1 = woman
Q2022 = {
    "D1": {1: "Sieviete", 2: "Vīrietis"},
    "K1": {1: "Jā", 0: "Nē"},
    "A5": scale(TRUST, [4, 3, 2, 1], **{m(5): "Grūti pateikt", m(9): "Atteicās atbildēt"}),
    "A12": scale(SATISFIED, [4, 3, 2, 1], **{m(5): "Grūti pateikt", m(9): "Atteicās atbildēt"}),
    **{f"B{i}": scale(AGREE, [4, 3, 2, 1], **{m(5): "Grūti pateikt", m(9): "Atteicās atbildēt"}) for i in (1, 2, 3)},
    "A20": {1: "Jā", 2: "Nē", 8: "Grūti pateikt", 9: "Atteicās atbildēt"},
}

# 2024 and 2025 annual (CSV, code list *_kodi.csv): 99 hard to say, 98 refused, -1 not asked (routing)
Q2024 = {
    "dzimums": {1: "Vīrietis", 2: "Sieviete"},
    "klients": {1: "Jā", 2: "Nē"},
    "q_uztic": scale(TRUST, [1, 2, 3, 4], **{m(99): "Grūti pateikt", m(98): "Atteicās atbildēt"}),
    "q_apmier": {**scale(SATISFIED, [1, 2, 3, 4]), 99: "Grūti pateikt", 98: "Atteicās atbildēt", -1: "Nav jautāts"},
    **{f"q_vert_{i}": {**scale(AGREE, [1, 2, 3, 4]), 99: "Grūti pateikt", 98: "Atteicās atbildēt", -1: "Nav jautāts"}
       for i in (1, 2, 3)},
    "q_apsv": {1: "Jā", 2: "Nē", 99: "Grūti pateikt", 98: "Atteicās atbildēt"},
    **{f"q_iem_{i}": {1: "Minēts", 0: "Nav minēts", -1: "Nav jautāts"} for i in range(1, 9)},
}
Q2025 = dict(Q2024)

# 2026 full (SPSS): 8 hard to say, 9 refused, 0 not asked; reasons 1 mentioned, 2 not mentioned
Q2026 = {
    "V2": {1: "Vīrietis", 2: "Sieviete"},
    "V5": {1: "Jā", 2: "Nē"},
    "T1": scale(TRUST, [1, 2, 3, 4], **{m(8): "Grūti pateikt", m(9): "Atteicās atbildēt"}),
    "T2": {**scale(SATISFIED, [1, 2, 3, 4]), 8: "Grūti pateikt", 9: "Atteicās atbildēt", 0: "Nav jautāts"},
    **{f"T5_{i}": {**scale(AGREE, [1, 2, 3, 4]), 8: "Grūti pateikt", 9: "Atteicās atbildēt", 0: "Nav jautāts"}
       for i in (1, 2, 3)},
    "T3": {1: "Jā", 2: "Nē", 8: "Grūti pateikt", 9: "Atteicās atbildēt"},
    **{f"T4_{i}": {1: "Minēts", 2: "Nav minēts", 0: "Nav jautāts"} for i in range(1, 9)},
}

# 2027 reduced (CSV): core items only; 7 hard to say, 8 refused (routing left empty)
Q2027 = {
    "dzim": {1: "Vīrietis", 2: "Sieviete"},
    "klients": {1: "Jā", 2: "Nē"},
    "uztic": scale(TRUST, [1, 2, 3, 4], **{m(7): "Grūti pateikt", m(8): "Atteicās atbildēt"}),
    "apmier": scale(SATISFIED, [1, 2, 3, 4], **{m(7): "Grūti pateikt", m(8): "Atteicās atbildēt"}),
}

# 2028 full (SPSS, English variable names): 6 hard to say, 7 refused, 9 not asked; client 1 yes, 0 no
Q2028 = {
    "sex": {1: "Vīrietis", 2: "Sieviete"},
    "client": {1: "Jā", 0: "Nē"},
    "trust": scale(TRUST, [1, 2, 3, 4], **{m(6): "Grūti pateikt", m(7): "Atteicās atbildēt"}),
    "satisf": {**scale(SATISFIED, [1, 2, 3, 4]), 6: "Grūti pateikt", 7: "Atteicās atbildēt", 9: "Nav jautāts"},
    **{f"rate_{i}": {**scale(AGREE, [1, 2, 3, 4]), 6: "Grūti pateikt", 7: "Atteicās atbildēt", 9: "Nav jautāts"}
       for i in (1, 2, 3)},
    "consid": {1: "Jā", 2: "Nē", 6: "Grūti pateikt", 7: "Atteicās atbildēt"},
    **{f"why_{i}": {1: "Minēts", 0: "Nav minēts", 9: "Nav jautāts"} for i in range(1, 9)},
}

QUESTIONNAIRES = {2022: Q2022, 2024: Q2024, 2025: Q2025, 2026: Q2026, 2027: Q2027, 2028: Q2028}


@pytest.fixture(scope="module")
def sav_2017_labels(tmp_path_factory) -> dict[str, dict[int, str]]:
    """The 2017 delivery's own value labels, read back from the SPSS file."""
    from ingest.sample.survey_waves import generate_2017, write_sav_2017

    path = tmp_path_factory.mktemp("w2017") / "ex_ante_2017.sav"
    write_sav_2017(generate_2017(np.random.default_rng(1)), path)
    _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
    return {var: {int(k): v for k, v in labels.items()} for var, labels in meta.variable_value_labels.items()}


# --- the checks ----------------------------------------------------------------------------------------

def test_every_shipped_codebook_is_checked():
    shipped = sorted(int(re.match(r"wave_(\d+)\.yml", p.name).group(1)) for p in CODEBOOK_DIR.glob("wave_*.yml"))
    assert shipped == [2017, *sorted(QUESTIONNAIRES)]


@pytest.mark.parametrize("wave", sorted(QUESTIONNAIRES))
def test_a_shipped_codebook_maps_each_code_as_its_questionnaire_words_it(wave):
    assert mismatches(codebook_for_wave(wave), QUESTIONNAIRES[wave]) == []


def test_the_2017_codebook_agrees_with_the_delivery_s_own_value_labels(sav_2017_labels):
    labels = {v: w for v, w in sav_2017_labels.items() if v != "REGIONS"}  # REGIONS: ignored (extra_columns)
    assert mismatches(codebook_for_wave(2017), labels) == []


def reversed_scale(cb):
    """The codebook with its trust item's scale reversed (1 <-> 4, 2 <-> 3), as a slip in the YAML would."""
    flip = {"1": "4", "2": "3", "3": "2", "4": "1"}
    variables = []
    for v in cb.variables:
        if v.item_code == "trust_social_service":
            v = dataclasses.replace(v, codes={c: ((flip[t[0]], None) if t[0] in flip else t) for c, t in v.codes.items()})
        variables.append(v)
    return dataclasses.replace(cb, variables=tuple(variables))


@pytest.mark.parametrize("wave", [2017, *sorted(QUESTIONNAIRES)])
def test_a_reversed_scale_in_any_shipped_codebook_is_caught(wave, sav_2017_labels):
    words = QUESTIONNAIRES.get(wave) or {v: w for v, w in sav_2017_labels.items() if v != "REGIONS"}
    found = mismatches(reversed_scale(codebook_for_wave(wave)), words)
    trust_var = next(v.variable for v in codebook_for_wave(wave).variables if v.item_code == "trust_social_service")
    assert len(found) == 4 and all(f.startswith(f"{trust_var} code ") for f in found)


def test_a_reversed_scale_written_in_the_yaml_file_fails_the_check(tmp_path):
    """The same, from the file: the 2026 codebook with its trust scale typed the other way round."""
    text = (CODEBOOK_DIR / "wave_2026.yml").read_text(encoding="utf-8")
    wrong = text.replace("trust_social_service: {variable: T1, codes: {1: 1, 2: 2, 3: 3, 4: 4,",
                         "trust_social_service: {variable: T1, codes: {1: 4, 2: 3, 3: 2, 4: 1,")
    assert wrong != text
    path = tmp_path / "wave_2026.yml"
    path.write_text(wrong, encoding="utf-8")
    assert mismatches(load_codebook(path), Q2026) == [
        "T1 code 1 ('Pilnīgi uzticos'): codebook maps it to ('4', None), the wording to ('1', None)",
        "T1 code 2 ('Drīzāk uzticos'): codebook maps it to ('3', None), the wording to ('2', None)",
        "T1 code 3 ('Drīzāk neuzticos'): codebook maps it to ('2', None), the wording to ('3', None)",
        "T1 code 4 ('Pilnīgi neuzticos'): codebook maps it to ('1', None), the wording to ('4', None)",
    ]


def test_swapped_sexes_are_caught_too(tmp_path):
    text = (CODEBOOK_DIR / "wave_2022.yml").read_text(encoding="utf-8")
    wrong = text.replace("sex: {variable: D1, codes: {1: female, 2: male}}", "sex: {variable: D1, codes: {1: male, 2: female}}")
    assert wrong != text
    path = tmp_path / "wave_2022.yml"
    path.write_text(wrong, encoding="utf-8")
    assert [f.split(" (")[0] for f in mismatches(load_codebook(path), Q2022)] == ["D1 code 1", "D1 code 2"]
