# The trust-monitoring warehouse. First command: `make` (set up + build on the sample).
# Second command: `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

export GX_ANALYTICS_ENABLED := false
export UV_PYTHON_DOWNLOADS := never
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: all setup run test test-fast test-slow ui ui-stop load validate help reports docs status sample bench-run bench clean

all: setup run ## set everything up, then build the warehouse on the bundled sample

setup: $(VENV)/.synced reports/node_modules/.installed ## install Python (uv.lock) and Node (package-lock.json) deps

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python 3.11
	touch $@

# `npm install` (not `npm ci`): npm 11 rejects this lock in `ci` for lacking other platforms'
# optional packages; `install` keeps the locked versions (it once added those platforms' optional
# rollup entries to the lock, committed; since then it leaves the lock unchanged). Its
# postinstall (reports/scripts/patch-evidence-offline.mjs) adapts Evidence to build offline and
# stops the install, naming the versions it expects, if Evidence was upgraded under it.
reports/node_modules/.installed: reports/package.json reports/package-lock.json reports/scripts/patch-evidence-offline.mjs
	cd reports && npm install --no-audit --no-fund
	touch $@

run: ## materialise the build_warehouse job in Dagster (generates the sample if landing is empty); RETRY=1 retries held deliveries
	$(PY) -m orchestration.cli run $(if $(filter 1 yes true,$(RETRY)),--retry-held)

test: setup ## run the tests: the fast layer and the end-to-end layer (CI runs this, then test-slow)
	$(PY) -m pytest -m "not slow"

test-fast: setup ## the fast layer only: one shared sample build, no further pipeline runs (about 2 minutes)
	$(PY) -m pytest -m "not e2e and not slow"

test-slow: setup ## a SIGKILL at each named fault point, and TRUST_KILL_TRIALS (default 20; CI 3) SIGKILLs at random moments of a load, each recovered
	$(PY) -m pytest -m slow

ui: setup ## Dagster UI with the runs of `make run`, the sensor and the schedule (http://127.0.0.1:3000); stop: Ctrl-C or `make ui-stop`
	$(PY) -m orchestration.ui serve --port $${UI_PORT:-3000}

ui-stop: ## stop a Dagster UI started by `make ui` (also one running in the background)
	$(PY) -m orchestration.ui stop

# Delivered names never reach a shell: FILE, CODEBOOK, WITH, WAVE and YEAR are handed to the CLI
# through the environment, exactly as typed (not expanded by make, not pasted into a recipe).
override FILE := $(value FILE)
override CODEBOOK := $(value CODEBOOK)
override WITH := $(value WITH)
override WAVE := $(value WAVE)
override YEAR := $(value YEAR)
export FILE CODEBOOK WITH WAVE YEAR

load: ## deliver one file and build its year: make load FILE=... WAVE=2029 [CODEBOOK=...] [WITH=code list] (or YEAR=2029 for an LM extract)
	$(PY) -m orchestration.cli load --from-env

validate: ## check one file without loading it, writes nothing: make validate FILE=... WAVE=2029 (or YEAR=...)
	$(PY) -m orchestration.cli validate --from-env

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/' 

reports: setup ## rebuild the Evidence site (reports/build) from the published snapshot, offline
	$(PY) -m orchestration.cli reports

docs: setup ## dbt docs (every model and column) as one self-contained file: target/static_index.html
	TRUST_DBT_DATABASE=$${TRUST_DATA_DIR:-$(CURDIR)/data}/warehouse/trust.duckdb $(VENV)/bin/dbt docs generate --static --profiles-dir dbt_project
	@echo "dbt docs: open $(CURDIR)/target/static_index.html in a browser (works offline, no server needed)"

status: ## what is loaded and validated
	$(PY) -m orchestration.cli status

sample: ## regenerate the seeded sample deliveries
	$(PY) -m orchestration.cli sample --force

bench-run: ## time `make run` three times (figures: docs/benchmarks.md)
	for i in 1 2 3; do /usr/bin/time -f "%e s wall, %M KB max RSS" $(PY) -m orchestration.cli run > /dev/null; done

SCALES ?= 1 10 100
RUNS ?= 3
bench: setup ## benchmarks at 1x/10x/100x vs plain DuckDB -> docs/benchmarks.md (SCALES="1 10", RUNS=3)
	$(PY) -m tests.benchmarks.bench --scales $(SCALES) --runs $(RUNS)

clean: ## remove built data, dbt target and the Dagster home (keeps installs)
	rm -rf data target logs .dagster_home reports/build reports/.evidence
