# Two commands matter: `make run` and `make test`. Everything else is a step they use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml

.PHONY: run run-jekyll run-podcast test build check lint contracts same-bytes bench-build bench-floor bench-serve bench-saves bench-push bench-slow clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes; the stamp keeps `make run` quick afterwards.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/feedsmith -c $(CONFIG) serve

# The example Jekyll site (examples/jekyll-blog), read as Jekyll reads it.
run-jekyll: $(VENV)/.installed
	$(BIN)/feedsmith -c examples/jekyll.yaml serve

# The example podcast blog (examples/podcast): a show, its episodes and /media/.
run-podcast: $(VENV)/.installed
	$(BIN)/feedsmith -c examples/podcast.yaml serve

build: $(VENV)/.installed
	$(BIN)/feedsmith -c $(CONFIG) build

check: $(VENV)/.installed
	$(BIN)/feedsmith -c $(CONFIG) check

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# The tests' tmp dirs go to /dev/shm when it is a tmpfs with 1 GB free: the suite makes and
# deletes thousands of small trees and fsyncs state files, which on a disk is I/O wait, not
# work (and a freshly emptied ext4 makes files slowly). Elsewhere the system's TMPDIR is kept.
# --dist worksteal: the idle worker takes queued tests from the busy one, so one slow
# end-to-end test at the end of a queue does not leave the other core waiting.
# TEST_WORKERS: two by default; four (more workers than cores, so that one worker's waits for
# servers and deadlines overlap another's work) was measured and did not win (README).
# PYTHONDONTWRITEBYTECODE is cleared for the run: with it set, every worker rewrites the asserts
# of all ~120 test modules again and every `feedsmith` child process compiles src/ again
# (seconds of CPU each); the .pyc files go to the git-ignored __pycache__ folders.
TEST_WORKERS ?= 2
TEST_TMPDIR ?= $(shell [ "$$(df --output=fstype /dev/shm 2>/dev/null | tail -1)" = tmpfs ] \
	&& [ "$$(df --output=avail -k /dev/shm | tail -1)" -ge 1048576 ] && echo /dev/shm)

test: $(VENV)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) PYTHONDONTWRITEBYTECODE= \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -q

# The layers and no-cycle rules of docs/ARCHITECTURE.md (pyproject.toml [tool.importlinter]).
contracts: $(VENV)/.installed
	$(BIN)/lint-imports

# A refactoring changes no published byte: build with BEFORE (a git revision) and the work tree.
BEFORE ?= HEAD
same-bytes: $(VENV)/.installed
	$(BIN)/python bench/same_bytes.py --before $(BEFORE)

bench-build: $(VENV)/.installed
	$(BIN)/python bench/build.py

bench-floor: $(VENV)/.installed
	$(BIN)/python bench/floor.py

bench-serve: $(VENV)/.installed
	$(BIN)/python bench/serve.py

bench-slow: $(VENV)/.installed
	$(BIN)/python bench/slowclients.py

bench-saves: $(VENV)/.installed
	$(BIN)/python bench/saves.py

bench-push: $(VENV)/.installed
	$(BIN)/python bench/push.py

clean:
	rm -rf $(VENV) .feedsmith feeds/*.xml feeds/*.json feeds/*.opml feeds/categories feeds/tags
