"""All dbt models, seeds and tests as one asset op: dbt is invoked once per run.

dbt builds in the run's working copy of the warehouse (orchestration/writer.py), never in the live
file: a failed model, a failed test or a killed build leaves the live warehouse as it was. The asset
is made from dbt's manifest when the definitions are built (`build_dbt_assets`), never at import;
`dbt_build` is the one made on first use.
"""
import fcntl
import functools
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from dagster import AssetExecutionContext, AssetsDefinition, Failure
from dagster_dbt import dbt_assets

from expectations.runner import import_gx_in_background
from ingest.faults import checkpoint
from orchestration.dbt_translator import TrustDbtTranslator
from orchestration.partitions import WRITER_POOL
from orchestration.resources import DBT_PROJECT_DIR, TrustDbtCliResource, dbt_project, ensure_dbt_manifest
from orchestration.writer import GateFailure, WarehouseWriter


def build_scope(run_tags) -> list[int] | None:
    """The waves a one-year run rebuilds; None for a run over every year (a full rebuild)."""
    year = run_tags.get("dagster/partition")
    return [int(year)] if year and year.isdigit() else None


def dbt_build_args(scope: list[int] | None) -> list[str]:
    """One delivery year: the wave-incremental models rebuild only its wave (macros/wave_scope.sql
    reads build.scope). Every other run: a full rebuild. No --vars, so partial parsing holds."""
    return ["build"] if scope else ["build", "--full-refresh"]


def write_build_scope(con, scope: list[int] | None) -> None:
    con.execute("create schema if not exists build")
    con.execute("create or replace table build.scope (wave integer)")
    if scope:
        con.executemany("insert into build.scope values (?)", [[w] for w in scope])


@contextmanager
def linked_database(work: Path, live: Path):
    """dbt opens the working copy through a link of a fixed name (target/run/<live file name>), so
    its profile, and with it dbt's partial parsing, is the same in every run and data folder.
    DuckDB resolves the link: the write-ahead log stays beside the working copy itself."""
    link = DBT_PROJECT_DIR / "target" / "run" / live.name
    link.parent.mkdir(parents=True, exist_ok=True)
    # Runs on other data folders in this checkout (a test beside a benchmark) share the link: one at a time.
    fd = os.open(link.parent / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        link.unlink(missing_ok=True)
        os.symlink(work, link)
        try:
            yield str(link.relative_to(DBT_PROJECT_DIR))
        finally:
            link.unlink(missing_ok=True)
    finally:
        os.close(fd)


def keep_partial_parse(invocation) -> None:
    """dagster-dbt starts every invocation from target/partial_parse.msgpack: keep this run's, so
    the next run parses only what changed."""
    made = Path(invocation.target_path) / "partial_parse.msgpack"
    if made.exists():
        shutil.copyfile(made, DBT_PROJECT_DIR / "target" / "partial_parse.msgpack")


@functools.cache
def build_dbt_assets(manifest: Path | None = None) -> AssetsDefinition:
    """The dbt_build asset op over dbt's manifest (parsed first if it is missing or stale)."""
    manifest = manifest or ensure_dbt_manifest()

    @dbt_assets(
        manifest=manifest,
        project=dbt_project(),
        dagster_dbt_translator=TrustDbtTranslator(),
        name="dbt_build",
        pool=WRITER_POOL,
    )
    def dbt_build(context: AssetExecutionContext, dbt: TrustDbtCliResource, writer: WarehouseWriter):
        session = writer.session
        scope = build_scope(context.run.tags)
        with writer.connection() as con:
            write_build_scope(con, scope)
        with linked_database(session.work, session.paths.warehouse_path) as profile_path:
            os.environ["TRUST_DBT_DATABASE"] = profile_path  # dbt_project/profiles.yml reads this
            invocation = dbt.cli(dbt_build_args(scope), context=context, raise_on_error=False)
            import_gx_in_background()  # the gates after dbt need it; dbt runs in its own process meanwhile
            yield from invocation.stream()
        with writer.connection() as con:
            # the scope steers this build only: the promoted warehouse keeps none, so a one-year run
            # that changes no data leaves every table as it was
            write_build_scope(con, None)
        keep_partial_parse(invocation)
        checkpoint("dbt:built")
        if invocation.is_successful():
            return
        errors, failed_tests = _outcomes(invocation)
        if errors or not failed_tests:
            # a model (or test) that could not run: a problem of ours, not a verdict on the data
            session.failure = "dbt could not build " + (", ".join(errors[:5]) or "the project")
        else:
            # model-structure tests failed on data that passed before this run's deliveries
            session.gate_failures.append(GateFailure("dbt data tests", ", ".join(failed_tests[:5]), None))
        raise Failure(description=f"dbt build failed ({'errors: ' + ', '.join(errors[:5]) if errors else ''}"
                                  f"{'; ' if errors and failed_tests else ''}"
                                  f"{'failed tests: ' + ', '.join(failed_tests[:5]) if failed_tests else ''}); "
                                  "the live warehouse and the published snapshot are unchanged")

    return dbt_build


def __getattr__(name: str):
    """dbt_build: made from dbt's manifest on first use, not at import."""
    if name == "dbt_build":
        return build_dbt_assets()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _outcomes(invocation) -> tuple[list[str], list[str]]:
    """(nodes that errored, tests that failed) from dbt's run_results.json."""
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except Exception:  # no artifact: dbt did not get that far
        return ["dbt (no run results)"], []
    errors = [r["unique_id"].split(".")[-1] for r in results if r["status"] in ("error", "runtime error")]
    failed = [r["unique_id"].split(".")[2] for r in results if r["status"] == "fail"]
    return errors, failed
