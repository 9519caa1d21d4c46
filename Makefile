# Everything installs itself: `make run` and `make test` create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CODE := bot handlers config
PYTEST_ARGS ?= -n auto

.PHONY: run test lint typecheck unit bench sandbox clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "codex-bot needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## run: the bot — Slack when SLACK_* credentials are set, else the sandbox shell
run: $(STAMP)
	$(BIN)/codex-bot

sandbox: $(STAMP)
	$(BIN)/codex-bot shell --sandbox

## test: lint, types, architecture contracts, then the whole suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check $(CODE) tests bench
	$(BIN)/ruff format --check $(CODE) tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy $(CODE)

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.ack_latency
	$(BIN)/python -m bench.validate_overhead
	$(BIN)/python -m bench.diagnostics_memory
	$(BIN)/python -m bench.fleet

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist *.egg-info
