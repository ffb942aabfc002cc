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

ORIGIN = {
    F_CURRENT: "DERIVED from advaitsridhar/DemographicMap site/data/admin1/LVA.units.json @1a72bd7d; CSP IRD041 population",
    F_OLD: "covid19datahub/COVID19 inst/extdata/db/LVA.csv @4c47e0ef; CSP IRD060 population 2019",
    F_XWALK: "DERIVED: DemographicMap predecessor lists joined to covid19datahub old ATVK codes; Aglona split from aglona.lv",
}

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

    return {
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
