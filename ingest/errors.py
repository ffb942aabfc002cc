"""Errors that say which file, which place in it, and which value went wrong."""
from __future__ import annotations

import re
from pathlib import Path

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
    """A delivered file cannot be loaded. Nothing of the file reaches the warehouse."""

    def __init__(
        self,
        file: str | Path,
        problem: str,
        *,
        row: int | str | None = None,
        column: str | None = None,
        value: object = None,
        sheet: str | None = None,
    ):
        self.file = str(file)
        self.problem = problem
        self.row = row
        self.column = column
        self.value = value
        self.sheet = sheet
        super().__init__(self.describe())

    def describe(self) -> str:
        where = [f"file {self.file}"]
        if self.sheet is not None:
            where.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = ", ".join(where) + f": {self.problem}"
        if self.value is not None:
            text += f" (value: {self.value!r})"
        return text
