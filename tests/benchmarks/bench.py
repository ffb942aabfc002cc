"""Benchmarks (issue 8): ``make bench`` or ``python -m tests.benchmarks.bench --scales 1 10 100 --runs 3``.

For each scale (1x, 10x, 100x the sample's respondents, every wave; the 816 admin extracts at
every scale) it:
  1. writes the scaled sample once (timed, not part of the pipeline figures);
  2. runs the full pipeline (`build_warehouse` over every year, Dagster in-process, as `make run`)
     `--runs` times from an empty warehouse, each in a fresh process: wall time per phase (from
     Dagster's step events) and in total, and the peak RSS of the largest process (the pipeline's
     Python process or its dbt subprocess);
  3. runs the plain-DuckDB reference (tests/benchmarks/reference.sql for the transformation, plain
     SQL checks and a plain copy for publishing) `--runs` times on the same raw tables;
  4. measures an incremental load: a warehouse holding every wave but 2028, then `load` of 2028
     (one partition run), against 2028's share of a full rebuild;
  5. times the report pages' queries against the published snapshot (p50 / p95 over all runs).
The table goes to stdout and, with the machine's description, to docs/benchmarks.md
(--out) and docs/benchmarks.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PHASES = ("ingest", "quality checks", "dbt build", "publish")


def phase_of(step: str) -> str | None:
    if step.startswith("load_"):
        return "ingest"
    if step == "ge_plausibility":
        return "quality checks"
    if step == "dbt_build":
        return "dbt build"
    if step.startswith("publish__"):
        return "publish"
    return None  # the report site (skipped offline) is not timed


# --- child: one pipeline run ------------------------------------------------------------------

def child(year: int | None) -> None:
    from dagster import DagsterInstance

    from orchestration.pipeline import run_build

    t0 = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        summary = run_build(instance=instance, log_level="WARNING", year=year)
    wall = time.perf_counter() - t0
    phases = {p: 0.0 for p in PHASES}
    for step, seconds in summary.step_seconds.items():
        if phase_of(step):
            phases[phase_of(step)] += seconds
    print("BENCH " + json.dumps({"success": summary.success, "run_seconds": wall, "phases": phases,
                                 "steps": summary.step_seconds}))


def scaled_codebooks(data_dir: Path, scale: int) -> Path:
    """A copy of the wave codebooks whose expected number of respondents fits the scaled sample: the
    loader refuses a file outside `expected_respondents` before parsing it (thresholds are data:
    ingest/config/survey_delivery.yml holds the default, a codebook may set its own)."""
    import yaml

    from ingest.codebook import delivery_defaults
    from ingest.settings import CODEBOOK_DIR

    target = data_dir / "codebooks"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    bounds = delivery_defaults()["expected_respondents"]
    for path in sorted(CODEBOOK_DIR.glob("wave_*.yml")):
        text = path.read_text(encoding="utf-8")
        if "expected_respondents" not in yaml.safe_load(text):
            text += f"\nexpected_respondents: {{min: {bounds['min']}, max: {bounds['max'] * scale}}}\n"
        (target / path.name).write_text(text, encoding="utf-8")
    return target


def timed_child(data_dir: Path, year: int | None = None) -> dict:
    """One pipeline run in a fresh process; wall time and the peak RSS of the largest process in
    its tree (wait4 reports the maximum over the child and its waited-for descendants, e.g. dbt)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    env.update(TRUST_DATA_DIR=str(data_dir), TRUST_REPORTS="skip", GX_ANALYTICS_ENABLED="false",
               DAGSTER_HOME=str(data_dir / "dagster_home"), TRUST_CODEBOOK_DIR=str(data_dir / "codebooks"))
    (data_dir / "dagster_home").mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "tests.benchmarks.bench", "--child"] + (["--year", str(year)] if year else [])
    log_path = data_dir / "bench_run.log"
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = log_path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in out.splitlines() if line.startswith("BENCH ")]
    if os.waitstatus_to_exitcode(status) != 0 or not lines:
        raise SystemExit(f"pipeline run failed at {data_dir}:\n{out[-4000:]}")
    result = json.loads(lines[-1][6:])
    if not result["success"]:
        raise SystemExit(f"pipeline run did not succeed at {data_dir}:\n{out[-4000:]}")
    result["process_seconds"] = wall
    result["peak_rss_gib"] = usage.ru_maxrss / 1024 / 1024  # KiB on Linux
    return result


