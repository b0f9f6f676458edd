# Everything a fresh machine needs, in two targets: `make demo` and `make test`.
# The virtualenv lives in .venv, the pinned Claude Code CLI in tools/node_modules.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CLAUDE := tools/node_modules/.bin/claude
CCUSAGE := tools/ccusage/node_modules/.bin/ccusage
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all setup demo test lint format docs bench clean

all: test

setup: $(VENV)/.installed $(CLAUDE) $(CCUSAGE) .tmux-checked

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(CLAUDE): tools/package.json tools/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs npm; }
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	$(CLAUDE) --version
	touch $@

# ccusage (the ledger's cross-check) has no lock: see tools/ccusage/package.json.
$(CCUSAGE): tools/ccusage/package.json
	cd tools/ccusage && npm install --no-audit --no-fund --no-package-lock --loglevel=error
	$(CCUSAGE) --version
	touch $@

.tmux-checked:
	@command -v tmux >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq tmux; }
	@command -v git >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq git; }
	@command -v bwrap >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bubblewrap; }
	tmux -V
	touch $@

demo: setup
	$(BIN)/claude-orchestra demo

test: setup
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: setup
	$(BIN)/python bench/hook_ingest.py

clean:
	rm -rf $(VENV) tools/node_modules tools/ccusage/node_modules .tmux-checked site .pytest_cache .mypy_cache .ruff_cache
