"""A reader's eyes: the report site is built (strictly, offline) from the sample's snapshot, served
on 127.0.0.1 and every page type is opened in headless Chromium. The checks are what a reader would
check: no Evidence error box, every chart drawn with data, the headings and figures of the published
snapshot (read here with DuckDB, formatted as the page formats them), Latvian letters intact, nothing
requested from outside localhost. The same after a blocked run (data-quality page), for one page of
GX's Data Docs and for dbt's static docs. PNGs: data/screenshots/ (CI keeps them as artefacts).

Chromium is Debian's package `chromium` (.ci/run installs it); where it is missing these tests are
skipped naming the package, except under CI, where they fail.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from ingest.settings import REPO_ROOT, REPORTS_DIR
from orchestration import report_site
from tests.site_browser import CHROMIUM_PACKAGE, find_chromium, look_at, serve

# the site build (strict, twice: normal and after a blocked run) and the browser are the slower layer
pytestmark = pytest.mark.e2e

SCREENSHOTS = REPO_ROOT / "data" / "screenshots"
LATVIAN = set("āčēģīķļņšūžĀČĒĢĪĶĻŅŠŪŽ")
MOJIBAKE = ("Ä", "Å", "Ã", "\ufffd")


def chromium() -> str:
    browser = find_chromium()
    if browser is None:
        message = (f"no headless Chromium: install the OS package `{CHROMIUM_PACKAGE}` "
                   f"(apt-get install -y {CHROMIUM_PACKAGE}); .ci/run does")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if not (REPORTS_DIR / "node_modules" / "playwright-core").exists():
        pytest.fail("reports/node_modules has no playwright-core: run `make setup`")
    return browser


@pytest.fixture(scope="module")
def keep_users_site():
    """The build writes reports/build; put the site that was there back afterwards."""
    build, saved = REPORTS_DIR / "build", REPORTS_DIR / ".build-before-tests"
    shutil.rmtree(saved, ignore_errors=True)
    if build.exists():
        build.rename(saved)
    yield
    if saved.exists():
        shutil.rmtree(build, ignore_errors=True)
        saved.rename(build)


def built_copy(name: str, tmp_path_factory):
    target = tmp_path_factory.mktemp(name) / "site"
    shutil.copytree(REPORTS_DIR / "build", target)
    return target


def pct0(x: float) -> str:
    return f"{round(100 * x):.0f}%"


def cell(estimate, low, high) -> str:
    return f"{100 * estimate:.1f} ({100 * low:.1f}–{100 * high:.1f})"


@pytest.fixture(scope="module")
def facts(sample_build):
    """Figures read from the published snapshot, independently of the site."""
    with sample_build.snapshot() as con:
        def one(sql, *args):
            return con.execute(sql, args).fetchone()

        def all_(sql, *args):
            return con.execute(sql, args).fetchall()

        nat = ("geo_level = 'national' and subgroup_type = 'all' and measure = 'share_incl_hard_to_say'")
        latest_wave = one("select max(wave_year) from mart_client_satisfaction")[0]
        current = "(select boundary_set from dim_municipality where municipality_code = '0038001')"
        small = one(f"""
            select m.municipality_code, m.municipality_name from dim_municipality m
            where m.boundary_set = {current} and exists (
                select 1 from mart_indicator_estimates e where e.geo_level = 'municipality'
                  and e.geo_code = m.municipality_code and e.subgroup_type = 'all' and e.is_suppressed)
            order by m.population limit 1""")
        return {
            "latest_wave": latest_wave,
            "satisfaction": all_("select wave_year, top2_share from mart_client_satisfaction order by 1"),
            "trend_cells": all_(f"""select indicator_code, wave_year, estimate, ci_low, ci_high
                                    from mart_indicator_estimates where {nat}"""),
            "not_asked": all_("""select i.name_lv, w.wave_year from dim_indicator i cross join dim_wave w
                                 left join dim_item_wave c on c.item_code = i.item_code and c.wave_year = w.wave_year
                                 where not coalesce(c.is_asked, false)"""),
            "regions_latest": all_("""select geo_name, estimate, ci_low, ci_high from mart_indicator_estimates
                                      where geo_level = 'region' and subgroup_type = 'all'
                                        and measure = 'share_incl_hard_to_say' and indicator_code = 'trust_top2'
                                        and wave_year = (select max(wave_year) from mart_indicator_estimates)"""),
            "municipalities": all_(f"select municipality_code, municipality_name from dim_municipality "
                                   f"where boundary_set = {current}"),
            "small": small,
            "trust": {code: (name, est, lo, hi) for code, name, est, lo, hi in all_("""
                select municipality_code, municipality_name, trust_estimate, trust_ci_low, trust_ci_high
                from mart_trust_provision t where wave_year = (select max(wave_year) from mart_trust_provision)""")},
            "latvia_trust": one(f"select estimate from mart_indicator_estimates where {nat} "
                                "and indicator_code = 'trust_top2' order by wave_year desc limit 1")[0],
            "gates": all_("select suite, data_ref, status from quality_status"),
        }


@pytest.fixture(scope="module")
def normal(sample_build, facts, keep_users_site, tmp_path_factory):
    browser = chromium()
    result = report_site.build_site(sample_build.paths.published_path, SCREENSHOTS / "build.log",
                                    mode="auto", strict=True, timeout=1200)
    assert result.built, result.reason
    site = built_copy("site_normal", tmp_path_factory)
    small_code = facts["small"][0]
    pages = {"index": "/", "trend": "/trend/", "regions": "/regions/", "trust-provision": "/trust-provision/",
             "data-quality": "/data-quality/", "methodology": "/methodology/",
             "municipalities": "/municipalities/", "municipality-riga": "/municipalities/0001000/",
             "municipality-small": f"/municipalities/{small_code}/",
             "municipality-madona": "/municipalities/0038001/"}
    with serve(site) as url:
        seen = look_at(url, pages, SCREENSHOTS / "site", browser)
    return result, seen


def test_the_site_builds_strictly_offline_with_every_page(normal, facts):
    result, _ = normal
    municipality_pages = {p.parent.name for p in (result.output_dir / "municipalities").glob("*/index.html")}
    assert municipality_pages == {code for code, _ in facts["municipalities"]}
    for page in ("trend", "regions", "trust-provision", "data-quality", "methodology"):
        assert (result.output_dir / page / "index.html").exists(), page


def test_nothing_is_requested_from_outside_localhost(normal):
    _, seen = normal
    assert seen["offsite"] == []
    assert seen["requests"] > 50  # the pages did load their scripts, styles and data


@pytest.mark.parametrize("page", ["index", "trend", "regions", "trust-provision", "data-quality", "methodology",
                                  "municipalities", "municipality-riga", "municipality-small",
                                  "municipality-madona"])
def test_a_page_shows_no_error_and_its_latvian_text_intact(normal, page):
    p = normal[1]["pages"][page]
    assert p["status"] == 200
    assert p["errorBoxes"] == [], p["errorBoxes"]
    assert p["consoleErrors"] == [], p["consoleErrors"]
    assert "Dataset is empty" not in p["text"]
    assert LATVIAN & set(p["text"]), "no Latvian letters on the page"
    assert not any(m in p["text"] for m in MOJIBAKE)
    assert p["pageWidth"] <= p["viewportWidth"], "the page scrolls sideways"
    for table in p["tables"]:
        assert not table["overflowing"], f"a table is cut on the right: {table['headers']}"
    for table in p["tables"]:  # years print as 2017, never 2,017
        for i, header in enumerate(table["headers"]):
            if header.startswith(("Vilnis / Wave", "Gads / Year")):
                assert all(re.fullmatch(r"20\d\d", row[i]) for row in table["rows"] if len(row) > i), table["rows"][:3]
    chart_pages = {"index": 1, "trend": 6, "regions": 2, "trust-provision": 1, "municipality-riga": 1,
                   "municipality-small": 1, "municipality-madona": 1}
    if page in chart_pages:
        assert len(p["charts"]) == chart_pages[page]
        for chart in p["charts"]:
            assert any(s["points"] > 0 for s in chart["series"]), f"a chart with no data: {chart['title']}"
            assert chart["width"] > 300 and chart["height"] > 150


def test_index_shows_each_wave_and_the_latest_satisfaction(normal, facts):
    p = normal[1]["pages"]["index"]
    text = p["text"]
    latest = facts["satisfaction"][-1]
    assert f"Apmierināti klienti {latest[0]}" in text and pct0(latest[1]) in text
    rows = {r[0]: r for t in p["tables"] for r in t["rows"]}
    for wave, share in facts["satisfaction"]:
        assert str(wave) in rows and f"{100 * share:.1f}%" in rows[str(wave)], wave
    bars = p["charts"][0]
    assert {s["name"] for s in bars["series"]} >= {"Pilnīgi apmierināts / fully", "Grūti pateikt / hard to say"}


def test_trend_shows_every_estimate_and_a_gap_where_an_item_was_not_asked(normal, facts):
    p = normal[1]["pages"]["trend"]
    text = p["text"]
    for _, wave, est, lo, hi in facts["trend_cells"]:
        assert cell(est, lo, hi) in text, (wave, est)
    assert facts["not_asked"], "the sample has a wave that did not ask an item"
    by_title = {c["title"][0]: c for c in p["charts"]}
    for name_lv, wave in facts["not_asked"]:
        points = dict(tuple(v) for v in by_title[name_lv]["series"][0]["values"])  # [wave, share] pairs
        assert str(wave) in points and points[str(wave)] is None, f"{name_lv}: {wave} drawn as a value, not a gap"
    assert "nav jautāts / not asked" in text
    assert "2,016" not in text and "2,030" not in text


def test_regions_show_the_latest_wave_per_region(normal, facts):
    p = normal[1]["pages"]["regions"]
    for region, est, lo, hi in facts["regions_latest"]:
        assert region in p["text"] and cell(est, lo, hi) in p["text"], region
    legend = [s["name"] for s in p["charts"][1]["series"]]
    assert legend == sorted(legend)


def test_municipality_index_lists_every_current_municipality(normal, facts):
    text = normal[1]["pages"]["municipalities"]["text"]
    for _, name in facts["municipalities"]:
        assert name in text, name


@pytest.mark.parametrize("page,code", [("municipality-riga", "0001000"), ("municipality-madona", "0038001"),
                                       ("municipality-small", None)])
def test_a_municipality_page_answers_at_a_glance(normal, facts, page, code):
    code = code or facts["small"][0]
    p = normal[1]["pages"][page]
    name, est, lo, hi = facts["trust"][code]
    assert name in p["headings"]
    assert "Vai iedzīvotāji uzticas sociālajam dienestam? / Do residents trust the social service?" in p["headings"]
    assert "Cik daudz pakalpojumu uz iedzīvotāju? / How much service per resident?" in p["headings"]
    assert f"Uzticas {facts['latest_wave']}" in p["text"]
    assert pct0(est) in p["text"]  # trust here, latest wave
    assert f"{100 * lo:.0f}–{100 * hi:.0f} %" in p["text"]  # how sure
    assert pct0(facts["latvia_trust"]) in p["text"]  # the country
    series = {s["name"] for s in p["charts"][0]["series"]}
    assert name in series and "Latvija / Latvia" in series and any("reģions" in s for s in series)
    if page == "municipality-small":
        assert "neizpaužams" in p["text"], "the small novads shows its suppressed cells as such"


def test_data_quality_page_says_nothing_is_blocked(normal, facts):
    p = normal[1]["pages"]["data-quality"]
    assert "Nekas nav bloķēts" in p["text"] and "Neviena piegāde nav noraidīta vai aizturēta" in p["text"]
    assert "Visas pārbaudes izturētas" in p["text"]
    assert len([r for t in p["tables"] for r in t["rows"] if r[2] == "passed"]) >= len(facts["gates"])
    for suite, data_ref, status in facts["gates"]:
        assert suite in p["text"] and data_ref in p["text"]


def test_methodology_page(normal):
    p = normal[1]["pages"]["methodology"]
    assert {"Rādītāji / Indicators", "Viļņi un avoti / Waves and sources"} <= set(p["headings"])
    assert "efektīvais n < 30" in p["text"]


# ---------------------------------------------------------------- a blocked run


@pytest.fixture(scope="module")
def blocked(sample_build, normal, tmp_path_factory):
    """A real blocked run (the oversized 2028 wave of tests/test_quality_gate.py): the mart gate stops
    the snapshot's marts; the run refreshes the gate status and rebuilds the site itself."""
    from ingest.sample.quality import World
    from ingest.sample.survey_generic import WAVES, generate_wave
    from tests.conftest import run_pipeline, use_data_dir

    browser = chromium()
    mp = pytest.MonkeyPatch()
    target = tmp_path_factory.mktemp("blocked") / "data"
    shutil.copytree(sample_build.paths.data_dir, target)
    paths = use_data_dir(mp, target)
    mp.setenv("TRUST_REPORTS", "auto")
    mp.setenv("TRUST_REPORT_STRICT", "1")
    mp.setenv("TRUST_REPORT_TIMEOUT", "1200")
    try:
        spec = dataclasses.replace(next(s for s in WAVES if s.wave == 2028), n=6000)
        shutil.rmtree(paths.survey_landing / "2028")
        generate_wave(spec, paths.survey_landing, np.random.default_rng(5), World())
        summary = run_pipeline()
    finally:
        mp.undo()
    site = built_copy("site_blocked", tmp_path_factory)
    with serve(site) as url:
        seen = look_at(url, {"data-quality": "/data-quality/", "index": "/"}, SCREENSHOTS / "site_blocked", browser)
    return summary, seen


