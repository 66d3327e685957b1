# The two set-up commands of README.md: `make run` and `make test`.
# Each creates .venv on first use and reinstalls when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian's chromium for the browser tests (Playwright drives it; its own browser downloads
# are not used). Without root or apt-get the browser tests skip and say why.
CHROMIUM := /usr/bin/chromium
BROWSER_STAMP := $(VENV)/.chromium

.PHONY: run test lint typecheck contracts unit eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(BROWSER_STAMP): $(STAMP)
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; \
	fi
	@if [ -x $(CHROMIUM) ]; then touch $@; \
	else echo "note: $(CHROMIUM) is missing and cannot be installed here: browser tests skip"; fi

run: $(STAMP)  ## run the service on its embedded defaults
	$(BIN)/triagebot serve

test: lint typecheck contracts unit  ## install everything and run every check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The import contracts of pyproject.toml: bot -> escalation -> nlu, nothing upward, no cycles.
contracts: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP) $(BROWSER_STAMP)
	$(BIN)/pytest

eval: $(STAMP)  ## figures on the shared evaluation sets
	$(BIN)/triagebot eval ../shared/eval/dev.jsonl ../shared/eval/external/*.jsonl

bench: $(STAMP)
	$(BIN)/python bench/triage_throughput.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
