"""Synthetic survey waves 2022-2028, delivered in each wave's own format and codes.

Every respondent is drawn in harmonised terms (sex, age, municipality, client, item answers
or missing reasons) and then *encoded* through that wave's codebook
(``ingest/codebooks/wave_<year>.yml``) into the delivered variable names and codes, so each
wave has its own names, codes, code order and routing conventions, as a survey firm would
deliver them. All figures are synthetic; clients' ratings improve from 2022 on, as the news
in ``../shared/seeds/002_*.txt`` reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
from openpyxl import Workbook

from ingest.codebook import Codebook, codebook_for_wave
from ingest.sample.quality import World, current_unit
from ingest.settings import current_boundary_set, read_seed

VALUES = ["1", "2", "3", "4", "hard_to_say", "refused"]
REASONS_PUBLISHED = {  # share of those who considered turning but did not (2017 report)
    "reason_unsure_entitled": 0.37, "reason_ashamed": 0.30, "reason_cannot_solve": 0.25,
    "reason_procedure_complex": 0.24, "reason_staff_attitude": 0.18, "reason_where_to_turn": 0.05,
    "reason_registered_elsewhere": 0.04, "reason_hard_to_reach": 0.03,
}
BASE = {  # harmonised distributions in 2017 terms: 1, 2, 3, 4, hard to say, refused
    "client_satisfaction": [0.28, 0.50, 0.12, 0.07, 0.03, 0.0],
    "trust_social_service_residents": [0.10, 0.36, 0.22, 0.10, 0.21, 0.01],
    "trust_social_service_clients": [0.24, 0.45, 0.14, 0.07, 0.09, 0.01],
    "client_rating_respect": [0.45, 0.40, 0.08, 0.03, 0.04, 0.0],
    "client_rating_confidentiality": [0.25, 0.38, 0.18, 0.09, 0.10, 0.0],
    "client_rating_complex_situations": [0.22, 0.40, 0.20, 0.08, 0.10, 0.0],
}
MISSING_LABELS = {"hard_to_say": "Grūti pateikt", "refused": "Atteicās atbildēt",
                  "not_applicable": "Nav jautāts (neattiecas)", "not_asked": "Nav jautāts šajā vilnī"}


@dataclass(frozen=True)
class WaveSample:
    wave: int
    n: int
    client_share: float
    improvement: float  # mass moved from the negative to the positive answers, vs 2017
    file_name: str
    code_list_name: str | None = None


WAVES = [
    WaveSample(2022, 2400, 0.25, 0.07, "ex_post_2022_iedzivotaji_klienti.xlsx"),
    WaveSample(2024, 1500, 0.22, 0.06, "uzticesanas_monitorings_2024_dati.csv", "uzticesanas_monitorings_2024_kodi.csv"),
    WaveSample(2025, 1500, 0.22, 0.08, "uzticesanas_monitorings_2025_dati.csv", "uzticesanas_monitorings_2025_kodi.csv"),
    WaveSample(2026, 2000, 0.23, 0.09, "monitorings_2026_pilnais.sav"),
    WaveSample(2027, 1000, 0.23, 0.10, "monitorings_2027_dati.csv", "monitorings_2027_kodi.csv"),
    WaveSample(2028, 2000, 0.24, 0.11, "monitorings_2028_pilnais.sav"),
]


def municipalities(boundary_set: str) -> pd.DataFrame:
    """Units of a boundary set with a population to sample from and their 2009-2023 region."""
    if boundary_set == "pre2021_119":
        rows = read_seed("reference/ref_municipalities_pre2021")
        return pd.DataFrame({"code": [r["atvk_code"] for r in rows], "population": [int(r["population_2019"]) for r in rows],
                             "region": [r["stat_region_2009_2023"] for r in rows]})
    units = pd.DataFrame(read_seed("reference/ref_municipalities_2021"))
    units = pd.DataFrame({"code": units["atvk_code"], "population": units["population"].astype(int),
                          "region": units["stat_region_2009_2023"]})
    if boundary_set == "post2025_42":
        xwalk = {r["old_atvk_code"]: r["new_atvk_code"] for r in read_seed("reference/ref_crosswalk_2021_2025")}
        units["code"] = units["code"].map(xwalk)
        units = units.groupby("code", as_index=False).agg(population=("population", "sum"), region=("region", "first"))
    return units


def improved(p: list[float], delta: float) -> np.ndarray:
    """Move probability mass from the negative answers (3, 4) to the positive ones (1, 2), or back
    when delta < 0, keeping "hard to say" and refusals as they are."""
    p = np.array(p, dtype=float)
    if delta >= 0:
        move = np.minimum([delta * 0.6, delta * 0.4], p[2:4] * 0.8)
        p[2:4] -= move
        p[0:2] += move
    else:
        move = np.minimum([-delta * 0.4, -delta * 0.6], p[0:2] * 0.8)
        p[0:2] -= move
        p[2:4] += move[::-1]
    return p / p.sum()


def expected_client_share(spec: "WaveSample", lo: int, hi: int) -> float:
    share_60_plus = (hi - 60 + 1) / (hi - lo + 1)
    return spec.client_share * (1 + 0.8 * share_60_plus) / 1.25


def true_trust_top2(spec: "WaveSample", shift: float, lo: int, hi: int) -> float:
    """Expected share of "fully + rather trust" among the residents who answer (incl. "hard to say",
    not refusals: the base of the trust_top2 indicator) of a municipality with trust shift `shift`
    (World.trust_shift): the rate small-area estimates are benchmarked against."""
    c = expected_client_share(spec, lo, hi)
    res = improved(BASE["trust_social_service_residents"], spec.improvement / 2 + shift)
    cli = improved(BASE["trust_social_service_clients"], spec.improvement + shift)
    # Over those asked incl. "hard to say", refusals out (VALUES[-1]), as the indicator is defined.
    return float(((1 - c) * res[:2].sum() + c * cli[:2].sum()) / ((1 - c) * (1 - res[-1]) + c * (1 - cli[-1])))


def draw_harmonised(spec: WaveSample, cb: Codebook, rng: np.random.Generator, world: World) -> pd.DataFrame:
    """One row per respondent in harmonised terms; an item cell is a value or a missing reason."""
    units = municipalities(cb.boundary_set)
    idx = rng.choice(len(units), size=spec.n, p=(units["population"] / units["population"].sum()).to_numpy())
    lo, hi = cb.age_range
    df = pd.DataFrame({
        "respondent_id": np.arange(1, spec.n + 1) + spec.wave * 100000,
        "municipality_code": units["code"].to_numpy()[idx],
        "region": units["region"].to_numpy()[idx],
        "sex": np.where(rng.random(spec.n) < 0.54, "female", "male"),
        "age": rng.integers(lo, hi + 1, size=spec.n),
    })
    p_client = np.clip(spec.client_share * (1 + 0.8 * (df["age"] >= 60)) / 1.25, 0, 1)
    df["client"] = rng.random(spec.n) < p_client
    asked = {item.item_code for item in cb.items}

    def answers(dist, mask):
        out = pd.Series(np.where(mask, "", "not_applicable"), index=df.index, dtype=object)
        out[mask] = rng.choice(VALUES, size=int(mask.sum()), p=dist)
        return out

    if "trust_social_service" in asked:
        trust = pd.Series("", index=df.index, dtype=object)
        for code, idx in df.groupby("municipality_code").groups.items():
            shift = world.trust_shift(code, spec.wave)
            for is_client, base, delta in ((False, "trust_social_service_residents", spec.improvement / 2),
                                           (True, "trust_social_service_clients", spec.improvement)):
                sel = [i for i in idx if bool(df.at[i, "client"]) == is_client]
                if sel:
                    trust[sel] = rng.choice(VALUES, size=len(sel), p=improved(BASE[base], delta + shift))
        df["trust_social_service"] = trust
    for item in ("client_satisfaction", "client_rating_respect", "client_rating_confidentiality",
                 "client_rating_complex_situations"):
        if item in asked:
            df[item] = answers(improved(BASE[item], spec.improvement), df["client"])
    if "considered_not_turned" in asked:
        df["considered_not_turned"] = rng.choice(["1", "2", "hard_to_say"], size=spec.n, p=[0.08, 0.90, 0.02])
        considered = df["considered_not_turned"] == "1"
        for reason, share in REASONS_PUBLISHED.items():
            if reason in asked:
                df[reason] = np.where(considered, np.where(rng.random(spec.n) < share, "1", "0"), "not_applicable")
    return df


def _weights(df: pd.DataFrame, units: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    target = units.groupby("region")["population"].sum() / units["population"].sum()
    sample = df["region"].value_counts(normalize=True)
    w = df["region"].map(target / sample).to_numpy(dtype=float, copy=True) * rng.lognormal(0, 0.25, len(df))
    return w / w.mean()


def encode(df: pd.DataFrame, cb: Codebook, weights: np.ndarray | None) -> pd.DataFrame:
    """Harmonised rows -> the delivered variables and codes, through the codebook's code maps."""
    out = {cb.respondent_id: df["respondent_id"]}
    role_column = {"municipality_code": "municipality_code", "sex": "sex", "age": "age", "client": "client"}
    for var in cb.variables:
        if var.role in ("id", "weight"):
            continue
        source = df[role_column[var.role]] if var.role in role_column else df[var.item_code]
        if var.role == "client":
            source = source.map(lambda b: "true" if b else "false")
        if not var.codes:
            out[var.variable] = source
            continue
        inverse = {}
        for code, (value, reason) in var.codes.items():
            inverse.setdefault(value if value is not None else reason, code)
        if var.blank_reason:
            inverse[var.blank_reason] = np.nan
        out[var.variable] = source.map(lambda v, inv=inverse, name=var.variable: inv[str(v)])
    if cb.weight:
        out[cb.weight] = weights
    return pd.DataFrame(out)


