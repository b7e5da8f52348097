# Two commands do all set-up on a fresh machine:
#   make run    the main job: generate listening data, run the daily job on it (DuckDB), serve
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
# The generated data ends the day before END_DATE (default: today, UTC): its last day is the day a
# scheduled run computes by default (yesterday).
END_DATE ?= $(shell date -u +%F)
LAST_DAY = $(shell date -u -d '$(END_DATE) - 1 day' +%F)
FIRST_DAILY_DAY = $(shell date -u -d '$(END_DATE) - 2 days' +%F)
DATA_DIR ?= target/data
export TUNESDAY_RAW_DIR ?= $(DATA_DIR)/raw

.PHONY: help run generate daily real serve docs lock eval eval-continuation train-ranker train-listener-ranker test test-oddities lint rules pytest bench clean

help:
	@echo "make run     generate data ($(USERS) users, $(TRACKS) tracks, $(DAYS) days), run the daily job on it, serve it on :8080"
	@echo "make generate  only generate the data (USERS, TRACKS, DAYS, SEED, END_DATE; into target/data)"
	@echo "make daily   the daily job on the generated data: a full build of the day before its last, then its last day as a daily run"
	@echo "make real DATA=folder  your own Spotify export in a warehouse of its own (target/real), built at its last day, served on :8080"
	@echo "make serve   serve the published snapshot (gunicorn, 127.0.0.1:8080)"
	@echo "make docs    build dbt's docs site of the warehouse (models, columns, lineage to its consumers) and serve it on 127.0.0.1:$(DOCS_PORT)"
	@echo "make eval    offline evaluation of the recommendations on the main job's data: each ranking (learned reranker, hand-weighted blend) and popularity, same run"
	@echo "make eval-continuation  playlist continuation on the shared MPD playlists: each generator, the blend and the reranker against tuned EASE and ALS (~20 min)"
	@echo "make train-ranker  retrain the continuations' reranker on pseudo-queries of the MPD training split (rankers/, macros/rankers/)"
	@echo "make train-listener-ranker  retrain the listeners' reranker on a time split of the main job's data (rankers/, macros/rankers/; ~2 min)"
	@echo "make test    lint + dbt build on a small generated dataset + pytest (what CI runs)"
	@echo "make lint    every pre-commit hook on every file (ruff, mypy, sqlfluff, no build output or shared data), dbt parse, the stage check, the alert rules"
	@echo "make lock    regenerate the locks, requirements/*.txt, keeping their versions; UPGRADE=name moves one package"
	@echo "make pytest  only the Python tests (PYTEST_WORKERS=2, PYTEST_ARGS=...)"
	@echo "make rules   check the Prometheus alert rules and run their unit tests (promtool; part of make lint)"
	@echo "make test-oddities  build the project once per real-world oddity, each alone (~1 min each)"
	@echo "make bench   generator benchmark (10 million events)"
	@echo "make clean   remove build output (target/, logs/) but keep the virtual environment"

# The virtual environment installs the lock, requirements/dev.txt: every package, its version and
# its hashes, so a fresh clone gets exactly what CI ran (`make lock` regenerates it; CONTRIBUTING.md).
# It holds the project with the extras dev, flyte (the daily job as a Flyte workflow,
# tunesday/orchestration/; CI runs it locally) and recsys (the continuation peers: implicit's ALS
# and EASE on scipy), all tested in CI. pip itself is pinned: older ones refuse the lock's extras.
PIP_VERSION := 26.3
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Regenerate the locks from pyproject.toml and requirements/bqemulator.in, keeping every version
# they already hold; UPGRADE=name moves that package (and only what it needs) to its newest.
LOCK_FLAGS = --quiet --generate-hashes --universal --python-version 3.11 $(if $(UPGRADE),--upgrade-package $(UPGRADE))
lock: $(VENV)/.installed
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra flyte --extra recsys $(LOCK_FLAGS) -o requirements/dev.txt
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -c requirements/dev.txt -o requirements/main.txt
	$(BIN)/uv pip compile requirements/bqemulator.in $(LOCK_FLAGS) -o requirements/bqemulator.txt

# The main job goes the way a scheduled deployment does: `tunesday daily` (lock, build, freshness,
# export, publish; a line per stage with its time). The data is regenerated, so the first run
# rebuilds from scratch, published Discover Weekly lists included (a plain --full-refresh keeps
# them); the last day is then an ordinary daily run, incremental like every scheduled one.
run: generate daily serve

