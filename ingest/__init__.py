"""Plain-Python ingest layer: readers, parsers, loaders and the sample generator.

Nothing in this package imports Dagster; ``orchestration/`` wires it.
"""