def _labels(cb: Codebook) -> tuple[dict[str, str], dict[str, dict[float, str]]]:
    catalogue = {r["item_code"]: r for r in read_seed("item_catalogue")}
    scales: dict[tuple[str, str], str] = {(r["scale_code"], r["value"]): r["label_lv"]
                                          for r in read_seed("answer_scales")}
    attr_labels = {"municipality_code": "Pašvaldība (ATVK kods)", "sex": "Dzimums", "age": "Vecums (pilni gadi)",
                   "client": "Vai pēdējo 12 mēnešu laikā esat vērsies sociālajā dienestā?"}
    attr_values = {"male": "Vīrietis", "female": "Sieviete", "true": "Jā", "false": "Nē"}
    var_labels = {cb.respondent_id: "Respondenta numurs"}
    value_labels: dict[str, dict[float, str]] = {}
    if cb.weight:
        var_labels[cb.weight] = "Svars"
    for var in cb.variables:
        if var.role in ("id", "weight"):
            continue
        item = catalogue.get(var.item_code or "")
        var_labels[var.variable] = item["label_lv"] if item else attr_labels.get(var.role, var.variable)
        if var.codes:
            value_labels[var.variable] = {
                code: (MISSING_LABELS[reason] if reason else
                       scales.get((item["scale_code"], value), value) if item else attr_values.get(value, value))
                for code, (value, reason) in var.codes.items()
            }
    return var_labels, value_labels


