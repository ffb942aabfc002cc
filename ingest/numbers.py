"""Numbers as delivered: the one parser every reader calls (survey files, LM tables, code lists).

`parse_number(value, fmt)` reads one delivered value; `parse_numbers(values, fmt)` reads a column
with the same function (values that are numbers already, or plain digits, take a vectorised path
that gives the same result). A `NumberFormat` says what a delivery writes: its decimal mark (the
codebook's `delivery.decimal`, "." by default; LM tables ","), whether exponents and `inf` are
numbers, and the unit of the value, which bounds its decimals (ingest/config/numbers.yml).

The rule, the same for an Excel text cell, a CSV field and an SPSS string:
- leading and trailing spaces do not matter; thousands may be grouped with spaces (also no-break,
  thin, narrow no-break and figure spaces): "1 012", "61 230,50", but every group after the first
  has three digits ("1 2" is not a number);
- the delivery's decimal mark D is a decimal mark. The other mark O ("," where D is ".", and the
  other way round) is read as what it can only be: thousands where it groups three digits before D
  ("1.234,5" with D = ","; "1,234.5" with D = "."), or more than once ("1,234,567"); a decimal
  mark where it is the only separator and does not stand before exactly three digits ("1,1217"
  with D = ".", "2.5" with D = ",");
- AMBIGUOUS, refused with the value as written: O alone before exactly three digits ("1,234" with
  D = ".": 1234 or 1.234?), both marks in an order the delivery's mark contradicts ("1.234,5" where
  D = "."), and, where the value's unit has at most two decimals, one separator before exactly
  three digits ("199,013" EUR, "1.297" persons: the euro case of issue 19).

What comes back is (number, problem): a number, or None for an empty cell, or a problem in words.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ingest.safe_yaml import load_trusted_yaml
from ingest.settings import CONFIG_DIR

NUMBERS_FILE = CONFIG_DIR / "numbers.yml"
SPACE_CHARS = " \u00a0\u2007\u2009\u202f"  # a space, no-break, figure, thin, narrow no-break space
SPACES = dict.fromkeys(map(ord, SPACE_CHARS), None)
STRIP = SPACE_CHARS + "\t\r\n"
GROUPED = re.compile(r"^\d{1,3}(?:[" + SPACE_CHARS + r"]\d{3})+$")  # an integer part grouped by spaces
MARKED = re.compile(r"^\d{1,3}(?:(?P<sep>[.,])\d{3})+$")  # an integer part grouped by one mark
DIGITS = r"-?\d+"  # what the vectorised path takes (the same result as parse_number)
MARKS = (".", ",")


@functools.lru_cache(maxsize=1)
def _config() -> dict:
    return load_trusted_yaml(NUMBERS_FILE)


def unit_decimals(unit: str | None) -> int | None:
    """The most decimals a value of `unit` can have (None: any, or no unit)."""
    if unit is None:
        return None
    units = _config()["units"]
    if unit not in units:
        raise ValueError(f"unit {unit!r} is not in ingest/config/numbers.yml (units: {', '.join(units)})")
    return units[unit]


def admin_column_unit(column: str, row_unit: str | None) -> str | None:
    return _config()["admin_columns"].get(column, row_unit)


@dataclass(frozen=True)
class NumberFormat:
    decimal: str = "."              # the delivery's decimal mark: "." or ","
    exponent_and_inf: bool = False  # "1e3", "inf" are numbers (survey files read by pandas so far)
    unit: str | None = None         # bounds the decimals (numbers.yml units)

    def __post_init__(self):
        if self.decimal not in MARKS:
            raise ValueError(f"a decimal mark is '.' or ',', not {self.decimal!r}")

    @property
    def max_decimals(self) -> int | None:
        return unit_decimals(self.unit)

    @property
    def other(self) -> str:
        return "," if self.decimal == "." else "."


def _unit_ambiguity(whole: str, frac: str, sep: str, fmt: NumberFormat) -> str | None:
    """One separator before exactly three digits, in a unit with at most two decimals."""
    decimals = fmt.max_decimals
    if decimals is None or decimals > 2 or len(frac) != 3 or not whole.isdigit():
        return None
    most = "no decimals" if decimals == 0 else f"at most {decimals} decimals"
    return (f"ambiguous number: {whole} {frac} ('{sep}' as a thousands separator) or {whole}.{frac} ('{sep}' as a "
            f"decimal mark)? A value in {fmt.unit} has {most}; write thousands with a space ('{whole} {frac}') "
            "(ingest/config/numbers.yml)")


def _mark_ambiguity(fmt: NumberFormat, why: str) -> str:
    return (f"ambiguous number: {why}; this delivery's decimal mark is '{fmt.decimal}' (delivery.decimal in its "
            "codebook). Write thousands with a space and decimals with the decimal mark, or declare the file's "
            "decimal mark in the codebook")


def _integer_part(whole: str) -> str | None:
    """The digits of an integer part: plain, grouped by spaces, or None if it is not one."""
    if whole.isdigit():
        return whole
    if GROUPED.match(whole):
        return whole.translate(SPACES)
    return None


def _read_text(text: str, fmt: NumberFormat) -> tuple[float | None, str | None]:
    sign = ""
    if text[:1] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:]
    d, o = fmt.decimal, fmt.other
    nd, no = text.count(d), text.count(o)
    if nd > 1:
        return None, f"not a number: the decimal mark '{d}' appears {nd} times"
    if nd == 1:
        whole, frac = text.split(d)
        if o in frac:  # "1.234,5" where the decimal mark is '.'
            return None, _mark_ambiguity(fmt, f"'{o}' stands after the decimal mark '{d}' (is '{d}' a thousands "
                                              f"separator and '{o}' the decimal mark?)")
        if o in whole:  # thousands grouped by the other mark before the decimal mark: "1.234,5" where it is ','
            if not MARKED.match(whole):
                return None, "not a number"
            digits = whole.replace(o, "")
        else:
            digits = _integer_part(whole) if whole else "0"
        if digits is None or not frac.isdigit():
            return None, "not a number"
        problem = _unit_ambiguity(whole, frac, d, fmt)
        if problem:
            return None, problem
        return float(f"{sign}{digits}.{frac}"), None
    if no == 0:
        digits = _integer_part(text)
        return (float(sign + digits), None) if digits else (None, "not a number")
    if no > 1:  # the other mark only, several times: thousands ("1,234,567" where '.' is the decimal mark)
        return (float(sign + text.replace(o, "")), None) if MARKED.match(text) else (None, "not a number")
    whole, frac = text.split(o)
    digits = _integer_part(whole) if whole else "0"
    if digits is None or not frac.isdigit():
        return None, "not a number"
    problem = _unit_ambiguity(whole, frac, o, fmt)
    if problem:
        return None, problem
    if len(frac) == 3 and whole.isdigit() and 1 <= len(whole) <= 3 and not whole.startswith("0"):
        return None, _mark_ambiguity(fmt, f"{whole}{o}{frac} is {whole}{frac} with '{o}' as a thousands separator "
                                          f"or {whole}.{frac} with '{o}' as a decimal mark")
    return float(f"{sign}{digits}.{frac}"), None  # it cannot group thousands here, so it is the decimal mark


def parse_number(value, fmt: NumberFormat = NumberFormat()) -> tuple[float | None, str | None]:
    """(number, None), (None, None) for an empty value, or (None, problem)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, "not a number"
    if isinstance(value, (int, np.integer)):
        return float(value), None
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return None, None
        if fmt.max_decimals is not None and math.isfinite(value) and not value.is_integer():
            whole, _, frac = repr(value).partition(".")  # a typed 199.013 in a euro column reads as "199.013"
            problem = _unit_ambiguity(whole.lstrip("-"), frac, ".", fmt) if "e" not in frac else None
            if problem:
                return None, problem
        return value, None
    text = str(value).strip(STRIP)
    if text == "":
        return None, None
    if fmt.exponent_and_inf:
        lowered = text.lower().lstrip("+-")
        if lowered in ("inf", "infinity"):
            return (float("-inf") if text.startswith("-") else float("inf")), None
        if re.fullmatch(r"[+-]?\d+(?:[.,]\d+)?e[+-]?\d+", text.lower()):
            return float(text.lower().replace(",", ".")), None
    return _read_text(text, fmt)


