# caretrust: `make run` serves the demo, `make test` runs the whole suite.
# Needs Python 3.11+ and Node.js/npm; everything else installs into .venv and node_modules, and
# scripts/system-deps installs the Debian packages (Chromium, Pango) when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format check-deploy clean system-deps-run system-deps-test

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.lock
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

system-deps-run:
	scripts/system-deps run

system-deps-test:
	scripts/system-deps test

run: system-deps-run install
	DEBUG=true $(PY) manage.py migrate --no-input -v0
	DEBUG=true $(PY) manage.py seed_demo
	@echo "caretrust is starting on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

test: system-deps-test install lint
	$(PY) -m pytest

lint: install check-deploy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(VENV)/bin/mypy
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run -v0

# Django's deployment checklist with the production settings of .env.example (and a random
# SECRET_KEY): any warning fails.
check-deploy: install
	set -a && . ./.env.example && set +a && \
	SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	$(PY) manage.py check --deploy --fail-level WARNING

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) node_modules staticfiles .pgdata
