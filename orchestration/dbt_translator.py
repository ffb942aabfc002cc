"""Line dbt up with the rest of the graph: sources get the ingest assets' keys (raw/<table>),
models are keyed by their schema (staging/…, marts/…) and grouped by folder; every dbt test shown as
an asset check says what it checks (its own description, or one made from its kind and arguments)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetCheckSpec, AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

# What each generic test checks, in words ({column} and {columns} filled from the test's arguments).
GENERIC_TESTS = {
    "unique": "No two rows share {column}.",
    "not_null": "{column} is never empty.",
    "accepted_values": "{column} only takes the values {values}.",
    "relationships": "Every {column} exists in {to}.",
    "unique_combination": "No two rows share the combination ({columns}): the model's key.",
    "non_negative": "{column} is never negative.",
    "share_between_0_and_1": "{column} is a share between 0 and 1.",
    "shares_sum_to_one": "The shares ({columns}) of a row add up to 1.",
    "answer_has_value_or_reason": "Every answer has a value or a missing reason, never both or neither.",
    "suppressed_cells_have_no_values": "A suppressed cell carries no number.",
}


def test_description(test: Mapping[str, Any]) -> str:
    """The test's own description; else, for a generic test, its kind and arguments in words; for a
    singular test, the first comment line of its SQL."""
    if test.get("description"):
        return str(test["description"])
    meta = test.get("test_metadata") or {}
    if meta:
        kwargs = dict(meta.get("kwargs") or {})
        kwargs.update(kwargs.pop("arguments", None) or {})
        column = kwargs.get("column_name") or "the row"
        columns = kwargs.get("columns") or []
        template = GENERIC_TESTS.get(meta.get("name"), "dbt test {name} on {column}.")
        return template.format(column=column, columns=", ".join(map(str, columns)), values=kwargs.get("values"),
                               to=kwargs.get("to"), name=meta.get("name"))
    for line in (test.get("raw_code") or "").splitlines():
        if line.strip().startswith("--"):
            return line.strip().lstrip("-").strip()
    return f"dbt test {test.get('name')}."


class TrustDbtTranslator(DagsterDbtTranslator):
    def __init__(self):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or "main"
        return AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        return dbt_resource_props.get("config", {}).get("schema") or "dbt"

    def get_asset_check_spec(self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str,
                             project) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=test_description(manifest["nodes"][unique_id]))
