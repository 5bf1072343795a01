# Two set-up commands for a fresh Debian machine: `make demo` and `make test`.
# Everything they need, Debian packages included, is installed from here.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BENCH_VENV := .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
PYTEST_WORKERS ?= 2

.PHONY: demo test docs bench-ingest bench-client bench-aggregate bench-seal bench-privacy bench-public clean

# The virtual environment is rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	scripts/ensure-debian-packages python3-venv
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# `make demo DEMO_ARGS=--exit` stops after printing the URL (for automated checks).
demo: $(VENV)/.installed
	$(PY) scripts/demo.py $(DEMO_ARGS)

# PostgreSQL (and the other real parts) are started by the test session itself,
# on loopback, and stopped when it ends: see tests/_services/.
test: $(VENV)/.installed
	scripts/ensure-debian-packages postgresql chromium openjdk-17-jre-headless nginx
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)
	$(PY) scripts/test-client-pythons

# Benchmarks run in an environment of their own (they install the tools they
# compare against), and print the figures recorded in docs/performance.md.
$(BENCH_VENV)/.installed: pyproject.toml bench/requirements.txt
	scripts/ensure-debian-packages python3-venv postgresql wrk openjdk-17-jre-headless
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -e '.[test]' -r bench/requirements.txt
	touch $@

bench-ingest: $(BENCH_VENV)/.installed
	$(BENCH_PY) bench/ingest.py

bench-client: $(BENCH_VENV)/.installed
	$(BENCH_PY) bench/client.py

# The engine's full job, a closed day, and a month's end with its week and month, on
# DuckDB and on Spark local[2], side by side (about 15 minutes at 10M pings).
bench-aggregate: $(BENCH_VENV)/.installed
	$(BENCH_PY) bench/engine.py

# Sealing closed days into the lake, deleting from it, pruning the hot store.
bench-seal: $(BENCH_VENV)/.installed
	$(BENCH_PY) bench/seal.py

# The released statistics' error at the default budget, and the budget per year.
bench-privacy: $(BENCH_VENV)/.installed
	$(BENCH_PY) bench/privacy.py

# Server-side render time of each public page and API route, a year of releases.
bench-public: $(BENCH_VENV)/.installed
	$(BENCH_PY) bench/public.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .venv-pythons sempervirens-data .pytest_cache build src/*.egg-info

# Regenerate the generated parts of the docs (the settings reference).
docs: $(VENV)/.installed
	$(PY) scripts/update-docs
