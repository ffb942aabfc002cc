"""Command line for engineers: ``python -m orchestration.cli <command>``.

  sample   write the seeded sample deliveries into the landing folder
  run      (sample if the landing folder is empty, then) materialise the build_warehouse job
  reports  rebuild the report site from the published snapshot (Dagster job refresh_reports)
  status   what the warehouse holds: loaded files and the last validations
"""
from __future__ import annotations

import argparse
import sys
import time

from ingest.settings import resolve_paths


def _sample(force: bool) -> None:
    from ingest.sample import generate_sample

    paths = resolve_paths().ensure()
    if not force and any(paths.landing_dir.glob("*/*/*")):
        print(f"landing folder already has deliveries: {paths.landing_dir} (use --force to regenerate)")
        return
    t0 = time.monotonic()
    truth = generate_sample(paths.landing_dir)
    print(f"sample written to {paths.landing_dir} in {time.monotonic() - t0:.1f} s: "
          f"survey waves {', '.join(sorted(truth['survey']))}; {len(truth['admin']['values'])} admin extracts "
          f"(municipality-years {truth['admin']['years'][0]}-{truth['admin']['years'][-1]})")


def _run() -> int:
    from orchestration.pipeline import run_build

    _sample(force=False)
    print("running the build_warehouse job in Dagster (ingest -> quality gates -> dbt -> publish -> reports) ...",
          flush=True)
    t0 = time.monotonic()
    summary = run_build()
    print()
    print(summary.render())
    print(f"Took {time.monotonic() - t0:.0f} s. Open the Dagster UI with `make ui` to see this run.")
    return 0 if summary.success else 1


def _reports() -> int:
    from orchestration.pipeline import run_build

    if not resolve_paths().published_path.exists():
        print("no published snapshot yet: run `make run` first")
        return 1
    summary = run_build(job_name="refresh_reports")
    print(summary.render())
    return 0 if summary.success and summary.report.get("built") else 1


def _status() -> int:
    from ingest.warehouse import connect

    paths = resolve_paths()
    if not paths.warehouse_path.exists():
        print(f"no warehouse yet at {paths.warehouse_path}; run `make run`")
        return 1
    con = connect(paths.warehouse_path, read_only=True)
    print(f"Warehouse {paths.warehouse_path}")
    print(con.sql("""select source_kind, status, count(*) as files, max(loaded_at) as last_at
                     from audit.file_loads group by all order by all"""))
    tables = {r[0] for r in con.execute(
        "select table_schema || '.' || table_name from information_schema.tables").fetchall()}
    if "audit.validation_runs" in tables:
        print(con.sql("""select suite, data_ref, status, n_failed, validated_at from audit.validation_runs
                         qualify row_number() over (partition by suite, data_ref order by validated_at desc) = 1
                         order by suite, data_ref"""))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="trust", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample", help="write the seeded sample deliveries")
    s.add_argument("--force", action="store_true", help="overwrite existing deliveries")
    sub.add_parser("run", help="build the warehouse through Dagster")
    sub.add_parser("reports", help="rebuild the report site from the published snapshot")
    sub.add_parser("status", help="show loaded files and validations")
    args = ap.parse_args(argv)
    if args.command == "sample":
        _sample(args.force)
        return 0
    if args.command == "run":
        return _run()
    if args.command == "reports":
        return _reports()
    return _status()


if __name__ == "__main__":
    sys.exit(main())
