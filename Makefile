# Reboot Tracker: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
THREADS ?= 8

.PHONY: run test test-fast screenshots bench install install-test migrate demo clean browsers

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo load
	@test -f instance/audit_signing_key.pem || $(FLASK) audit keygen

# Serve the demo: one process with threads (SQLite writes queue in-process), scheduler included.
run: demo
	@echo ""
	@echo "Reboot Tracker on http://$(HOST):$(PORT)/  (demo login: technicien@demo.reboot.example / demo-reboot-2026)"
	@echo ""
	$(BIN)/python -m asset_tracker.serve --host $(HOST) --port $(PORT) --threads $(THREADS)

test: install-test
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-fast: install-test
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not e2e" $(PYTEST_ARGS)

# Refresh the documentation screenshots (docs/screenshots, docs/audit) from the browser tests.
screenshots: install-test
	SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m e2e $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance/*.db*
