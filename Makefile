# Two commands a newcomer needs: `make run` and `make test`. Both build .venv from pyproject.toml.
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

.PHONY: install run test lint migrate bench
install: $(VENV)/.installed

run: install  ## the service on the embedded default: SQLite file + in-process blacklist
	$(VENV)/bin/revocation migrate --dev
	$(VENV)/bin/revocation serve --dev

CODE := src tests $(wildcard bench examples) piccolo_conf.py

lint: install
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)
	$(VENV)/bin/mypy

test: lint  ## ruff, mypy, then every unit and integration test
	$(VENV)/bin/pytest

migrate: install
	$(VENV)/bin/revocation migrate

bench: install  ## the benchmark (README, "Benchmark"): needs wrk, redis-server and a Postgres
	$(PY) -m bench $(BENCH_ARGS)
