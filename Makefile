# The two commands a newcomer needs: `make run` and `make test`.
# Everything else (install, bench, lint) is a building block of those or an operator's tool.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 5000
PACKAGES := -e ./analysis -e '.[test]' -e ./plugins/brabantse_wal -e ./plugins/template
# pytest-xdist: one worker more than there are cores (each with its own SQLite files and
# PostgreSQL database), since many tests wait on child processes, Chromium or the database. On
# this two-core machine the suite took 341 s with 2 workers, 277 s with 3 and 305 s with 4.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
export FIPTRIAL_INSTANCE_PATH ?= $(CURDIR)/instance
# Python keeps the bytecode it compiles (__pycache__, ignored by git) even where the environment
# says PYTHONDONTWRITEBYTECODE: otherwise every process (each test worker, racer, gunicorn worker
# and CLI call) compiles the platform and its libraries again, some 6 s of CPU each.
unexport PYTHONDONTWRITEBYTECODE
# mypy keeps its cache beside uv's, for every checkout on the machine: a fresh clone then checks
# its types in about a second of CPU instead of 45. mypy takes an entry only for a file whose
# contents hash the same (a clone's paths and mtimes differ); the SQLite store writes each run
# in one transaction, so two checkouts checking at once cannot mix their entries.
export MYPY_CACHE_DIR ?= $(HOME)/.cache/fiptrial/mypy

.PHONY: install run test bench lint lint-quick clean browser

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml analysis/pyproject.toml \
          plugins/brabantse_wal/pyproject.toml plugins/template/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the platform, its plugins and the test tools into $(VENV) ..."
	@# uv resolves and installs in seconds; pip is the fallback where uv cannot be had.
	@echo "Fetching uv (the installer) from the package index ..."
	@if $(BIN)/python -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; then \
		$(BIN)/uv pip install --python $(BIN)/python $(PACKAGES); \
	else \
		echo "uv is not available: installing with pip (slower)"; \
		$(BIN)/python -m pip install --upgrade pip setuptools wheel && \
		$(BIN)/python -m pip install --progress-bar on $(PACKAGES); \
	fi
	@touch $@
	@echo "Installed."

browser:
	tools/ensure-chromium

# The scheduler runs as a second process beside the web server (as in production, where one
# host runs it) and is stopped with it: overdue checks, re-planning and follow-up rounds show.
# One worker takes the queued imports (PostgreSQL; on SQLite they run in the web process and
# the worker says so and stops). Both stop with the server.
run: install
	$(BIN)/fiptrial db upgrade
	$(BIN)/fiptrial demo --if-empty
	@$(BIN)/fiptrial scheduler run & scheduler=$$!; \
	$(BIN)/fiptrial worker & worker=$$!; \
	trap 'kill $$scheduler $$worker 2>/dev/null; wait $$scheduler $$worker 2>/dev/null' EXIT INT TERM; \
	echo "Scheduler (process $$scheduler) and worker (process $$worker) started; they stop with the server."; \
	$(BIN)/fiptrial run --host 127.0.0.1 --port $(PORT)

# mypy checks the types beside the tests instead of before them (about 45 s of CPU where its
# cache is cold); the run fails if either fails, and mypy's findings are printed last.
test: install browser lint-quick
	tools/ensure-postgres
	@$(BIN)/mypy > $(VENV)/mypy.log 2>&1 & typecheck=$$!; \
	$(BIN)/python -m pytest -p no:cacheprovider -n $(PYTEST_WORKERS) --dist worksteal --durations=15; \
	tests=$$?; wait $$typecheck; typed=$$?; cat $(VENV)/mypy.log; \
	test $$tests -eq 0 && test $$typed -eq 0

bench: install
	tools/ensure-postgres
	$(BIN)/python bench/run.py

lint: lint-quick
	$(BIN)/mypy

# What takes seconds: the style, the formatting and the layer contract (import-linter).
lint-quick: install
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/lint-imports --no-logo --cache-dir .import_linter_cache

clean:
	rm -rf $(VENV) instance test-artifacts
