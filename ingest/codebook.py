"""Wave codebooks: YAML data files that map delivered variables and codes to
harmonised respondent attributes and items.

A codebook never contains SQL or code: adding a wave means adding its data
file and its codebook file. A codebook is validated against a schema (pydantic):
a misspelt or unknown key, a missing one or a value of the wrong kind is an
error naming the codebook file, the key and its line. File patterns must be
plain file-name globs (``ingest/file_patterns.py``).
"""
from __future__ import annotations

import datetime
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.errors import IngestError
from ingest.file_patterns import pattern_problem
from ingest.intake import entry_problem, not_a_file
from ingest.labels import label_key, normalise_label
from ingest.limits import limit
from ingest.municipalities import normalise_code
from ingest.numbers import NumberFormat, parse_number
from ingest.safe_yaml import compose_bounded, read_bounded_text
from ingest.settings import CONFIG_DIR, codebook_dir, read_seed

MISSING_REASONS = ("hard_to_say", "refused", "not_applicable", "not_asked")
ATTRIBUTES = ("municipality_code", "sex", "age", "client")
SCOPES = ("baseline", "full", "reduced", "annual")
FORMATS = ("spss", "excel", "csv")
DELIVERY_DEFAULTS = CONFIG_DIR / "survey_delivery.yml"


def boundary_sets() -> tuple[str, ...]:
    """The boundary sets a codebook may name (seed reference/boundary_sets)."""
    return tuple(r["boundary_set"] for r in read_seed("reference/boundary_sets"))


# --- the schema ---------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldworkSpec(_Strict):
    start: datetime.date = Field(alias="from")
    end: datetime.date = Field(alias="to")


class RangeSpec(_Strict):
    min: int = Field(ge=1)
    max: int = Field(ge=1)


class DeliverySpec(_Strict):
    format: Literal["spss", "excel", "csv"]
    data_file: str
    code_list_file: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    sheet: str | None = None
    header: Literal["code_prefix", "variable"] | None = None
    # delivered columns known to be of no use: ignored without a mention even with strict_columns
    extra_columns: list[str] = []
    # the wave comes in several files (a Rīga team and a regions team, fieldwork batches): data_file may
    # match several files in the wave folder, and the wave is their union (respondent ids unique across them)
    parts: bool = False

    @field_validator("decimal")
    @classmethod
    def _decimal_mark(cls, v):
        if v is not None and v not in (".", ","):
            raise ValueError("the decimal mark is '.' or ','")
        return v

    @field_validator("data_file", "code_list_file")
    @classmethod
    def _plain_glob(cls, v):
        if v is not None:
            problem = pattern_problem(v)
            if problem:
                raise ValueError(problem)
        return v


class AttributeSpec(_Strict):
    variable: str | int
    codes: dict[Any, Any] | None = None
    labels: dict[Any, Any] | None = None  # delivered text label -> value (or missing reason)
    ignore_case: bool | None = None       # labels: letter case does not count (default: labels_ignore_case)


class KeptSpec(_Strict):
    variable: str | int
    label_lv: str | None = None
    label_en: str | None = None


class ItemSpec(_Strict):
    variable: str | int
    codes: dict[Any, Any] | None = None
    labels: dict[Any, Any] | None = None
    ignore_case: bool | None = None
    blank: Literal["hard_to_say", "refused", "not_applicable", "not_asked"] | None = None
    label_lv: str | None = None
    label_en: str | None = None
    scale: str | None = None


class RowStatusSpec(_Strict):
    """The survey firm's own status column: which delivered rows are respondents."""
    variable: str | int
    keep: list[Any] | None = None                    # keep only rows whose status is one of these labels
    drop: list[Any] | dict[Any, Any] | None = None   # drop rows with these labels (label -> reason, or a list)
    ignore_case: bool | None = None


class CoverageSpec(_Strict):
    """The wave's fieldwork plan: where it has respondents. Without it the plan is national."""
    municipalities: list[str | int] | None = None    # ATVK codes of the boundary set the fieldwork covered


class AttributesSpec(_Strict):
    municipality_code: AttributeSpec
    sex: AttributeSpec
    age: AttributeSpec
    client: AttributeSpec


class CodebookSpec(_Strict):
    wave: int
    title_lv: str = ""
    title_en: str = ""
    scope: Literal["baseline", "full", "reduced", "annual"]
    boundary_set: str
    age_range: tuple[int, int]
    fieldwork: FieldworkSpec | None = None
    expected_respondents: RangeSpec | None = None
    strict_columns: bool = False
    labels_ignore_case: bool = False
    row_status: RowStatusSpec | None = None
    coverage: CoverageSpec | None = None
    delivery: DeliverySpec
    respondent_id: str | int
    weight: str | int | None = None
    attributes: AttributesSpec
    kept_attributes: dict[str, KeptSpec] = {}
    items: dict[str, ItemSpec]


