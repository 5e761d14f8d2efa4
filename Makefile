# Two commands do all set-up on a fresh machine:
#   make demo   virtualenv + install + the two demo pilots on the bundled data, side by side + the app (prints its URL)
#   make test   virtualenv + install (system packages too) + the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
DEMO_SPEC ?= experiments/demo_ab.toml
# a second pilot on the bundled data, so that "Compare pilots" has two runs (no checklist diagnosis: the A/B run has it)
DEMO_SECOND ?= experiments/demo_did.toml
# the suite in two worker processes (pytest-xdist): the sampling tests are CPU-bound and independent
PYTEST_ARGS ?= -n 2

.PHONY: install system-deps demo demo-runs test lint bench bench-venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Chromium (browser test), Java (Spark tests) and PostgreSQL (warehouse test: a throwaway server the
# tests start themselves) from Debian's packages, if missing.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: demo-runs
	@echo "Starting the app: open the URL below (Ctrl+C stops it). Have a client export? Open 'Set up a pilot'."
	$(BIN)/qmsprint app --port $(PORT)

# The two demo runs side by side: on a machine that has not compiled their models, most of each run is
# one core compiling, so together they end sooner (bench/RESULTS.md). DEMO_SECOND, the shorter, runs
# at a lower priority: DEMO_SPEC, which compiles its models one after another, gets the cores when both
# want them and DEMO_SECOND fills what it leaves idle (18-31 s sooner after the install). DEMO_SPEC
# shows its progress and starts 2 s later, so that it is the newest run, the one the app opens;
# DEMO_SECOND's output follows it. Exit code 4 (a fit missed the convergence bars) still writes a run
# that says so: the app shows it.
# Ctrl+C stops both (a background run ignores SIGINT in a script, so it is sent SIGTERM).
demo-runs: install
	@log=$$(mktemp); \
	nice -n 10 $(BIN)/qmsprint run $(DEMO_SECOND) --no-diagnosis >"$$log" 2>&1 & second=$$!; \
	trap 'kill $$second 2>/dev/null; wait $$second; rm -f "$$log"; exit 130' INT TERM; \
	echo "Running $(DEMO_SPEC), with $(DEMO_SECOND) beside it (its output follows)."; \
	sleep 2; \
	$(BIN)/qmsprint run $(DEMO_SPEC); first=$$?; \
	wait $$second; code=$$?; trap - INT TERM; \
	echo; echo "$(DEMO_SECOND):"; cat "$$log"; rm -f "$$log"; \
	for c in $$first $$code; do \
	  if [ $$c -ne 0 ] && [ $$c -ne 4 ]; then \
	    echo "make demo: a run failed ($(DEMO_SPEC): exit $$first, $(DEMO_SECOND): exit $$code)" >&2; exit 1; \
	  fi; \
	done

test: install system-deps
	$(BIN)/ruff check qmsprint tests bench app.py
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check qmsprint tests bench app.py
	$(BIN)/ruff format --check qmsprint tests bench app.py

bench: install
	$(BIN)/python bench/run_all.py

# the side-by-side bench with Bambi needs its own venv (Bambi's arviz-plots breaks `import arviz` in .venv)
BENCH_VENV := bench/.venv-bambi
bench-venv:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q -e ".[bench]"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output
