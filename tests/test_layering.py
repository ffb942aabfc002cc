"""Model layering (docs/architecture.md, "A run, layer by layer"): staging reads sources, intermediate reads staging,
seeds and intermediate - never a mart. A mart is what analysts and the snapshot read; a model that
builds on one would tie the intermediate layer to a published contract and to its own consumers."""
from __future__ import annotations

import re
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models"
REF = re.compile(r"""ref\(\s*['"]([a-z0-9_]+)['"]\s*\)""")


def refs_of(path: Path) -> set[str]:
    return set(REF.findall(path.read_text(encoding="utf-8")))


def test_intermediate_and_staging_models_never_read_a_mart():
    marts = {p.stem for p in (MODELS / "marts").rglob("*") if p.suffix in (".sql", ".py")}
    assert {"fct_respondent", "dim_item_wave", "mart_indicator_estimates"} <= marts
    offenders = {f"{p.relative_to(MODELS)} -> {r}"
                 for layer in ("staging", "intermediate")
                 for p in (MODELS / layer).rglob("*") if p.suffix in (".sql", ".py")
                 for r in refs_of(p) & marts}
    assert not offenders, sorted(offenders)
