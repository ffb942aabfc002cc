"""Municipality codes a delivery may use.

The units of each boundary set come from the reference seeds (which seed: ``ingest/config/
boundary_units.yml``). Firms and registers keep using codes they know after a reform, so a
versioned alias table (seed ``reference/ref_code_aliases.csv``: the delivered code, the unit it
stands for, the boundary set, validity dates and the source) says which other codes a delivery
may use for a unit. An alias applies only when the delivery's reference period (a wave's
fieldwork, an extract's report year) lies within its validity; every alias applied is reported
back so the loader records it in the audit.
"""
from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from dataclasses import dataclass

import yaml

from ingest.settings import CONFIG_DIR, read_seed

ALIAS_SEED = "reference/ref_code_aliases"
CODE = re.compile(r"^(?:LV)?(\d{1,7})$")


@functools.lru_cache(maxsize=None)
def _unit_lists() -> dict:
    return yaml.safe_load((CONFIG_DIR / "boundary_units.yml").read_text(encoding="utf-8"))


def boundary_sets() -> list[str]:
    return [r["boundary_set"] for r in read_seed("reference/boundary_sets")]


@functools.lru_cache(maxsize=None)
def _units(boundary_set: str) -> dict[str, str]:
    spec = _unit_lists().get(boundary_set)
    if spec is None:
        raise ValueError(f"no unit list for boundary set {boundary_set!r} in ingest/config/boundary_units.yml")
    return {r[spec["code"]]: r[spec["name"]] for r in read_seed(spec["seed"])}


@functools.lru_cache(maxsize=None)
def regions(boundary_set: str) -> dict[str, str]:
    """ATVK code -> statistical region (2009-2023 regions) of every unit of a boundary set
    (ingest/config/boundary_units.yml says where the region comes from)."""
    spec = _unit_lists()[boundary_set]
    rows = read_seed(spec["seed"])
    if "region" in spec:
        return {r[spec["code"]]: r[spec["region"]] for r in rows}
    via = spec["region_from"]
    earlier = regions(via["boundary_set"])
    out: dict[str, str] = {}
    for r in rows:
        region = earlier.get(r[via["column"]])
        if region is not None:
            out.setdefault(r[spec["code"]], region)
    return out


def known_municipality_codes(boundary_set: str) -> set[str]:
    """ATVK codes of the units of a boundary set."""
    return set(_units(boundary_set))


def municipality_name(boundary_set: str, code: str) -> str | None:
    return _units(boundary_set).get(code)


def _name_key(name: str) -> str:
    """A name compared by what it says: Unicode NFC (a 'š' typed as 's' + a combining caron, NFD, is
    the same name), case and spacing ignored."""
    return " ".join(unicodedata.normalize("NFC", str(name)).split()).casefold()


def code_for_name(boundary_set: str, name: str) -> str | None:
    """The unit of a boundary set with this name (NFC, case and spacing ignored), if exactly one."""
    wanted = _name_key(name)
    found = [c for c, n in _units(boundary_set).items() if _name_key(n) == wanted]
    return found[0] if len(found) == 1 else None


def closest_name(boundary_set: str, name: str) -> tuple[str, str] | None:
    """The unit name most like `name` and how their characters differ, in code points (for a name
    that looks right and is not: a Cyrillic 'а' for a Latin 'a', a stray control character)."""
    import difflib

    names = list(_units(boundary_set).values())
    wanted = unicodedata.normalize("NFC", " ".join(str(name).split()))
    best = difflib.get_close_matches(wanted, names, n=1, cutoff=0.85)  # a name that LOOKS right, not another one
    if not best:
        return None
    return best[0], code_point_differences(wanted, best[0])


def _cp(text: str) -> str:
    return ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}" for ch in text) or "nothing"


