# Everything a fresh machine needs, in two targets: `make demo` and `make test`.
# The virtualenv lives in .venv, the pinned Claude Code CLI in tools/node_modules.
# System packages come from apt-get (Debian, Ubuntu), brew (macOS) or dnf (Fedora) through
# tools/need.sh; elsewhere it says in one line what to install.
#
#   setup-run   what `claude-orchestra run` and `make demo` need: Python >= 3.11, the
#               package, Node/npm and the pinned Claude Code, tmux, git
#   setup-test  what only the test suite needs: bubblewrap (the sandbox runtime's tests,
#               Linux only), Chromium (the web dashboard's browser tests, driven by
#               Playwright from the dev extras) and ccusage (the cost cross-check test)
#   setup       both (what CI runs)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CLAUDE := tools/node_modules/.bin/claude
CCUSAGE := tools/ccusage/node_modules/.bin/ccusage
NEED := sh tools/need.sh
NODE_MAJOR := 22

.PHONY: all setup setup-run setup-test demo test lint core-coverage format docs bench loop-machine-deep mutation clean

all: test

setup: setup-run setup-test

setup-run: $(VENV)/.installed $(CLAUDE) .tools-checked

setup-test: setup-run $(CCUSAGE) .test-tools-checked

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "Python >= 3.11 is needed; $(PYTHON) is $$($(PYTHON) -V 2>&1 || echo missing): run make PYTHON=python3.12 (or newer)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(CLAUDE): tools/package.json tools/package-lock.json
	@$(NEED) npm "nodejs npm" node
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) < $(NODE_MAJOR) ? 1 : 0)' || \
	  echo "warning: Node $$(node --version) is older than Claude Code's engines (>= $(NODE_MAJOR)); npm installs it anyway, but upgrade Node (nodejs.org, nvm, brew install node)" >&2
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	$(CLAUDE) --version
	touch $@

# ccusage (the ledger's cross-check) has no lock: see tools/ccusage/package.json.
$(CCUSAGE): tools/ccusage/package.json
	cd tools/ccusage && npm install --no-audit --no-fund --no-package-lock --loglevel=error
	$(CCUSAGE) --version
	touch $@

.tools-checked: tools/need.sh
	@$(NEED) tmux tmux
	@$(NEED) git git
	tmux -V
	touch $@

# bubblewrap runs on Linux only; on macOS the sandbox tests skip. Chromium is the system's
# package (Playwright drives it and downloads no browser); elsewhere the browser tests skip.
.test-tools-checked: tools/need.sh Makefile
	@if [ "$$(uname -s)" = Linux ]; then $(NEED) bwrap bubblewrap; else echo "no bubblewrap on $$(uname -s): the sandbox tests will skip"; fi
	@if [ "$$(uname -s)" = Linux ]; then $(NEED) chromium chromium; else echo "no chromium package on $$(uname -s): the dashboard's browser tests will skip"; fi
	@if [ "$$(uname -s)" = Linux ]; then PATH="$$PATH:/usr/sbin" $(NEED) sshd openssh-server && PATH="$$PATH:/usr/sbin:/sbin" $(NEED) ip iproute2; else echo "no second host on $$(uname -s): the remote runtime's tests will skip"; fi
	touch $@

demo: setup-run
	$(BIN)/claude-orchestra demo

test: setup
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src
	$(BIN)/mypy --strict bench/*.py

# The loop's decision core (src/claude_orchestra/loop) must be covered by its own unit
# tests (tests/unit/loop, and the prompts' golden files), which need no tmux, git or
# Claude Code: at least 90 % of its lines.
core-coverage: $(VENV)/.installed
	$(BIN)/coverage run --data-file=.coverage-core --source=claude_orchestra.loop -m pytest -q -p no:randomly tests/unit/loop tests/unit/test_prompts.py
	$(BIN)/coverage report --data-file=.coverage-core --show-missing --fail-under=90

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: setup
	$(BIN)/python bench/hook_ingest.py

# The whole-loop state machine searched further than the suite does (about 20 s; not in CI).
loop-machine-deep: $(VENV)/.installed
	LOOP_MACHINE_EXAMPLES=400 LOOP_MACHINE_STEPS=40 $(BIN)/pytest -p no:randomly tests/unit/loop/test_loop_machine.py

# Mutation testing of the core modules against the fast tests (tens of minutes; not in CI).
mutation: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[mutation]'
	$(BIN)/python bench/mutation.py --diffs

clean:
	rm -rf mutants $(VENV) tools/node_modules tools/ccusage/node_modules .tools-checked .test-tools-checked .tmux-checked site .pytest_cache .mypy_cache .ruff_cache
