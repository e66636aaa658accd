# Two commands a newcomer needs: `make run` and `make test`. Both build .venv from the lock files
# (requirements/*.txt: exact versions with hashes, compiled from pyproject.toml by `make lock`).
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
UV_VERSION := 0.13.9

# The runtime set only: what the service needs to run.
$(VENV)/.runtime: requirements/runtime.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes -r requirements/pip.txt  # a recent pip installs twice as fast
	$(PIP) --require-hashes -r requirements/runtime.txt
	$(PIP) --no-deps -e .
	touch $@

# The runtime set plus the test and lint tools.
$(VENV)/.dev: $(VENV)/.runtime requirements/dev.txt
	$(PIP) --require-hashes -r requirements/dev.txt
	touch $@

.PHONY: install install-runtime run test lint migrate bench lock
install-runtime: $(VENV)/.runtime
install: $(VENV)/.dev

# After changing dependencies in pyproject.toml (or to take upstream releases): recompile both
# sets for every Python from 3.11 up, then `make test` and commit pyproject.toml with them.
lock: install-runtime
	$(PIP) uv==$(UV_VERSION)
	echo pip | $(VENV)/bin/uv pip compile - --generate-hashes --quiet $(LOCK_ARGS) \
		-o requirements/pip.txt
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
		--generate-hashes --quiet $(LOCK_ARGS) -o requirements/runtime.txt
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
		--generate-hashes --quiet $(LOCK_ARGS) --extra dev -c requirements/runtime.txt \
		-o requirements/dev.txt

run: install-runtime  ## the service on the embedded default: SQLite file + in-process blacklist
	$(VENV)/bin/revocation migrate --dev
	$(VENV)/bin/revocation serve --dev

CODE := src tests $(wildcard bench examples) piccolo_conf.py

lint: install
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)
	$(VENV)/bin/mypy

test: lint  ## ruff, mypy, then every unit and integration test
	$(VENV)/bin/pytest

migrate: install-runtime
	$(VENV)/bin/revocation migrate

bench: install  ## the benchmark (README, "Benchmark"): needs wrk, redis-server and a Postgres
	$(PY) -m bench $(BENCH_ARGS)
