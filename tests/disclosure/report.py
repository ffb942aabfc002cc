"""Every attack on the published snapshot and on the weak snapshots, as a table (the figures of
docs/disclosure_attacks.md):

    .venv/bin/python -m tests.disclosure.report [--snapshot PATH] [--warehouse PATH] [--skip-slow]

--skip-slow leaves out A2 and A3 on the protected snapshot (minutes each)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import admin, equal_weights, intervals, lp, model, simple, weak
from .published import load_published, rules
from .truth import load_truth


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshot", default="data/published/trust_reports.duckdb")
    ap.add_argument("--warehouse", default="data/warehouse/trust.duckdb")
    ap.add_argument("--skip-slow", action="store_true")
    a = ap.parse_args()
    r = rules()
    truth = load_truth(Path(a.warehouse))
    pub = load_published(Path(a.snapshot))
    wh = weak.read_warehouse(Path(a.warehouse))
    w0, w1 = weak.unprotected(Path(a.warehouse), pub, wh), weak.primary_only(Path(a.warehouse), pub, wh)
    count_r, share_r, full_n = r["protection_min_count_range"], r["protection_min_share_range"], r["full_measures_min_n"]
    runs = [
        ("A1", pub, lambda s: equal_weights.attack_equal_weights(s, truth, r)),
        ("A1", w0, lambda s: equal_weights.attack_equal_weights(s, truth, r)),
        ("A1", w1, lambda s: equal_weights.attack_equal_weights(s, truth, r)),
        ("A2", w1, lambda s: model.attack_model_error(s, truth, wh)),
        ("A3", w1, lambda s: lp.lp_count_ranges(s, truth, count_r, stop_after=10 ** 6)),
        ("A3", w1, lambda s: lp.lp_share_ranges(s, truth, share_r, min_n=r["min_unweighted_n"], stop_after=10 ** 6)),
        ("A4", pub, lambda s: simple.attack_differencing(s, truth)),
        ("A4", w0, lambda s: simple.attack_differencing(s, truth)),
        ("A5", pub, lambda s: simple.attack_group(s, truth)),
        ("A5", w0, lambda s: simple.attack_group(s, truth)),
        ("A6", pub, lambda s: simple.attack_siblings(s, truth, r)),
        ("A6", w1, lambda s: simple.attack_siblings(s, truth, r)),
        ("A7", pub, lambda s: simple.attack_exact_counts(s, truth)),
        ("A7", w0, lambda s: simple.attack_exact_counts(s, truth)),
        ("A8", pub, lambda s: intervals.attack_interval_inversion(s, truth)),
        ("A8", w0, lambda s: intervals.attack_interval_inversion(s, truth, measures=["share_incl_hard_to_say"],
                                                                 max_band_high=99, refine_narrow=False)),
        ("A9", pub, lambda s: admin.attack_admin_differencing(s, truth, int(r["admin_min_person_count"]))),
        ("A9", w1, lambda s: admin.attack_admin_differencing(s, truth, int(r["admin_min_person_count"]))),
    ]
    if not a.skip_slow:
        runs += [("A2", pub, lambda s: model.attack_model_error(s, truth, wh)),
                 ("A3", pub, lambda s: lp.lp_count_ranges(s, truth, count_r, four_from=full_n, stop_after=10 ** 6)),
                 ("A3", pub, lambda s: lp.lp_share_ranges(s, truth, share_r, four_from=full_n,
                                                          min_n=r["min_unweighted_n"], stop_after=10 ** 6))]
    print("| attack | snapshot | claims | recovered | narrow ranges | truth checks (false) | failed solves | s |")
    print("|---|---|---|---|---|---|---|---|")
    details = []
    for name, snap, fn in runs:
        t0 = time.time()
        res = fn(snap)
        checks = sum(v[0] for v in res.checks.values())
        false = sum(v[1] for v in res.checks.values())
        print(f"| {res.attack} | {snap.name} | {len(res.claims)} | {len(res.hits)} | {len(res.narrow)} | "
              f"{checks} ({false}) | {len(res.failures)} | {time.time() - t0:.0f} |", flush=True)
        details.append(res.report(3))
    print()
    print("\n\n".join(details))


if __name__ == "__main__":
    main()
