"""Numbers as delivered: the one parser every reader calls (survey files, LM tables).

`parse_number(value, fmt)` reads one delivered value; `parse_numbers(values, fmt)` reads a column
with the same function (values that are numbers already, or plain digits, take a vectorised path
that gives the same result). A `NumberFormat` says what a delivery writes: its decimal mark,
whether a point is a decimal mark too, whether exponents and `inf` are numbers, and the unit of
the value, which bounds its decimals (ingest/config/numbers.yml).

What comes back is (number, problem): a number, or None for an empty cell, or a problem in words.
A value whose unit has at most two decimals and which is written with one separator followed by
exactly three digits ("199,013" EUR, "1.297" persons) is AMBIGUOUS: refused, not guessed.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ingest.settings import CONFIG_DIR

NUMBERS_FILE = CONFIG_DIR / "numbers.yml"
SPACES = dict.fromkeys(map(ord, " \u00a0\u2007\u2009\u202f\t"), None)  # thousands groups, odd spaces
PLAIN = re.compile(r"^[+-]?\d+(\.\d+)?$")
AMBIGUOUS = re.compile(r"^[+-]?\d+[.,]\d{3}$")  # one separator and exactly three digits after it
DIGITS = r"-?\d+"  # what the vectorised path takes (the same result as parse_number)


@functools.lru_cache(maxsize=1)
def _config() -> dict:
    from ingest.safe_yaml import load_trusted_yaml

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
    decimal: str = "."              # the delivery's decimal mark
    point_is_decimal: bool = True   # a point is a decimal mark too (LM tables: "2,5" and "2.5")
    exponent_and_inf: bool = False  # "1e3", "inf" are numbers (survey files read by pandas so far)
    unit: str | None = None         # bounds the decimals (numbers.yml units)

    @property
    def max_decimals(self) -> int | None:
        return unit_decimals(self.unit)


def _ambiguity(text: str, fmt: NumberFormat) -> str | None:
    decimals = fmt.max_decimals
    if decimals is None or decimals > 2 or not AMBIGUOUS.match(text):
        return None
    sep = "," if "," in text else "."
    whole, frac = text.lstrip("+-").split(sep)
    most = "no decimals" if decimals == 0 else f"at most {decimals} decimals"
    return (f"ambiguous number: {whole} {frac} ('{sep}' as a thousands separator) or {whole}.{frac} ('{sep}' as a "
            f"decimal mark)? A value in {fmt.unit} has {most}; write thousands with a space ('{whole} {frac}') "
            "(ingest/config/numbers.yml)")


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
            problem = _ambiguity(repr(value), fmt)  # a typed 199.013 in a euro column reads as "199.013"
            if problem:
                return None, problem
        return value, None
    text = str(value).strip()
    if text == "":
        return None, None
    compact = text.translate(SPACES)
    problem = _ambiguity(compact, fmt)
    if problem:
        return None, problem
    cleaned = compact.replace(fmt.decimal, ".") if fmt.decimal != "." else compact
    if not fmt.point_is_decimal and fmt.decimal != "." and "." in compact:
        return None, "not a number"
    if PLAIN.match(cleaned):
        return float(cleaned), None
    if fmt.exponent_and_inf and "_" not in cleaned:
        try:
            number = float(cleaned)
        except ValueError:
            return None, "not a number"
        return (None, "not a number") if math.isnan(number) else (number, None)
    return None, "not a number"


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