# --- the codebook as the loader uses it ------------------------------------------------------------

@dataclass(frozen=True)
class CodedVariable:
    """One delivered variable: which role it plays and how its codes map."""

    variable: str
    role: str  # id | weight | municipality_code | sex | age | client | item | kept
    item_code: str | None = None  # the item, or the name of a kept attribute
    # source code -> (harmonised value, missing reason); exactly one of the two is set
    codes: dict[float, tuple[str | None, str | None]] = field(default_factory=dict)
    blank_reason: str | None = None  # what an empty cell means (e.g. not_applicable for routing)
    label_lv: str | None = None  # labels of an item that is not (yet) in the item catalogue
    label_en: str | None = None
    scale_code: str | None = None
    # or, for a label-coded variable: the codebook's label -> (harmonised value, missing reason)
    labels: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    ignore_case: bool = False

    @property
    def mapped(self) -> bool:
        """Whether the delivered values of this variable are mapped (codes or labels)."""
        return bool(self.codes or self.labels)

    def label_lookup(self) -> dict[str, str]:
        """Comparison key (ingest/labels.py) -> the codebook's label."""
        return {label_key(lab, self.ignore_case): lab for lab in self.labels}


@dataclass(frozen=True)
class RowRule:
    """The firm's status column (codebook `row_status`): rows it drops are not respondents."""

    variable: str
    keep: tuple[str, ...] | None  # the labels kept (every other status is dropped as status_not_kept)
    drop: dict[str, str]          # label -> reason (ingest/config/survey_delivery.yml row_exclusion_reasons)
    ignore_case: bool = False

    def reason_of(self, text) -> str | None:
        """Why a row with this status is dropped, or None when it is kept."""
        key = label_key("" if text is None else text, self.ignore_case)
        drop = {label_key(k, self.ignore_case): r for k, r in self.drop.items()}
        if key in drop:
            return drop[key]
        if self.keep is not None and key not in {label_key(k, self.ignore_case) for k in self.keep}:
            return "status_not_kept"
        return None


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
    fieldwork: tuple[datetime.date, datetime.date] | None = None
    expected_respondents: tuple[int, int] = (1, 10**9)
    strict_columns: bool = False
    kept: tuple[CodedVariable, ...] = ()  # delivered text columns kept as they are (not harmonised)
    row_rule: RowRule | None = None
    planned_municipalities: tuple[str, ...] | None = None  # coverage.municipalities; None: a national plan

    @property
    def delivery_format(self) -> str:
        return self.delivery["format"]

    def by_role(self, role: str) -> CodedVariable | None:
        return next((v for v in self.variables if v.role == role), None)

    @property
    def items(self) -> list[CodedVariable]:
        return [v for v in self.variables if v.role == "item"]

    @property
    def stored_variables(self) -> tuple[CodedVariable, ...]:
        """Every delivered variable that reaches the raw tables: the mapped ones and the kept ones."""
        return self.variables + self.kept

    @property
    def reference_period(self) -> tuple[datetime.date, datetime.date]:
        """The fieldwork period, or the wave's calendar year where the codebook gives none."""
        if self.fieldwork:
            return self.fieldwork
        return datetime.date(self.wave, 1, 1), datetime.date(self.wave, 12, 31)

    def variable_rows(self) -> list[dict]:
        return [
            {"wave": self.wave, "source_variable": v.variable, "role": v.role, "item_code": v.item_code,
             "blank_reason": v.blank_reason, "label_lv": v.label_lv, "label_en": v.label_en,
             "scale_code": v.scale_code}
            for v in self.stored_variables
        ]

    def value_rows(self) -> list[dict]:
        rows = []
        for v in self.variables:
            for code, (value, reason) in v.codes.items():
                rows.append({"wave": self.wave, "source_variable": v.variable, "source_code": code,
                             "source_label": None, "harmonised_value": value, "missing_reason": reason})
            for label, (value, reason) in v.labels.items():
                rows.append({"wave": self.wave, "source_variable": v.variable, "source_code": None,
                             "source_label": label, "harmonised_value": value, "missing_reason": reason})
        return rows


# --- reading and checking ------------------------------------------------------------------------

