# Stint: `make run` serves the API on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint openapi clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/stint migrate
	$(BIN)/stint demo
	$(BIN)/stint serve --with-worker

test: install lint
	$(BIN)/python -m pytest

lint: install
	$(BIN)/lint-imports

openapi: install
	$(BIN)/python -m app.openapi > openapi.json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
