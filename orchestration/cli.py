"""Command line for engineers: ``python -m orchestration.cli <command>`` (``make help``).

  sample    write the seeded sample deliveries into the landing folder
  run       (sample if the landing folder is empty, then) build_warehouse over every delivered year
  load      deliver one file: build its year with it; it replaces the landing file only if every gate passes
  validate  check one file with the real loader against a throwaway warehouse, write nothing
  reports   rebuild the report site from the published snapshot (Dagster job refresh_reports)
  status    what is loaded, from which file, what is held back and why, how the last runs ended

`run` and `load` execute the same Dagster job the UI, the sensor and the schedule launch (runs show
in `make ui`); `validate` calls the same loader against an in-memory warehouse.

Delivered names are data, never code: `make load` hands FILE, CODEBOOK, WITH, WAVE and YEAR over
through the environment (`--from-env`), so no shell ever parses them.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ingest import faults
from ingest.archive import archive_root
from ingest.codebook import codebook_for_delivery
from ingest.errors import IngestError, printable
from ingest.file_patterns import UnsafePattern, matching_files
from ingest.intake import copy_given, describe_given, entry_problem
from ingest.lock import WarehouseBusy
from ingest.survey.apply_codebook import label_inventory
from ingest.sample import generate_sample
from ingest.sample.quality import DEFAULT_SEED, DEFAULT_TRUST_PROVISION_EFFECT
from ingest.settings import Settings, delivery_arguments
from ingest.staging import clean_staging, new_staging_folder
from ingest.warehouse import connect, load_admin_extract, load_survey_wave, wave_folders


def _sample(settings: Settings, force: bool, scale: int = 1, seed: int | None = None,
            effect: float | None = None) -> None:
    paths = settings.paths.ensure()
    if not force and any(paths.landing_dir.glob("*/*/*")):
        print(f"landing folder already has deliveries: {paths.landing_dir} (use --force to regenerate)")
        return
    t0 = time.monotonic()
    seed = DEFAULT_SEED if seed is None else seed
    effect = DEFAULT_TRUST_PROVISION_EFFECT if effect is None else effect
    truth = generate_sample(paths.landing_dir, seed=seed, scale=scale, trust_provision_effect=effect)
    print(f"sample written to {paths.landing_dir} in {time.monotonic() - t0:.1f} s: "
          f"survey waves {', '.join(sorted(truth['survey']))}; {len(truth['admin']['values'])} admin extracts "
          f"(municipality-years {truth['admin']['years'][0]}-{truth['admin']['years'][-1]}); "
          f"world seed {seed}, trust-provision effect {effect:g} per SD of service quality")


def _print_summary(summary, t0: float) -> int:  # noqa: D103
    print()
    print(summary.render())
    print(f"Took {time.monotonic() - t0:.0f} s. Open the Dagster UI with `make ui` to see this run.")
    return 0 if summary.success else 1


def _run(settings: Settings, retry_held: bool = False) -> int:
    from orchestration.pipeline import run_build  # lazy: Dagster and dbt, not needed by validate/sample

    _sample(settings, force=False)
    print("running the build_warehouse job in Dagster (ingest -> dbt -> quality gates -> promote + publish "
          "-> reports) ...", flush=True)
    t0 = time.monotonic()
    return _print_summary(run_build(ingest_config={"retry_held": True} if retry_held else None,
                                    settings=settings), t0)


def _reports(settings: Settings) -> int:
    from orchestration.pipeline import run_build  # lazy: Dagster and dbt, not needed by validate/sample

    if not settings.published_path.exists():
        print("no published snapshot yet: run `make run` first")
        return 1
    summary = run_build(job_name="refresh_reports", settings=settings)
    print(summary.render())
    return 0 if summary.success and summary.report.get("built") else 1


class DeliveryError(Exception):
    pass


def _given(what: str, text: str) -> Path:
    """A path given as FILE, CODEBOOK or WITH, checked to be a readable file: a clear message, never a
    traceback, for a missing file, a folder, a pipe or a device (the name printed escaped)."""
    path = Path(text).expanduser()
    problem = describe_given(path)
    if problem:
        raise DeliveryError(f"{what}={printable(text)}: {problem}")
    return path.resolve()


def _copy(what: str, src: Path, dst: Path) -> None:
    try:
        copy_given(src, dst)
    except IngestError as exc:
        raise DeliveryError(f"{what}={printable(str(src))}: {exc.problem}") from None


def _stage(paths, args, into: Path) -> tuple[dict, list[str]]:
    """Copy the delivery into a staging folder laid out as the landing folder: (ingest run config, notes).
    A wave's codebook and code lists come with it: given (CODEBOOK, WITH), or found beside the file
    (code lists matching the codebook's pattern), or else the ones the landing folder holds now.
    The run config says which path each staged file was delivered as (the audit names that path)."""
    src = _given("FILE", args.file)
    codebook = _given("CODEBOOK", args.codebook) if args.codebook else None
    given = [_given("WITH", p) for p in args.with_files]
    notes = []
    delivered_as: dict[str, str] = {}

    def copy(what: str, source: Path, target: Path) -> None:
        _copy(what, source, target)
        delivered_as[str(target)] = str(source)

    if args.wave is None:
        folder = into / "admin" / str(args.year)
        folder.mkdir(parents=True)
        copy("FILE", src, folder / src.name)
        return {"staged_admin": {str(args.year): [str(folder / src.name)]}, "delivered_as": delivered_as}, notes
    folder = into / "survey" / str(args.wave)
    folder.mkdir(parents=True)
    landing = paths.survey_landing / str(args.wave)
    delivered_cb = folder / f"wave_{args.wave}.yml"
    if codebook is not None:
        copy("CODEBOOK", codebook, delivered_cb)
        notes.append(f"codebook: {printable(args.codebook)}")
    elif (landing / delivered_cb.name).is_file() and not (landing / delivered_cb.name).is_symlink():
        copy("CODEBOOK", landing / delivered_cb.name, delivered_cb)
        notes.append(f"codebook: the one delivered before ({delivered_cb.name} in the landing folder)")
    try:
        cb = codebook_for_delivery(folder)
        cb_name = printable(Path(delivered_as.get(str(cb.path), cb.path)).name)  # as given, not the staged copy
        if cb.wave != args.wave:
            raise DeliveryError(f"the codebook {cb_name} is for wave {cb.wave}, not {args.wave}")
        if not matching_files(src.parent, cb.delivery["data_file"]) or src not in matching_files(
                src.parent, cb.delivery["data_file"]):
            raise DeliveryError(f"{printable(src.name)} does not match the codebook's data file pattern "
                                f"{cb.delivery['data_file']!r} ({cb_name}): rename it, or correct "
                                "delivery.data_file")
        copy("FILE", src, folder / src.name)
        if cb.delivery.get("parts"):  # a wave in several files: the other parts in landing stay parts of it
            others = [p for p in matching_files(landing, cb.delivery["data_file"]) if p.name != src.name
                      and p.suffix.lower() not in (".yml", ".yaml") and entry_problem(p) is None]
            for p in others:
                copy("FILE", p, folder / p.name)
            if others:
                notes.append("with the wave's other parts in the landing folder: "
                             + ", ".join(printable(p.name) for p in others))
        pattern = cb.delivery.get("code_list_file")
        if pattern:
            lists = given or [p for p in matching_files(src.parent, pattern) if p != src] or matching_files(landing, pattern)
            for p in lists:
                copy("WITH", p, folder / p.name)
            notes.append("code list: " + (", ".join(printable(p.name) for p in lists) or f"none matching {pattern!r}"))
    except (IngestError, UnsafePattern) as exc:
        if isinstance(exc, IngestError):
            exc.relocated(delivered_as)  # the codebook as given (CODEBOOK=...), never its staged copy
        raise DeliveryError(exc.describe() if isinstance(exc, IngestError) else str(exc)) from None
    return {"staged_survey": {str(args.wave): str(folder)}, "delivered_as": delivered_as}, notes


def _validate(settings: Settings, args) -> int:
    """Load the file with the real loader into an in-memory warehouse: structure only, nothing written."""
    paths = settings.paths
    name = printable(Path(args.file).name)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            config, notes = _stage(paths, args, Path(tmp))
        except DeliveryError as exc:
            print(f"  REJECTED: {exc}")
            return 1
        for n in notes:
            print(f"  {n}")
        con = connect(Path(":memory:"))
        try:
            if args.wave is not None:
                folder = Path(config["staged_survey"][str(args.wave)])
                [wf] = wave_folders(folder.parent, {args.wave})
                if wf.problem is not None:
                    raise wf.problem.relocated(config["delivered_as"])
                _print_labels(wf, config["delivered_as"])
                result = load_survey_wave(con, wf.data_files, wf.codebook, delivered_as=config["delivered_as"])
                if result["status"] == "loaded":
                    print(f"  read: {result.get('respondents')} respondents, {result['rows']} cells")
                    for line in result.get("coverage", []):
                        print(f"  {line}")
            else:
                [path] = config["staged_admin"][str(args.year)]
                result = load_admin_extract(con, Path(path), expected_year=args.year,
                                            shown_as=config["delivered_as"].get(str(path)))
                if result["status"] == "loaded":
                    print(f"  read: {result['key']}, {result['rows']} indicator rows")
            if result["status"] == "quarantined":
                print(f"  QUARANTINED: {result['message']}")
                print(f"{name}: would be quarantined, not read (dry run: nothing was written)")
                return 1
            for note in result.get("notes", []):  # columns ignored, aliases applied, rows skipped
                print(f"  note: {printable(note)}")
        except (IngestError, OSError, ValueError) as exc:
            print(f"  REJECTED: {exc.describe() if isinstance(exc, IngestError) else printable(str(exc))}")
            print(f"{name}: would be rejected (dry run: nothing was written)")
            return 1
        finally:
            con.close()
    print(f"{name}: its structure is sound; loading it runs the plausibility gates, and a "
          "failing gate quarantines it while the warehouse keeps its last good state (dry run: nothing was written)")
    return 0


def _print_labels(wf, delivered_as: dict[str, str]) -> None:
    """Every distinct text label per column of the codebook, with its count: what a codebook's `labels`
    are written from (docs/codebooks.md)."""
    for path in wf.data_files:
        try:
            found = label_inventory(path, wf.codebook)
        except (IngestError, OSError, ValueError):
            continue  # the load below says what is wrong with the file
        if not found:
            continue
        name = printable(Path(delivered_as.get(str(path), path)).name)
        roles = {v.variable: (f"items.{v.item_code}" if v.role == "item" else f"attributes.{v.role}")
                 for v in wf.codebook.variables}
        print(f"  labels in {name} (distinct text values per column, with their rows):")
        for column, labels in found.items():
            print(f"    column {printable(column)!r} ({roles.get(column, '')}): "
                  + ", ".join(f"{printable(label)!r} {n}" for label, n in labels))


def _load(settings: Settings, args) -> int:
    from orchestration.pipeline import run_build  # lazy: Dagster and dbt, not needed by validate/sample

    paths = settings.paths.ensure()
    incoming = paths.data_dir / "incoming"
    staging = new_staging_folder(incoming)
    clean_staging(incoming, keep=staging)  # only folders of loads whose process is gone
    try:
        try:
            config, notes = _stage(paths, args, staging)
        except DeliveryError as exc:
            print(f"ERROR: {exc}")
            return 1
        faults.fault_point("load:staged")
        year = args.wave or args.year
        print(f"delivering {printable(Path(args.file).name)} for {year}" + "".join(f"\n  {n}" for n in notes), flush=True)
        print(f"running build_warehouse for {year}; the landing folder changes only if every gate passes ...",
              flush=True)
        t0 = time.monotonic()
        summary = run_build(year=year, ingest_config=config, settings=settings)
        code = _print_summary(summary, t0)
        given = set(config["delivered_as"].values())
        mine = [r for r in summary.refused if given & set((r["file_path"] or "").split("; "))]
        if mine and code == 0:
            print(f"{printable(Path(args.file).name)} was not loaded: {mine[0]['status']} (see above); the landing "
                  "folder is unchanged for it")
            code = 1
        return code
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _status(settings: Settings) -> int:
    paths = settings.paths
    _last_runs(settings)
    if not paths.warehouse_path.exists():
        print(f"no warehouse yet at {paths.warehouse_path}; run `make run`")
        return 1
    con = connect(paths.warehouse_path, read_only=True)
    print(f"\nWarehouse {paths.warehouse_path} (the last promoted state)")
    print("Survey waves: the delivery each wave holds now")
    print(con.sql("""select w.wave, w.source_file, left(w.sha256, 12) as sha256, f.loaded_at, w.n_respondents
                     from raw.survey_waves w left join audit.file_loads f
                       on f.load_id = w.load_id order by w.wave"""))
    print("Held back: rejected or quarantined deliveries (the last good data stays in force; `make load` retries)")
    print(con.sql("""select source_kind, delivery_year as year, file_name, left(coalesce(delivery_sha256, sha256), 12)
                            as delivery, status, loaded_at, message
                     from (select *, row_number() over (partition by coalesce(delivery_sha256, sha256)
                                                        order by loaded_at desc) as rn
                           from audit.file_loads where status in ('loaded', 'unchanged', 'rejected', 'quarantined'))
                     where rn = 1 and status in ('rejected', 'quarantined')
                     order by loaded_at desc"""))
    print("File history per wave (every delivery and what became of it)")
    print(con.sql("""select delivery_year as wave, file_name, left(coalesce(delivery_sha256, sha256), 12) as delivery,
                            string_agg(status, ' > ' order by loaded_at) as statuses, min(loaded_at) as first_seen,
                            max(loaded_at) as last_seen
                     from audit.file_loads where source_kind = 'survey' and status <> 'unchanged'
                     group by all order by wave, first_seen"""))
    print(f"Archived copies: {archive_root(paths.warehouse_path, settings)}/<sha256>/<file> (audit.file_loads.archive_path)")
    print("Admin extracts per year (current files; workbooks arrive one at a time: a partial year is "
          "published for the municipalities that delivered)")
    try:
        print(con.sql(ADMIN_YEARS_SQL))
    except Exception:  # a warehouse built before the coverage model: the counts alone
        print(con.sql("select year, count(distinct municipality_code) as municipalities from raw.admin_table_rows "
                      "group by year order by year"))
    print("Load attempts by status (audit.file_loads)")
    print(con.sql("""select source_kind, status, count(*) as attempts, max(loaded_at) as last_at
                     from audit.file_loads group by all order by all"""))
    print("Last validation per suite (audit.validation_runs; Data Docs: "
          f"{paths.quality_dir / 'gx/uncommitted/data_docs/local_site/index.html'})")
    print(con.sql("""select suite, data_ref, status, n_failed, validated_at, left(run_id, 8) as run
                     from audit.validation_runs
                     qualify row_number() over (partition by suite, data_ref order by validated_at desc) = 1
                     order by suite, data_ref"""))
    return 0


# each admin year: municipalities delivered against the units of its boundary set ("1 of 42 delivered"),
# as the warehouse's model says it (intermediate.int_admin__year_coverage)
ADMIN_YEARS_SQL = """
    with files as (
        select year, count(distinct source_file) as files, max(f.loaded_at) as last_loaded
        from raw.admin_table_rows r left join audit.file_loads f using (load_id)
        group by year
    )
    select c.year, c.year_coverage_en as municipalities,
           case when c.is_complete_year then 'complete' else 'partial' end as status, files.files, files.last_loaded
    from intermediate.int_admin__year_coverage c left join files using (year)
    order by c.year"""


def _last_runs(settings: Settings) -> None:
    """How the last runs ended (Dagster's run history), after marking runs whose process died."""
    from dagster import RunsFilter

    from orchestration.pipeline import dagster_instance  # lazy: Dagster, not needed by validate/sample
    from orchestration.writer import reap_dead_runs  # lazy: Dagster, not needed by validate/sample

    instance = dagster_instance(settings)
    reap_dead_runs(instance)
    runs = instance.get_runs(RunsFilter(job_name="build_warehouse"), limit=5)
    print("Last runs of build_warehouse (Dagster run history; `make ui` shows each):")
    if not runs:
        print("  none yet")
    for r in runs:
        stats = instance.get_run_stats(r.run_id)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stats.start_time)) if stats.start_time else "-"
        scope = r.tags.get("dagster/partition") or (
            f"{r.tags.get('dagster/asset_partition_range_start')}-{r.tags.get('dagster/asset_partition_range_end')}")
        print(f"  {r.run_id[:8]}  {r.status.value:<9} {when}  years {scope}")


