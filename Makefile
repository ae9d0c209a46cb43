# docbatch — one entry point. `make run` sets everything up and runs a sample batch;
# `make test` runs lint, type checks and the test suite.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-deps run up worker test test-postgres lint format bench clean

# The current official client (the v2 API) beside the beta one the venv holds: its own
# folder, put first on PYTHONPATH by the v2 test pass. Its dependencies are the venv's.
CLIENT_V2 := $(VENV)/clients/llama-cloud-2.19.0

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip install --quiet --no-deps --upgrade --target $(CLIENT_V2) llama-cloud==2.19.0
	touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install docbatch with its dev tools

system-deps: ## Tesseract OCR + language packs, headless LibreOffice, Chromium for the Web UI test (Debian, as root)
	bash scripts/install-system-deps.sh

# Where `make run` writes each sample's output (NAME.md) and the manifest _docbatch.jsonl.
OUTPUTS ?= .docbatch/outputs/samples

run: install ## process ./samples on the embedded stack, write outputs to $(OUTPUTS), print the summary
	$(PY) starter.py run samples --embedded --output $(OUTPUTS)

up: install ## Temporal dev server (Web UI on :8233) + worker in the foreground; Ctrl-C stops
	$(PY) -m docbatch dev

worker: install ## a worker against $$TEMPORAL_ADDRESS
	$(PY) worker.py

lint: install ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint ## lint, type-check, then the whole test suite (with each official client)
	$(PY) -m pytest
	PYTHONPATH=$(CLIENT_V2) $(PY) -m pytest tests/api_v2

# Every store the tests make is a fresh database on that server (tests/databases.py). The
# fault suite's figures go beside, not over, the SQLite ones in docs/reliability.md,
# without the Temporal-side scenarios left out below.
test-postgres: install ## the whole test suite (both clients) on PostgreSQL ($$DOCBATCH_TEST_DATABASE_URL, else scripts/install-postgres.sh's)
	@url="$${DOCBATCH_TEST_DATABASE_URL:-$$(bash scripts/install-postgres.sh)}"; \
	test -n "$$url" || { echo "test-postgres: no Postgres server" >&2; exit 1; }; \
	DOCBATCH_TEST_DATABASE_URL="$$url" \
	DOCBATCH_RELIABILITY_REPORT="$(CURDIR)/.docbatch/reliability-postgres.md" \
	DOCBATCH_RELIABILITY_NOT_RUN=server-restart,engine-hang,hung-worker-sigkill \
	$(PY) -m pytest $(SQLITE_PASS_ONLY:%=--ignore=%) && \
	DOCBATCH_TEST_DATABASE_URL="$$url" PYTHONPATH=$(CLIENT_V2) $(PY) -m pytest tests/api_v2

# Tests the Postgres pass would only repeat: those that never open a store (engines on
# files, config and compose parsing, history replay, the benchmarks' own embedded stacks)
# and those whose subject is not the store (hostile HTTP requests and handler payloads,
# the Web UI in a browser, process signals, Temporal's task-queue priority, a hung
# engine, a Temporal server restart), which pass through it as any other test. The
# faults that involve the store (worker killed mid-write, store outage and locks, pause
# across restarts) run on both.
SQLITE_PASS_ONLY := tests/engines tests/test_models.py tests/test_compose.py \
	tests/test_bench_smoke.py tests/workflows/test_replay.py tests/api/test_fuzz.py \
	tests/workflows/test_handler_input.py tests/test_web_ui.py tests/test_processes.py \
	tests/workflows/test_priority.py tests/faults/test_activity_hang.py \
	tests/faults/test_server_restart.py

bench: install ## every benchmark (bench/run_all.py), long; writes bench/RESULTS.md
	$(PY) bench/run_all.py

clean:
	rm -rf .docbatch .pytest_cache .mypy_cache .ruff_cache