def clean_outputs(data_dir: Path) -> None:
    for sub in ("warehouse", "published", "quality", "dagster_home"):  # keeps landing and codebooks
        shutil.rmtree(data_dir / sub, ignore_errors=True)


# --- reference --------------------------------------------------------------------------------

REFERENCE_CHECKS = [
    # the same kinds of gate as the GE suites, as plain SQL counting violations
    "select count(*) from ref_bench.indicator_cells where p < 0 or p > 1 or ci_low > p or ci_high < p",
    "select count(*) - count(distinct (indicator_code, wave_year, geo_level, geo_code, subgroup_type, subgroup_value)) "
    "from ref_bench.indicator_cells",
    "select count(*) from ref_bench.client_satisfaction "
    "where abs(share_fully + share_rather + share_rather_not + share_not_at_all + share_hard_to_say - 1) > 1e-6",
    "select count(*) from ref_bench.provision_per_capita where per_1000 < 0",
    "select count(*) from (select wave_year, n_unweighted / lag(n_unweighted) over (order by wave_year) as r "
    "from ref_bench.client_satisfaction) where r < 0.2 or r > 5",
    "select count(*) from raw.admin_table_rows where try_cast(total as double) < 0",
]


def run_reference(warehouse: Path, work: Path) -> dict:
    import duckdb

    shutil.copyfile(warehouse, work)
    sql = (Path(__file__).parent / "reference.sql").read_text(encoding="utf-8").replace(
        "{seeds}", str(REPO / "dbt_project" / "seeds"))
    con = duckdb.connect(str(work))
    t0 = time.perf_counter()
    con.execute(sql)
    t1 = time.perf_counter()
    violations = sum(con.execute(q).fetchone()[0] for q in REFERENCE_CHECKS)
    t2 = time.perf_counter()
    snap = work.with_name("reference_snapshot.duckdb")
    snap.unlink(missing_ok=True)
    con.execute(f"attach '{snap}' as snap")
    for (t,) in con.execute("select table_name from information_schema.tables where table_schema = 'ref_bench' "
                            "and table_name <> 'answers' and table_name <> 'respondents'").fetchall():
        con.execute(f"create table snap.{t} as select * from ref_bench.{t}")
    con.execute("detach snap")
    t3 = time.perf_counter()
    diff = con.execute("""select max(abs(r.top2_share - m.top2_share)) from ref_bench.client_satisfaction r
                          join intermediate.int_client_satisfaction m using (wave_year) where m.weight_source = 'delivered'
                       """).fetchone()[0]
    con.close()
    work.unlink()
    snap.unlink(missing_ok=True)
    return {"phases": {"ingest": None, "quality checks": t2 - t1, "dbt build": t1 - t0, "publish": t3 - t2},
            "total": t3 - t0, "violations": violations, "max_diff_top2_vs_mart": diff}


# --- report queries ---------------------------------------------------------------------------

def report_latency(snapshot: Path, repeats: int = 20) -> dict:
    from tests.test_reports import PAGES, SOURCES, evidence_like, page_queries

    con = evidence_like(snapshot)
    queries = {f"{p.name}:{name}": sql for p in PAGES for name, sql in page_queries(p.read_text(encoding="utf-8")).items()}
    # the source queries themselves run against the snapshot when Evidence refreshes its sources
    queries.update({f"source:{f.stem}": f.read_text(encoding="utf-8") for f in sorted(SOURCES.glob("*.sql"))})
    kinds = {"page": [], "source": []}
    per_query = {}
    for name, sql in queries.items():
        kind = "source" if name.startswith("source:") else "page"
        con.execute("use snap" if kind == "source" else "use ev")
        con.execute(sql).fetchall()  # warm-up
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            con.execute(sql).fetchall()
            ts.append((time.perf_counter() - t0) * 1000)
        per_query[name] = statistics.median(ts)
        kinds[kind] += ts
    con.close()

    def pct(xs, q):
        xs = sorted(xs)
        return xs[int(q * (len(xs) - 1))]

    page, source = kinds["page"], kinds["source"]
    return {"queries": sum(1 for n in queries if not n.startswith("source:")), "executions": len(page),
            "p50_ms": pct(page, 0.5), "p95_ms": pct(page, 0.95),
            "source_queries": sum(1 for n in queries if n.startswith("source:")),
            "source_p50_ms": pct(source, 0.5), "source_p95_ms": pct(source, 0.95),
            "slowest_query": max(per_query, key=per_query.get), "slowest_median_ms": max(per_query.values())}


