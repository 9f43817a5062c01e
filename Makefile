# `make demo` and `make test` each work on a fresh machine: they create .venv and install what
# they need first. Both use the default build: the package installed from a wheel, its core
# compiled with mypyc where it can be (setup.py), pure Python otherwise (free-threaded CPython,
# no compiler, GOROUTINES_PURE=1). `make test-pure` runs the same tests on the pure source.
# Lint and docs use .venv-dev, an editable (so pure) install with the dev tools.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEV ?= .venv-dev
SOURCES := pyproject.toml setup.py $(shell find src -name '*.py')

.PHONY: demo test test-pure lint bench bench-quick clean

# The wheel is built once per change of the source (mypyc takes a minute); the extras
# install from that same wheel, so asking for one never builds it again.
$(VENV)/.installed: $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	rm -rf $(VENV)/wheels
	$(PY) -m pip wheel --quiet --no-deps --wheel-dir $(VENV)/wheels .
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(VENV)/wheels/goroutines-*.whl
	$(PY) -m pip install --quiet "$$(ls $(VENV)/wheels/goroutines-*.whl)[test]"
	$(PY) -c 'import goroutines; print("goroutines installed, compiled core:", goroutines.COMPILED)'
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/demo.py

test: $(VENV)/.installed
	$(PY) -m pytest

# The pure build, from the source itself: the same suite, nothing compiled on the path.
test-pure: $(VENV)/.installed
	PYTHONPATH=src GOROUTINES_EXPECT_PURE=1 $(PY) -m pytest

$(DEV)/.installed: pyproject.toml setup.py
	test -x $(DEV)/bin/python || $(PYTHON) -m venv $(DEV)
	$(DEV)/bin/python -m pip install --quiet --upgrade pip
	$(DEV)/bin/python -m pip install --quiet -e '.[dev,docs]'
	touch $@

lint: $(DEV)/.installed
	$(DEV)/bin/ruff check src tests benchmarks examples setup.py
	$(DEV)/bin/ruff format --check src tests benchmarks examples setup.py
	$(DEV)/bin/mypy

$(VENV)/.bench: $(VENV)/.installed
	$(PY) -m pip install --quiet "$$(ls $(VENV)/wheels/goroutines-*.whl)[test,bench]"
	touch $@

# Every workload on the installed build and on the pure source, beside the peers.
bench: $(VENV)/.bench
	$(PY) benchmarks/run.py

bench-quick: $(VENV)/.bench
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) $(DEV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# Go by Example's concurrency chapters (examples/gobyexample/), each run as its own process and
# checked against its main.out: `make examples`. tests/test_examples.py runs the same in `make test`.
.PHONY: examples docs docs-linkcheck docs-clean

examples: $(VENV)/.installed
	$(PY) examples/check_examples.py

# The reference site: `make docs` builds docs/_build/html (open docs/_build/html/index.html)
# with warnings as errors, nitpicky (every cross-reference must resolve). Always from scratch:
# viewcode keeps a module's source page while the module is older than it, with stale links.
docs: $(DEV)/.installed
	rm -rf docs/_build/html
	$(DEV)/bin/sphinx-build -q -E -W --keep-going -n -b html docs docs/_build/html
	@echo "docs: $(CURDIR)/docs/_build/html/index.html"

# Links: every link between the pages, and every #anchor, must lead somewhere (checked offline
# in the built HTML), then Sphinx's linkcheck. It visits the web links only with
# LINKCHECK_EXTERNAL=1, since this machine and CI reach no web site.
docs-linkcheck: docs
	$(DEV)/bin/python docs/check_links.py docs/_build/html
	$(DEV)/bin/sphinx-build -q -W --keep-going -n -b linkcheck docs docs/_build/linkcheck

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
