"""Small-area benchmark: direct, synthetic and Fay-Herriot estimates of municipal trust against the
generator's true municipal rates.

    python -m estimation.benchmark --replicates 100 [--seed S] [--data-dir DIR] [--json FILE]
    python -m estimation.benchmark --replicates 0      (only the bundled sample, as built)

Needs a built warehouse (`make run`): it reads the provision covariates, the municipalities and
the reference population from it. Replicates: every wave 2022-2028 is drawn again from the
generator's truth by the same design (ingest/sample/survey_generic.py: draw_harmonised, the
firm's weights, or raking as int_survey__weights does for a wave without weights), the direct
estimates are computed per current municipality as int_indicator_cells does (weighted share incl.
"hard to say", refusals out, Kish n_eff), and the model is estimation/small_area.estimate_wave,
the same function the dbt model int_trust_small_area runs. Only the survey sample changes between
replicates; the truth (quality and area effects) and the admin covariates stay fixed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from estimation.small_area import ModelConfig, design_matrix, estimate_wave, load_config
from estimation.weighting import cell, population_targets, rake
from ingest.codebook import codebook_for_wave
from ingest.sample.quality import World
from ingest.sample.survey_generic import WAVES, _weights, draw_harmonised, municipalities, true_municipal_trust
from ingest.settings import current_boundary_set, resolve_paths

Z95 = 1.959963984540054
DEFAULT_SEED = 20260


# --- the bundled sample, as built --------------------------------------------------------------

def benchmark(warehouse, truth: dict) -> list[dict]:
    """Per wave, on the one bundled sample: the warehouse's int_trust_small_area against the truth."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        sa = con.execute(
            """select wave_year, municipality_code, n_unweighted, direct_estimate, modelled_estimate, modelled_mse,
                      synthetic_estimate, synthetic_mse, sigma2_u, sigma2_u_reml
               from intermediate.int_trust_small_area where fit_status = 'fitted'"""
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
        err_syn = g["synthetic_estimate"].to_numpy() - t
        rows.append({
            "wave": int(wave),
            "municipalities": int(len(g)),
            "with_direct": int(d.sum()),
            "median_n": float(np.median(g["n_unweighted"])),
            "sigma2_u": float(g["sigma2_u"].iloc[0]),
            "sigma2_u_reml": float(g["sigma2_u_reml"].iloc[0]),
            "rmse_direct": float(np.sqrt(np.mean(err_direct ** 2))),
            "rmse_synthetic": float(np.sqrt(np.mean(err_syn ** 2))),
            "rmse_fh_same_areas": float(np.sqrt(np.mean(err_fh[d] ** 2))),
            "rmse_fh_all": float(np.sqrt(np.mean(err_fh ** 2))),
            "fh_ci95_coverage": float(np.mean(np.abs(err_fh) <= Z95 * np.sqrt(g["modelled_mse"].to_numpy()))),
            "synthetic_ci95_coverage": float(np.mean(np.abs(err_syn) <= Z95 * np.sqrt(g["synthetic_mse"].to_numpy()))),
        })
    return rows


# --- replicate samples ---------------------------------------------------------------------------

@dataclass
class Inputs:
    provision: pd.DataFrame
    municipalities: list[str]
    units: pd.DataFrame                  # dim_municipality: code, boundary set, current code, region
    targets: dict[str, dict[str, float]]  # raking targets (estimation.weighting)


def load_inputs(warehouse) -> Inputs:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        provision = con.execute("select * from marts.mart_provision_per_capita").df()
        units = con.execute(
            """select municipality_code, boundary_set, current_municipality_code, region_2009_2023
               from marts.dim_municipality""").df()
        ref = con.execute("select * from reference.ref_municipalities_2021").df()
    current = sorted(units.loc[units["boundary_set"] == current_boundary_set(), "municipality_code"].unique())
    return Inputs(provision, current, units, population_targets(ref))


