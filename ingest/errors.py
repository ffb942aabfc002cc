"""Errors that say which file, which place in it, and which value went wrong.

Places are given as the file shows them: the line of a CSV or YAML file, the row of a sheet or
the case number of an SPSS file, the respondent's id for survey rows, and for workbooks the cell
as Excel writes it (``'Dienas aprūpes centri'!A2``). Values are shown as written in the file:
``5`` (not ``np.float64(5.0)``), ``'daudz'``, ``empty`` for an empty cell.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

_UNSET = object()


def plain(value):
    """A delivered value as a plain Python value: numpy scalars unwrapped, whole floats as ints,
    NaN and empty strings as None (an empty cell)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy scalar -> Python
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return int(value)
        return value
    if isinstance(value, str) and value.strip() == "":
        return None
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def shown(value) -> str:
    """How a value appears in a message."""
    value = plain(value)
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return ", ".join(shown(v) if not isinstance(v, str) else v for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {shown(v)}" for k, v in value.items())
    return repr(str(value))


def printable(text) -> str:
    """A name as it may be printed: every character that is not printable (line breaks, tabs, other
    control characters, bidirectional overrides, line and paragraph separators) written as Python
    writes it in a repr (``\\n``, ``\\x1b``, ``\\u202e``); everything else as it is (Latvian letters,
    quotes, spaces). A delivered name cannot start a line of its own or hide what follows it."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def cell_name(sheet: str | None, row: int | None, column: str | None) -> str:
    """``'Sheet name'!D10`` as Excel writes a reference."""
    ref = f"{column or ''}{row or ''}"
    if sheet is None:
        return ref
    return f"'{sheet.replace(chr(39), chr(39) * 2)}'!{ref}"


# What may be published about a rejected file: its problem in words. Whatever could be a delivered
# value, name or a machine path is masked: quoted text, file names, paths and numbers (years kept).
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|«[^»]*»")
_PATHLIKE = re.compile(r"(?:[A-Za-z]:)?[\\/][^\s,;)]+|\S+\.(?:sav|csv|xlsx?|ya?ml|txt|json|zip)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?![\w.])")
_YEAR = re.compile(r"^(?:19|20)\d\d$")


def public_text(problem: str) -> str:
    """The problem of an IngestError as it may appear in published output."""
    text = _QUOTED.sub("…", str(problem))
    text = _PATHLIKE.sub("…", text)
    text = _NUMBER.sub(lambda m: m.group(0) if _YEAR.match(m.group(0)) else "#", text)
    return re.sub(r"\s+", " ", text).strip()


class IngestError(Exception):
    """A delivered file cannot be loaded. Nothing of the file reaches the warehouse.

    `row` is the place in the file as its reader shows it (`row_word`: "line" for CSV and YAML
    files, "row" for sheets, "case" for SPSS); `respondent` the survey respondent's id on that row;
    `column` the column (a letter for workbooks) or, for YAML, the key."""

    def __init__(
        self,
        file: str | Path,
        problem: str,
        *,
        row: int | str | None = None,
        column: str | None = None,
        value: object = _UNSET,
        sheet: str | None = None,
        respondent: object = None,
        row_word: str = "row",
        column_word: str = "column",
        note: str | None = None,
    ):
        self.file = str(file)
        self.problem = problem
        self.row = row
        self.column = column
        self.value_given = value is not _UNSET
        self.value = plain(value) if self.value_given else None
        self.sheet = sheet
        self.respondent = plain(respondent)
        self.row_word = row_word
        self.column_word = column_word
        self.note = note  # what the engineer can do about it, said after the value
        super().__init__(self.describe())

    def _where(self, public: bool) -> list[str]:
        where = [f"file {printable(Path(self.file).name if public else self.file)}"]
        if self.sheet is not None and self.row is not None and self.column is not None and \
                str(self.column).isalpha():
            where.append(f"cell {cell_name(self.sheet, self.row, self.column)}")
            return where
        if self.sheet is not None:
            where.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            text = f"{self.row_word} {self.row}"
            if self.respondent is not None and not public:
                text += f" (respondent {shown(self.respondent).strip(chr(39))})"
            where.append(text)
        if self.column is not None:
            where.append(f"{self.column_word} {self.column!r}")
        return where

    def relocated(self, files: dict[str, str]) -> "IngestError":
        """The same error naming the delivered file instead of the copy that was read (the archived
        copy of a file is what the loader parses; messages name the file as it was delivered)."""
        if self.file in files:
            self.file = files[self.file]
            self.args = (self.describe(),)
        return self

    def describe(self) -> str:
        text = ", ".join(self._where(public=False)) + f": {self.problem}"
        if self.value_given:
            text += f" (value: {shown(self.value)})"
        if self.note:
            text += f". {self.note}"
        return text

    def describe_public(self) -> str:
        """The same without the delivered value, the respondent's id or a machine path: what a
        published page may say about a rejected file."""
        return ", ".join(self._where(public=True)) + f": {self.problem}"


class Quarantine(IngestError):
    """A delivered file refused BEFORE it was parsed: over a resource limit (ingest/config/limits.yml)
    or not a regular file (a link, a device, a pipe). It is quarantined, not rejected: recorded in
    audit.file_loads with its reason, held until a corrected delivery comes, and the run goes on
    with the other deliveries."""

    kind = "quarantined before reading"


class OverLimit(Quarantine):
    kind = "over a resource limit"


class NotAFile(Quarantine):
    kind = "not a regular file"


class Incomplete(Quarantine):
    """A wave whose delivery does not cover its fieldwork plan (a region without respondents: a part not
    delivered yet). Read and checked, but held: quarantined, not loaded, so that nothing is published for
    it as national; the complete delivery (its missing part) is loaded when it comes."""

    kind = "incomplete"
