"""Errors that say which file, which place in it, and which value went wrong."""
from __future__ import annotations

from pathlib import Path


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
