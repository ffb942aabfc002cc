"""Run a YAML suite with Great Expectations on a Frame, and store the outcome.

Three outcomes, never confused:
  passed  every expectation held;
  failed  the data broke at least one expectation (the gate blocks);
  crashed the validation itself could not run (a missing column, a GX error, a bad
          suite file): this says nothing about the data and is reported as a crash.
"""
from __future__ import annotations

import json
import os
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from expectations.data_docs_offline import make_offline
from expectations.frames import Frame

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# The suites (thresholds are data). TRUST_SUITES_DIR points elsewhere, e.g. the benchmark's copy
# with row-count bounds widened for its scaled samples.
SUITES_DIR = Path(os.environ.get("TRUST_SUITES_DIR") or Path(__file__).resolve().parent / "suites")

from ingest.warehouse import DDL  # the audit.validation_* tables are part of the warehouse schema


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

    def describe(self) -> str:
        target = f"{self.column}: " if self.column else ""
        if self.crashed:
            return f"{target}{self.expectation_type} could not run: {self.error}"
        text = f"{target}{self.expectation_type}"
        if self.unexpected_count:
            text += f" - {self.unexpected_count} unexpected, e.g. {self.unexpected_examples[:5]}"
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
        return list(frame.roles.get(spec["for"], []))  # a role the wave lacks (e.g. no weight): nothing to check
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


def _quiet(context) -> None:
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # progress bars are cosmetic
        pass


def _get_or(add, get, name):
    try:
        return get(name)
    except Exception:
        return add(name)


def _run_with_data_docs(gx, suite_name: str, frame: Frame, docs_root: Path, add_expectations):
    """Validate through a file-backed GX context: the result is kept in its store and the Data Docs
    site (``<docs_root>/gx/uncommitted/data_docs/local_site/index.html``) is updated."""
    context = gx.get_context(mode="file", project_root_dir=str(docs_root))
    _quiet(context)
    name = f"{suite_name}__{frame.partition}"
    ds = _get_or(context.data_sources.add_pandas, context.data_sources.get, "frames")
    asset = _get_or(ds.add_dataframe_asset, ds.get_asset, name)
    batch_def = _get_or(asset.add_batch_definition_whole_dataframe, asset.get_batch_definition, "whole")
    for store in (context.checkpoints, context.validation_definitions, context.suites):
        try:
            store.delete(name)
        except Exception:
            pass
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    add_expectations(suite)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=name, validation_definitions=[definition],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")]))
    result = checkpoint.run(batch_parameters={"dataframe": frame.df})
    make_offline(data_docs_index(docs_root).parent)  # the docs' CSS/JS from local copies, not CDNs
    return next(iter(result.run_results.values()))


def data_docs_index(docs_root: Path) -> Path:
    return Path(docs_root) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def validate(suite_name: str, frame: Frame, suites_dir: Path = SUITES_DIR,
             docs_root: Path | None = None) -> ValidationOutcome:
    """Run a suite on a frame. With `docs_root`, the result is also kept in GX's store there and
    rendered into its Data Docs; without, the validation runs in an ephemeral GX context."""
    outcome = ValidationOutcome(suite_name, frame.data_ref, frame.partition, "crashed")
    try:
        import great_expectations as gx
        import great_expectations.expectations as gxe

        outcome.gx_version = gx.__version__
        spec = load_suite_spec(suite_name, suites_dir)

        def add_expectations(suite):
            for e in spec["expectations"]:
                cls = getattr(gxe, _class_name(e["type"]))
                for column in _columns(e, frame):
                    kwargs = _resolve(dict(e.get("kwargs", {})), frame, column)
                    if column is not None:
                        kwargs["column"] = column
                    suite.add_expectation(cls(**kwargs, meta={"why": e.get("why")}))

        if docs_root is not None:
            result = _run_with_data_docs(gx, suite_name, frame, Path(docs_root), add_expectations)
        else:
            context = gx.get_context(mode="ephemeral")
            _quiet(context)
            tag = uuid.uuid4().hex[:8]
            batch_def = (
                context.data_sources.add_pandas(f"ds_{tag}")
                .add_dataframe_asset(f"asset_{tag}")
                .add_batch_definition_whole_dataframe("whole")
            )
            suite = context.suites.add(gx.ExpectationSuite(name=f"{suite_name}_{tag}"))
            add_expectations(suite)
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"v_{tag}", data=batch_def, suite=suite)
            )
            result = definition.run(batch_parameters={"dataframe": frame.df})
        for r in result.results:
            cfg = r.expectation_config
            error = _raised(r.exception_info)
            res = r.result or {}
            observed = res.get("observed_value")
            outcome.results.append(
                ExpectationOutcome(
                    expectation_type=cfg.type,
                    column=cfg.kwargs.get("column"),
                    success=None if error else bool(r.success),
                    crashed=error is not None,
                    observed=None if observed is None else json.dumps(observed, default=str),
                    unexpected_count=res.get("unexpected_count"),
                    unexpected_examples=[_plain(x) for x in (res.get("partial_unexpected_list") or [])[:10]],
                    why=(cfg.meta or {}).get("why"),
                    error=error,
                )
            )
        if any(r.crashed for r in outcome.results):
            outcome.status = "crashed"
            outcome.error = "some expectations could not run"
        else:
            outcome.status = "passed" if all(r.success for r in outcome.results) else "failed"
    except Exception as exc:  # the validation itself broke: report a crash, never "failed data"
        outcome.status = "crashed"
        outcome.error = f"{type(exc).__name__}: {exc}"
        outcome.results.append(
            ExpectationOutcome("validation", None, None, True, error=traceback.format_exc(limit=3))
        )
    return outcome


def _plain(x):
    return x.item() if hasattr(x, "item") else x


def store(con, outcome: ValidationOutcome, run_id: str | None = None) -> str:
    """Record the outcome in audit.validation_runs / audit.validation_expectations."""
    con.execute(DDL)
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
