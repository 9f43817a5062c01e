# `make demo` and `make test` each work on a fresh machine: they create .venv and install what
# they need first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint bench bench-quick clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/demo.py

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy

$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench
	$(PY) benchmarks/run.py

bench-quick: $(VENV)/.bench
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# Go by Example's concurrency chapters (examples/gobyexample/), each run as its own process and
# checked against its main.out: `make examples`. tests/test_examples.py runs the same in `make test`.
.PHONY: examples docs docs-linkcheck docs-clean

examples: $(VENV)/.installed
	$(PY) examples/check_examples.py

# The reference site: `make docs` builds docs/_build/html (open docs/_build/html/index.html)
# with warnings as errors, nitpicky (every cross-reference must resolve). Always from scratch:
# viewcode keeps a module's source page while the module is older than it, with stale links.
$(VENV)/.docs: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[docs]'
	touch $@

docs: $(VENV)/.docs
	rm -rf docs/_build/html
	$(VENV)/bin/sphinx-build -q -E -W --keep-going -n -b html docs docs/_build/html
	@echo "docs: $(CURDIR)/docs/_build/html/index.html"

# Links: every link between the pages, and every #anchor, must lead somewhere (checked offline
# in the built HTML), then Sphinx's linkcheck. It visits the web links only with
# LINKCHECK_EXTERNAL=1, since this machine and CI reach no web site.
docs-linkcheck: docs
	$(PY) docs/check_links.py docs/_build/html
	$(VENV)/bin/sphinx-build -q -W --keep-going -n -b linkcheck docs docs/_build/linkcheck

# What the docs build writes: the site, and the example pages conf.py generates.
docs-clean:
	rm -rf docs/_build docs/examples/gobyexample docs/examples/_toctree.md

# The asyncio bridge in real programs (they need aiohttp: the aio extra, which test installs).
# `make aio-demo`: goroutines fetch from an aiohttp server through aio.wait. `make webapp`: an
# aiohttp app whose handlers run goroutines through Runtime.call, on http://127.0.0.1:8080.
# tests/test_aio_examples.py checks both in `make test`.
.PHONY: aio-demo webapp

aio-demo: $(VENV)/.installed
	$(PY) examples/aio_fetch.py

webapp: $(VENV)/.installed
	$(PY) examples/aio_webapp.py --port 8080
