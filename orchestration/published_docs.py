"""The reference of every published table and column (docs/published_tables.md), generated from the
dbt YAML of the marts marked `meta.publish: true`, so the analysts' guide cannot drift from the
models: `python -m orchestration.published_docs` writes it, a test checks it is current.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARTS = ROOT / "dbt_project" / "models" / "marts"
OUT = ROOT / "docs" / "published_tables.md"


def published_specs() -> list[dict]:
    specs = []
    for path in sorted(MARTS.glob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            config = model.get("config") or {}
            meta = config.get("meta") or {}
            if meta.get("publish") is True:
                model["_exclude"] = set(meta.get("publish_exclude") or [])
                specs.append(model)
    return specs


def _cell(text) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def render() -> str:
    lines = [
        "# Published tables and columns",
        "",
        "Generated from the dbt YAML of the published marts by `python -m orchestration.published_docs`",
        "(do not edit by hand; `tests/test_analyst_guide.py` checks that it is current). The same",
        "descriptions are in the snapshot itself: `select table_name, column_name, comment from",
        "duckdb_columns()`. How to query them: [analysts.md](analysts.md).",
        "",
    ]
    for model in published_specs():
        lines += [f"## `{model['name']}`", "", _cell(model.get("description")), "",
                  "| column | type | description (English / Latvian) |", "|---|---|---|"]
        for column in model.get("columns", []):
            if column["name"] in model["_exclude"]:
                continue
            lines.append(f"| `{column['name']}` | {column.get('data_type', '')} | {_cell(column.get('description'))} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
