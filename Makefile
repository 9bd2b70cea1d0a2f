# Stint: `make run` serves the API on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

LRS_VENV := .venv-lrs
LRS_STAMP := $(LRS_VENV)/.installed-stamp

.PHONY: install lrs run test lint openapi clean bench fuzz

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Ralph, the learning record store the xAPI tests push to and read back, in a virtualenv of its own
# (it pins an older FastAPI than ours). tests/db/test_lrs.py starts it on loopback.
$(LRS_STAMP): lrs-constraints.txt
	test -x $(LRS_VENV)/bin/python || $(PYTHON) -m venv $(LRS_VENV)
	$(LRS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LRS_VENV)/bin/python -m pip install --quiet -c lrs-constraints.txt 'ralph-malph[cli,lrs]' requests
	touch $(LRS_STAMP)

lrs: $(LRS_STAMP)

run: install
	$(BIN)/stint migrate
	$(BIN)/stint demo
	$(BIN)/stint serve --with-worker

test: install lrs lint
	$(BIN)/python -m pytest

# import-linter's layer contracts, ruff (style, imports sorted, line length 140), mypy on app/ against the ports.
lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check app
	$(BIN)/mypy

openapi: install
	$(BIN)/python -m app.openapi > openapi.json

# The contract fuzz (tests/test_contract_fuzz.py) with a bigger budget than CI's; `make test` runs the small one.
# Override any of these, e.g. make fuzz FUZZ_SEED=random FUZZ_EXAMPLES=500
FUZZ_EXAMPLES ?= 200
FUZZ_SCENARIOS ?= 400
FUZZ_STEPS ?= 20
FUZZ_SEED ?= 20261124
fuzz: install
	STINT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) STINT_FUZZ_SCENARIOS=$(FUZZ_SCENARIOS) STINT_FUZZ_STEPS=$(FUZZ_STEPS) \
	STINT_FUZZ_SEED=$(FUZZ_SEED) $(BIN)/python -m pytest tests/test_contract_fuzz.py $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) $(LRS_VENV) *.egg-info .pytest_cache

# Needs PostgreSQL at 127.0.0.1:5432 (uses database stint_bench); wrk if installed. A quick run:
# make bench BENCH_ARGS='--scale small --seconds 3'
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)
