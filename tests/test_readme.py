"""The README is a short manual and the docs' links hold.

- README.md has at most 250 lines and names the two commands, `make` and `make test`.
- Every relative link of README.md and docs/*.md points at a file that exists.
- No line of README.md or docs/*.md, except docs/benchmarks.md, carries a date (2026-12-06) or a clock
  time ("at 13:12"): dated measurements belong in docs/benchmarks.md, the other pages state durations
  without dates. Scope: lines inside fenced code blocks are not checked, because example codebooks give
  their waves' fieldwork dates (`fieldwork: {from: 2024-02-05, ...}`) as data, not as a measurement;
  docs/published_tables.md is generated from the published marts' descriptions and is checked like
  every other page.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
CLOCK = re.compile(r"\bat \d{1,2}:\d\d\b")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _prose_lines(path: Path):
    """(number, line) of every line outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def test_the_readme_is_at_most_250_lines():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= 250, f"README.md has {n} lines; move detail to a page under docs/ and link it"


def test_the_readme_names_the_two_commands():
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"^make(?: test)?(?=\s|$)", text, flags=re.M)
    assert "make" in commands and "make test" in commands, "the README's two commands: `make` and `make test`"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_relative_link_points_at_a_file(page):
    broken = []
    for number, line in _prose_lines(page):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # http(s), mailto, or an anchor in the same page
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if path.exists():
                continue
            broken.append(f"{_rel(page)}:{number}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", [p for p in PAGES if p.name != "benchmarks.md"], ids=_rel)
def test_no_dates_or_clock_times_outside_the_benchmarks(page):
    dated = [f"{_rel(page)}:{number}: {line.strip()}" for number, line in _prose_lines(page)
             if DATE.search(line) or CLOCK.search(line)]
    assert not dated, "dated measurements belong in docs/benchmarks.md:\n" + "\n".join(dated)
