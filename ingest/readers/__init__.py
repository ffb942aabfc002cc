"""Readers for delivered files: SPSS survey waves and LM's admin data tables."""
