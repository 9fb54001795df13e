# The two commands: `make demo` (one episode of each format, end to end) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export EPOCHPOD_HOME ?= $(CURDIR)/.epochpod
export DAGSTER_HOME ?= $(EPOCHPOD_HOME)/dagster

.PHONY: install demo test test-daemon ui lint format clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/epochpod demo

test: install
	$(BIN)/python -m pytest

# Only the scenarios that start a real dagster-daemon on PostgreSQL (`make test` runs them too).
test-daemon: install
	$(BIN)/python -m pytest -m daemon

ui: install
	$(BIN)/python -c 'from epochpod_assets.worker import write_local_instance; write_local_instance()'
	# `epochpod serve` beside it: the UI's audio and caption links and the feed are http URLs
	# on it (http://127.0.0.1:8765). Started from DAGSTER_HOME so the production dagster.yaml
	# in this folder is not in the way.
	$(BIN)/epochpod serve & serve=$$!; trap 'kill $$serve 2>/dev/null' EXIT INT TERM; \
	cd $(DAGSTER_HOME) && $(CURDIR)/$(BIN)/dagster dev -w $(CURDIR)/workspace.yaml

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy epochpod_assets

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(EPOCHPOD_HOME)
