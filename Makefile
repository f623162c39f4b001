# Component Hub — the two commands of the quick start are `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= .data

.PHONY: install serve test lint format schema bench bench-full clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv with the hub and its dev extras

serve: install ## start the hub on 127.0.0.1:8000 (SQLite + local files in .data/)
	$(VENV)/bin/hub serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

test: install ## the whole suite
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

schema: install ## regenerate schemas/hub-manifest.v1.json from the manifest model
	$(PY) -m hub_server.manifest > schemas/hub-manifest.v1.json

bench: install ## the benchmark suite, quick sizes (see bench/README.md; needs wrk)
	$(PY) -m bench.run --quick $(BENCH_ARGS)

bench-full: install ## 1k/10k/100k components (1M versions) on SQLite and PostgreSQL, ~50 min
	$(PY) -m bench.run --db sqlite,postgres $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
