# docbatch — one entry point. `make run` sets everything up and runs a sample batch;
# `make test` runs lint, type checks and the test suite.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-deps run up worker test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create the virtualenv and install docbatch with its dev tools

system-deps: ## Tesseract OCR and language packs (Debian, as root)
	bash scripts/install-system-deps.sh

run: install ## process ./samples on the embedded stack, print the summary, stop
	$(PY) starter.py run samples --embedded

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

test: lint ## lint, type-check, then the whole test suite
	$(PY) -m pytest

clean:
	rm -rf .docbatch .pytest_cache .mypy_cache .ruff_cache