def write_delivery(delivered: pd.DataFrame, cb: Codebook, spec: WaveSample, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    var_labels, value_labels = _labels(cb)
    path = out_dir / spec.file_name
    fmt = cb.delivery_format
    if fmt == "spss":
        user_missing = {v.variable: sorted(c for c, (_, r) in v.codes.items() if r in ("refused", "not_applicable"))
                        for v in cb.variables if any(r in ("refused", "not_applicable") for _, r in v.codes.values())}
        pyreadstat.write_sav(delivered, str(path), column_labels=[var_labels[c] for c in delivered.columns],
                             variable_value_labels=value_labels, missing_ranges=user_missing,
                             file_label=f"Monitorings {cb.wave} (sintētiski dati)")
    elif fmt == "excel":
        wb = Workbook()
        ws = wb.active
        ws.title = cb.delivery.get("sheet", "Dati")
        ws.append([f"{c}. {var_labels[c]}" for c in delivered.columns])
        for row in delivered.itertuples(index=False):
            ws.append([None if isinstance(v, float) and np.isnan(v) else (v.item() if hasattr(v, "item") else v)
                       for v in row])
        codes = wb.create_sheet("Kodi")
        codes.append(["Mainīgais", "Kods", "Nozīme"])
        for var, labels in value_labels.items():
            for code, label in labels.items():
                codes.append([var, int(code), label])
        wb.save(path)
    else:
        d = cb.delivery
        sep, dec, enc = d["delimiter"], d["decimal"], d["encoding"]

        def fmt_cell(v):
            if v is None or (isinstance(v, float) and np.isnan(v)):
                return ""
            if isinstance(v, (float, np.floating)) and not float(v).is_integer():
                return f"{v:.6f}".replace(".", dec)
            return str(int(v)) if isinstance(v, (int, float, np.integer, np.floating)) else str(v)

        lines = [sep.join(delivered.columns)]
        lines += [sep.join(fmt_cell(v) for v in row) for row in delivered.itertuples(index=False)]
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode(enc))
        code_lines = [sep.join(["mainigais", "kods", "nozime"])]
        for var in delivered.columns:
            code_lines.append(sep.join([var, "", var_labels[var].replace(sep, ",")]))
            for code, label in value_labels.get(var, {}).items():
                code_lines.append(sep.join([var, fmt_cell(code), label.replace(sep, ",")]))
        (out_dir / spec.code_list_name).write_bytes(("\r\n".join(code_lines) + "\r\n").encode(enc))
    return path


