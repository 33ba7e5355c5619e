# Quick start: `make run` serves the helpdesk with demo data; `make test` runs the test suite.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test lint migrate demo clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(INSTALLED)

run: $(INSTALLED)
	mkdir -p var
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py demo
	DEBUG=1 $(PY) manage.py serve --host 127.0.0.1 --port 8000

test: $(INSTALLED)
	mkdir -p var
	$(PY) -m pytest --ignore=tests/e2e $(PYTEST_ARGS)
	# Real-browser tests in a call of their own: Playwright's sync API leaves an event loop behind.
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

clean:
	rm -rf var .pytest_cache .ruff_cache
