# TaskFlow: `make run` sets everything up and serves http://127.0.0.1:5000; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := taskflow:create_app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-postgres install venv assets migrate seed serve messages bench clean browser libreoffice

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python

# Reinstall only when requirements.txt changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

install: $(VENV)/.installed node_modules/.package-lock.json

assets: node_modules/.package-lock.json

migrate: install
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask demo setup

serve:
	$(BIN)/python -m taskflow.devserver --host $(HOST) --port $(PORT)

run: seed serve

# Debian's chromium for the browser tests (never a downloaded browser build), and a CJK font so
# screenshots of the Chinese UI are legible.
browser:
	@(test -x /usr/bin/chromium && dpkg -s fonts-wqy-microhei >/dev/null 2>&1) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null)

# LibreOffice (headless, from Debian's packages) and poppler-utils: tests convert the bulletin and
# each Excel export to PDF and count the pages (pdfinfo, pdftotext).
libreoffice:
	@(command -v soffice >/dev/null && command -v pdfinfo >/dev/null) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-writer-nogui libreoffice-calc-nogui poppler-utils >/dev/null)

PYTEST := $(BIN)/python -m pytest -n 2 --dist loadfile --durations=15 $(PYTEST_ARGS)

# The whole suite on SQLite, then again on a throwaway PostgreSQL server (.ci/postgres.sh: as root
# it uses or installs Debian's postgresql-15; the server lives in a temp dir and is stopped at the end).
test: test-sqlite test-postgres

test-sqlite: install browser libreoffice
	@echo "== test suite on SQLite =="
	$(PYTEST)

test-postgres: install browser libreoffice
	@echo "== test suite on PostgreSQL =="
	bash .ci/with-postgres.sh $(PYTEST)

# Update every area's message catalog from its code and templates (run after changing strings).
messages: install
	$(BIN)/python -m taskflow.core.i18n_tools update

bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) node_modules instance