def _from_env(args) -> None:
    """`make load/validate` pass their arguments through the environment, exactly as typed."""
    env = delivery_arguments()
    args.file = args.file or env.get("FILE") or None
    args.codebook = args.codebook or env.get("CODEBOOK") or None
    args.with_files = args.with_files or ([env["WITH"]] if env.get("WITH") else [])
    for name in ("wave", "year"):
        if getattr(args, name) is None and env.get(name.upper()):
            text = env[name.upper()].strip()
            if not text.isdigit():
                raise SystemExit(f"{name.upper()} must be a year such as 2029, not {text!r}")
            setattr(args, name, int(text))
    if not args.file:
        raise SystemExit("FILE=... is required (the delivered file)")
    if (args.wave is None) == (args.year is None):
        raise SystemExit("give WAVE=<year> for a survey wave or YEAR=<year> for an LM extract (one of them)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="trust", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample", help="write the seeded sample deliveries")
    s.add_argument("--force", action="store_true", help="overwrite existing deliveries")
    s.add_argument("--scale", type=int, default=1, help="multiply every wave's respondents (benchmarks)")
    s.add_argument("--seed", type=int, default=None,
                   help="seed of the world (service quality, area effects) and of the sample drawn from it "
                        "(default 20170, the shipped sample)")
    s.add_argument("--trust-provision-effect", type=float, default=None, metavar="X",
                   help="trust's shift per standard deviation of service quality, in the generator's units "
                        "(probability mass moved to the positive trust answers); 0 = no trust-provision link; "
                        "default 0.10, the shipped sample")
    r = sub.add_parser("run", help="build the warehouse through Dagster")
    r.add_argument("--retry-held", action="store_true", help="retry deliveries rejected or quarantined before")
    sub.add_parser("reports", help="rebuild the report site from the published snapshot")
    sub.add_parser("status", help="show loaded files, held deliveries, validations and the last runs")
    for name, text in (("load", "deliver one file and build its year"), ("validate", "check one file, write nothing")):
        c = sub.add_parser(name, help=text)
        c.add_argument("file", nargs="?", help="the delivered file (.sav/.xlsx/.csv survey wave, or an LM .xlsx extract)")
        c.add_argument("--wave", type=int, help="survey wave year (the codebook ingest/codebooks/wave_<year>.yml)")
        c.add_argument("--year", type=int, help="admin report year of an LM/SPOLIS extract")
        c.add_argument("--codebook", help="a codebook delivered with a new wave (used as wave_<year>.yml)")
        c.add_argument("--with", dest="with_files", action="append", default=[],
                       help="a code list delivered with a CSV wave (repeatable)")
        c.add_argument("--from-env", action="store_true", help="take FILE, WAVE, YEAR, CODEBOOK, WITH from the environment")
    args = ap.parse_args(argv)
    if args.command in ("load", "validate"):
        if args.from_env:
            _from_env(args)
        elif not args.file or (args.wave is None) == (args.year is None):
            ap.error("give the file and one of --wave / --year")
    settings = Settings.from_env()
    faults.configure(settings)  # the one test hook: inert unless TRUST_FAULT_AT names a point
    try:
        return _dispatch(settings, args)
    except WarehouseBusy as exc:
        print(f"ERROR: {exc}")
        return 2


def _dispatch(settings: Settings, args) -> int:
    if args.command == "load":
        return _load(settings, args)
    if args.command == "validate":
        return _validate(settings, args)
    if args.command == "sample":
        _sample(settings, args.force, args.scale, args.seed, args.trust_provision_effect)
        return 0
    if args.command == "run":
        return _run(settings, args.retry_held)
    if args.command == "reports":
        return _reports(settings)
    return _status(settings)


if __name__ == "__main__":
    sys.exit(main())