def test_after_a_blocked_run_the_site_shows_the_blocked_gate_and_the_last_good_figures(blocked, normal, facts):
    summary, seen = blocked
    assert not summary.success
    assert summary.report.get("built") is True, summary.report
    assert "Report site:" in summary.render() and "built" in summary.render()
    p = seen["pages"]["data-quality"]
    assert seen["offsite"] == [] and p["errorBoxes"] == []
    assert "Kāda pārbaude neizdevās" in p["text"]
    blocked_rows = [r for t in p["tables"][:1] for r in t["rows"]]
    # the gate that stopped it: the survey-wave plausibility suite (the wave is twice the previous one)
    assert any(r[0] == "survey_waves" and "failed" in r and "respondents_ratio" in r[4] for r in blocked_rows), \
        blocked_rows
    # the wave itself is kept as quarantined (the year's earlier good state stays in force)
    assert any("quarantined" in r and "2028" in r for t in p["tables"] for r in t["rows"]), p["tables"]
    # the marts stay the last good ones: the index shows the same figures as before
    assert seen["pages"]["index"]["tables"][0]["rows"] == normal[1]["pages"]["index"]["tables"][0]["rows"]


# ---------------------------------------------------------------- the other docs a user opens


def test_great_expectations_data_docs_are_styled_offline(sample_build):
    browser = chromium()
    site = sample_build.paths.quality_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
    validation = sorted(site.glob("validations/survey_waves__all/**/*.html"))[-1]
    pages = {"gx-index": "/index.html", "gx-validation": "/" + validation.relative_to(site).as_posix()}
    with serve(site) as url:
        seen = look_at(url, pages, SCREENSHOTS / "data_docs", browser)
    assert seen["offsite"] == []
    for p in seen["pages"].values():
        assert p["status"] == 200 and p["jquery"], p["name"]
        assert p["cssRules"] > 1000, "Bootstrap's styles did not load"
    assert "survey_waves" in seen["pages"]["gx-index"]["text"]


def test_dbt_static_docs_open_offline(sample_build, tmp_path):
    browser = chromium()
    target = tmp_path / "target"
    subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "dbt"), "docs", "generate", "--static", "--profiles-dir",
                    str(REPO_ROOT / "dbt_project"), "--project-dir", str(REPO_ROOT), "--target-path", str(target)],
                   check=True, capture_output=True, timeout=600, cwd=REPO_ROOT,
                   env={**os.environ, "TRUST_DBT_DATABASE": str(sample_build.paths.warehouse_path)})
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copyfile(target / "static_index.html", docs / "index.html")
    with serve(docs) as url:
        seen = look_at(url, {"dbt-docs": "/index.html#!/model/model.trust_warehouse.mart_trust_provision"},
                       SCREENSHOTS / "dbt_docs", browser)
    assert seen["offsite"] == []
    assert "mart_trust_provision" in seen["pages"]["dbt-docs"]["text"]