# --- driver -----------------------------------------------------------------------------------

def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0) / 1024 / 1024
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def bench_scale(scale: int, runs: int, root: Path, incremental: bool, log) -> dict:
    from ingest.sample import generate_sample

    data_dir = root / f"x{scale}"
    landing = data_dir / "landing"
    out: dict = {"scale": scale}
    if not (data_dir / "sample_truth.json").exists():
        shutil.rmtree(data_dir, ignore_errors=True)
        t0 = time.perf_counter()
        truth = generate_sample(landing, scale=scale)
        out["generate_seconds"] = time.perf_counter() - t0
        log(f"[{scale}x] sample written in {out['generate_seconds']:.0f} s")
    truth = json.loads((data_dir / "sample_truth.json").read_text(encoding="utf-8"))
    scaled_codebooks(data_dir, scale)
    out["respondents"] = sum(w["n_respondents"] for w in truth["survey"].values())
    runs_out = []
    for i in range(runs):
        clean_outputs(data_dir)
        r = timed_child(data_dir)
        runs_out.append(r)
        log(f"[{scale}x] pipeline run {i + 1}/{runs}: {r['run_seconds']:.0f} s "
            f"({', '.join(f'{k} {v:.1f}' for k, v in r['phases'].items())}), peak {r['peak_rss_gib']:.2f} GiB")
    out["pipeline"] = {
        "total": med([r["run_seconds"] for r in runs_out]),
        "process_total": med([r["process_seconds"] for r in runs_out]),
        "phases": {p: med([r["phases"][p] for r in runs_out]) for p in PHASES},
        "peak_rss_gib": max(r["peak_rss_gib"] for r in runs_out),
        "runs": runs_out,
    }
    warehouse = data_dir / "warehouse" / "trust.duckdb"
    refs = [run_reference(warehouse, data_dir / "reference_work.duckdb") for _ in range(runs)]
    out["reference"] = {"phases": {p: med([r["phases"][p] for r in refs]) for p in PHASES},
                        "total": med([r["total"] for r in refs]), "violations": refs[0]["violations"],
                        "max_diff_top2_vs_mart": refs[0]["max_diff_top2_vs_mart"]}
    log(f"[{scale}x] reference: {out['reference']['total']:.1f} s")
    out["report_queries"] = report_latency(data_dir / "published" / "trust_reports.duckdb")
    log(f"[{scale}x] report queries p50 {out['report_queries']['p50_ms']:.1f} ms, "
        f"p95 {out['report_queries']['p95_ms']:.1f} ms")
    if incremental:
        out["incremental"] = incremental_wave(data_dir, truth, out["pipeline"]["total"], log, scale)
    return out


def incremental_wave(data_dir: Path, truth: dict, full_total: float, log, scale: int) -> dict:
    """Warehouse with every wave but 2028, then load 2028 as one partition run."""
    aside = data_dir / "aside_2028"
    wave_dir = data_dir / "landing" / "survey" / "2028"
    clean_outputs(data_dir)
    shutil.rmtree(aside, ignore_errors=True)
    shutil.move(str(wave_dir), aside)
    try:
        timed_child(data_dir)
    finally:
        shutil.move(str(aside), wave_dir)
    r = timed_child(data_dir, year=2028)
    share = truth["survey"]["2028"]["n_respondents"] / sum(w["n_respondents"] for w in truth["survey"].values())
    out = {"wave": 2028, "seconds": r["run_seconds"], "phases": r["phases"], "wave_share_of_respondents": share,
           "wave_share_of_full_rebuild_seconds": share * full_total}
    out["ratio"] = out["seconds"] / out["wave_share_of_full_rebuild_seconds"]
    log(f"[{scale}x] adding wave 2028: {out['seconds']:.0f} s vs its share of a full rebuild "
        f"{out['wave_share_of_full_rebuild_seconds']:.0f} s (ratio {out['ratio']:.1f})")
    return out


def fmt(x, unit="s", digits=1):
    return "n/a" if x is None else f"{x:.{digits}f} {unit}".strip()


