# The two commands a newcomer needs: `make run` and `make test` (CI runs `make test`).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

# The integration run of `make test` uses these services (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/clinic
TEST_BROKER_URL ?= redis://127.0.0.1:6379/11

.PHONY: run test install lint migrate bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

migrate: install
	mkdir -p var/mail var/broker/queue var/broker/processed
	DEBUG=1 $(PY) manage.py migrate --no-input

## make run: set up, migrate the embedded SQLite database, load demo data, start web+worker+beat
run: migrate
	DEBUG=1 $(PY) manage.py seed_demo
	@echo "Starting web (http://127.0.0.1:8000/ and /admin/), Celery worker and beat. Ctrl-C stops all."
	DEBUG=1 PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start

lint: install
	$(PY) -m ruff check .
	@# makemigrations also checks the embedded database's migration history: without var/ (a
	@# fresh clone) it warns "unable to open database file".
	mkdir -p var
	DJANGO_SETTINGS_MODULE=clinic.test_settings $(PY) manage.py makemigrations --check --dry-run

## make test: lint, the whole suite on the embedded default, then again on PostgreSQL + Redis
test: lint
	env -u DATABASE_URL -u CELERY_BROKER_URL $(PY) -m pytest -m "not integration"
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
		$(PY) -m clinic.services_check
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) -m pytest

## make bench: seed a clinic-network-sized data set on PostgreSQL + Redis and measure (README)
# The bench drops and re-creates BENCH_DATABASE_URL's database: never point it at real data.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/clinic_bench_data
BENCH_BROKER_URL ?= redis://127.0.0.1:6379/7
BENCH_ARGS ?=
bench: install
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_BROKER_URL=$(BENCH_BROKER_URL) \
		$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf var/ .pytest_cache staticfiles

# --- Browser tests (tests/browser): Debian's Chromium driven by Playwright; never a downloaded
# browser build. Installed here when missing and we are root (CI, fresh machines); otherwise say
# what to run, and the browser tests fail with the same message.
CHROMIUM ?= /usr/bin/chromium
.PHONY: chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "Chromium is missing at $(CHROMIUM): run 'sudo apt-get install chromium'" >&2; \
		exit 1; \
	fi
test: chromium
