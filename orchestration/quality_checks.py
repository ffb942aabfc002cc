"""Great Expectations plausibility gates, as blocking asset checks on the built marts.

One owner per rule: a delivered file's structure is the loader's (ingest/), a model's structure is
dbt's tests, and these suites (expectations/suites/*.yml) judge plausibility across waves and
years: respondents against the previous wave, weights, "hard to say" shares and their change,
provision per resident and its change, completeness of the years.

All suites run in one step, in one GE context, on the run's working copy, after dbt; GE's Data Docs
are rendered once. A failed suite blocks the promotion of the working copy, the snapshot and the
report refresh; the deliveries of the years it points at are quarantined (orchestration/writer.py),
and the reason is in the checks' metadata in the Dagster UI, the run's output,
audit.validation_runs / audit.validation_expectations and the Data Docs
(data/quality/gx/uncommitted/data_docs/). A validation that crashes raises: an errored check, not
failed data.
"""

from dagster import (
    AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, Failure,
    MetadataValue, multi_asset_check,
)

from expectations.frames import PLAUSIBILITY
from expectations.runner import ValidationOutcome, data_docs_index, store, validate_all
from ingest.faults import checkpoint
from orchestration.partitions import WRITER_POOL
from orchestration.writer import GateFailure, WarehouseWriter

CHECKED = sorted({mart for mart, _ in PLAUSIBILITY.values()})


def check_name(mart: str) -> str:
    return f"ge_{mart}"


@multi_asset_check(
    name="ge_plausibility",
    specs=[AssetCheckSpec(check_name(mart), asset=AssetKey(["marts", mart]), blocking=True,
                          additional_deps=[AssetKey(["marts", d]) for d in ("dim_wave", "fct_respondent",
                                                                                "mart_indicator_estimates",
                                                                                "dim_municipality") if d != mart]
                          + [AssetKey(["intermediate", "int_indicator_estimates"])],
                          description="GE suites " + ", ".join(f"{s}.yml" for s, (m, _) in PLAUSIBILITY.items()
                                                               if m == mart))
           for mart in CHECKED],
    pool=WRITER_POOL,
)
def ge_plausibility(context: AssetCheckExecutionContext, writer: WarehouseWriter):
    session = writer.session
    with writer.connection() as con:
        jobs = [(suite, build(con)) for suite, (_, build) in PLAUSIBILITY.items()]
        outcomes = validate_all(jobs, suites_dir=session.settings.suites_dir, docs_root=session.paths.quality_dir)
        checkpoint("check:before-store")
        for o in outcomes:
            store(con, o, session.run_id)
    for o in outcomes:
        (context.log.info if o.status == "passed" else context.log.error)(o.summary())
    crashed = [o for o in outcomes if o.status == "crashed"]
    if crashed:
        session.failure = "a quality gate crashed"
        raise Failure(description="validation crashed (not a data failure):\n" + "\n".join(o.summary() for o in crashed))
    docs = data_docs_index(session.paths.quality_dir)
    for mart in CHECKED:
        mine = [o for (suite, _), o in zip(jobs, outcomes) if PLAUSIBILITY[suite][0] == mart]
        failed = [o for o in mine if o.status == "failed"]
        for o in failed:
            session.gate_failures.append(GateFailure(o.suite, "; ".join(f.describe() for f in o.failures[:3]),
                                                     o.failed_years))
        yield AssetCheckResult(
            asset_key=AssetKey(["marts", mart]),
            check_name=check_name(mart),
            passed=not failed,
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(f"{o.suite} on {o.data_ref}: {o.status}" for o in mine),
            metadata={
                "validated": len(mine),
                "failed_expectations": sum(len(o.failures) for o in mine),
                "report": MetadataValue.md("\n\n".join(f"```\n{o.summary()}\n```" for o in mine)),
                "data_docs": MetadataValue.path(str(docs)),
            },
        )


__all__ = ["ge_plausibility", "ValidationOutcome", "CHECKED", "check_name"]
