"""Run YAML suites with Great Expectations on Frames, and store the outcomes.

Three outcomes, never confused:
  passed  every expectation held;
  failed  the data broke at least one expectation (the gate blocks);
  crashed the validation itself could not run (a missing column, a GX error, a bad
          suite file): this says nothing about the data and is reported as a crash.

All suites of a run are validated in one GX context, and GE's Data Docs are rendered once,
after the last validation. A failed expectation also reports the delivery years of the rows that
broke it (the frame's `year_column`), so the run can quarantine just those deliveries.
"""
from __future__ import annotations

import json
import os
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from expectations.data_docs_offline import make_offline
from expectations.frames import Frame
from ingest.settings import SUITES_DIR  # noqa: F401 (the shipped suites; a run passes Settings.suites_dir)
from ingest.warehouse import DDL  # the audit.validation_* tables are part of the warehouse schema


def _no_gx_analytics() -> None:
    """GX sends usage statistics unless told not to: told before it is imported (never at import of this module)."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"


def import_gx_in_background() -> threading.Thread:
    """Importing Great Expectations takes seconds; start it while something else (dbt, in its own
    process) keeps the other core busy. The gate's own import then finds it done."""
    _no_gx_analytics()

    def _import():
        try:
            import great_expectations  # noqa: F401
            import great_expectations.expectations  # noqa: F401
        except Exception:  # the gate's own import reports it
            pass

    t = threading.Thread(target=_import, name="import-great-expectations", daemon=True)
    t.start()
    return t


@dataclass
class ExpectationOutcome:
    expectation_type: str
    column: str | None
    success: bool | None
    crashed: bool
    observed: str | None = None
    unexpected_count: int | None = None
    unexpected_examples: list = field(default_factory=list)
    why: str | None = None
    error: str | None = None
    years: list[int] = field(default_factory=list)  # delivery years of the rows that broke it

    def describe(self) -> str:
        target = f"{self.column}: " if self.column else ""
        if self.crashed:
            return f"{target}{self.expectation_type} could not run: {self.error}"
        text = f"{target}{self.expectation_type}"
        if self.unexpected_count:
            text += f" - {self.unexpected_count} unexpected, e.g. {self.unexpected_examples[:5]}"
            if self.years:
                text += f" in {', '.join(map(str, self.years))}"
        elif self.observed is not None:
            text += f" - observed {self.observed}"
        if self.why:
            text += f" ({self.why})"
        return text


@dataclass
class ValidationOutcome:
    suite: str
    data_ref: str
    partition: str
    status: str  # passed | failed | crashed
    results: list[ExpectationOutcome] = field(default_factory=list)
    error: str | None = None
    gx_version: str | None = None

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if r.crashed or not r.success]

    @property
    def failed_years(self) -> set[int] | None:
        """The delivery years the failed expectations point at; None if a failure points at none."""
        years: set[int] = set()
        for f in self.failures:
            if f.crashed or not f.years:
                return None
            years |= set(f.years)
        return years

    def summary(self) -> str:
        head = f"{self.suite} on {self.data_ref}: {self.status.upper()}"
        if self.status == "passed":
            return f"{head} ({len(self.results)} expectations)"
        lines = [head + (f": {self.error}" if self.error else "")]
        lines += [f"  - {f.describe()}" for f in self.failures]
        return "\n".join(lines)


def load_suite_spec(name: str, suites_dir: Path = SUITES_DIR) -> dict:
    return yaml.safe_load((suites_dir / f"{name}.yml").read_text(encoding="utf-8"))


def _resolve(value, frame: Frame, column: str | None):
    if isinstance(value, str) and value.startswith("$"):
        name = value[1:]
        if column is not None and name in frame.column_values.get(column, {}):
            return frame.column_values[column][name]
        if name in frame.values:
            return frame.values[name]
        raise KeyError(f"suite refers to ${name}, which the {frame.data_ref} frame does not provide")
    if isinstance(value, dict):
        return {k: _resolve(v, frame, column) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, frame, column) for v in value]
    return value


def _columns(spec: dict, frame: Frame) -> list[str | None]:
    if "for" in spec:
        return list(frame.roles.get(spec["for"], []))
    if "column" in spec:
        col = _resolve(spec["column"], frame, None)
        return list(col) if isinstance(col, list) else [col]
    return [None]


def _class_name(expectation_type: str) -> str:
    return "".join(part.capitalize() for part in expectation_type.split("_"))


def _raised(exception_info) -> str | None:
    """GX reports errors per metric, sometimes nested; return the first message if any raised."""
    if not exception_info:
        return None
    if isinstance(exception_info, dict):
        if exception_info.get("raised_exception"):
            return str(exception_info.get("exception_message") or "exception")
        for v in exception_info.values():
            msg = _raised(v) if isinstance(v, dict) else None
            if msg:
                return msg
    return None


def data_docs_index(docs_root: Path) -> Path:
    return Path(docs_root) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _context(gx, docs_root: Path | None):
    context = gx.get_context(mode="file", project_root_dir=str(docs_root)) if docs_root else \
        gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # progress bars are cosmetic
        pass
    return context


def _get_or(add, get, name):
    try:
        return get(name)
    except Exception:
        return add(name)


