"""The adversary of the disclosure control (issue 20; docs/disclosure_attacks.md).

- truth.py: what the warehouse knows (respondent facts, intermediate tables): the scorer;
- published.py: what the intruder reads (a snapshot's tables, the documentation, public reference data);
- scoring.py: what an attack returns (claims, recovered values, truth-constraint checks, failed solves);
- equal_weights.py (A1), model.py (A2), lp.py (A3), simple.py (A4-A7), intervals.py (A8), admin.py (A9);
- weak.py: weaker snapshots built from the warehouse, on which every attack must succeed;
- report.py: every attack on every snapshot as a table (`python -m tests.disclosure.report`).
"""
