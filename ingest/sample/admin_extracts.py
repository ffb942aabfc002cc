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

from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.styles import Font

from ingest.sample.quality import World
from ingest.settings import read_seed

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


# SPOLIS annual report: recipients per 1000 residents and cost per recipient (EUR/year), synthetic.
SERVICES = {
    "13.1": (6.0, 1500, [0, 0, 5, 10, 40, 35, 10]),      # home care: mostly old
    "13.2": (0.3, 6000, [0, 10, 60, 20, 10, 0, 0]),      # group home
    "13.3": (4.0, 9000, [2, 3, 15, 15, 30, 27, 8]),      # long-term care institution
    "13.4": (1.2, 950, [0, 10, 55, 20, 12, 3, 0]),       # day-care centre
    "13.5": (0.4, 1200, [40, 10, 30, 10, 10, 0, 0]),     # respite care
    "13.6": (0.3, 2500, [0, 20, 60, 15, 5, 0, 0]),       # specialised workshop
    "13.7": (0.5, 1800, [35, 10, 45, 7, 3, 0, 0]),       # crisis centre
    "13.8": (0.6, 2200, [0, 5, 55, 25, 15, 0, 0]),       # shelter
    "13.9": (0.8, 1400, [0, 15, 70, 10, 5, 0, 0]),       # family assistant
    "13.10": (0.7, 1600, [100, 0, 0, 0, 0, 0, 0]),       # social rehabilitation for children
}
FIRST_YEAR, LAST_YEAR = 2017, 2028
SHEET_LM, SHEET_SPOLIS = "Datu tabula", "SPOLIS gada pārskats"


def indicator_catalogue() -> list[dict]:
    return read_seed("admin_indicators")


def current_municipalities() -> list[dict]:
    return read_seed("reference/ref_municipalities_2021")


def units_for_year(year: int) -> list[dict]:
    """The municipalities that report for `year`: 119 until 2020, 43 for 2021-2024 (reform of
    1 July 2021), 42 from 2025 (Varakļānu merged into Madonas novads on 1 July 2025)."""
    if year <= 2020:
        return [{"atvk_code": r["atvk_code"], "name": r["name"], "population": int(r["population_2019"])}
                for r in read_seed("reference/ref_municipalities_pre2021")]
    units = [{"atvk_code": r["atvk_code"], "name": r["name"], "population": int(r["population"])}
             for r in current_municipalities()]
    if year <= 2024:
        return units
    to_2025 = {r["old_atvk_code"]: r for r in read_seed("reference/ref_crosswalk_2021_2025")}
    merged: dict[str, dict] = {}
    for u in units:
        x = to_2025[u["atvk_code"]]
        m = merged.setdefault(x["new_atvk_code"], {"atvk_code": x["new_atvk_code"], "name": x["new_name"], "population": 0})
        m["population"] += u["population"]
    return list(merged.values())


def _split(rng, total: int, probs) -> list[int]:
    probs = np.asarray(probs, dtype=float)
    return rng.multinomial(total, probs / probs.sum()).tolist()


def _by_sex_and_age(rng, total: int, seed_row: dict) -> dict:
    """Women/men and age bands for a total, shaped like the seed row, adding up."""
    women = int(rng.binomial(total, seed_row["women"] / seed_row["total"]))
    ages = _split(rng, total, [seed_row[k] for k in AGE_KEYS[1:]])
    return dict(total=total, women=women, men=total - women, age_0_17=X,
                **dict(zip(AGE_KEYS[1:], ages)), expenditure_eur=X)


def spolis_rows(rng: np.random.Generator, population: int, year: int, q: float = 0.0) -> dict:
    """SPOLIS figures; q is the municipality's service quality (ingest.sample.quality)."""
    trend = (1 + 0.02 * (year - SEED_YEAR)) * np.exp(0.25 * q)
    rows = {"13": dict(age_0_17=None, expenditure_eur=None)}
    for row_no, (per_1000, cost, ages) in SERVICES.items():
        total = int(rng.poisson(per_1000 * population / 1000 * trend))
        women = int(rng.binomial(total, 0.6))
        bands = dict(zip(AGE_KEYS, _split(rng, total, ages)))
        if row_no == "13.10":
            bands = {k: (v if k == "age_0_17" else X) for k, v in bands.items()}
        rows[row_no] = dict(total=total, women=women, men=total - women, **bands,
                            expenditure_eur=int(round(total * cost * trend * rng.uniform(0.85, 1.15))))
    waiting = int(rng.poisson(1.5 * population / 1000))
    w_women = int(rng.binomial(waiting, 0.6))
    rows["14"] = dict(total=waiting, women=w_women, men=waiting - w_women, expenditure_eur=X)
    staff = max(2, int(round(population / 1000 * 0.9 * np.exp(0.2 * q) * rng.uniform(0.85, 1.15))))
    s_women = int(rng.binomial(staff, 0.9))
    rows["15"] = dict(total=staff, women=s_women, men=staff - s_women, **{k: X for k in AGE_KEYS}, expenditure_eur=X)
    return rows


