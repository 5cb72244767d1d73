# tracepost: two commands. `make dev` runs the embedded stack, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test lint typecheck pytest e2e clean system-packages lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,test]'
	touch $(STAMP)

## dev: set up .venv and run Temporal (+ Web UI), the PayTrace simulator, the Sage 500 stand-in, worker and api
dev: $(STAMP)
	$(BIN)/tracepost dev

## test: set up .venv and run ruff, mypy and the whole pytest suite
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

pytest: $(STAMP)
	$(BIN)/pytest

## lock: pin pyproject.toml's dependencies with hashes into deploy/requirements.lock and
## deploy/build-requirements.lock (the image installs only these; needs the package index)
lock: | $(BIN)/python
	$(BIN)/python deploy/lock.py

## system-packages: what the system must have (Debian/Ubuntu, run as root): the ODBC driver manager
## and chromium (the ops pages' browser tests)
SYSTEM_PACKAGES := unixodbc tdsodbc chromium
system-packages:
	@if command -v apt-get >/dev/null 2>&1; then \
		if ! dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
		fi; \
	else \
		echo "install unixODBC, FreeTDS (tdsodbc) and chromium with your system's package manager" >&2; \
	fi

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache *.egg-info