def code_point_differences(delivered: str, known: str, most: int = 3) -> str:
    """Where two strings differ, as code points: 'at character 5: U+0430 CYRILLIC SMALL LETTER A
    where the unit has U+0061 LATIN SMALL LETTER A'."""
    import difflib

    out = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, delivered, known, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        out.append(f"at character {a1 + 1}: {_cp(delivered[a1:a2])} where the unit's name has {_cp(known[b1:b2])}")
        if len(out) == most:
            break
    return "; ".join(out) or "no difference in code points (letter case or spacing only)"


def normalise_code(value) -> str | None:
    """A delivered municipality code as a 7-digit ATVK code: numbers are left-padded (SPSS and
    Excel drop the leading zeros: 38000 -> 0038000), a CSP prefix is dropped (LV0038001 ->
    0038001). Anything else is returned as written (and will be reported as unknown)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text == "":
        return None
    m = CODE.match(text.upper())
    return m.group(1).zfill(7) if m else text


@dataclass(frozen=True)
class Alias:
    delivered_code: str
    atvk_code: str
    boundary_set: str
    valid_from: datetime.date | None
    valid_to: datetime.date | None
    reason: str
    source: str

    def covers(self, start: datetime.date, end: datetime.date) -> bool:
        return (self.valid_from is None or start >= self.valid_from) and (self.valid_to is None or end <= self.valid_to)

    def validity(self) -> str:
        return f"{self.valid_from or '…'} to {self.valid_to or 'open'}"


def _date(text: str) -> datetime.date | None:
    return datetime.date.fromisoformat(text) if text else None


@functools.lru_cache(maxsize=None)
def aliases(boundary_set: str) -> tuple[Alias, ...]:
    return tuple(
        Alias(r["delivered_code"], r["atvk_code"], r["boundary_set"], _date(r["valid_from"]), _date(r["valid_to"]),
              r["reason"], f"{r['source_file']}: {r['source_origin']}")
        for r in read_seed(ALIAS_SEED) if r["boundary_set"] == boundary_set
    )


@dataclass
class Resolution:
    """How the delivered codes of one file map to units of its boundary set."""

    mapping: dict[str, str]  # delivered (normalised) code -> unit code, for every resolvable code
    applied: list[Alias]  # aliases used
    unknown: dict[str, str]  # code -> why it cannot be used (no unit; alias outside its validity)


def resolve_codes(codes, boundary_set: str, period: tuple[datetime.date, datetime.date]) -> Resolution:
    """Map delivered codes to the units of `boundary_set`: a unit's own code, or an alias whose
    validity covers `period` (the wave's fieldwork, or the report year)."""
    units = known_municipality_codes(boundary_set)
    by_code: dict[str, list[Alias]] = {}
    for a in aliases(boundary_set):
        by_code.setdefault(a.delivered_code, []).append(a)
    mapping, applied, unknown = {}, [], {}
    for code in sorted({c for c in codes if c is not None}):
        if code in units:
            mapping[code] = code
            continue
        usable = [a for a in by_code.get(code, []) if a.covers(*period)]
        if usable:
            mapping[code] = usable[0].atvk_code
            applied.append(usable[0])
        elif code in by_code:
            a = by_code[code][0]
            unknown[code] = (f"municipality code unknown in boundary set {boundary_set}; its alias for "
                             f"{a.atvk_code} (seed {ALIAS_SEED}) is valid {a.validity()}, which does not cover "
                             f"{period[0]} to {period[1]}")
        else:
            unknown[code] = f"municipality code unknown in boundary set {boundary_set}"
    return Resolution(mapping, applied, unknown)


def boundary_set_of_report_year(year: int) -> str:
    """Which units report for a year (seed reference/boundary_sets.csv)."""
    for r in read_seed("reference/boundary_sets"):
        if int(r["first_report_year"]) <= year and (not r["last_report_year"] or year <= int(r["last_report_year"])):
            return r["boundary_set"]
    raise ValueError(f"no boundary set for report year {year}")
