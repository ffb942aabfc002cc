"""Model layering (docs/architecture.md, "A run, layer by layer"): staging reads sources, intermediate reads staging,
seeds and intermediate - never a mart. A mart is what analysts and the snapshot read; a model that
builds on one would tie the intermediate layer to a published contract and to its own consumers."""
from __future__ import annotations

import re
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models"
REF = re.compile(r"""ref\(\s*['"]([a-z0-9_]+)['"]\s*\)""")


def refs_of(path: Path) -> set[str]:
    return set(REF.findall(path.read_text(encoding="utf-8")))


def test_intermediate_and_staging_models_never_read_a_mart():
    marts = {p.stem for p in (MODELS / "marts").rglob("*") if p.suffix in (".sql", ".py")}
    assert {"fct_respondent", "dim_item_wave", "mart_indicator_estimates"} <= marts
    offenders = {f"{p.relative_to(MODELS)} -> {r}"
                 for layer in ("staging", "intermediate")
                 for p in (MODELS / layer).rglob("*") if p.suffix in (".sql", ".py")
                 for r in refs_of(p) & marts}
    assert not offenders, sorted(offenders)


# --- Python: imports run one way, nothing happens at import, settings are read in one place -------------

import ast  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ingest", "orchestration", "estimation", "expectations")
HEAVY = ("dagster", "dagster_dbt", "dbt", "great_expectations")


def own_modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = p
    return mods


def imports_of(module: str, path: Path):
    """(imported name, line, inside a function) for every import statement of `module`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []

    def walk(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = module.split(".")[: (None if path.name == "__init__.py" else -1)]
                    parts = parts[: len(parts) - child.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                out.append((base, child.lineno, in_function))
                out.extend((f"{base}.{a.name}", child.lineno, in_function) for a in child.names)
            walk(child, inner)

    walk(tree, False)
    return out


def own_imports() -> list[tuple[str, str, int, bool]]:
    mods = own_modules()
    return [(m, name, line, inner) for m, p in mods.items() for name, line, inner in imports_of(m, p)
            if name in mods and name != m]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_among_our_modules_counting_imports_inside_functions():
    edges: dict[str, set[str]] = {}
    for m, name, _, _ in own_imports():
        edges.setdefault(m, set()).add(name)
    found = cycles(edges)
    assert not found, "import circles (each a set of modules importing each other, top level or in functions):\n" + \
        "\n".join(" <-> ".join(c) for c in found)


def test_a_function_level_import_of_our_own_is_lazy_and_says_why():
    """The only import of our own modules inside a function keeps a heavy library (Dagster, dbt, GX)
    out of a light command's path; it says so with `lazy: <why>` on its line or the line above."""
    mods = own_modules()
    missing = []
    for m, name, line, inner in own_imports():
        if not inner:
            continue
        lines = mods[m].read_text(encoding="utf-8").splitlines()
        if "lazy:" not in lines[line - 1] and not (line > 1 and "lazy:" in lines[line - 2]):
            missing.append(f"{mods[m].relative_to(ROOT)}:{line} imports {name}")
    assert not missing, missing


def test_ingest_runs_without_dagster():
    offenders = [f"{p.relative_to(ROOT)}:{line} {name}" for m, p in own_modules().items() if m.startswith("ingest")
                 for name, line, _ in imports_of(m, p) if name.split(".")[0] in ("dagster", "dagster_dbt")]
    assert not offenders, offenders


# Statements that are a bare call at a module's top level and are harmless: none are needed today.
# (e.g. "warnings.filterwarnings" would be one: it changes no file, starts no process.)
HARMLESS_MODULE_CALLS: set[str] = set()


def _module_level_calls(tree: ast.Module):
    def body_of(node):
        for stmt in node.body if hasattr(node, "body") else []:
            if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test):
                continue  # a script's entry point
            yield stmt
            if isinstance(stmt, (ast.If, ast.Try, ast.With)):
                yield from body_of(stmt)
                for extra in (getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])):
                    yield from (s for s in extra)
                for handler in getattr(stmt, "handlers", []):
                    yield from handler.body

    for stmt in body_of(tree):
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            yield stmt


def test_no_module_does_work_at_import():
    """No bare call at a module's top level (a tool run, a file written, the environment changed)."""
    found = []
    for m, p in own_modules().items():
        for stmt in _module_level_calls(ast.parse(p.read_text(encoding="utf-8"))):
            called = ast.unparse(stmt.value.func)
            if called not in HARMLESS_MODULE_CALLS:
                found.append(f"{p.relative_to(ROOT)}:{stmt.lineno} {ast.unparse(stmt)[:80]}")
    assert not found, found