def draw_wave(spec, cb, rng: np.random.Generator, inputs: Inputs, world: World) -> pd.DataFrame:
    """One replicate of a wave: respondents with their current municipality, weight and trust answer."""
    df = draw_harmonised(spec, cb, rng, world)
    units = inputs.units[inputs.units["boundary_set"] == cb.boundary_set].set_index("municipality_code")
    if cb.weight:
        w = _weights(df, municipalities(cb.boundary_set), rng)
    else:
        region = df["municipality_code"].map(units["region_2009_2023"]).to_numpy()
        w = rake(pd.DataFrame({"region_sex": cell(region, df["sex"].to_numpy()).to_numpy()}), inputs.targets).to_numpy()
    return pd.DataFrame({"municipality_code": df["municipality_code"].map(units["current_municipality_code"]).to_numpy(),
                         "w": w, "answer": df["trust_social_service"].to_numpy()})


def direct_estimates(resp: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """As int_indicator_cells for trust_top2, subgroup all: over those asked incl. "hard to say"
    (refusals out), the weighted share of "fully" + "rather" trust, n, sum w, sum w^2."""
    asked = resp[resp["answer"].isin(["1", "2", "3", "4", "hard_to_say"])].copy()
    asked["num"] = asked["answer"].isin(["1", "2"]).astype(float)
    asked["wnum"] = asked["w"] * asked["num"]
    asked["w2"] = asked["w"] ** 2
    g = asked.groupby("municipality_code")
    direct = pd.DataFrame({"n_unweighted": g.size(), "sum_w": g["w"].sum(), "sum_w2": g["w2"].sum()})
    direct["share"] = g["wnum"].sum() / direct["sum_w"]
    return direct, float(asked["wnum"].sum() / asked["w"].sum())


def truth_regression_sigma2(truth: np.ndarray, X: np.ndarray) -> float:
    """Variance of the true rates around their least-squares fit on the model's covariates: what
    sigma2_u stands for in this world (area effects plus whatever the covariates miss)."""
    beta = np.linalg.lstsq(X, truth, rcond=None)[0]
    r = truth - X @ beta
    return float(r @ r / (len(truth) - X.shape[1]))


COMPARE = ("amrl_yl", "amrl_ll", "reml")


def replicate_benchmark(inputs: Inputs, replicates: int, seed: int = DEFAULT_SEED,
                        config: ModelConfig | None = None, compare: tuple[str, ...] = COMPARE,
                        progress=None, world: World | None = None) -> tuple[list[dict], pd.DataFrame]:
    """Per wave, pooled over replicates and municipalities: the configured model (with its
    leave-one-out synthetic estimates) and, for comparison, the EBLUP/MSE of the methods in
    `compare` on the same samples. Returns the table rows and the raw per-replicate,
    per-municipality frame."""
    config = config or load_config()
    compare = tuple(m for m in compare if m != config.variance_method)
    waves = [(spec, codebook_for_wave(spec.wave)) for spec in WAVES]
    world = world or World()
    truths = {spec.wave: true_municipal_trust(spec, cb, world) for spec, cb in waves}
    frames = []
    for r in range(replicates):
        rng = np.random.default_rng([seed, r])
        for spec, cb in waves:
            direct, p_nat = direct_estimates(draw_wave(spec, cb, rng, inputs, world))
            est = estimate_wave(spec.wave, direct, p_nat, inputs.provision, inputs.municipalities, config)
            est["replicate"] = r
            est["truth"] = est["municipality_code"].map(truths[spec.wave])
            for method in compare:
                other = estimate_wave(spec.wave, direct, p_nat, inputs.provision, inputs.municipalities,
                                      dataclasses.replace(config, variance_method=method), with_synthetic=False)
                est[f"{method}_estimate"] = other["modelled_estimate"].to_numpy()
                est[f"{method}_mse"] = other["modelled_mse"].to_numpy()
            frames.append(est)
        if progress:
            progress(r + 1, replicates)
    raw = pd.concat(frames, ignore_index=True)
    rows = []
    for wave, g in raw.groupby("wave_year"):
        fitted = g[g["fit_status"] == "fitted"]
        t = fitted["truth"].to_numpy()
        d = fitted["direct_estimate"].notna().to_numpy()
        per_rep = fitted.groupby("replicate")
        year = int(fitted["covariate_year"].iloc[0])
        X = design_matrix(inputs.provision, year, inputs.municipalities, config.covariates)
        truth_vec = np.array([truths[int(wave)][c] for c in inputs.municipalities])

        def cover(est, mse):
            return float(np.mean(np.abs(est - t) <= Z95 * np.sqrt(mse)))

        row = {
            "wave": int(wave),
            "replicates": int(g["replicate"].nunique()),
            "skipped": int(g.loc[g["fit_status"] != "fitted", "replicate"].nunique()),
            "median_n": float(np.median(fitted["n_unweighted"])),
            "sigma2_u_truth": truth_regression_sigma2(truth_vec, X),
            "mean_sigma2_u": float(per_rep["sigma2_u"].first().mean()),
            "share_sigma2_u_zero": float((per_rep["sigma2_u"].first() == 0).mean()),
            "share_sigma2_u_reml_zero": float((per_rep["sigma2_u_reml"].first() == 0).mean()),
            "rmse_direct": float(np.sqrt(np.mean((fitted["direct_estimate"].to_numpy()[d] - t[d]) ** 2))),
            "rmse_synthetic": float(np.sqrt(np.mean((fitted["synthetic_estimate"].to_numpy() - t) ** 2))),
            "rmse_model": float(np.sqrt(np.mean((fitted["modelled_estimate"].to_numpy() - t) ** 2))),
            "coverage_model": cover(fitted["modelled_estimate"].to_numpy(), fitted["modelled_mse"].to_numpy()),
            "coverage_synthetic": cover(fitted["synthetic_estimate"].to_numpy(), fitted["synthetic_mse"].to_numpy()),
            "mse_ratio_model": float(fitted["modelled_mse"].mean() / np.mean((fitted["modelled_estimate"] - fitted["truth"]) ** 2)),
            "mse_ratio_synthetic": float(fitted["synthetic_mse"].mean() / np.mean((fitted["synthetic_estimate"] - fitted["truth"]) ** 2)),
        }
        for method in compare:
            row[f"rmse_{method}"] = float(np.sqrt(np.mean((fitted[f"{method}_estimate"].to_numpy() - t) ** 2)))
            row[f"coverage_{method}"] = cover(fitted[f"{method}_estimate"].to_numpy(),
                                              np.maximum(fitted[f"{method}_mse"].to_numpy(), 0.0))
        rows.append(row)
    return rows, raw


def _covered(fitted: pd.DataFrame, est: str, mse: str) -> float:
    return float(np.mean(np.abs(fitted[est] - fitted["truth"]) <= Z95 * np.sqrt(np.maximum(fitted[mse], 0.0))))


def overall(raw: pd.DataFrame) -> dict:
    """Pooled over waves: coverage of every method, and in the fits where REML puts sigma2_u at 0."""
    fitted = raw[raw["fit_status"] == "fitted"]
    zero = fitted[fitted["sigma2_u_reml"] == 0]
    out = {"coverage_model": _covered(fitted, "modelled_estimate", "modelled_mse"),
           "coverage_synthetic": _covered(fitted, "synthetic_estimate", "synthetic_mse"),
           "reml_zero_fits": int(zero.groupby(["replicate", "wave_year"]).ngroups),
           "fits": int(fitted.groupby(["replicate", "wave_year"]).ngroups)}
    if len(zero):
        out["coverage_model_where_reml_zero"] = _covered(zero, "modelled_estimate", "modelled_mse")
    for col in fitted.columns:
        if col.endswith("_estimate") and f"{col[:-9]}_mse" in fitted and col[:-9] not in ("modelled", "synthetic"):
            out[f"coverage_{col[:-9]}"] = _covered(fitted, col, f"{col[:-9]}_mse")
            if len(zero):
                out[f"coverage_{col[:-9]}_where_reml_zero"] = _covered(zero, col, f"{col[:-9]}_mse")
    return out


def markdown(rows: list[dict], totals: dict, config: ModelConfig, compare: tuple[str, ...] = COMPARE) -> str:
    compare = tuple(m for m in compare if m != config.variance_method)
    head = ("| wave | median n | sigma2_u (truth) | mean sigma2_u | REML sigma2_u = 0 | RMSE direct | RMSE synthetic "
            f"| RMSE model ({config.variance_method}) | 95 % coverage model | synthetic"
            + "".join(f" | RMSE {m} | coverage {m}" for m in compare) + " |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['wave']} | {r['median_n']:.0f} | {r['sigma2_u_truth']:.4f} | {r['mean_sigma2_u']:.4f} "
            f"| {100 * r['share_sigma2_u_reml_zero']:.0f} % | {r['rmse_direct']:.3f} | {r['rmse_synthetic']:.3f} "
            f"| {r['rmse_model']:.3f} | {r['coverage_model']:.3f} | {r['coverage_synthetic']:.3f}"
            + "".join(f" | {r[f'rmse_{m}']:.3f} | {r[f'coverage_{m}']:.3f}" for m in compare) + " |")
    lines.append(f"| all | | | | | | | | **{totals['coverage_model']:.3f}** | {totals['coverage_synthetic']:.3f}"
                 + "".join(f" | | {totals[f'coverage_{m}']:.3f}" for m in compare) + " |")
    lines.append("")
    lines.append(f"sigma2_u = 0 in {sum(r['share_sigma2_u_zero'] * r['replicates'] for r in rows):.0f} of "
                 f"{sum(r['replicates'] for r in rows)} wave fits of the model ({config.variance_method}); "
                 f"REML gives 0 in {totals['reml_zero_fits']}.")
    if "coverage_model_where_reml_zero" in totals:
        lines.append("95 % coverage in those fits: model " + f"{totals['coverage_model_where_reml_zero']:.3f}"
                     + "".join(f", {m} {totals[f'coverage_{m}_where_reml_zero']:.3f}" for m in compare) + ".")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--json", default=None, help="also write the table rows here")
    args = ap.parse_args(argv)
    paths = resolve_paths(args.data_dir)
    if not paths.warehouse_path.exists():
        print(f"no warehouse at {paths.warehouse_path}: run `make run` first", file=sys.stderr)
        return 2
    truth = json.loads((paths.data_dir / "sample_truth.json").read_text(encoding="utf-8"))
    print("The bundled sample, as built (intermediate.int_trust_small_area):\n")
    print("| wave | median n | sigma2_u | REML sigma2_u | RMSE direct | RMSE synthetic | RMSE model | 95 % coverage model | synthetic |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in benchmark(paths.warehouse_path, truth):
        print(f"| {r['wave']} | {r['median_n']:.0f} | {r['sigma2_u']:.4f} | {r['sigma2_u_reml']:.4f} | {r['rmse_direct']:.3f} "
              f"| {r['rmse_synthetic']:.3f} | {r['rmse_fh_all']:.3f} | {r['fh_ci95_coverage']:.2f} "
              f"| {r['synthetic_ci95_coverage']:.2f} |")
    if args.replicates <= 0:
        return 0
    config = load_config()
    started = time.time()

    def progress(done, total):
        if done % 10 == 0 or done == total:
            print(f"  {done}/{total} replicates, {time.time() - started:.0f} s", file=sys.stderr, flush=True)

    world = World(**{k: truth["world"][k] for k in ("seed", "trust_provision_effect")}) if "world" in truth else World()
    rows, raw = replicate_benchmark(load_inputs(paths.warehouse_path), args.replicates, args.seed, config,
                                    progress=progress, world=world)
    totals = overall(raw)
    print(f"\n{args.replicates} replicate samples (seed {args.seed}), pooled over replicates and the "
          f"{raw['municipality_code'].nunique()} municipalities:\n")
    print(markdown(rows, totals, config))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"replicates": args.replicates, "seed": args.seed, "variance_method": config.variance_method,
                       "waves": rows, "overall": totals}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
