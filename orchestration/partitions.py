"""Partitions of the ingest assets: one per delivery year (a survey wave or an admin report year).

Dynamic, because a new year appears when its files land (the landing-folder sensor adds it, and
``pipeline.run_build`` adds every delivered year before a full build). A run for one year loads
that year's files; a full build is one run over the range of all years (single-run backfill).
"""
from dagster import DynamicPartitionsDefinition

DELIVERY_YEARS = DynamicPartitionsDefinition(name="delivery_year")

WRITER_POOL = "warehouse_writer"  # every step that writes the warehouse; the instance allows one at a time
WRITER_TAGS = {"trust/warehouse": "writer"}  # runs with this tag queue behind each other (dagster.yaml)

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"



def range_tags_of(partition_keys: list[str]) -> dict[str, str]:
    """Run tags for one run over every key (dynamic partitions keep the order they were added in)."""
    return {RANGE_START: partition_keys[0], RANGE_END: partition_keys[-1]}
