"""File-name patterns from codebooks (``delivery.data_file``, ``delivery.code_list_file``).

A codebook is delivered data too, so a pattern is untrusted: it must be a plain file-name glob
(``*_dati.csv``), never a path. ``check_pattern`` says why a pattern is refused, before any file
is touched; ``matching_files`` is the one way to resolve a pattern: it lists the folder itself
and matches names with ``fnmatch``, so nothing outside the folder can ever be matched (no
``..``, no absolute paths, no symlinked directories followed, no recursive ``**``).
"""
from __future__ import annotations

import fnmatch
import re
import stat
from pathlib import Path

DRIVE = re.compile(r"^[A-Za-z]:")


def pattern_problem(pattern) -> str | None:
    """Why `pattern` is not a plain file-name glob, or None if it is one."""
    if not isinstance(pattern, str) or pattern.strip() == "":
        return "must be a file-name pattern such as \"*_dati.csv\""
    if "/" in pattern or "\\" in pattern:
        return "must be a file name pattern, not a path: no '/' or '\\'"
    if pattern in (".", "..") or ".." in pattern:
        return "must not contain '..'"
    if DRIVE.match(pattern):
        return "must not start with a drive letter"
    if pattern.startswith("~"):
        return "must not start with '~'"
    if any(ord(ch) < 32 for ch in pattern) or "\x7f" in pattern:
        return "must not contain control characters"
    return None


class UnsafePattern(ValueError):
    pass


def check_pattern(pattern, what: str = "pattern") -> str:
    problem = pattern_problem(pattern)
    if problem:
        raise UnsafePattern(f"{what} {pattern!r} {problem}")
    return pattern


def matching_files(folder: str | Path, pattern: str) -> list[Path]:
    """Regular files directly in `folder` whose name matches the plain glob `pattern` (letter case
    ignored: `*.sav` matches `DATI.SAV`), sorted.
    Raises UnsafePattern (before touching the folder) if `pattern` is not a plain file-name glob.
    Hidden files and Excel's lock files (``~$name.xlsx``) are never matched, nor is anything that is
    not a regular file of its own (a symbolic link, a hard link, a pipe, a device): the landing
    screen names those (ingest/intake.py), nothing reads them."""
    check_pattern(pattern)
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith((".", "~$")) or not fnmatch.fnmatchcase(name.casefold(), pattern.casefold()):
            continue
        try:
            st = entry.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            continue  # links, pipes, devices, second names of a file: never matched (ingest/intake.py)
        found.append(entry)
    return sorted(found)