def _fail(path: Path, problem: str, key: str | None = None, value=None, line: int | None = None,
          **kw) -> IngestError:
    extra = {"value": value} if value is not None else {}
    return IngestError(path, problem, row=line, column=key, row_word="line", column_word="key", **extra, **kw)


def _key_lines(node, prefix: tuple = ()) -> dict[tuple, int]:
    """(key, key, ...) -> 1-based line of that key (or list item) in the YAML file."""
    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            here = prefix + (key,)
            lines.setdefault(here, k.start_mark.line + 1)
            lines.update({p: n for p, n in _key_lines(v, here).items() if p not in lines})
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            here = prefix + (str(i),)
            lines.setdefault(here, v.start_mark.line + 1)
            lines.update({p: n for p, n in _key_lines(v, here).items() if p not in lines})
    return lines


def _line_of(lines: dict[tuple, int], loc: tuple) -> int | None:
    loc = tuple(str(p) for p in loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return None


_MODEL_OF = {
    (): CodebookSpec, ("delivery",): DeliverySpec, ("fieldwork",): FieldworkSpec,
    ("expected_respondents",): RangeSpec, ("attributes",): AttributesSpec, ("row_status",): RowStatusSpec,
    ("coverage",): CoverageSpec,
}


def _known_keys(loc: tuple) -> list[str]:
    parent = tuple(str(p) for p in loc[:-1])
    model = _MODEL_OF.get(parent)
    if model is None and len(parent) == 2 and parent[0] == "attributes":
        model = AttributeSpec
    if model is None and len(parent) == 2 and parent[0] == "items":
        model = ItemSpec
    if model is None and len(parent) == 2 and parent[0] == "kept_attributes":
        model = KeptSpec
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _schema_error(path: Path, exc: ValidationError, lines: dict[tuple, int]) -> IngestError:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # tuple-typed fields (age_range) report an index; keep the key
    key = ".".join(str(p) for p in loc) or None
    line = _line_of(lines, loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_keys(loc)
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        problem = f"unknown key {str(loc[-1])!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        if known:
            problem += f"; the keys here are: {', '.join(known)}"
        return _fail(path, problem, key, line=line)
    if kind == "missing":
        return _fail(path, "required key is missing", key, line=_line_of(lines, loc[:-1]))
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return _fail(path, msg, key, err.get("input"), line=line)


def delivery_defaults() -> dict:
    return yaml.safe_load(DELIVERY_DEFAULTS.read_text(encoding="utf-8"))


def _target(path: Path, key: str, target, line, what: str = "a code") -> tuple[str | None, str | None]:
    if isinstance(target, str) and target in MISSING_REASONS:
        return None, target
    if isinstance(target, (int, str)) and not isinstance(target, bool):
        return str(target), None
    raise _fail(path, f"{what} maps to a value or to one of {', '.join(MISSING_REASONS)}", key, target, line)


def _parse_codes(path: Path, key: str, raw, line) -> dict[float, tuple[str | None, str | None]]:
    if not isinstance(raw, dict) or not raw:
        raise _fail(path, "'codes' must be a non-empty mapping of source code to value", key, raw, line)
    codes = {}
    for src, target in raw.items():
        code, problem = parse_number(src, NumberFormat(unit=None)) if not isinstance(src, bool) else (None, "")
        if code is None:
            raise _fail(path, "source codes must be numbers; for text labels (\"Drīzāk uzticos\") write "
                        "'labels:' instead of 'codes:'", key, src, line) from None
        codes[code] = _target(path, key, target, line)
    return codes


def _parse_labels(path: Path, key: str, raw, line, ignore_case: bool) -> dict[str, tuple[str | None, str | None]]:
    """label -> target; labels are normalised (ingest/labels.py) and must differ after it."""
    if not isinstance(raw, dict) or not raw:
        raise _fail(path, "'labels' must be a non-empty mapping of delivered label to value", key, raw, line)
    labels: dict[str, tuple[str | None, str | None]] = {}
    seen: dict[str, str] = {}
    for src, target in raw.items():
        if src is None or isinstance(src, (bool, dict, list)) or normalise_label(src) == "":
            raise _fail(path, "a label is text (an empty label is an empty cell: say what it means with 'blank')",
                        key, src, line)
        label = normalise_label(src)
        k = label_key(label, ignore_case)
        if k in seen:
            raise _fail(path, f"labels {seen[k]!r} and {label!r} are the same label once spaces"
                        + (" and letter case" if ignore_case else "") + " are normalised", key, src, line)
        seen[k] = label
        labels[label] = _target(path, key, target, line, "a label")
    return labels


def delivery_reasons() -> dict[str, dict]:
    """Why a row the firm's status drops is not a respondent (survey_delivery.yml row_exclusion_reasons)."""
    return delivery_defaults()["row_exclusion_reasons"]


def _row_rule(path: Path, spec: RowStatusSpec, lines, wave_ignore_case: bool) -> RowRule:
    key = "row_status"
    line = _line_of(lines, (key,))
    if (spec.keep is None) == (spec.drop is None):
        raise _fail(path, "row_status names the labels to 'keep' or those to 'drop' (one of the two)", key, line=line)
    reasons = delivery_reasons()
    drop: dict[str, str] = {}
    if spec.drop is not None:
        pairs = spec.drop.items() if isinstance(spec.drop, dict) else ((d, "excluded_by_firm") for d in spec.drop)
        for label, reason in pairs:
            if reason not in reasons or reason == "status_not_kept":
                allowed = [r for r in reasons if r != "status_not_kept"]
                raise _fail(path, f"a dropped status maps to a reason: one of {', '.join(allowed)} "
                            "(ingest/config/survey_delivery.yml row_exclusion_reasons)", f"{key}.drop", reason,
                            _line_of(lines, (key, "drop")))
            drop[normalise_label(label)] = reason
    keep = tuple(normalise_label(k) for k in spec.keep) if spec.keep is not None else None
    if keep is not None and not keep:
        raise _fail(path, "row_status keep names at least one status", f"{key}.keep", line=line)
    ignore = spec.ignore_case if spec.ignore_case is not None else wave_ignore_case
    return RowRule(str(spec.variable), keep, drop, ignore)


def load_codebook(path: str | Path, shown_as: str | Path | None = None) -> Codebook:
    """Read and check a codebook. `shown_as`: the name messages give the file (the delivered path,
    when what is read is its archived copy). Bounded: a codebook over the limits of
    ingest/config/limits.yml (size, depth, nodes; no aliases) is refused unread (OverLimit)."""
    path = Path(path)
    shown = Path(shown_as) if shown_as is not None else path
    try:
        text = read_bounded_text(path, limit("codebook", "max_bytes"))
    except FileNotFoundError:
        raise _fail(shown, "codebook file not found") from None
    except IsADirectoryError:
        raise _fail(shown, "is a folder, not a codebook file") from None
    except UnicodeDecodeError:
        raise _fail(shown, "a codebook must be UTF-8 text") from None
    except IngestError as exc:
        raise exc.relocated({str(path): str(shown)}) from None
    try:
        doc, node = compose_bounded(text, shown, max_depth=limit("codebook", "max_depth"),
                                    max_nodes=limit("codebook", "max_nodes"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _fail(shown, f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                    line=mark.line + 1 if mark else None) from None
    path = shown  # what was read is `path`; what messages and the codebook name is the delivered file
    if not isinstance(doc, dict):
        raise _fail(path, "a codebook is a YAML mapping")
    lines = _key_lines(node)
    try:
        spec = CodebookSpec.model_validate(doc)
    except ValidationError as exc:
        raise _schema_error(path, exc, lines) from None

    def fail(problem, *key, value=None):
        k = tuple(str(p) for p in key)
        return _fail(path, problem, ".".join(k), value, _line_of(lines, k))

    if spec.boundary_set not in boundary_sets():
        raise fail(f"boundary_set must be one of {', '.join(boundary_sets())} (seed reference/boundary_sets)",
                   "boundary_set", value=spec.boundary_set)
    if not spec.age_range[0] < spec.age_range[1]:
        raise fail("age_range must be [min, max]", "age_range", value=list(spec.age_range))
    if spec.fieldwork and spec.fieldwork.start > spec.fieldwork.end:
        raise fail("fieldwork 'from' is after 'to'", "fieldwork", value=f"{spec.fieldwork.start} > {spec.fieldwork.end}")
    defaults = delivery_defaults()["expected_respondents"]
    expected = spec.expected_respondents or RangeSpec(**defaults)
    if expected.min > expected.max:
        raise fail("expected_respondents: min is above max", "expected_respondents",
                   value=f"{expected.min} > {expected.max}")
    if spec.delivery.format == "csv" and spec.delivery.delimiter is not None and len(spec.delivery.delimiter) != 1:
        raise fail("the delimiter is one character", "delivery", "delimiter", value=spec.delivery.delimiter)

    def mapping(section: str, name: str, spec, required: bool):
        """(codes, labels, ignore_case) of a variable: numeric codes or text labels, not both."""
        where = (section, name)
        if spec.codes is not None and spec.labels is not None:
            raise fail("a variable's values are mapped by 'codes' (numbers) or by 'labels' (text), not both",
                       *where)
        if required and spec.codes is None and spec.labels is None:
            raise fail("map the delivered values with 'codes' (numbers) or 'labels' (text)", *where)
        ignore = spec.ignore_case if spec.ignore_case is not None else spec_ignore
        codes = _parse_codes(path, f"{section}.{name}.codes", spec.codes,
                             _line_of(lines, where + ("codes",))) if spec.codes is not None else {}
        labels = _parse_labels(path, f"{section}.{name}.labels", spec.labels, _line_of(lines, where + ("labels",)),
                               ignore) if spec.labels is not None else {}
        return codes, labels, ignore

    spec_ignore = spec.labels_ignore_case
    variables: list[CodedVariable] = [CodedVariable(str(spec.respondent_id), "id")]
    if spec.weight is not None:
        variables.append(CodedVariable(str(spec.weight), "weight"))
    for name in ATTRIBUTES:
        a: AttributeSpec = getattr(spec.attributes, name)
        if name == "age" and (a.codes is not None or a.labels is not None):
            raise fail("age is read as a number of years: no codes or labels", "attributes", "age")
        codes, labels, ignore = mapping("attributes", name, a, required=False)
        if name == "municipality_code" and codes:
            raise fail("municipality codes are read as codes of the boundary set; map names with 'labels' "
                       "(name -> ATVK code)", "attributes", name)
        if name == "municipality_code" and any(r for _, r in labels.values()):
            raise fail("a municipality label maps to an ATVK code, not to a missing reason", "attributes", name)
        variables.append(CodedVariable(str(a.variable), name, None, codes, labels=labels, ignore_case=ignore))
    if not spec.items:
        raise fail("'items' must map item codes to their variables", "items")
    for item_code, it in spec.items.items():
        codes, labels, ignore = mapping("items", str(item_code), it, required=True)
        variables.append(
            CodedVariable(str(it.variable), "item", str(item_code), codes, it.blank, it.label_lv, it.label_en,
                          it.scale, labels=labels, ignore_case=ignore)
        )
    row_rule = _row_rule(path, spec.row_status, lines, spec_ignore) if spec.row_status is not None else None
    planned = None
    if spec.coverage is not None and spec.coverage.municipalities is not None:
        planned = tuple(sorted({normalise_code(str(m)) for m in spec.coverage.municipalities}))
        if not planned:
            raise fail("coverage.municipalities names the municipalities the fieldwork covered", "coverage")
    kept = tuple(CodedVariable(str(k.variable), "kept", str(name), label_lv=k.label_lv, label_en=k.label_en)
                 for name, k in spec.kept_attributes.items())
    names = [v.variable for v in variables + list(kept)] + ([row_rule.variable] if row_rule else [])
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(path, "a source variable is mapped twice", value=dupes)
    delivery = spec.delivery.model_dump(exclude_none=True)
    return Codebook(
        path=path,
        wave=spec.wave,
        scope=spec.scope,
        delivery=delivery,
        boundary_set=spec.boundary_set,
        age_range=(spec.age_range[0], spec.age_range[1]),
        respondent_id=str(spec.respondent_id),
        weight=str(spec.weight) if spec.weight is not None else None,
        variables=tuple(variables),
        title_lv=spec.title_lv,
        title_en=spec.title_en,
        fieldwork=(spec.fieldwork.start, spec.fieldwork.end) if spec.fieldwork else None,
        expected_respondents=(expected.min, expected.max),
        strict_columns=spec.strict_columns,
        kept=kept,
        row_rule=row_rule,
        planned_municipalities=planned,
    )


def codebook_for_wave(wave: int, directory: Path | None = None) -> Codebook:
    """The codebook of a wave: <dir>/wave_<year>.yml, dir = TRUST_CODEBOOK_DIR or ingest/codebooks."""
    return load_codebook((directory or codebook_dir()) / f"wave_{wave}.yml")


def codebook_for_delivery(wave_dir: Path) -> Codebook:
    """The codebook for a delivered wave folder ``survey/<wave>/``: one delivered with the file
    (``wave_<year>.yml`` in the folder) or else the versioned one in the codebook directory."""
    wave_dir = Path(wave_dir)
    delivered = wave_dir / f"wave_{wave_dir.name}.yml"
    problem = entry_problem(delivered)
    if problem:  # a link (or pipe, device...) named like a codebook is never read through
        raise not_a_file(delivered, problem)
    return codebook_for_wave(int(wave_dir.name), wave_dir if delivered.exists() else None)