IMPORT_PROBE = r"""
import json, os, sys
events = []
def hook(event, args):
    if event in ("subprocess.Popen", "os.posix_spawn", "os.exec") and "dbt" in repr(args[:2]):
        events.append(f"{event} {args[:2]!r}"[:200])  # (a library may ask `file` about this Python: not ours)
    elif event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        mode = args[1] if isinstance(args[1], str) else ""
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writes = any(c in mode for c in "wax+") or bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if path.endswith("manifest.json") or (writes and not path.startswith("/dev/")
                                              and "__pycache__" not in path and not path.endswith(".pyc")):
            events.append(f"open {path} {mode or flags}")
sys.addaudithook(hook)
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(events))
"""


def test_importing_the_definitions_reads_no_manifest_runs_nothing_and_writes_nothing(tmp_path):
    """`dagster dev` and the tests import orchestration.definitions and orchestration.publish: neither
    parses dbt nor reads its manifest nor writes a file at import; the definitions are built on demand."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    env.update(TRUST_DATA_DIR=str(tmp_path / "data"), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE, "orchestration.publish", "orchestration.definitions",
                           "orchestration.dbt_assets", "orchestration.cli", "orchestration.ui"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --- settings: read once, in ingest/settings.py, and documented ------------------------------------------

SETTINGS_MODULE = ROOT / "ingest" / "settings.py"


def _python_files():
    for pkg in (*PACKAGES, "dbt_project"):
        for p in (ROOT / pkg).rglob("*.py"):
            if "target" not in p.relative_to(ROOT).parts:
                yield p


def environment_reads(path: Path) -> list[str]:
    """Every use of os.environ / os.getenv in a file but a plain assignment to a variable
    (``os.environ["X"] = ...``: setting a variable for Dagster, dbt or a library is not reading one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    writes = {id(t.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
              for t in node.targets if isinstance(t, ast.Subscript)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb") and \
                ast.unparse(node.value) == "os" and id(node) not in writes:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and \
                {a.name for a in node.names} & {"environ", "getenv"}:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} (from os import ...)")
    return found


def test_the_environment_is_read_in_the_settings_module_only():
    reads = [r for p in _python_files() if p != SETTINGS_MODULE for r in environment_reads(p)]
    assert not reads, reads
    assert environment_reads(SETTINGS_MODULE)  # the check sees the reads where they are


def configuration_table() -> dict[str, str]:
    """The variables of the first table of docs/configuration.md (header | variable | default | what it does |)."""
    lines = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("| variable | default | what it does |")
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1]
    return rows


def test_every_setting_is_documented_and_every_documented_variable_is_a_setting():
    from ingest.settings import Settings, variables

    documented = configuration_table()
    assert set(documented) == set(variables().values())
    for f in dataclasses.fields(Settings):
        assert f.metadata["default"] == documented[f.metadata["env"]], f.name


def test_settings_come_from_the_environment_given():
    from ingest.settings import Settings

    s = Settings.from_env({"TRUST_DATA_DIR": "/srv/trust", "TRUST_TODAY": "2031-05-04", "TRUST_REPORTS": "SKIP",
                           "TRUST_LOCK_TIMEOUT": "5", "TRUST_FAULT_AT": "dbt:built"})
    assert s.warehouse_path == Path("/srv/trust/warehouse/trust.duckdb") and s.landing_dir == Path("/srv/trust/landing")
    assert (s.today.isoformat(), s.reports, s.lock_timeout, s.fault) == ("2031-05-04", "skip", 5.0, "dbt:built")
    assert Settings.from_env({}).fault == "" and Settings.from_env({}).archive_dir is None


def test_faults_are_inert_until_an_entry_point_arms_them():
    from ingest import faults
    from ingest.settings import Settings

    # nothing armed at import, whatever the environment says (a fresh process: in this one an earlier
    # test may have run the CLI in-process, which arms the hook for the rest of its process)
    probe = "import ingest.faults as f, sys; sys.exit(0 if f._configured is None and not f.armed('run:created') else 1)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TRUST_FAULT_AT": "run:created"})
    assert done.returncode == 0, done.stderr
    before = faults.configure(None)
    try:
        with faults.configured(Settings.from_env({"TRUST_FAULT_AT": "run:created"})):
            assert faults.armed("run:created") and not faults.armed("dbt:built")
        assert not faults.armed("run:created")
    finally:
        faults.configure(before)
