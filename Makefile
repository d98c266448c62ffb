# The project's commands. Each installs what it needs into .venv first.
#   make serve   install and start the sandbox on the embedded store at http://localhost:8000
#   make test    install the test extras and run the whole suite, on PostgreSQL and on SQLite
#   make bench   run the benchmarks in bench/ (they print their figures) and bench/peers (the ratios to the peers)
#   make lint    ruff and mypy

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: serve test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.installed-app

serve: $(VENV)/.installed-app
	$(BIN)/segur-sandbox serve --host 127.0.0.1 --port 8000

# One worker per core (pytest-xdist): the tests wait on the store as much as they compute, so two workers
# halve the time on two cores.
TEST_WORKERS ?= auto

test: $(VENV)/.installed-dev
	$(BIN)/pytest -n $(TEST_WORKERS)

# bench/peers/compare.py runs the peers side by side (oidc-provider, installed with npm on first use, and an
# aiosmtpd sink) under wrk and smtplib, and prints the ratios (issue 16).
bench: $(VENV)/.installed-dev
	@for script in bench/[!_]*.py bench/peers/compare.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy app

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
