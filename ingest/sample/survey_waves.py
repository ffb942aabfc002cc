"""Synthetic survey waves, delivered as a survey firm would.

All figures are synthetic. The 2017 wave is calibrated to the published
ex-ante results (BRIEF.md): 3012 residents aged 18-74, 683 of them clients;
client overall satisfaction 28 / 50 / 12 / 7 / 3 % (fully / rather / rather
not / not at all / hard to say), both unweighted (rounded) and weighted
(exactly, through the delivered weight); 8 % of residents considered turning
to the social service but did not.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from ingest.settings import read_seed

SATISFACTION_TARGET = {1: 0.28, 2: 0.50, 3: 0.12, 4: 0.07, 9: 0.03}
N_2017, N_CLIENTS_2017, N_CONSIDERED_2017 = 3012, 683, 241  # 241 / 3012 = 8.0 %

REGION_CODES = {"Rīga": 1, "Pierīga": 2, "Vidzeme": 3, "Kurzeme": 4, "Zemgale": 5, "Latgale": 6}

LABELS_2017 = {
    "ID": "Respondenta numurs",
    "REGIONS": "Statistiskais reģions",
    "NOVADS": "Pašvaldība (ATVK kods)",
    "DZIMUMS": "Respondenta dzimums",
    "VECUMS": "Respondenta vecums (pilni gadi)",
    "Q1_KLIENTS": "Vai pēdējo 12 mēnešu laikā esat vērsies pašvaldības sociālajā dienestā?",
    "Q5_UZTICAS": "Cik lielā mērā Jūs uzticaties savas pašvaldības sociālajam dienestam?",
    "Q12_APMIER": "Kopumā, cik apmierināts esat ar sociālā dienesta sniegto atbalstu?",
    "Q15_1": "Sociālais darbinieks izturējās ar cieņu",
    "Q15_2": "Esmu pārliecināts par informācijas konfidencialitāti",
    "Q15_3": "Sociālais darbinieks spēj risināt sarežģītas situācijas",
    "Q20_APSVERA": "Vai esat apsvēris iespēju vērsties sociālajā dienestā, bet to neesat darījis?",
    **{f"Q21_{i}": f"Kāpēc nevērsāties? {t}" for i, t in enumerate([
        "Nezinu, vai pienākas šāda palīdzība", "Bija kauns, neērti vērsties pēc palīdzības",
        "Sociālais dienests nevar atrisināt manas/manas ģimenes problēmas",
        "Pārāk sarežģīta palīdzības saņemšanas procedūra", "Nepatīk sociālā dienesta darbinieku attieksme",
        "Nezinu, kur vērsties pēc palīdzības", "Esmu deklarēts citā pašvaldībā",
        "Grūti nokļūt pašvaldības sociālajā dienestā"], start=1)},
    "SVARS": "Svars",
}
VALUE_LABELS_2017 = {
    "REGIONS": {v: k for k, v in REGION_CODES.items()},
    "DZIMUMS": {1: "Vīrietis", 2: "Sieviete"},
    "Q1_KLIENTS": {1: "Jā", 2: "Nē"},
    "Q5_UZTICAS": {
        1: "Pilnīgi uzticos", 2: "Drīzāk uzticos", 3: "Drīzāk neuzticos", 4: "Pilnīgi neuzticos",
        9: "Grūti pateikt", 98: "Atteicās atbildēt",
    },
    "Q12_APMIER": {
        1: "Pilnīgi apmierināts", 2: "Drīzāk apmierināts", 3: "Drīzāk neapmierināts",
        4: "Pilnīgi neapmierināts", 9: "Grūti pateikt", 98: "Atteicās atbildēt", 99: "Nav jautāts (nav klients)",
    },
    "Q20_APSVERA": {1: "Jā, apsvēru, bet nevērsos", 2: "Nē", 9: "Grūti pateikt", 98: "Atteicās atbildēt"},
    **{f"Q15_{i}": {1: "Pilnīgi piekrītu", 2: "Drīzāk piekrītu", 3: "Drīzāk nepiekrītu", 4: "Pilnīgi nepiekrītu",
                    9: "Grūti pateikt", 98: "Atteicās atbildēt", 99: "Nav jautāts (nav klients)"} for i in (1, 2, 3)},
    **{f"Q21_{i}": {1: "Minēts", 0: "Nav minēts", 99: "Nav jautāts"} for i in range(1, 9)},
}
USER_MISSING_2017 = {"Q5_UZTICAS": [98], "Q12_APMIER": [98, 99], "Q20_APSVERA": [98],
                     **{f"Q15_{i}": [98, 99] for i in (1, 2, 3)}, **{f"Q21_{i}": [99] for i in range(1, 9)}}
REASONS_2017 = [0.37, 0.30, 0.25, 0.24, 0.18, 0.05, 0.04, 0.03]  # Q21_1..8, published shares
RATINGS_2017 = {  # clients' ratings: respect high; confidentiality and complex situations lower
    "Q15_1": [0.45, 0.40, 0.08, 0.03, 0.04],
    "Q15_2": [0.25, 0.38, 0.18, 0.09, 0.10],
    "Q15_3": [0.22, 0.40, 0.20, 0.08, 0.10],
}


def _old_municipalities() -> pd.DataFrame:
    df = pd.DataFrame(read_seed("reference/ref_municipalities_pre2021"))
    df["population_2019"] = df["population_2019"].astype(int)
    return df


def _exact_counts(n: int, shares: dict) -> dict:
    """Largest-remainder rounding of n * share so the counts add up to n."""
    raw = {k: n * s for k, s in shares.items()}
    counts = {k: int(np.floor(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def generate_2017(rng: np.random.Generator) -> pd.DataFrame:
    """One row per respondent, delivered variable names and codes."""
    munis = _old_municipalities()
    p = munis["population_2019"] / munis["population_2019"].sum()
    idx = rng.choice(len(munis), size=N_2017, p=p.to_numpy())
    df = pd.DataFrame(
        {
            "ID": np.arange(100001, 100001 + N_2017),
            "NOVADS": munis["atvk_code"].to_numpy()[idx],
            "REGIONS": munis["stat_region_2009_2023"].map(REGION_CODES).to_numpy()[idx],
        }
    )
    df["DZIMUMS"] = np.where(rng.random(N_2017) < 0.54, 2, 1)
    ages = np.arange(18, 75)
    age_p = np.where(ages >= 65, 0.7, 1.0)
    df["VECUMS"] = rng.choice(ages, size=N_2017, p=age_p / age_p.sum())

    client_p = 1.0 + 0.8 * (df["VECUMS"] >= 60) + 0.3 * (df["DZIMUMS"] == 2)
    clients = rng.choice(N_2017, size=N_CLIENTS_2017, replace=False, p=(client_p / client_p.sum()).to_numpy())
    df["Q1_KLIENTS"] = 2
    df.loc[clients, "Q1_KLIENTS"] = 1
    is_client = df["Q1_KLIENTS"] == 1

    # Satisfaction: clients only, exact counts in shuffled order; non-clients routed past (99).
    counts = _exact_counts(N_CLIENTS_2017, SATISFACTION_TARGET)
    answers = np.concatenate([np.full(c, code) for code, c in counts.items()])
    rng.shuffle(answers)
    df["Q12_APMIER"] = 99
    df.loc[is_client, "Q12_APMIER"] = answers

    # Trust: everyone; clients trust more.
    trust_codes = np.array([1, 2, 3, 4, 9, 98])
    p_res = np.array([0.10, 0.36, 0.22, 0.10, 0.21, 0.01])
    p_cli = np.array([0.24, 0.45, 0.14, 0.07, 0.09, 0.01])
    df["Q5_UZTICAS"] = np.where(
        is_client, rng.choice(trust_codes, N_2017, p=p_cli), rng.choice(trust_codes, N_2017, p=p_res)
    )

    # Considered turning to the service but did not: exactly 241 residents, mostly non-clients.
    cons_p = np.where(is_client, 0.3, 1.0)
    considered = rng.choice(N_2017, size=N_CONSIDERED_2017, replace=False, p=cons_p / cons_p.sum())
    df["Q20_APSVERA"] = np.where(rng.random(N_2017) < 0.02, 9, 2)
    df.loc[considered, "Q20_APSVERA"] = 1

    rating_codes = np.array([1, 2, 3, 4, 9])
    for var, p in RATINGS_2017.items():
        df[var] = np.where(is_client, rng.choice(rating_codes, N_2017, p=p), 99)
    # Reasons (multiple answers) of those who considered it: exact published shares of the 241.
    for i, share in enumerate(REASONS_2017, start=1):
        df[f"Q21_{i}"] = 99
        df.loc[considered, f"Q21_{i}"] = 0
        df.loc[rng.choice(considered, size=int(round(share * N_CONSIDERED_2017)), replace=False), f"Q21_{i}"] = 1

    df["SVARS"] = _weights_2017(df, munis)
    return df[list(LABELS_2017)]


def _weights_2017(df: pd.DataFrame, munis: pd.DataFrame) -> np.ndarray:
    """Post-stratify to the 2019 regional population, then calibrate the client
    satisfaction distribution to the published shares (as the survey firm's
    weights did), and scale to mean 1."""
    region_pop = munis.groupby(munis["stat_region_2009_2023"].map(REGION_CODES))["population_2019"].sum()
    target = region_pop / region_pop.sum()
    sample = df["REGIONS"].value_counts(normalize=True)
    w = df["REGIONS"].map(target / sample).to_numpy(dtype=float, copy=True)

    is_client = (df["Q1_KLIENTS"] == 1).to_numpy()
    sat = df["Q12_APMIER"].to_numpy()
    client_total = w[is_client].sum()
    for code, share in SATISFACTION_TARGET.items():
        sel = is_client & (sat == code)
        w[sel] *= share * client_total / w[sel].sum()
    return w / w.mean()


def write_sav_2017(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_sav(
        df,
        str(path),
        file_label="Ex-ante 2017: iedzīvotāju aptauja (sintētiski dati)",
        column_labels=[LABELS_2017.get(c, c) for c in df.columns],
        variable_value_labels=VALUE_LABELS_2017,
        missing_ranges=USER_MISSING_2017,
    )


def truth_2017(df: pd.DataFrame) -> dict:
    """What the generator knows, computed from its own rows (pandas, not SQL)."""
    clients = df[(df["Q1_KLIENTS"] == 1) & df["Q12_APMIER"].isin([1, 2, 3, 4, 9])]
    w = clients["SVARS"]
    names = {1: "fully", 2: "rather", 3: "rather_not", 4: "not_at_all", 9: "hard_to_say"}
    shares = {names[c]: float(w[clients["Q12_APMIER"] == c].sum() / w.sum()) for c in names}
    counts = {names[c]: int((clients["Q12_APMIER"] == c).sum()) for c in names}
    return {
        "wave": 2017,
        "n_respondents": int(len(df)),
        "n_clients": int((df["Q1_KLIENTS"] == 1).sum()),
        "client_satisfaction": {
            "n_unweighted": int(len(clients)),
            "weighted_shares": shares,
            "unweighted_counts": counts,
            "top2_weighted": shares["fully"] + shares["rather"],
        },
        "considered_not_turned_unweighted": float((df["Q20_APSVERA"] == 1).mean()),
        "reasons_unweighted": {f"Q21_{i}": float((df.loc[df["Q20_APSVERA"] == 1, f"Q21_{i}"] == 1).mean())
                               for i in range(1, 9)},
        "municipality_codes": sorted(df["NOVADS"].unique().tolist()),
    }