generate: $(VENV)/.installed
	$(BIN)/tunesday-generate --users $(USERS) --tracks $(TRACKS) --days $(DAYS) --seed $(SEED) --end-date $(END_DATE) --out $(DATA_DIR)

# A line per stage on the screen; the job's JSON log (tunesday/logs.py) goes to $(JOB_LOG).
JOB_LOG ?= target/tunesday_job.log
daily: $(VENV)/.installed
	@mkdir -p $(dir $(JOB_LOG))
	$(BIN)/tunesday daily --run-date $(FIRST_DAILY_DAY) --full-refresh --vars '{rebuild_published_weeks: true}' 2>>$(JOB_LOG)
	$(BIN)/tunesday daily --run-date $(LAST_DAY) 2>>$(JOB_LOG)
	$(BIN)/python -c "from tunesday.warehouse import connect; \
	  print(connect('$${TUNESDAY_DUCKDB_PATH:-target/tunesday.duckdb}').sql('select * exclude (audited_at) from audit_raw__row_counts'))"
	$(BIN)/tunesday report

# Your own listening history (README: "Your own listening history"): DATA is the folder your
# Spotify export is unpacked into (with MPD slices and audio features if you have them). Loaded into
# a workspace of its own, built at the last day of your plays (RUN_DATE=… overrides), then served.
REAL_DIR ?= target/real
real: $(VENV)/.installed
	@test -n "$(DATA)" || { echo "make real DATA=folder: the folder your Spotify export is unpacked into" >&2; exit 2; }
	$(BIN)/tunesday real "$(DATA)" --workspace $(REAL_DIR) $(if $(RUN_DATE),--run-date $(RUN_DATE))
	$(MAKE) --no-print-directory serve TUNESDAY_SERVING_STORE=$(REAL_DIR)/serving

# Serve the published snapshot (foreground; Ctrl-C stops).
serve: $(VENV)/.installed
	@test -f $${TUNESDAY_SERVING_STORE:-target/serving}/CURRENT || { echo "make serve: nothing published in $${TUNESDAY_SERVING_STORE:-target/serving} yet: make run (or tunesday daily) first" >&2; exit 1; }
	@echo "serving on http://$${TUNESDAY_SERVING_BIND:-127.0.0.1:8080} — try: curl -s http://$${TUNESDAY_SERVING_BIND:-127.0.0.1:8080}/v1/users/usr_0000000001/discover-weekly, or open http://$${TUNESDAY_SERVING_BIND:-127.0.0.1:8080}/explore"
	$(BIN)/gunicorn -c serving/gunicorn.conf.py

# The analysts' manual: dbt's docs site of the built warehouse (every model and column described,
# the tests, and the lineage down to the exposures: the shim's routes, the reports, the harnesses),
# on its own port, not the shim's. TUNESDAY_TARGET=bigquery documents the BigQuery warehouse.
DOCS_PORT ?= 8081
docs: $(VENV)/.installed
	$(BIN)/dbt docs generate --quiet
	@echo "dbt docs on http://127.0.0.1:$(DOCS_PORT) (Ctrl-C stops)"
	$(BIN)/dbt docs serve --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

# The two environments are installed side by side (mostly downloads and unpacking), then lint
# and pytest run side by side: lint is one single-threaded sqlfluff process (~4 min) beside the
# two test processes; make fails if either fails. Lines of the two outputs are not mixed.
test:
	$(MAKE) --no-print-directory -j2 --output-sync=target $(VENV)/.installed $(BQEMU_VENV)/.installed
	$(BIN)/python ci/check_lock.py $(VENV) requirements/dev.txt $(BQEMU_VENV) requirements/bqemulator.txt
	$(MAKE) --no-print-directory -j2 --output-sync=line lint pytest

# The BigQuery emulator gets its own venv (its pins clash with dbt-duckdb's). Offline once
# installed: its DuckDB loads the spatial extension from the package, not from the internet.
$(BQEMU_VENV)/.installed: requirements/bqemulator.txt
	test -d $(BQEMU_VENV) || $(PYTHON) -m venv $(BQEMU_VENV)
	$(BQEMU_VENV)/bin/pip install --quiet pip==$(PIP_VERSION)
	$(BQEMU_VENV)/bin/pip install --quiet --require-hashes -r requirements/bqemulator.txt
	mkdir -p $(BQEMU_VENV)/home
	HOME=$(CURDIR)/$(BQEMU_VENV)/home $(BQEMU_VENV)/bin/python -c "import duckdb, duckdb_extension_spatial, pathlib; \
	  ext = next(pathlib.Path(duckdb_extension_spatial.__file__).parent.rglob('spatial.duckdb_extension')); \
	  duckdb.connect().execute(f\"INSTALL '{ext}'\")"
	touch $@

