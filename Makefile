# Two commands do all the setup:  `make run`  and  `make test`.
# Each installs what it needs (venv, npm packages, Debian chromium) on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := .local/stamps
export NG_CLI_ANALYTICS := false

CLIENT_DIST    := client/dist/demo/browser/index.html
CLIENT_SOURCES := $(shell find client/src client/projects -type f 2>/dev/null) \
                  $(wildcard client/angular.json client/tsconfig*.json client/package-lock.json)

.PHONY: run test lint format unit faults browser client client-test install clean bench help

help:
	@echo "make run    start Azurite, the queue, the API and the demo on http://localhost:7071"
	@echo "make test   lint + every test (backend, faults, fuzz, infra, client unit, browser)"
	@echo "make bench  run the benchmarks (see bench/README.md)"

# --- installs ---------------------------------------------------------------

$(STAMP)/venv: requirements.txt requirements-dev.txt
	@mkdir -p $(STAMP)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(STAMP)/npm: package.json package-lock.json
	@mkdir -p $(STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMP)/client-npm: client/package.json client/package-lock.json
	@mkdir -p $(STAMP)
	cd client && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMP)/chromium:
	@mkdir -p $(STAMP)
	bash scripts/ensure-chromium.sh
	@touch $@

install: $(STAMP)/venv $(STAMP)/npm

# --- the demo client --------------------------------------------------------

$(CLIENT_DIST): $(STAMP)/client-npm $(CLIENT_SOURCES)
	cd client && npx ng build --configuration production
	@touch $@

client: $(CLIENT_DIST)

client-test: $(STAMP)/client-npm
	cd client && npx ng test --watch=false
	cd client && npm run test:audit
	cd client && npm run test:schematics

# --- the two commands -------------------------------------------------------

run: install client
	bash scripts/run.sh

# The browser tests run in their own pytest process: Playwright's sync API keeps an
# event loop running in the main thread, which the asyncio tests cannot share.
test: install client $(STAMP)/chromium lint client-test
	$(PY) -m pytest -m "not browser"
	$(PY) -m pytest -m browser

# --- pieces -----------------------------------------------------------------

lint: $(STAMP)/venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: $(STAMP)/venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# client-npm: tests/test_openapi_contract.py and tests/bench/test_backoff_policy.py read the
# client's TypeScript with its own compiler (client/node_modules).
unit: install $(STAMP)/client-npm
	$(PY) -m pytest -m "not faults and not browser and not bench"

faults: install
	$(PY) -m pytest -m faults

browser: install client $(STAMP)/chromium
	$(PY) -m pytest -m browser

# client and chromium: bench.hidden_return drives the built demo in Debian's chromium.
bench: install client $(STAMP)/chromium
	bash bench/run-all.sh

clean:
	rm -rf .local/azurite .pytest_cache .ruff_cache test-artifacts
