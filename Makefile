# The two quick-start commands are `make demo` and `make test`; everything else is for developers.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# The project runs on Python 3.12 or newer (pyproject.toml's requires-python). uv uses one that is
# installed (on the PATH, or one uv installed earlier); only when there is none does it download
# its own build of the version in .python-version (python-build-standalone, from GitHub), the one
# CI and the Docker image use; that file also makes pyenv's shims pick it when pyenv has it.
# `UV_PYTHON_DOWNLOADS=never make ...` forbids the download; `make ... UV_PYTHON=/path/to/python3.13`
# names the interpreter.
PYTHON_REQUEST := >=3.12
PYTHON_DOWNLOAD := $(shell cat .python-version)
export UV_PYTHON_DOWNLOADS ?= automatic
# `make demo` serves here; SITE_URL (links in emails, Stripe return URLs) follows unless set.
DEMO_ADDR ?= 127.0.0.1:8000

.PHONY: install demo serve test lint typecheck check worker beat bench clean sandbox contract contract-diff

# uv itself: with pip in a venv of python3 (any version), or, where python3 has no venv/pip
# (Debian without python3-venv), straight from its wheel on PyPI with the standard library.
$(UV):
	@if python3 -m venv $(TOOLS) >/dev/null 2>&1 && [ -x $(TOOLS)/bin/pip ]; then \
	  echo "python3 -m venv $(TOOLS) && $(TOOLS)/bin/pip install uv==$(UV_VERSION)"; \
	  $(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); \
	else \
	  rm -rf $(TOOLS); echo "python3 has no venv with pip: installing uv from its wheel"; \
	  python3 scripts/install_uv.py $(UV_VERSION) $(TOOLS)/bin; \
	fi || { \
	  rm -rf $(TOOLS); \
	  echo "make: could not install uv $(UV_VERSION) from PyPI (offline?). Run once with a network," >&2; \
	  echo "      or point pip at a reachable index (PIP_INDEX_URL)." >&2; exit 1; }

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	@if [ -n "$(UV_PYTHON)" ]; then python="$(UV_PYTHON)"; \
	elif UV_PYTHON_DOWNLOADS=never $(UV) python find '$(PYTHON_REQUEST)' >/dev/null 2>&1; then \
	  python='$(PYTHON_REQUEST)'; \
	else python='$(PYTHON_DOWNLOAD)'; \
	  echo "make: no Python $(PYTHON_REQUEST) installed; uv will download Python $(PYTHON_DOWNLOAD) (once)"; fi; \
	echo "$(UV) sync --locked --python '$$python'"; \
	$(UV) sync --locked --python "$$python" || { \
	  echo "make: could not set up .venv (messages above). It needs Python 3.12+ and the packages" >&2; \
	  echo "      of uv.lock. With no Python 3.12+ installed, uv downloads one from GitHub" >&2; \
	  echo "      (python-build-standalone); offline, install python3.12 (or newer) on the PATH" >&2; \
	  echo "      or run 'make ... UV_PYTHON=/path/to/python3.12'. Packages come from PyPI" >&2; \
	  echo "      (UV_INDEX_URL for a mirror). UV_PYTHON_DOWNLOADS=$(UV_PYTHON_DOWNLOADS)." >&2; exit 1; }
	touch $@

install: $(VENV)/.synced

## make demo: set up, migrate, load demo data and serve on 127.0.0.1:8000 with the Stripe sandbox
demo: export SITE_URL ?= http://$(DEMO_ADDR)
demo: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py demo_seed
	DEBUG=1 $(PY) manage.py runserver $(DEMO_ADDR)

## make sandbox: only the Stripe sandbox (API, hosted pages, control page, deliveries, clock) on
## its own port and SQLite file, for other languages' SDKs (docs/sandbox.md)
SANDBOX_PORT ?= 12111
sandbox: install
	DJANGO_SETTINGS_MODULE=sandbox.standalone.settings SANDBOX_PORT=$(SANDBOX_PORT) $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=sandbox.standalone.settings SANDBOX_PORT=$(SANDBOX_PORT) $(PY) manage.py runserver 127.0.0.1:$(SANDBOX_PORT)

## make contract: record the money-flow contract over HTTP into tests/contract/cassettes/sandbox
## (or, with STRIPE_SECRET_KEY=sk_test_..., against Stripe's test mode into .../stripe)
contract: install
	CONTRACT_RECORD=1 CONTRACT_STRIPE_KEY="$(STRIPE_SECRET_KEY)" STRIPE_SECRET_KEY= $(VENV)/bin/pytest tests/contract -p no:randomly -q

## make contract-diff: compare two recordings structurally (default: sandbox vs stripe)
CONTRACT_LEFT ?= tests/contract/cassettes/sandbox
CONTRACT_RIGHT ?= tests/contract/cassettes/stripe
contract-diff: install
	$(PY) -m tests.contract.recording $(CONTRACT_LEFT) $(CONTRACT_RIGHT)

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
	$(VENV)/bin/lint-imports
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

worker: install
	$(VENV)/bin/celery -A marketplace worker --loglevel INFO --concurrency 2

beat: install
	$(VENV)/bin/celery -A marketplace beat --loglevel INFO

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(TOOLS) staticfiles .pytest_cache .mypy_cache .ruff_cache