# Every pre-commit hook on every file (.pre-commit-config.yaml: no build output or shared data,
# ruff check and format, mypy, sqlfluff on the models and on serving/sql), then what needs the
# whole project: dbt's parse and the stage check. A hook that changes a file (ruff format) fails.
lint: $(VENV)/.installed rules
	$(BIN)/pre-commit run --all-files --show-diff-on-failure
	$(BIN)/dbt parse --quiet
	$(BIN)/python ci/stage_check.py target/manifest.json

# The SLO alert rules (deploy/prometheus): valid, and each alert fires on broken series and not on
# healthy ones. promtool comes with Debian's `prometheus` package; CI fails here without it rather
# than skipping the check (pytest's copy of it skips when promtool is missing).
rules:
	@command -v promtool >/dev/null || { echo "promtool is missing: apt-get install prometheus (Debian's package ships it)" >&2; exit 1; }
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

# The tests run in two processes (pytest-xdist, `--dist loadgroup`): the groups of
# tests/python/conftest.py keep each expensive fixture in one process. PYTEST_WORKERS=0 runs them
# in this process (to debug one). PYTEST_ARGS: extra arguments, e.g. PYTEST_ARGS=--durations=30.
PYTEST_WORKERS ?= 2
pytest: $(VENV)/.installed $(BQEMU_VENV)/.installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Every case of tests/fixtures/oddities/cases.json alone in the small generated dataset, one build each.
test-oddities: $(VENV)/.installed
	$(BIN)/pytest tests/python/test_oddities.py -m each_oddity_alone

bench: $(VENV)/.installed
	$(BIN)/python bench/generator_bench.py

# Offline evaluation on the main job's data: lists made a week before its last day, scored on that week.
eval: $(VENV)/.installed
	$(BIN)/python bench/offline_eval.py --data $(DATA_DIR)

# Playlist continuation the RecSys 2018 way on the shared MPD playlists (split seed 0): the project's
# ranking, then the baselines and the tuned peers in one scoring run, with the paired bootstrap.
RECSYS_DIR ?= target/recsys
eval-continuation: $(VENV)/.installed
	$(BIN)/tunesday-recsys split ../shared/data/mpd --test-playlists 1000 --seed 0 --out $(RECSYS_DIR)
	$(BIN)/tunesday-recsys continue --train $(RECSYS_DIR)/train.json.gz --challenge $(RECSYS_DIR)/challenge.json \
		--work $(RECSYS_DIR)/warehouse --out $(RECSYS_DIR)/tunesday.csv.gz
	$(BIN)/tunesday-recsys continue --train $(RECSYS_DIR)/train.json.gz --challenge $(RECSYS_DIR)/challenge.json \
		--work $(RECSYS_DIR)/warehouse-blend --out $(RECSYS_DIR)/blend.csv.gz --ranking blend
	$(BIN)/tunesday-recsys generators --work $(RECSYS_DIR)/warehouse --challenge $(RECSYS_DIR)/challenge.json \
		--ground-truth $(RECSYS_DIR)/ground_truth.json.gz
	$(BIN)/tunesday-recsys score $(RECSYS_DIR)/tunesday.csv.gz $(RECSYS_DIR)/blend.csv.gz \
		--challenge $(RECSYS_DIR)/challenge.json --ground-truth $(RECSYS_DIR)/ground_truth.json.gz \
		--train $(RECSYS_DIR)/train.json.gz --peers ease,als

# Trained on the training split only (pseudo-queries cut from it); writes the committed artifacts.
# The listeners' reranker (For You, Discover Weekly's picks) on a time split of the main job's data:
# built as of its last day minus 14 days, labels the 7 days after (make eval scores the last 7).
train-listener-ranker: $(VENV)/.installed
	$(BIN)/tunesday-recsys train-listener-ranker --data $(DATA_DIR)

train-ranker: $(VENV)/.installed
	$(BIN)/tunesday-recsys split ../shared/data/mpd --test-playlists 1000 --seed 0 --out $(RECSYS_DIR)
	$(BIN)/tunesday-recsys train-ranker --train $(RECSYS_DIR)/train.json.gz --work $(RECSYS_DIR)/ranker

clean:
	rm -rf target logs
