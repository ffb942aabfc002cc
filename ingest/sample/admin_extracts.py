"""Synthetic LABIS/SPOLIS extracts in LM's data-table layout (``.xlsx``).

One workbook per municipality and year, with a title block above the header
and the indicator rows of the seed (``../shared/seeds/003_*.txt``): numbered
rows ``7``, ``7.1`` ... with "t.sk." sub-rows, totals, women, men, seven age
bands, municipal expenditure EUR/year, a source/comment column, and ``X``/``x``
for "not available". Values are synthetic, scaled to each municipality's
population; the seed's own rows are reproduced exactly for SEED_MUNICIPALITY
in SEED_YEAR (the seed does not name its municipality; the choice of one whose
population fits the figures is ours and synthetic).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.styles import Font

from ingest.settings import DBT_SEED_DIR

SEED_MUNICIPALITY = "0031000"  # Jēkabpils novads
SEED_YEAR = 2022

HEADERS = [
    "Nr.p.k.",
    "Pakalpojuma veids (atbilstoši sociālo pakalpojumu grozam)",
    "Datu veids",
    "Kopējais skaits",
    "Sievietes",
    "Vīrieši",
    "0-17 gadi",
    "18-24 gadi",
    "25-54 gadi",
    "55-64 gadi",
    "65-79 gadi",
    "80-89 gadi",
    "90+ gadi",
    "Pašvaldības izdevumi pakalpojuma nodrošināšanai (EUR/gadā)",
    "Datu avots, Komentāri",
]
AGE_KEYS = ["age_0_17", "age_18_24", "age_25_54", "age_55_64", "age_65_79", "age_80_89", "age_90_plus"]
VALUE_KEYS = ["total", "women", "men", *AGE_KEYS, "expenditure_eur"]

NOT_YET = (
    "Dati būs pieejami, kad produkcijas vidē būs pieejama jaunā VDEĀVK IIS "
    "(no pašreizējās IIS nav iespējams atlasīt datus pēc konkrētas pašvaldības)"
)
SPOLIS_NOTE = "Dati no gada pārskata/SPOLIS"

# The seed municipality-year, exactly as in 003_*.txt (None = empty cell).
X = "X"
SEED_ROWS = {
    "7": dict(total=None, age_0_17=X, expenditure_eur=X),
    "7.1": dict(total=345, women=191, men=154, age_0_17=X, age_18_24=7, age_25_54=63, age_55_64=60,
                age_65_79=118, age_80_89=77, age_90_plus=20, expenditure_eur=X),
    "7.2": dict(total=1297, women=617, men=680, age_0_17=X, age_18_24=35, age_25_54=391, age_55_64=387,
                age_65_79=396, age_80_89=81, age_90_plus=7, expenditure_eur=X),
    "7.3": dict(age_0_17=X, expenditure_eur=X),
    "7.4": dict(total=396, women=201, men=195, age_0_17=X, age_18_24=32, age_25_54=216, age_55_64=77,
                age_65_79=49, age_80_89=17, age_90_plus=5, expenditure_eur=X),
    "7.5": dict(total=408, women="x", men="x", age_0_17=X, age_18_24="x", age_25_54="x", age_55_64="x",
                age_65_79="x", age_80_89="x", age_90_plus="x", expenditure_eur="x"),
    "7.6": dict(age_0_17=X, expenditure_eur=X),
    "9": dict(total=0, women=0, men=0, age_0_17=0, age_18_24=0, age_25_54=0, age_55_64=0, age_65_79=0,
              age_80_89=0, age_90_plus=0, expenditure_eur=X),
    "10": dict(women=X, men=X, age_0_17=X, age_18_24=X, age_25_54=X, age_55_64=X, age_65_79=X,
               age_80_89=X, age_90_plus=X, expenditure_eur="x"),
    "11": dict(total=40, women=21, men=19, age_0_17=X, expenditure_eur=37750),
    "12": dict(total=0, women=0, men=0, age_0_17=X, age_18_24=0, age_25_54=0, age_55_64=0, age_65_79=0,
               age_80_89=0, age_90_plus=0, expenditure_eur=0),
}
SEED_POPULATION = 38134  # the seed municipality's population in the reference file


def indicator_catalogue() -> list[dict]:
    with (DBT_SEED_DIR / "admin_indicators.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def current_municipalities() -> list[dict]:
    with (DBT_SEED_DIR / "reference" / "ref_municipalities_2021.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _split(rng, total: int, probs) -> list[int]:
    probs = np.asarray(probs, dtype=float)
    return rng.multinomial(total, probs / probs.sum()).tolist()


def _by_sex_and_age(rng, total: int, seed_row: dict) -> dict:
    """Women/men and age bands for a total, shaped like the seed row, adding up."""
    women = int(rng.binomial(total, seed_row["women"] / seed_row["total"]))
    ages = _split(rng, total, [seed_row[k] for k in AGE_KEYS[1:]])
    return dict(total=total, women=women, men=total - women, age_0_17=X,
                **dict(zip(AGE_KEYS[1:], ages)), expenditure_eur=X)


def synthetic_rows(rng: np.random.Generator, population: int) -> dict:
    f = population / SEED_POPULATION
    rows = {"7": SEED_ROWS["7"], "7.3": SEED_ROWS["7.3"], "7.6": SEED_ROWS["7.6"]}
    for key in ("7.1", "7.2", "7.4"):
        total = int(rng.poisson(SEED_ROWS[key]["total"] * f))
        rows[key] = _by_sex_and_age(rng, total, SEED_ROWS[key])
    rows["7.5"] = dict(SEED_ROWS["7.5"], total=int(rng.poisson(408 * f)))
    waiting = int(rng.poisson(3 * f))
    w_women = int(rng.binomial(waiting, 0.55))
    rows["9"] = dict(total=waiting, women=w_women, men=waiting - w_women,
                     **dict(zip(AGE_KEYS, _split(rng, waiting, [0, 2, 20, 20, 35, 18, 5]))), expenditure_eur=X)
    rows["10"] = dict(SEED_ROWS["10"], total=int(max(5, round(45 * f * rng.uniform(0.6, 1.4)))))
    recipients = int(rng.poisson(40 * f))
    r_women = int(rng.binomial(recipients, 21 / 40))
    rows["11"] = dict(total=recipients, women=r_women, men=recipients - r_women, age_0_17=X,
                      expenditure_eur=int(round(recipients * 943.75 * rng.uniform(0.8, 1.25))))
    outside = int(rng.poisson(1.5 * f))
    o_women = int(rng.binomial(outside, 0.5))
    rows["12"] = dict(total=outside, women=o_women, men=outside - o_women, age_0_17=X,
                      **dict(zip(AGE_KEYS[1:], _split(rng, outside, [5, 40, 25, 20, 8, 2]))),
                      expenditure_eur=int(round(outside * 1100 * rng.uniform(0.8, 1.25))))
    return rows


def write_workbook(path: Path, municipality: dict, year: int, rows: dict) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Datu tabula"
    ws.append(["Labklājības ministrija"])
    ws.append(["Sociālās vides izpētes datu tabula"])
    ws.append(["Pašvaldība:", municipality["name"]])
    ws.append(["ATVK kods:", municipality["atvk_code"]])
    ws.append(["Gads:", year])
    ws.append(["Dienas aprūpes centru pakalpojumi"])
    ws.append([])
    ws.append(HEADERS)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    catalogue = {r["row_no"]: r for r in indicator_catalogue()}
    for row_no, ind in catalogue.items():
        values = rows[row_no]
        service = "Dienas aprūpes centra pakalpojums pilngadīgām personām ar smagiem funkcionāliem traucējumiem, tai skaitā garīga rakstura traucējumiem" if row_no == "7" else None
        comment = NOT_YET if row_no in ("7.3", "7.6") else ind["data_source_lv"]
        label = ind["label_lv"].replace("(gada beigās)", f"({year}.g.beigās)")
        ws.append([f"{row_no}." if "." in row_no else row_no, service, label,
                   *[values.get(k) for k in VALUE_KEYS], comment])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def generate_admin(rng: np.random.Generator, out_dir: Path, year: int = SEED_YEAR) -> dict:
    """Write one workbook per current municipality for `year`; return the known values."""
    truth: dict = {}
    for m in current_municipalities():
        if m["valid_to"] and m["valid_to"] < f"{year}-01-01":
            continue
        if m["atvk_code"] == SEED_MUNICIPALITY and year == SEED_YEAR:
            rows = SEED_ROWS
        else:
            rows = synthetic_rows(rng, int(m["population"]))
        write_workbook(out_dir / str(year) / f"LM_datu_tabula_{m['atvk_code']}_{year}.xlsx", m, year, rows)
        truth[m["atvk_code"]] = {k: {c: v for c, v in r.items()} for k, r in rows.items()}
    return {"year": year, "values": truth}
