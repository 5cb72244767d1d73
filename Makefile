# tracepost: two commands. `make dev` runs the embedded stack, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test lint typecheck pytest e2e clean system-packages

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

## system-packages: what the system must have (Debian/Ubuntu, run as root): the ODBC driver manager
system-packages:
	@if command -v apt-get >/dev/null 2>&1; then \
		if ! dpkg -s unixodbc tdsodbc >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unixodbc tdsodbc; \
		fi; \
	else \
		echo "install unixODBC and FreeTDS (tdsodbc) with your system's package manager" >&2; \
	fi

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache *.egg-info
