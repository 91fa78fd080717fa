# premiers-mois — the two commands: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: dev test lint typecheck bench install browser clean docs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## make dev: the whole service in one process (embedded broker, SQLite, mail catcher)
dev: install
	$(BIN)/premiers-mois dev

## make test: install everything, start what the tests need, run the whole suite
test: install browser
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/premiers-mois journeys check
	$(BIN)/pytest

## Debian's chromium for the browser tests, and axe-core for accessibility checks
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	@test -f node_modules/axe-core/axe.min.js || npm install --no-save --silent axe-core@4 >/dev/null

lint: install
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## make docs: the event contract as AsyncAPI, generated from the code (tests/docs checks it)
docs: install
	$(BIN)/premiers-mois docs asyncapi --output docs/asyncapi.yaml

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var node_modules .mypy_cache .ruff_cache .pytest_cache
