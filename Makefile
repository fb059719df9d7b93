# The two quick-start commands are `make demo` and `make test`; everything else is for developers.
SHELL := /bin/bash
PYTHON_VERSION ?= 3.12
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: install demo serve test lint typecheck check worker beat bench clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --python $(PYTHON_VERSION)
	touch $@

install: $(VENV)/.synced

## make demo: set up, migrate, load demo data and serve on 127.0.0.1:8000 with the Stripe sandbox
demo: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py demo_seed
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

## make test: set up and run the whole suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
test: install
	DEBUG=1 $(PY) manage.py collectstatic --noinput --verbosity 0
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	DEBUG=1 $(VENV)/bin/mypy .

check: lint typecheck
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

worker: install
	$(VENV)/bin/celery -A marketplace worker --loglevel INFO --concurrency 2

beat: install
	$(VENV)/bin/celery -A marketplace beat --loglevel INFO

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(TOOLS) staticfiles .pytest_cache .mypy_cache .ruff_cache
