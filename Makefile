# Entry points for people and CI. Everything runs through tox so local runs match CI.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .venv-tools
TOX := $(TOOLS)/bin/tox
DEMO := .venv-demo
DEMO_PY := $(abspath $(DEMO))/bin/python
DEMO_SITE := examples/demo_site

# Extra interpreters (python3.12, python3.13 from pyenv) for version envs. pyenv's shims would
# answer "command not found" for a version that is not selected, and putting a version's bin/ on
# PATH would also hijack `python3`; so only the versioned binaries are linked into one folder
# that goes first on PATH. Folders that do not exist are skipped.
PYENV_ROOT ?= $(HOME)/.pyenv
EXTRA_PYTHONS := $(strip $(foreach v,3.12 3.13,$(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/$(v).*/bin/python$(v))))))
# Not inside a venv: Python would read the venv's pyvenv.cfg next to the link and pose as it.
PYBIN := $(abspath .pythons)
export PATH := $(PYBIN):$(PATH)
# uv must never download a Python build (no network but package registries).
export UV_PYTHON_DOWNLOADS := never

.PHONY: help test lint docs bench demo demo-env demo-cli clean tools pybin

help:
	@echo "make demo   - set up, seed and serve the demo site on http://127.0.0.1:8000"
	@echo "make demo-cli - the SDK's command-line walk-through (no Django)"
	@echo "make test   - run every default tox env (core, lint, docs, stripe, wagtail, chaos, e2e...)"
	@echo "make lint   - ruff, mypy --strict, import-linter"
	@echo "make docs   - build the Sphinx docs into docs/_build/html"
	@echo "make bench  - run the benchmarks (installs the Wagtail extra)"
	@echo "make clean  - remove virtualenvs, tox envs and build output"

$(TOX):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "tox>=4.20" "tox-uv>=1.11"

pybin:
	mkdir -p $(PYBIN)
	$(foreach p,$(EXTRA_PYTHONS),ln -sfn $(p) $(PYBIN)/$(notdir $(p));)

tools: $(TOX) pybin

# Runs each default env in turn so its output streams as it happens; tox exits non-zero if
# any env fails, and so does make.
test: tools
	$(TOX) run

lint: tools
	$(TOX) run -e lint

docs: tools
	$(TOX) run -e docs

# bench_gunicorn.py drives gunicorn with wrk (Debian's package, installed here when make runs
# as root), else with a slower Python load generator; it says which one it used.
bench: tools
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get install -y -qq wrk >/dev/null 2>&1 && echo "Installed wrk (apt-get)."; } \
		|| echo "wrk is not installed: bench_gunicorn.py uses its Python load generator."
	$(TOX) run -e bench -- $(ARGS)

# The demo site (examples/demo_site): installs, migrates SQLite, seeds idempotently, then
# serves on loopback only with the fake payment provider.
demo: demo-env
	cd $(DEMO_SITE) && $(DEMO_PY) manage.py migrate --noinput
	cd $(DEMO_SITE) && $(DEMO_PY) manage.py seed_demo
	@echo "Demo site: http://127.0.0.1:8000/  (Wagtail admin: http://127.0.0.1:8000/admin/)"
	cd $(DEMO_SITE) && exec $(DEMO_PY) manage.py runserver 127.0.0.1:8000

demo-env:
	test -x $(DEMO)/bin/python || $(PYTHON) -m venv $(DEMO)
	$(DEMO_PY) -m pip install --quiet -e '.[wagtail]' -r $(DEMO_SITE)/requirements.txt

# The command-line walk-through of the SDK alone (no Django).
demo-cli:
	test -x $(DEMO)/bin/python || $(PYTHON) -m venv $(DEMO)
	$(DEMO_PY) -m pip install --quiet -e .
	$(DEMO_PY) -m membership_sdk.demo

clean:
	rm -rf $(TOOLS) $(DEMO) $(PYBIN) .tox docs/_build build dist .coverage .coverage.* htmlcov \
		.pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache artifacts \
		$(DEMO_SITE)/db.sqlite3 $(DEMO_SITE)/media $(DEMO_SITE)/fake-provider-state.json
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