def truth(df: pd.DataFrame, weights: np.ndarray | None, cb: Codebook) -> dict:
    """The wave's figures computed in pandas from the harmonised rows (not from the files)."""
    w = pd.Series(weights if weights is not None else np.ones(len(df)), index=df.index)
    out = {"wave": cb.wave, "n_respondents": int(len(df)), "n_clients": int(df["client"].sum()),
           "items_asked": sorted(i.item_code for i in cb.items), "weighted": weights is not None,
           "municipality_codes": sorted(df["municipality_code"].unique().tolist())}
    sat = df.loc[df["client"], "client_satisfaction"]
    asked = sat[sat.isin(["1", "2", "3", "4", "hard_to_say"])]
    ww = w[asked.index]
    names = {"1": "fully", "2": "rather", "3": "rather_not", "4": "not_at_all", "hard_to_say": "hard_to_say"}
    shares = {names[v]: float(ww[asked == v].sum() / ww.sum()) for v in names}
    out["client_satisfaction"] = {"n_unweighted": int(len(asked)), "weighted_shares": shares,
                                  "top2_weighted": shares["fully"] + shares["rather"]}
    return out


def current_codes() -> list[str]:
    return sorted({current_unit(c) for c in municipalities(current_boundary_set())["code"]})


def true_municipal_trust(spec: "WaveSample", cb: Codebook, world: World) -> dict[str, float]:
    """True trust top-2 rate of every current municipality for the wave."""
    lo, hi = cb.age_range
    return {c: true_trust_top2(spec, world.trust_shift(c, spec.wave), lo, hi) for c in current_codes()}


def trust_components(spec: "WaveSample", cb: Codebook, world: World) -> dict[str, dict[str, float]]:
    """The true rate split on the logit scale into the part quality explains (with no area effect)
    and the area effect the admin figures do not reflect, per current municipality."""
    lo, hi = cb.age_range

    def logit(p: float) -> float:
        return float(np.log(p / (1 - p)))

    out = {}
    for c in current_codes():
        total = logit(true_trust_top2(spec, world.trust_shift(c, spec.wave), lo, hi))
        explained = logit(true_trust_top2(spec, world.trust_provision_effect * world.quality(c), lo, hi))
        out[c] = {"logit_quality_part": explained, "logit_area_effect": total - explained}
    return out


def generate_wave(spec: WaveSample, landing_survey: Path, rng: np.random.Generator, world: World) -> dict:
    cb = codebook_for_wave(spec.wave)
    df = draw_harmonised(spec, cb, rng, world)
    weights = _weights(df, municipalities(cb.boundary_set), rng) if cb.weight else None
    write_delivery(encode(df, cb, weights), cb, spec, landing_survey / str(spec.wave))
    result = truth(df, weights, cb)
    if "trust_social_service" in {i.item_code for i in cb.items}:
        result["true_trust_top2_by_municipality"] = true_municipal_trust(spec, cb, world)
        result["true_trust_top2_logit_components"] = trust_components(spec, cb, world)
    return result