def render(results: list[dict], meta: dict) -> str:
    commands = sorted({r.get("command", meta["command"]) for r in results})
    lines = ["# Benchmarks", "",
             "Generated by " + " and ".join(f"`{c}`" for c in commands) + f" (`make bench`), last on {meta['date']}.", "",
             f"Machine: {meta['machine']}.", "",
             f"Runs per figure: {meta['runs']} (medians; peak memory is the maximum over the runs). Phase times are "
             "Dagster's step durations; the total is the in-process run (`run_build`) without Python start-up. "
             "The reference is tests/benchmarks/reference.sql plus plain SQL checks and a plain copy "
             "(see its header for what it leaves out).", ""]
    lines += ["| scale | respondents | phase | pipeline | reference | pipeline / reference |", "|---|---|---|---|---|---|"]
    for r in results:
        p, ref = r["pipeline"], r["reference"]
        for ph in PHASES:
            a, b = p["phases"][ph], ref["phases"][ph]
            lines.append(f"| {r['scale']}x | {r['respondents']:,} | {ph} | {fmt(a)} | {fmt(b)} | "
                         f"{'n/a' if not b else f'{a / b:.1f}x'} |")
        transform = sum(p["phases"][ph] for ph in ("quality checks", "dbt build", "publish"))
        lines.append(f"| {r['scale']}x | {r['respondents']:,} | **transformation + checks + publish** | {fmt(transform)} | "
                     f"{fmt(ref['total'])} | {transform / ref['total']:.1f}x |")
        lines.append(f"| {r['scale']}x | {r['respondents']:,} | **total run** (incl. ingest) | {fmt(p['total'])} | | |")
    lines += ["", "| scale | peak memory | quality checks share of run | report page queries p50 / p95 (n) | "
              "source extracts p50 / p95 (n) | adding wave 2028 vs its share of a full rebuild |",
              "|---|---|---|---|---|---|"]
    for r in results:
        p, q, inc = r["pipeline"], r["report_queries"], r.get("incremental")
        share = p["phases"]["quality checks"] / p["total"]
        inc_text = "not measured" if not inc else (f"{inc['seconds']:.0f} s vs {inc['wave_share_of_full_rebuild_seconds']:.0f} s "
                                                   f"({inc['ratio']:.1f}x)")
        lines.append(f"| {r['scale']}x | {p['peak_rss_gib']:.2f} GiB | {share:.0%} | "
                     f"{q['p50_ms']:.1f} / {q['p95_ms']:.1f} ms ({q['queries']}) | "
                     f"{q.get('source_p50_ms', float('nan')):.1f} / {q.get('source_p95_ms', float('nan')):.1f} ms "
                     f"({q.get('source_queries', 0)}) | {inc_text} |")
    return "\n".join(lines) + "\n"


KEPT = "<!-- measured by hand: kept by make bench -->"


def write(out: Path, results: list[dict], meta: dict) -> None:
    """The generated tables; a section of the file starting with the KEPT marker (dated measurements
    made by hand, e.g. the test layers' times) is kept as it is."""
    kept = ""
    if out.exists():
        old = out.read_text(encoding="utf-8")
        if KEPT in old:
            kept = "\n" + old[old.index(KEPT):]
    out.write_text(render(results, meta) + kept, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str),
                                        encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--year", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--root", default=str(REPO / "data" / "bench"), help="where the scaled samples are written")
    ap.add_argument("--no-incremental", action="store_true")
    ap.add_argument("--latency-only", action="store_true",
                    help="re-measure only the report queries on the scales' existing snapshots")
    ap.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    args = ap.parse_args(argv)
    if args.child:
        child(args.year)
        return 0
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(f"{datetime.now():%H:%M:%S} {m}", flush=True)  # noqa: E731
    meta = {"command": "python -m tests.benchmarks.bench " + " ".join(argv or sys.argv[1:]),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": machine(), "runs": args.runs}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    earlier = {}
    if out.with_suffix(".json").exists():  # keep the other scales' figures (and say which command made them)
        old = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        earlier = {r["scale"]: r for r in old["results"] if r["scale"] not in args.scales or args.latency_only}
        for r in earlier.values():
            r.setdefault("command", old["meta"]["command"])
    if args.latency_only:
        for scale in sorted(args.scales):
            earlier[scale]["report_queries"] = report_latency(root / f"x{scale}" / "published" / "trust_reports.duckdb")
            log(f"[{scale}x] report queries re-measured: {earlier[scale]['report_queries']}")
        args.scales = []
    for scale in sorted(args.scales):
        r = bench_scale(scale, args.runs, root, not args.no_incremental, log)
        r["command"] = meta["command"]
        earlier[scale] = r
        results = [earlier[k] for k in sorted(earlier)]
        write(out, results, meta)  # after each scale, so a long run leaves figures behind
    if args.latency_only:
        write(out, [earlier[k] for k in sorted(earlier)], meta)
    print(out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