def parse_numbers(values: pd.Series, fmt: NumberFormat = NumberFormat()) -> tuple[pd.Series, pd.Series]:
    """A column of delivered values: (numbers, NaN where empty or refused; problems, None where fine)."""
    if pd.api.types.is_bool_dtype(values):
        return (pd.Series(np.nan, index=values.index, dtype="float64"),
                pd.Series("not a number", index=values.index, dtype=object))
    if pd.api.types.is_integer_dtype(values) or (pd.api.types.is_float_dtype(values) and fmt.max_decimals is None):
        return values.astype("float64"), pd.Series([None] * len(values), index=values.index, dtype=object)
    if pd.api.types.is_float_dtype(values):  # typed numbers: only those with decimals can be ambiguous
        numbers = values.astype("float64").copy()
        problems = pd.Series([None] * len(values), index=values.index, dtype=object)
        arr = numbers.to_numpy()
        with np.errstate(invalid="ignore"):
            fractional = np.isfinite(arr) & (arr != np.floor(arr))
        for i in np.flatnonzero(fractional):
            n, problem = parse_number(float(arr[i]), fmt)
            if problem:
                numbers.iloc[i], problems.iloc[i] = np.nan, problem
        return numbers, problems
    obj = values.astype(object)
    numbers = pd.Series(np.nan, index=values.index, dtype="float64")
    problems = pd.Series([None] * len(values), index=values.index, dtype=object)
    text = obj.map(lambda v: v if isinstance(v, str) else None)
    plain = text.notna() & text.str.fullmatch(DIGITS).fillna(False).astype(bool)
    if plain.any():
        numbers[plain] = text[plain].astype("float64")
    rest = obj[~plain]
    if len(rest):
        parsed = {}
        for v in pd.unique(rest.to_numpy()):
            key = ("nan",) if isinstance(v, float) and math.isnan(v) else v
            if key not in parsed:
                parsed[key] = parse_number(None if key == ("nan",) else v, fmt)
        got = [parsed[("nan",) if isinstance(v, float) and math.isnan(v) else v] for v in rest.to_numpy()]
        numbers[~plain] = np.array([n if n is not None else np.nan for n, _ in got], dtype="float64")
        problems[~plain] = np.array([p for _, p in got], dtype=object)
    return numbers, problems


__all__ = ["NumberFormat", "parse_number", "parse_numbers", "unit_decimals", "admin_column_unit"]
