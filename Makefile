# Two commands do all set-up on a fresh machine:
#   make run    the main job: generate listening data, build the warehouse on DuckDB
#   make test   what CI runs: lint the SQL, build a small generated dataset with bad rows, pytest
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BQEMU_VENV := .venv-bqemu
export DBT_PROFILES_DIR := $(CURDIR)

# The main job's scale; override on the command line: make run USERS=20000 DAYS=90
USERS ?= 2000
TRACKS ?= 20000
DAYS ?= 60
SEED ?= 42
DATA_DIR ?= target/data
export TUNESDAY_RAW_DIR ?= $(DATA_DIR)/raw

.PHONY: help run generate build serve eval test test-oddities lint pytest bench clean

help:
	@echo "make run     generate data ($(USERS) users, $(TRACKS) tracks, $(DAYS) days), build the warehouse, serve it on :8080"
	@echo "make serve   export the built warehouse's serving tables and serve them (gunicorn, 127.0.0.1:8080)"
	@echo "make eval    offline evaluation of the recommendations on the main job's data"
	@echo "make test    lint + dbt build on a small generated dataset + pytest (what CI runs)"
	@echo "make test-oddities  build the project once per real-world oddity, each alone (~1 min each)"
	@echo "make bench   generator benchmark (10 million events)"
	@echo "make clean   remove build output (target/, logs/) but keep the virtual environment"

# The virtual environment is rebuilt whenever pyproject.toml changes. The extra `flyte` (the daily
# job as a Flyte workflow, tunesday/orchestration/) installs beside dbt; CI runs it locally.
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,flyte]'
	touch $@

# The main job regenerates the data, so it rebuilds incremental models from scratch, published
# Discover Weekly lists included (a plain --full-refresh keeps them); a daily
# scheduled run is a plain `dbt build --vars '{run_date: YYYY-MM-DD}'`.
run: generate build serve

generate: $(VENV)/.installed
	$(BIN)/tunesday-generate --users $(USERS) --tracks $(TRACKS) --days $(DAYS) --seed $(SEED) --out $(DATA_DIR)

build: $(VENV)/.installed
	$(BIN)/dbt build --full-refresh --vars '{rebuild_published_weeks: true}'
	$(BIN)/dbt show --select audit_raw__row_counts --limit 20

# Export the warehouse's serving tables to a snapshot, then serve them (foreground; Ctrl-C stops).
serve: $(VENV)/.installed
	$(BIN)/tunesday-serving export
	@echo "serving on http://127.0.0.1:8080 — try: curl -s http://127.0.0.1:8080/v1/users/usr_0000000001/discover-weekly"
	$(BIN)/gunicorn -c serving/gunicorn.conf.py

# Lint and pytest side by side: lint is one single-threaded sqlfluff process (~2 min) and the
# tests leave a core idle most of the time (dbt's and the BigQuery emulator's Python is
# single-threaded); make fails if either fails. Lines of the two outputs are not mixed.
test: $(VENV)/.installed $(BQEMU_VENV)/.installed
	$(MAKE) --no-print-directory -j2 --output-sync=line lint pytest

# The BigQuery emulator gets its own venv (its pins clash with dbt-duckdb's). Offline once
# installed: its DuckDB loads the spatial extension from the package, not from the internet.
$(BQEMU_VENV)/.installed: ci/bqemulator-requirements.txt
	test -d $(BQEMU_VENV) || $(PYTHON) -m venv $(BQEMU_VENV)
	$(BQEMU_VENV)/bin/pip install --quiet -r ci/bqemulator-requirements.txt
	mkdir -p $(BQEMU_VENV)/home
	HOME=$(CURDIR)/$(BQEMU_VENV)/home $(BQEMU_VENV)/bin/python -c "import duckdb, duckdb_extension_spatial, pathlib; \
	  ext = next(pathlib.Path(duckdb_extension_spatial.__file__).parent.rglob('spatial.duckdb_extension')); \
	  duckdb.connect().execute(f\"INSTALL '{ext}'\")"
	touch $@

# The export's own DuckDB queries (serving/sql) have their own config there (placeholder templater):
# sqlfluff takes the templater only from the directory it runs in.
lint: $(VENV)/.installed
	$(BIN)/sqlfluff lint models tests macros snapshots
	$(BIN)/dbt parse --quiet
	$(BIN)/python ci/stage_check.py target/manifest.json
	cd serving/sql && $(CURDIR)/$(BIN)/sqlfluff lint .

# PYTEST_ARGS: extra arguments, e.g. make test PYTEST_ARGS=--durations=30
pytest: $(VENV)/.installed $(BQEMU_VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

# Every case of tests/fixtures/oddities/cases.json alone in the small generated dataset, one build each.
test-oddities: $(VENV)/.installed
	$(BIN)/pytest tests/python/test_oddities.py -m each_oddity_alone

bench: $(VENV)/.installed
	$(BIN)/python bench/generator_bench.py

# Offline evaluation on the main job's data: lists made a week before its last day, scored on that week.
eval: $(VENV)/.installed
	$(BIN)/python bench/offline_eval.py --data $(DATA_DIR)

clean:
	rm -rf target logs