def synthetic_rows(rng: np.random.Generator, population: int, year: int = SEED_YEAR) -> dict:
    f = population / SEED_POPULATION * (1 + 0.02 * (year - SEED_YEAR))
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


def _as_delivered(value, legacy: bool):
    """Older extracts carry numbers as text with spaces for thousands and decimal commas."""
    if not legacy or not isinstance(value, int):
        return value
    text = f"{value:,}".replace(",", " ")
    return text + ",00" if value >= 1000 else text


def _sheet(ws, municipality: dict, year: int, heading: str, legacy: bool) -> None:
    ws.append(["Labklājības ministrija"])
    ws.append(["Sociālās vides izpētes datu tabula"])
    ws.append(["Pašvaldība:", municipality["name"]])
    ws.append(["ATVK kods:", municipality["atvk_code"]])
    ws.append(["Gads:", year])
    ws.append([heading])
    ws.append([])
    if legacy:  # two header rows with merged group cells, as in older LM tables
        top = HEADERS[:4] + ["t.sk. pēc dzimuma", None] + ["t.sk. pēc vecuma"] + [None] * 6 + HEADERS[13:]
        ws.append(top)
        ws.append([None] * 4 + HEADERS[4:13] + [None, None])
        r = ws.max_row
        for col in ("A", "B", "C", "D", "N", "O"):
            ws.merge_cells(f"{col}{r - 1}:{col}{r}")
        ws.merge_cells(f"E{r - 1}:F{r - 1}")
        ws.merge_cells(f"G{r - 1}:M{r - 1}")
    else:
        ws.append(HEADERS)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)


def write_workbook(path: Path, municipality: dict, year: int, rows: dict, legacy: bool = False) -> None:
    wb = Workbook()
    sheets = {SHEET_LM: wb.active}
    sheets[SHEET_LM].title = SHEET_LM
    _sheet(sheets[SHEET_LM], municipality, year, "Dienas aprūpes centru pakalpojumi", legacy)
    catalogue = {r["row_no"]: r for r in indicator_catalogue()}
    if any(k in rows for k in ("13", "14", "15")):
        sheets[SHEET_SPOLIS] = wb.create_sheet(SHEET_SPOLIS)
        _sheet(sheets[SHEET_SPOLIS], municipality, year, "Sociālie pakalpojumi (SPOLIS gada pārskats)", legacy)
    for row_no, ind in catalogue.items():
        if row_no not in rows:
            continue
        values = rows[row_no]
        ws = sheets[SHEET_SPOLIS if row_no.split(".")[0] in ("13", "14", "15") else SHEET_LM]
        service = "Dienas aprūpes centra pakalpojums pilngadīgām personām ar smagiem funkcionāliem traucējumiem, tai skaitā garīga rakstura traucējumiem" if row_no == "7" else None
        comment = NOT_YET if row_no in ("7.3", "7.6") else ind["data_source_lv"]
        label = ind["label_lv"].replace("(gada beigās)", f"({year}.g.beigās)")
        ws.append([f"{row_no}." if "." in row_no else row_no, service, label,
                   *[_as_delivered(values.get(k), legacy) for k in VALUE_KEYS], comment])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def generate_admin(rng: np.random.Generator, out_dir: Path, world: World,
                   years=range(FIRST_YEAR, LAST_YEAR + 1)) -> dict:
    """One workbook per reporting municipality and year; return the known values (as numbers)."""
    truth: dict = {}
    for year in years:
        for m in units_for_year(year):
            q = world.quality(m["atvk_code"])
            if m["atvk_code"] == SEED_MUNICIPALITY and year == SEED_YEAR:
                rows = {**SEED_ROWS, **spolis_rows(rng, m["population"], year, q)}
            else:
                rows = {**synthetic_rows(rng, m["population"], year), **spolis_rows(rng, m["population"], year, q)}
            legacy = year <= 2020
            write_workbook(out_dir / str(year) / f"LM_datu_tabula_{m['atvk_code']}_{year}.xlsx", m, year, rows, legacy)
            truth[f"{m['atvk_code']}/{year}"] = {
                k: {c: v for c, v in r.items() if isinstance(v, int)} for k, r in rows.items()
            }
    return {"years": list(years), "values": truth}
