"""Dagster wiring of the warehouse: one Definitions in ``definitions.py``."""
