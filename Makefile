# Two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell tools/find-python)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format migrations-check security bench check-deploy clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { tools/find-python; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench]"
	@touch $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-1} $(PY) manage.py load_demo
	DEBUG=$${DEBUG:-1} HOST=$(HOST) PORT=$(PORT) tools/run-dev $(PY)

# TEST_DATABASE_URL (PostgreSQL) and REDIS_URL, when set, put the suite on the real servers.
# The suite runs in one process per core (pytest-xdist); TEST_WORKERS=0 runs it in this one.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) manage.py makemigrations --check --dry-run
	$(MAKE) --no-print-directory security
	$(if $(TEST_DATABASE_URL),DATABASE_URL=$(TEST_DATABASE_URL)) $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: $(STAMP)
	$(PY) manage.py makemigrations --check --dry-run

# Static security checks: no high-severity bandit finding, no dependency with a known CVE.
security: $(STAMP)
	$(VENV)/bin/bandit -q -r -lll -x ./tests,./.venv,./var .
	$(PY) tools/audit-dependencies $(VENV)/bin/pip-audit

check-deploy: $(STAMP)
	PRODUCTION=1 SECRET_KEY=$$(openssl rand -hex 40) ALLOWED_HOSTS=clinic.example \
	DATABASE_URL=postgres://clinic@db/clinic CELERY_BROKER_URL=redis://redis:6379/0 EMAIL_URL=smtp+tls://mail:587 \
	$(PY) manage.py check --deploy --fail-level WARNING

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) var
