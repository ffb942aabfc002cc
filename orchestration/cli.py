"""Command line for engineers: ``python -m orchestration.cli <command>`` (``make help``).

  sample    write the seeded sample deliveries into the landing folder
  run       (sample if the landing folder is empty, then) build_warehouse over every delivered year
  load      put one delivered file into the landing folder and run build_warehouse for its year
  validate  dry run: read and gate one file exactly as `load` would, write nothing
  reports   rebuild the report site from the published snapshot (Dagster job refresh_reports)
  status    what is loaded, when, from which file (and its archived copy), which checks passed

`run` and `load` execute the same Dagster job the UI, the sensor and the schedule launch (runs show
in `make ui`); `validate` calls the same loader and GE suite against a throwaway in-memory warehouse.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from ingest.settings import resolve_paths


def _sample(force: bool, scale: int = 1) -> None:
    from ingest.sample import generate_sample

    paths = resolve_paths().ensure()
    if not force and any(paths.landing_dir.glob("*/*/*")):
        print(f"landing folder already has deliveries: {paths.landing_dir} (use --force to regenerate)")
        return
    t0 = time.monotonic()
    truth = generate_sample(paths.landing_dir, scale=scale)
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


def _target_folder(paths, args) -> Path:
    if args.wave is not None:
        return paths.survey_landing / str(args.wave)
    return paths.admin_landing / str(args.year)


def _dry_run(path: Path, args) -> tuple[bool, str]:
    """Load `path` into an in-memory warehouse with the real loader, then run its raw GE suite."""
    from expectations.frames import admin_frame, survey_wave_frames
    from expectations.runner import validate
    from ingest.codebook import codebook_for_wave, load_codebook
    from ingest.errors import IngestError
    from ingest.warehouse import connect, load_admin_extract, load_survey_wave

    con = connect(Path(":memory:"))
    try:
        print(f"reading {path} ...", flush=True)
        if args.wave is not None:
            cb = load_codebook(args.codebook) if args.codebook else codebook_for_wave(args.wave)
            if cb.wave != args.wave:
                raise IngestError(cb.path, f"codebook is for wave {cb.wave}, not {args.wave}", column="wave", value=cb.wave)
            result = load_survey_wave(con, path, cb)
            print(f"  parsed: {result.get('respondents')} respondents, {result['rows']} cells", flush=True)
            frames = [("raw_survey_wave", f) for f in survey_wave_frames(con)]
        else:
            result = load_admin_extract(con, path, expected_year=args.year)
            print(f"  parsed: {result['key']}, {result['rows']} indicator rows", flush=True)
            frames = [("raw_admin_extract", admin_frame(con))]
        for note in result.get("notes", []):  # columns ignored, aliases applied, rows skipped
            print(f"  note: {note}", flush=True)
        print("running the quality gate ...", flush=True)
        outcomes = [validate(suite, frame) for suite, frame in frames]
        for o in outcomes:
            print("  " + o.summary().replace("\n", "\n  "))
        ok = all(o.status == "passed" for o in outcomes)
        return ok, "would load" if ok else "would be blocked by the quality gate"
    except (IngestError, OSError, ValueError) as exc:
        print(f"  REJECTED: {exc}")
        return False, "would be rejected"
    finally:
        con.close()


def _validate(args) -> int:
    path = Path(args.file).resolve()
    ok, verdict = _dry_run(path, args)
    print(f"{path.name}: {verdict} (dry run: nothing was written)")
    return 0 if ok else 1


def _load(args) -> int:
    from ingest.archive import archive_file, archive_root
    from ingest.codebook import codebook_for_delivery
    from ingest.lock import warehouse_lock
    from ingest.warehouse import sha256_of
    from orchestration.pipeline import run_build

    paths = resolve_paths().ensure()
    src = Path(args.file).resolve()
    if not src.is_file():
        print(f"no such file: {src}")
        return 1
    with warehouse_lock(paths.warehouse_path, f"load {src.name}"):  # landing changes too, one writer at a time
        folder = _target_folder(paths, args)
        folder.mkdir(parents=True, exist_ok=True)
        if args.codebook:
            shutil.copyfile(args.codebook, folder / f"wave_{args.wave}.yml")
        if args.wave is not None:
            # A corrected re-delivery replaces the wave's file in landing; the old one stays in the archive.
            pattern = codebook_for_delivery(folder).delivery["data_file"]
            for old in folder.glob(pattern):
                if old.suffix not in {".yml", ".yaml"} and old.resolve() != src:
                    kept = archive_file(old, sha256_of(old), archive_root(paths.warehouse_path))
                    old.unlink()
                    print(f"replacing {old.name} (archived at {kept})")
        target = folder / src.name
        if target.resolve() != src:
            shutil.copyfile(src, target)
        print(f"delivered {src.name} to {folder}; running build_warehouse for {args.wave or args.year} ...", flush=True)
        t0 = time.monotonic()
        summary = run_build(year=args.wave or args.year)
        print()
        print(summary.render())
    print(f"Took {time.monotonic() - t0:.0f} s.")
    return 0 if summary.success else 1


def _status() -> int:
    from ingest.archive import archive_root
    from ingest.warehouse import connect

    paths = resolve_paths()
    if not paths.warehouse_path.exists():
        print(f"no warehouse yet at {paths.warehouse_path}; run `make run`")
        return 1
    con = connect(paths.warehouse_path, read_only=True)
    print(f"Warehouse {paths.warehouse_path}")
    print("Survey waves: the file each wave holds now")
    print(con.sql("""select w.wave, w.source_file, left(w.sha256, 12) as sha256, f.loaded_at, w.n_respondents
                     from raw.survey_waves w left join audit.file_loads f
                       on f.load_id = w.load_id order by w.wave"""))
    print(f"Archived copies: {archive_root(paths.warehouse_path)}/<sha256>/<file> (audit.file_loads.archive_path)")
    print("Admin extracts per year (current files)")
    print(con.sql("""select year, count(distinct municipality_code) as municipalities,
                            count(distinct source_file) as files, max(f.loaded_at) as last_loaded
                     from raw.admin_table_rows r left join audit.file_loads f using (load_id)
                     group by year order by year"""))
    print("Every load attempt (audit.file_loads)")
    print(con.sql("""select source_kind, status, count(*) as attempts, max(loaded_at) as last_at
                     from audit.file_loads group by all order by all"""))
    tables = {r[0] for r in con.execute(
        "select table_schema || '.' || table_name from information_schema.tables").fetchall()}
    if "audit.validation_runs" in tables:
        print("Last validation per suite and data (audit.validation_runs; Data Docs: "
          f"{paths.quality_dir / 'gx/uncommitted/data_docs/local_site/index.html'})")
    print(con.sql("""select suite, data_ref, status, n_failed, validated_at from audit.validation_runs
                         qualify row_number() over (partition by suite, data_ref order by validated_at desc) = 1
                         order by suite, data_ref"""))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="trust", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample", help="write the seeded sample deliveries")
    s.add_argument("--force", action="store_true", help="overwrite existing deliveries")
    s.add_argument("--scale", type=int, default=1, help="multiply every wave's respondents (benchmarks)")
    sub.add_parser("run", help="build the warehouse through Dagster")
    sub.add_parser("reports", help="rebuild the report site from the published snapshot")
    sub.add_parser("status", help="show loaded files and validations")
    for name, text in (("load", "deliver one file and build its year"), ("validate", "dry run: check one file, write nothing")):
        c = sub.add_parser(name, help=text)
        c.add_argument("file", help="the delivered file (.sav/.xlsx/.csv survey wave, or an LM .xlsx extract)")
        which = c.add_mutually_exclusive_group(required=True)
        which.add_argument("--wave", type=int, help="survey wave year (the codebook ingest/codebooks/wave_<year>.yml)")
        which.add_argument("--year", type=int, help="admin report year of an LM/SPOLIS extract")
        c.add_argument("--codebook", help="a codebook delivered with a new wave (copied next to the file as wave_<year>.yml)")
    args = ap.parse_args(argv)
    from ingest.lock import WarehouseBusy

    try:
        return _dispatch(args)
    except WarehouseBusy as exc:
        print(f"ERROR: {exc}")
        return 2


def _dispatch(args) -> int:
    if args.command == "load":
        return _load(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "sample":
        _sample(args.force, args.scale)
        return 0
    if args.command == "run":
        return _run()
    if args.command == "reports":
        return _reports()
    return _status()


if __name__ == "__main__":
    sys.exit(main())
