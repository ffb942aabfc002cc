"""The Dagster definitions load, and the graph is wired as intended."""
from __future__ import annotations

from dagster import AssetKey

from orchestration.dbt_assets import dbt_build
from orchestration.definitions import defs
from orchestration.ingest_assets import load_admin_extracts, load_survey_waves


def test_definitions_load_and_job_resolves():
    job = defs.resolve_job_def("build_warehouse")
    assert {"load_survey_waves", "load_admin_extracts", "dbt_build", "publish__report_snapshot",
            "reports__evidence_site"} <= set(job.graph.node_names())


def test_quality_checks_are_blocking_and_come_after_dbt():
    checks = {spec.key.name: spec for checks_def in defs.asset_checks for spec in checks_def.check_specs}
    assert {"ge_dim_wave", "ge_mart_provision_per_capita", "ge_mart_client_satisfaction"} <= set(checks)
    assert all(spec.blocking for spec in checks.values())
    assert checks["ge_dim_wave"].asset_key == AssetKey(["marts", "dim_wave"])
    # every published mart the snapshot reads is downstream of dbt, so a failing gate holds the snapshot back
    graph = defs.resolve_asset_graph()
    assert {spec.asset_key for spec in checks.values()} <= graph.get(AssetKey(["publish", "report_snapshot"])).parent_keys


def test_dbt_sources_line_up_with_ingest_assets():
    graph = defs.resolve_asset_graph()
    ingest_keys = set(load_survey_waves.keys) | set(load_admin_extracts.keys)
    dbt_def = dbt_build
    upstream_of_dbt = {dep for key in dbt_def.keys for dep in graph.get(key).parent_keys} - set(dbt_def.keys)
    raw_deps = {k for k in upstream_of_dbt if k.path[0] == "raw"}
    assert raw_deps and raw_deps <= ingest_keys
    assert not any(graph.get(k).is_external for k in raw_deps)


def test_snapshot_depends_on_published_marts_only():
    graph = defs.resolve_asset_graph()
    parents = graph.get(AssetKey(["publish", "report_snapshot"])).parent_keys
    assert {AssetKey(["marts", n]) for n in ("mart_client_satisfaction", "fct_service_provision",
                                            "dim_municipality", "dim_wave", "dim_item")} <= parents
    assert all(k.path[0] == "marts" for k in parents)
    assert not {AssetKey(["marts", "fct_respondent"]), AssetKey(["marts", "fct_survey_answers"])} & parents


def test_every_dbt_test_shown_as_an_asset_check_says_what_it_checks():
    """The UI shows each dbt test as an asset check; none reads "No description provided"."""
    from orchestration.definitions import defs

    specs = [s for a in defs.assets if hasattr(a, "check_specs") for s in a.check_specs]
    assert len(specs) > 100
    assert all(s.description for s in specs), [s.name for s in specs if not s.description][:5]
    by_name = {s.name: s.description for s in specs}
    assert by_name["unique_combination_int_survey__respondents_harmonised_respondent_key"] == (
        "No two rows share the combination (respondent_key): the model's key.")
    assert by_name["changes_with_an_unreliable_end_are_never_significant"] == (
        "A change whose earlier or later estimate is unreliable (NCHS) is never called significant.")