def _validate_one(gx, gxe, context, suite_name: str, frame: Frame, suites_dir: Path) -> ValidationOutcome:
    outcome = ValidationOutcome(suite_name, frame.data_ref, frame.partition, "crashed", gx_version=gx.__version__)
    try:
        spec = load_suite_spec(suite_name, suites_dir)
        name = f"{suite_name}__{frame.partition}"
        ds = _get_or(context.data_sources.add_pandas, context.data_sources.get, "frames")
        asset = _get_or(ds.add_dataframe_asset, ds.get_asset, name)
        batch_def = _get_or(asset.add_batch_definition_whole_dataframe, asset.get_batch_definition, "whole")
        for store in (context.validation_definitions, context.suites):
            try:
                store.delete(name)
            except Exception:
                pass
        suite = context.suites.add(gx.ExpectationSuite(name=name))
        for e in spec["expectations"]:
            cls = getattr(gxe, _class_name(e["type"]))
            for column in _columns(e, frame):
                kwargs = _resolve(dict(e.get("kwargs", {})), frame, column)
                if column is not None:
                    kwargs["column"] = column
                suite.add_expectation(cls(**kwargs, meta={"why": e.get("why")}))
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
        result_format = {"result_format": "COMPLETE"}
        if frame.year_column:
            result_format["unexpected_index_column_names"] = [frame.year_column]
        result = definition.run(batch_parameters={"dataframe": frame.df}, result_format=result_format)
        for r in result.results:
            cfg = r.expectation_config
            error = _raised(r.exception_info)
            res = r.result or {}
            observed = res.get("observed_value")
            years = sorted({int(i[frame.year_column]) for i in (res.get("unexpected_index_list") or [])
                            if isinstance(i, dict) and i.get(frame.year_column) is not None}) \
                if frame.year_column else []
            outcome.results.append(ExpectationOutcome(
                expectation_type=cfg.type,
                column=cfg.kwargs.get("column"),
                success=None if error else bool(r.success),
                crashed=error is not None,
                observed=None if observed is None else json.dumps(observed, default=str),
                unexpected_count=res.get("unexpected_count"),
                unexpected_examples=[_plain(x) for x in (res.get("partial_unexpected_list") or [])[:10]],
                why=(cfg.meta or {}).get("why"),
                error=error,
                years=years,
            ))
        if any(r.crashed for r in outcome.results):
            outcome.error = "some expectations could not run"
        else:
            outcome.status = "passed" if all(r.success for r in outcome.results) else "failed"
    except Exception as exc:  # the validation itself broke: report a crash, never "failed data"
        outcome.status = "crashed"
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.results.append(ExpectationOutcome("validation", None, None, True, error=traceback.format_exc(limit=3)))
    return outcome


def validate_all(jobs: list[tuple[str, Frame]], suites_dir: Path = SUITES_DIR,
                 docs_root: Path | None = None) -> list[ValidationOutcome]:
    """Validate every (suite, frame) in one GX context. With `docs_root`, the results are kept in
    GX's store there and its Data Docs are rendered once at the end; without, in memory only."""
    _no_gx_analytics()
    try:
        import great_expectations as gx  # lazy: GX takes seconds to import; only a gate needs it
        import great_expectations.expectations as gxe

        context = _context(gx, Path(docs_root) if docs_root else None)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        return [ValidationOutcome(s, f.data_ref, f.partition, "crashed", [
            ExpectationOutcome("validation", None, None, True, error=traceback.format_exc(limit=3))], error)
            for s, f in jobs]
    outcomes = [_validate_one(gx, gxe, context, suite, frame, Path(suites_dir)) for suite, frame in jobs]
    if docs_root:
        try:
            context.build_data_docs()
            make_offline(data_docs_index(docs_root).parent)  # the docs' CSS/JS from local copies, not CDNs
        except Exception as exc:  # the docs are a view of the results, which are stored either way
            print(f"GE Data Docs could not be rendered: {exc}")
    return outcomes


def validate(suite_name: str, frame: Frame, suites_dir: Path = SUITES_DIR,
             docs_root: Path | None = None) -> ValidationOutcome:
    return validate_all([(suite_name, frame)], suites_dir, docs_root)[0]


def _plain(x):
    return x.item() if hasattr(x, "item") else x


def store(con, outcome: ValidationOutcome, run_id: str | None = None) -> str:
    """Record the outcome in audit.validation_runs / audit.validation_expectations."""
    vid = str(uuid.uuid4())
    con.execute(
        "insert into audit.validation_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [vid, run_id, outcome.suite, outcome.data_ref, outcome.partition, outcome.status, len(outcome.results),
         len(outcome.failures), outcome.error, outcome.gx_version, datetime.now(timezone.utc)],
    )
    if outcome.results:
        con.executemany(
            "insert into audit.validation_expectations values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[vid, r.expectation_type, r.column, r.success, r.crashed, r.observed, r.unexpected_count,
              json.dumps(r.unexpected_examples, default=str, ensure_ascii=False), r.why, r.error]
             for r in outcome.results],
        )
    return vid


__all__ = ["DDL", "ValidationOutcome", "validate", "validate_all", "store", "data_docs_index"]
