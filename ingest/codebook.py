"""Wave codebooks: YAML data files that map delivered variables and codes to
harmonised respondent attributes and items.

A codebook never contains SQL or code: adding a wave means adding its data
file and its codebook file. The structure is checked here, and errors name
the codebook file and the key that is wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.errors import IngestError
from ingest.settings import codebook_dir

MISSING_REASONS = ("hard_to_say", "refused", "not_applicable", "not_asked")
ATTRIBUTES = ("municipality_code", "sex", "age", "client")
BOUNDARY_SETS = ("pre2021_119", "post2021_43", "post2025_42")
SCOPES = ("baseline", "full", "reduced", "annual")
FORMATS = ("spss", "excel", "csv")


@dataclass(frozen=True)
class CodedVariable:
    """One delivered variable: which role it plays and how its codes map."""

    variable: str
    role: str  # id | weight | municipality_code | sex | age | client | item
    item_code: str | None = None
    # source code -> (harmonised value, missing reason); exactly one of the two is set
    codes: dict[float, tuple[str | None, str | None]] = field(default_factory=dict)
    blank_reason: str | None = None  # what an empty cell means (e.g. not_applicable for routing)
    label_lv: str | None = None  # labels of an item that is not (yet) in the item catalogue
    label_en: str | None = None
    scale_code: str | None = None


@dataclass(frozen=True)
class Codebook:
    path: Path
    wave: int
    scope: str
    delivery: dict
    boundary_set: str
    age_range: tuple[int, int]
    respondent_id: str
    weight: str | None
    variables: tuple[CodedVariable, ...]
    title_lv: str = ""
    title_en: str = ""

    @property
    def delivery_format(self) -> str:
        return self.delivery["format"]

    def by_role(self, role: str) -> CodedVariable | None:
        return next((v for v in self.variables if v.role == role), None)

    @property
    def items(self) -> list[CodedVariable]:
        return [v for v in self.variables if v.role == "item"]

    def variable_rows(self) -> list[dict]:
        return [
            {"wave": self.wave, "source_variable": v.variable, "role": v.role, "item_code": v.item_code,
             "blank_reason": v.blank_reason, "label_lv": v.label_lv, "label_en": v.label_en,
             "scale_code": v.scale_code}
            for v in self.variables
        ]

    def value_rows(self) -> list[dict]:
        rows = []
        for v in self.variables:
            for code, (value, reason) in v.codes.items():
                rows.append(
                    {
                        "wave": self.wave,
                        "source_variable": v.variable,
                        "source_code": code,
                        "harmonised_value": value,
                        "missing_reason": reason,
                    }
                )
        return rows


def _fail(path: Path, problem: str, key: str | None = None, value=None) -> IngestError:
    return IngestError(path, problem, column=key, value=value)


def _parse_codes(path: Path, key: str, raw) -> dict[float, tuple[str | None, str | None]]:
    if not isinstance(raw, dict) or not raw:
        raise _fail(path, "'codes' must be a non-empty mapping of source code to value", key, raw)
    codes = {}
    for src, target in raw.items():
        try:
            code = float(src)
        except (TypeError, ValueError):
            raise _fail(path, "source codes must be numbers", key, src) from None
        if isinstance(target, str) and target in MISSING_REASONS:
            codes[code] = (None, target)
        elif isinstance(target, (int, str)) and not isinstance(target, bool):
            codes[code] = (str(target), None)
        else:
            raise _fail(path, f"a code maps to a value or to one of {MISSING_REASONS}", key, target)
    return codes


def load_codebook(path: str | Path) -> Codebook:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(path, "codebook file not found") from None
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise _fail(path, "a codebook is a YAML mapping")
    for key in ("wave", "scope", "delivery", "boundary_set", "age_range", "respondent_id", "attributes", "items"):
        if key not in doc:
            raise _fail(path, "required key is missing", key)
    if doc["scope"] not in SCOPES:
        raise _fail(path, f"scope must be one of {SCOPES}", "scope", doc["scope"])
    if doc["boundary_set"] not in BOUNDARY_SETS:
        raise _fail(path, f"boundary_set must be one of {BOUNDARY_SETS}", "boundary_set", doc["boundary_set"])
    delivery = doc["delivery"]
    if not isinstance(delivery, dict) or delivery.get("format") not in FORMATS or not delivery.get("data_file"):
        raise _fail(path, f"delivery needs format (one of {FORMATS}) and data_file (a file pattern)", "delivery",
                    delivery)
    age_range = doc["age_range"]
    if not (isinstance(age_range, list) and len(age_range) == 2 and age_range[0] < age_range[1]):
        raise _fail(path, "age_range must be [min, max]", "age_range", age_range)

    variables: list[CodedVariable] = [CodedVariable(str(doc["respondent_id"]), "id")]
    if doc.get("weight"):
        variables.append(CodedVariable(str(doc["weight"]), "weight"))
    attrs = doc["attributes"] or {}
    for name in ATTRIBUTES:
        spec = attrs.get(name)
        if not isinstance(spec, dict) or "variable" not in spec:
            raise _fail(path, "attribute needs a 'variable'", f"attributes.{name}", spec)
        codes = _parse_codes(path, f"attributes.{name}.codes", spec["codes"]) if "codes" in spec else {}
        variables.append(CodedVariable(str(spec["variable"]), name, None, codes))
    for extra in set(attrs) - set(ATTRIBUTES):
        raise _fail(path, f"unknown attribute; known: {ATTRIBUTES}", f"attributes.{extra}")
    items = doc["items"] or {}
    if not isinstance(items, dict) or not items:
        raise _fail(path, "'items' must map item codes to their variables", "items")
    for item_code, spec in items.items():
        if not isinstance(spec, dict) or "variable" not in spec or "codes" not in spec:
            raise _fail(path, "an item needs 'variable' and 'codes'", f"items.{item_code}", spec)
        blank = spec.get("blank")
        if blank is not None and blank not in MISSING_REASONS:
            raise _fail(path, f"'blank' must be one of {MISSING_REASONS}", f"items.{item_code}.blank", blank)
        variables.append(
            CodedVariable(str(spec["variable"]), "item", str(item_code),
                          _parse_codes(path, f"items.{item_code}.codes", spec["codes"]), blank,
                          spec.get("label_lv"), spec.get("label_en"), spec.get("scale"))
        )
    names = [v.variable for v in variables]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(path, "a source variable is mapped twice", value=dupes)
    return Codebook(
        path=path,
        wave=int(doc["wave"]),
        scope=doc["scope"],
        delivery=dict(delivery),
        boundary_set=doc["boundary_set"],
        age_range=(int(age_range[0]), int(age_range[1])),
        respondent_id=str(doc["respondent_id"]),
        weight=str(doc["weight"]) if doc.get("weight") else None,
        variables=tuple(variables),
        title_lv=str(doc.get("title_lv", "")),
        title_en=str(doc.get("title_en", "")),
    )


def codebook_for_wave(wave: int, directory: Path | None = None) -> Codebook:
    """The codebook of a wave: <dir>/wave_<year>.yml, dir = TRUST_CODEBOOK_DIR or ingest/codebooks."""
    return load_codebook((directory or codebook_dir()) / f"wave_{wave}.yml")


def codebook_for_delivery(wave_dir: Path) -> Codebook:
    """The codebook for a delivered wave folder ``survey/<wave>/``: one delivered with the file
    (``wave_<year>.yml`` in the folder) or else the versioned one in the codebook directory."""
    wave_dir = Path(wave_dir)
    delivered = wave_dir / f"wave_{wave_dir.name}.yml"
    return codebook_for_wave(int(wave_dir.name), wave_dir if delivered.exists() else None)
