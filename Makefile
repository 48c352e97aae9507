# The two commands: `make run` (set up and start the app) and `make test` (set up and run
# every check). Each creates .venv on first use and reinstalls when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run demo test lint typecheck sim worker bench bundle clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The window needs a display and Qt's X11 libraries: say so in one line, before Qt aborts.
run: $(STAMP)
	@$(BIN)/python -m batchmon.ui.qt_runtime $(ARGS)
	$(BIN)/batchmon $(ARGS)

demo: $(STAMP)
	@$(BIN)/python -m batchmon.ui.qt_runtime --demo
	$(BIN)/batchmon --demo

sim: $(STAMP)
	$(BIN)/batchmon sim $(ARGS)

worker: $(STAMP)
	$(BIN)/batchmon worker $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check batchmon tests benchmarks
	$(BIN)/ruff format --check batchmon tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP)
	@sh scripts/ensure-system-deps.sh
	$(MAKE) --no-print-directory lint typecheck
	$(BIN)/lint-imports
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q --ignore=tests/ui $(PYTEST_ARGS)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q tests/ui $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

bundle: $(STAMP)
	sh packaging/build-bundle.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info
