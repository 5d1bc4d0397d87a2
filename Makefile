# The two commands a newcomer needs: `make run` and `make test`. Everything else is what they call.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
SCHEMA ?= ../shared/pve-api/apischema.json

.PHONY: help run test test-fast schema-check tools system-deps lint clean collection assets compose-test

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	@echo "venv: creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	@echo "venv: installing controlplane and its dependencies (a minute or two the first time)"
	$(BIN)/pip install --progress-bar off -e . | grep -E '^(Successfully|ERROR)' || true
	@$(BIN)/python -c "import controlplane" && touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@echo "venv: installing controlplane with its test dependencies (a few minutes the first time)"
	$(BIN)/pip install --progress-bar off -e '.[test]' | grep -E '^(Successfully|ERROR)' || true
	@$(BIN)/python -c "import controlplane, pytest, ansible_collections.community.proxmox" && touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run assets ## Install into .venv and start the control plane on http://127.0.0.1:8080
	@bash tools/build.sh --for-run
	$(BIN)/controlplane up

tools: ## Build the pinned OpenTofu and bpg/proxmox provider into .tools/ (skipped when already built)
	@bash tools/build.sh

system-deps: ## Install the Debian packages the tests need (redis-server, openssh-server) when root
	@bash tools/system-deps.sh

PORTAL_VENDOR := controlplane/portal/static/vendor

assets: $(PORTAL_VENDOR)/htmx.min.js ## Install the portal's pinned browser code from npm (package-lock.json)

$(PORTAL_VENDOR)/htmx.min.js: package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm is missing (sudo apt-get install -y npm)" >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(PORTAL_VENDOR) && cp node_modules/htmx.org/dist/htmx.min.js $(PORTAL_VENDOR)/

collection: $(VENV)/.installed-run ## Build the Ansible collection controlplane.controlplane into build/collection/
	$(BIN)/python tools/build_collection.py --output-dir build/collection

lint: $(VENV)/.installed-test ## ruff and the import-layer contracts
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(VENV)/.installed-test tools system-deps assets lint ## Install everything the tests need and run them all
	$(BIN)/python -m pytest --durations=20 $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-test system-deps lint ## Unit and quick integration tests only (not the slow ones)
	$(BIN)/python -m pytest -m "not slow" --durations=20 $(PYTEST_ARGS)

schema-check: $(VENV)/.installed-test ## Maintainers: compare the simulator with the official PVE API schema (SCHEMA=path)
	$(BIN)/python -m pytest -q tests/maintainer --official-schema=$(SCHEMA)

compose-test: $(VENV)/.installed-test ## Build the image, run compose.yaml on Docker and check it (as root; docs/compose.md)
	$(BIN)/python tests/compose/run.py

clean: ## Remove .venv and .tools (keeps .data)
	rm -rf $(VENV) .tools
