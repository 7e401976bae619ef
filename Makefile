# The two commands a new user needs:
#   make demo   set up, then run the whole pipeline on the embedded demo release
#   make test   set up, then run the whole test suite (and the linters)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export KOSTRA_HOME ?= $(CURDIR)/warehouse

.PHONY: setup demo test test-fast lint bench proof proof-small dbt-parse docs dev

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# dagster-dbt reads dbt's parsed manifest; parse once per setup, not per run. The same parse is the state
# every home's first dbt step starts from (pipeline/transform/parse.py).
dbt_project/target/manifest.json: $(STAMP) $(shell find dbt_project/models dbt_project/macros dbt_project/seeds dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml dbt_project/profiles.yml pipeline/transform/parse.py
	$(BIN)/python -m pipeline.transform.parse

dbt-parse: dbt_project/target/manifest.json

setup: $(STAMP) dbt-parse

demo: setup
	$(BIN)/kostra run

test: setup lint
	$(BIN)/pytest -n 2 --dist loadfile -q

# The unit tests only: no dbt, no Dagster, no proof-suite trials (every test that runs one is marked slow).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check pipeline orchestration tests bench
	$(BIN)/ruff format --check pipeline orchestration tests bench
	# sqlfluff's dbt templater opens the profile's database and writes dbt's parse state: give it a throwaway
	# folder for both, never a real home nor dbt_project/target (the parse state new homes start from).
	cd dbt_project && T=$$(mktemp -d) && KOSTRA_BUILD_DB=$$T/lint.duckdb DBT_TARGET_PATH=$$T/target ../$(BIN)/sqlfluff lint models tests macros --templater dbt --processes 2

bench: setup
	$(BIN)/python -m bench.run

# The proof suites of issue 11 (faults, crashes, fuzzing, idempotency, the sandbox, interrupts) at full size;
# each writes its tried/handled row into bench/RESULTS.md. About 15 minutes on two cores.
proof: setup
	$(BIN)/python -m bench.proof all --size full

# Every proof suite at its reduced size (CI runs it after `make test`); fails unless every trial was handled.
proof-small: setup
	$(BIN)/python -m bench.proof all --size small --no-record

# Dagster's UI on the same graph, with the instance settings that keep one writer on DuckDB.
dev: setup
	mkdir -p $(KOSTRA_HOME)/dagster
	cp orchestration/dagster.yaml $(KOSTRA_HOME)/dagster/dagster.yaml
	DAGSTER_HOME=$(KOSTRA_HOME)/dagster $(BIN)/dagster dev

docs: setup
	cd dbt_project && KOSTRA_BUILD_DB="$(KOSTRA_HOME)/build/kostra_build.duckdb" ../$(BIN)/dbt docs generate --profiles-dir . --log-path "$(KOSTRA_HOME)/dbt/logs" --target-path "$(KOSTRA_HOME)/dbt/docs"
