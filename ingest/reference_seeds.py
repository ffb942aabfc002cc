"""Build the municipality reference seeds from ``../shared/reference/``.

The seeds are committed (``dbt_project/seeds/reference/``) so the warehouse
builds without the shared folder; this module is how they were made, and a
test rebuilds them and compares whenever the shared folder is present.

    python -m ingest.reference_seeds [--reference-dir DIR] [--check]

Every row carries provenance: the file it came from and that file's origin
(see ``../shared/reference/SOURCES.md``). No code is invented: where the
reference data has none (e.g. 2024 statistical regions per municipality),
the column is left out rather than guessed.
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from ingest.settings import DBT_SEED_DIR, REPO_ROOT

DEFAULT_REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"
OUT_DIR = DBT_SEED_DIR / "reference"

F_CURRENT = "municipalities_2021_43_DERIVED_from_DemographicMap_LVA.units.csv"
F_OLD = "pre2021_119_municipalities_covid19datahub_LVA.csv"
F_XWALK = "crosswalk_2009-2021_119_to_2021_43_DERIVED.csv"
F_POP = "population_IRS031_annual_avg_36novadi_2012-2025_SanitaShu.csv"

ORIGIN = {
    F_CURRENT: "DERIVED from advaitsridhar/DemographicMap site/data/admin1/LVA.units.json @1a72bd7d; CSP IRD041 population",
    F_OLD: "covid19datahub/COVID19 inst/extdata/db/LVA.csv @4c47e0ef; CSP IRD060 population 2019",
    F_XWALK: "DERIVED: DemographicMap predecessor lists joined to covid19datahub old ATVK codes; Aglona split from aglona.lv",
    F_POP: "SanitaShu/AI-poject-TSI-Team- IRS031_20251113-180224.csv @9d876e83 (raw CSP PxWeb export IRS031)",
}


def _ascii(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def match_irs031_names(english: list[str], novadi: dict[str, str]) -> dict[str, str]:
    """'Aizkraukle municipality' -> ATVK code of 'Aizkraukles novads', by the longest common prefix of
    the ASCII-folded names (Latvian genitive endings differ: Ādaži/Ādažu, Cēsis/Cēsu). Each English
    name must match exactly one novads by at least 3 letters, and no novads twice."""
    result = {}
    for name in english:
        base = _ascii(name.replace(" municipality", ""))
        scored = sorted(((_common_prefix(base, _ascii(lv.replace(" novads", ""))), code) for code, lv in novadi.items()),
                        reverse=True)
        best, second = scored[0], scored[1]
        if best[0] < 3 or best[0] == second[0]:
            raise ValueError(f"cannot match {name!r} to one novads (best {best}, next {second})")
        result[name] = best[1]
    if len(set(result.values())) != len(result):
        raise ValueError("two IRS031 names matched the same novads")
    return result

# NUTS-2016 level-3 codes of the six statistical regions valid 2009-2023.
NUTS2016_REGIONS = {
    "LV003": "Kurzeme",
    "LV005": "Latgale",
    "LV006": "Rīga",
    "LV007": "Pierīga",
    "LV008": "Vidzeme",
    "LV009": "Zemgale",
}
REGION_TO_NUTS2016 = {v: k for k, v in NUTS2016_REGIONS.items()}

# Known validity windows, from SOURCES.md ("Facts to carry into the geography model").
VALID_TO = {"0038000": "2025-06-30", "0055000": "2025-06-30"}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def build(reference_dir: Path) -> dict[str, list[dict[str, str]]]:
    """Return seed name -> rows (as strings, in a stable order)."""
    current = _read_csv(reference_dir / F_CURRENT)
    old = [r for r in _read_csv(reference_dir / F_OLD) if r["key_local"] not in ("", "-")]
    xwalk = _read_csv(reference_dir / F_XWALK)

    municipalities_2021 = []
    for r in current:
        municipalities_2021.append(
            {
                "atvk_code": r["atvk2021_code"],
                "csp_code": r["csp_pxweb_code"],
                "name": r["name"],
                "unit_type": r["type"],
                "stat_region_2009_2023": r["stat_region_2009_2023_DERIVED"],
                "nuts2016_code": REGION_TO_NUTS2016[r["stat_region_2009_2023_DERIVED"]],
                "population": r["population"],
                "population_males": r["males"],
                "population_females": r["females"],
                "population_ref_date": r["population_ref_date"],
                "valid_from": "2021-07-01",
                "valid_to": VALID_TO.get(r["atvk2021_code"], ""),
                "notes": r["notes"],
                "source_file": F_CURRENT,
                "source_origin": ORIGIN[F_CURRENT],
            }
        )

    # Latvian names (with diacritics) of the old units come from the crosswalk.
    lv_name = {r["old_atvk_code"]: r["old_name_2009_2021"] for r in xwalk}
    municipalities_pre2021 = []
    for r in old:
        code = r["key_local"]
        municipalities_pre2021.append(
            {
                "atvk_code": code,
                "name": lv_name[code],
                "name_ascii_in_source": r["administrative_area_level_3"],
                "unit_type": "republikas pilsēta" if "novads" not in lv_name[code] else "novads",
                "nuts2016_code": r["key_nuts"],
                "stat_region_2009_2023": NUTS2016_REGIONS[r["key_nuts"]],
                "population_2019": r["population"],
                "valid_from": "2009-07-01",
                "valid_to": "2021-06-30",
                "source_file": F_OLD,
                "source_origin": ORIGIN[F_OLD],
            }
        )
    municipalities_pre2021.sort(key=lambda r: r["atvk_code"])

    crosswalk = []
    for r in xwalk:
        crosswalk.append(
            {
                "old_atvk_code": r["old_atvk_code"],
                "old_name": r["old_name_2009_2021"],
                "new_atvk_code": r["new_atvk_code"],
                "new_csp_code": r["new_csp_code"],
                "new_name": r["new_name_2021"],
                "relation": r["relation"],
                "is_split": "true" if r["relation"] == "PART" else "false",
                "source_file": F_XWALK,
                "source_origin": ORIGIN[F_XWALK],
            }
        )
    crosswalk.sort(key=lambda r: (r["old_atvk_code"], r["new_atvk_code"]))

    # 1 July 2025: Varakļānu novads merged into Madonas novads (SOURCES.md). The statistical
    # office publishes the merged unit as LV0038001; its ATVK code is taken from that CSP code
    # (LV + ATVK), as for every other unit in the reference file.
    merged_csp = "LV0038001"
    merged_atvk = merged_csp[2:]
    crosswalk_2025 = []
    for r in current:
        code = r["atvk2021_code"]
        merged = code in ("0038000", "0055000")
        crosswalk_2025.append(
            {
                "old_atvk_code": code,
                "old_name": r["name"],
                "new_atvk_code": merged_atvk if merged else code,
                "new_csp_code": merged_csp if merged else r["csp_pxweb_code"],
                "new_name": "Madonas novads" if merged else r["name"],
                "relation": "MERGED" if merged else "WHOLE",
                "valid_from": "2025-07-01",
                "source_file": F_CURRENT,
                "source_origin": "DERIVED: 2025-07-01 merger of Varakļānu novads into Madonas novads "
                                 "(SOURCES.md); merged unit published by CSP as LV0038001",
            }
        )
    crosswalk_2025.sort(key=lambda r: r["old_atvk_code"])

    # Annual average population (CSP IRS031) of the 36 novadi, 2012-2024 (2025 is "…" in the export).
    with (reference_dir / F_POP).open(encoding="utf-8-sig", newline="") as fh:
        lines = [line for line in csv.reader(fh) if line]
    header = next(line for line in lines if line[0] == "Indicator")
    data = [line for line in lines if line[0] == "Annual average population"]
    novadi = {r["atvk2021_code"]: r["name"] for r in current if r["type"] == "novads"}
    codes = match_irs031_names([line[1] for line in data], novadi)
    population_annual = []
    for line in data:
        for year, value in zip(header[2:], line[2:]):
            if value.strip().isdigit():
                population_annual.append({
                    "atvk_code": codes[line[1]], "year": year, "population": value,
                    "name_in_source": line[1], "measure": "annual average population",
                    "source_file": F_POP, "source_origin": ORIGIN[F_POP],
                })
    population_annual.sort(key=lambda r: (r["atvk_code"], r["year"]))

    # Aglonas novads was split in 2021: Aglonas pag. -> Preiļu novads; Grāveru, Kastuļinas and
    # Šķeltovas pag. -> Krāslavas novads (crosswalk). Parish populations are not in ../shared/reference,
    # so pre-2021 figures are allocated by parish count (1 of 4 to Preiļi, 3 of 4 to Krāslava):
    # an assumption, flagged, to be replaced by CSP parish populations when they are added.
    split_allocation = [
        {"old_atvk_code": r["old_atvk_code"], "new_atvk_code": r["new_atvk_code"],
         "share": "0.25" if r["new_atvk_code"] == "0042000" else "0.75",
         "basis": "ASSUMPTION: share of parishes (1 of 4 / 3 of 4); parish populations not in ../shared/reference",
         "source_file": F_XWALK, "source_origin": ORIGIN[F_XWALK]}
        for r in xwalk if r["relation"] == "PART"
    ]
    split_allocation.sort(key=lambda r: r["new_atvk_code"])

    return {
        "ref_population_annual": population_annual,
        "ref_split_allocation": split_allocation,
        "ref_crosswalk_2021_2025": crosswalk_2025,
        "ref_municipalities_2021": municipalities_2021,
        "ref_municipalities_pre2021": municipalities_pre2021,
        "ref_crosswalk_2009_2021": crosswalk,
    }


def render(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE_DIR)
    ap.add_argument("--check", action="store_true", help="compare with the committed seeds, write nothing")
    args = ap.parse_args(argv)
    seeds = build(args.reference_dir)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, rows in seeds.items():
        target = OUT_DIR / f"{name}.csv"
        text = render(rows)
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(REPO_ROOT)} ({len(rows)} rows)")
    if stale:
        print("stale seeds: " + ", ".join(str(p) for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
