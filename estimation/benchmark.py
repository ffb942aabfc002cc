"""Small-area benchmark: error of direct vs Fay-Herriot estimates of municipal trust against the
generator's true municipal rates (sample_truth.json), per wave.

    python -m estimation.benchmark [--data-dir DIR]      (after `make run`)
"""
from __future__ import annotations

import argparse
import json

import duckdb
import numpy as np

from ingest.settings import resolve_paths


def benchmark(warehouse, truth: dict) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        sa = con.execute(
            """select wave_year, municipality_code, n_unweighted, direct_estimate, modelled_estimate, modelled_mse
               from intermediate.int_trust_small_area"""
        ).df()
    rows = []
    for wave, g in sa.groupby("wave_year"):
        true = truth["survey"][str(wave)].get("true_trust_top2_by_municipality")
        if not true:
            continue
        t = g["municipality_code"].map(true).to_numpy()
        d = g["direct_estimate"].notna().to_numpy()
        err_direct = g["direct_estimate"].to_numpy()[d] - t[d]
        err_fh = g["modelled_estimate"].to_numpy() - t
        half = 1.959963984540054 * np.sqrt(g["modelled_mse"].to_numpy())
        rows.append({
            "wave": int(wave),
            "municipalities": int(len(g)),
            "with_direct": int(d.sum()),
            "median_n": float(np.median(g["n_unweighted"])),
            "rmse_direct": float(np.sqrt(np.mean(err_direct ** 2))),
            "rmse_fh_same_areas": float(np.sqrt(np.mean(err_fh[d] ** 2))),
            "rmse_fh_all": float(np.sqrt(np.mean(err_fh ** 2))),
            "fh_ci95_coverage": float(np.mean(np.abs(err_fh) <= half)),
        })
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    paths = resolve_paths(args.data_dir)
    truth = json.loads((paths.data_dir / "sample_truth.json").read_text(encoding="utf-8"))
    rows = benchmark(paths.warehouse_path, truth)
    print("| wave | municipalities | with direct | median n | RMSE direct | RMSE FH (same) | RMSE FH (all) | FH 95 % coverage |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['wave']} | {r['municipalities']} | {r['with_direct']} | {r['median_n']:.0f} | {r['rmse_direct']:.3f} "
              f"| {r['rmse_fh_same_areas']:.3f} | {r['rmse_fh_all']:.3f} | {r['fh_ci95_coverage']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
