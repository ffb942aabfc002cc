"""What an attack returns and how it is scored.

Recovered (a disclosure), per kind of claim:
- a respondent count: the claimed value equals the truth exactly, for a withheld cell (any value) or,
  for a published one, a count of 1-9 respondents (a small group the bands were meant to hide);
- an effective sample size: the set of values consistent with what is published lies within +-2 of
  the truth (NCHS effective n for intervals, Kish effective n for the small-area model);
- a share: the claimed value is within the published precision (0.005) of the withheld true share;
- a group (an answer class empty or everybody): the claim is true;
- an administrative person count: the claimed value equals the withheld true value exactly;
- a column of exact counts or weight sums: at least half of its values equal the truth of their cells.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Finding:
    attack: str
    key: tuple
    what: str      # count letter, "n_eff", "share", "group", "admin", "column"
    value: object  # what the attacker claims
    note: str = ""


@dataclass
class AttackResult:
    attack: str
    snapshot: str
    claims: list = field(default_factory=list)      # every value the attacker claims to know
    hits: list = field(default_factory=list)        # the claims the truth confirms: recovered values
    checks: dict = field(default_factory=dict)      # constraint -> [n checked, n false for the truth, examples]
    failures: list = field(default_factory=list)    # solves that failed (infeasible, no candidate): never "protected"
    stats: dict = field(default_factory=dict)       # what the attack did (for the report)
    narrow: list = field(default_factory=list)      # ranges narrower than the documented protection

    def check(self, name: str, ok: bool, example=None, limit: int = 5) -> None:
        c = self.checks.setdefault(name, [0, 0, []])
        c[0] += 1
        if not ok:
            c[1] += 1
            if len(c[2]) < limit:
                c[2].append(example)

    def check_many(self, name: str, n: int, false_examples: list) -> None:
        c = self.checks.setdefault(name, [0, 0, []])
        c[0] += n
        c[1] += len(false_examples)
        c[2].extend(false_examples[: max(0, 5 - len(c[2]))])

    def false_constraints(self) -> dict:
        return {k: v for k, v in self.checks.items() if v[1]}

    def summary(self) -> str:
        checked = sum(v[0] for v in self.checks.values())
        return (f"{self.attack} on {self.snapshot}: {len(self.hits)} recovered of {len(self.claims)} claims, "
                f"{len(self.narrow)} narrow ranges, {checked} truth-constraint checks "
                f"({sum(v[1] for v in self.checks.values())} false), {len(self.failures)} failed solves; "
                + ", ".join(f"{k} {v}" for k, v in self.stats.items()))

    def report(self, limit: int = 8) -> str:
        lines = [self.summary()]
        lines += [f"  recovered: {f.key} {f.what} = {f.value} {f.note}" for f in self.hits[:limit]]
        lines += [f"  narrow: {n}" for n in self.narrow[:limit]]
        lines += [f"  false constraint {k}: {v[1]} of {v[0]}, e.g. {v[2][:3]}" for k, v in self.false_constraints().items()]
        lines += [f"  failed: {f}" for f in self.failures[:limit]]
        return "\n".join(lines)


def count_hit(claim: Finding, truth_row: dict | None, count_limit: int = 9) -> bool:
    """A claimed count is a disclosure when it is exact and either the cell was withheld or the
    count is one of 1-`count_limit` respondents."""
    if truth_row is None:
        return False
    true = truth_row[claim.what]
    withheld = claim.key[-1] == "suppressed"
    return round(float(claim.value)) == true and abs(float(claim.value) - true) < 1e-6 and (
        withheld or 1 <= true <= count_limit)
