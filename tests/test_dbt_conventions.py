"""dbt-labs' conventions, checked by a maintained linter from PyPI (dbt-bouncer) on the project's
manifest: a primary-key test on every model, descriptions on every model and mart column,
directories and prefixes by layer, intermediate models never reading marts, an upper bound on joins,
no rejoined upstream concepts. Every exception is an `exclude` with its reason in dbt-bouncer.yml."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_dbt_project_keeps_the_conventions(tmp_path):
    target = tmp_path / "target"
    env = {**os.environ, "TRUST_DBT_DATABASE": str(tmp_path / "parse.duckdb")}
    parse = subprocess.run([str(BIN / "dbt"), "parse", "--profiles-dir", "dbt_project", "--target-path", str(target)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert parse.returncode == 0, parse.stdout[-3000:]
    config = yaml.safe_load((ROOT / "dbt-bouncer.yml").read_text(encoding="utf-8"))
    config["dbt_artifacts_dir"] = str(target)
    (tmp_path / "bouncer.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run = subprocess.run([str(BIN / "dbt-bouncer"), "--config-file", str(tmp_path / "bouncer.yml"),
                          "--show-all-failures"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "All checks passed" in run.stdout


def test_every_exception_gives_its_reason():
    """Each `exclude` entry of dbt-bouncer.yml is preceded by a comment saying why."""
    lines = (ROOT / "dbt-bouncer.yml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("- ^"):
            j = i - 1
            while lines[j].strip().startswith("- ^"):
                j -= 1
            assert lines[j].strip().startswith("#") or lines[j].strip() == "exclude:" and lines[j - 1].strip().startswith("#") \
                or lines[j].strip().startswith("#"), f"no reason above {line.strip()}"


def test_the_join_bound_counts_joins():
    """The regular expression that bounds joins fails at 7 and passes at 6 (so it can fail)."""
    pattern = next(c["regexp_pattern"] for c in yaml.safe_load((ROOT / "dbt-bouncer.yml").read_text())["manifest_checks"]
                   if c["name"] == "check_model_code_does_not_contain_regexp_pattern")
    six = "select * from a " + " ".join(f"left join t{i} using (k)" for i in range(6))
    seven = six + "\ninner join t7 using (k)"
    # dbt-bouncer applies it with re.match and DOTALL, as here
    assert not re.match(pattern, six, re.DOTALL) and re.match(pattern, seven, re.DOTALL)
