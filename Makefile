# The two commands a newcomer needs: `make run` and `make test`.
# Everything else (install, bench, lint) is a building block of those or an operator's tool.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 5000
export FIPTRIAL_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: install run test bench lint clean browser

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml analysis/pyproject.toml \
          plugins/brabantse_wal/pyproject.toml plugins/template/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e ./analysis -e '.[test]' \
		-e ./plugins/brabantse_wal -e ./plugins/template
	touch $@

browser:
	tools/ensure-chromium

run: install
	$(BIN)/fiptrial db upgrade
	$(BIN)/fiptrial demo --if-empty
	$(BIN)/fiptrial run --host 127.0.0.1 --port $(PORT)

test: install browser lint
	tools/ensure-postgres
	$(BIN)/python -m pytest -p no:cacheprovider

bench: install
	tools/ensure-postgres
	$(BIN)/python bench/run.py

lint: install
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) instance test-artifacts
