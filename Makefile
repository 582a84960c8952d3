# One entry point for every check. `make test` is README's test command and what CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck cfn-lint pytest bench pr clean kamailio-deps system-deps openapi
.PHONY: contract contract-lint clients

$(STAMP): pyproject.toml layers/vpbx/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/vpbx serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

cfn-lint: install
	$(BIN)/cfn-lint template.yaml

pytest: install kamailio-deps system-deps
	$(BIN)/pytest

# Kamailio for tests/e2e/test_kamailio.py; best effort here (the test installs too, and says why it cannot).
kamailio-deps:
	-bash scripts/install-kamailio.sh

# Headless Chromium (Debian package) for tests/e2e/test_swagger_ui.py; idempotent, installs only when missing.
system-deps:
	bash scripts/ensure-chromium.sh

# Regenerate the committed openapi.json after changing routes or models (tests/integration/test_openapi_drift.py).
openapi: install
	$(BIN)/python scripts/generate_openapi.py

test: lint typecheck contract cfn-lint sam-validate sam-build pytest

pr: test

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
	rm -rf node_modules $(CLIENTS_VENV) $(GENERATED)

# SAM CLI lives in its own venv: it pins older boto3/pydantic than the project uses.
SAM_VENV ?= .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-stamp
PY312 ?= $(firstword $(wildcard /root/.pyenv/versions/3.12*/bin) $(dir $(shell command -v python3.12 2>/dev/null)))

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli
	touch $(SAM_STAMP)

.PHONY: sam-validate sam-build
sam-validate: $(SAM_STAMP)
	AWS_DEFAULT_REGION=us-east-1 $(SAM_VENV)/bin/sam validate --lint --template template.yaml

# `sam build` without a container needs python3.12 (the Lambda runtime) on PATH.
sam-build: $(SAM_STAMP)
	@test -n "$(PY312)" || { echo "sam-build: python3.12 not found (pyenv install 3.12 or apt)"; exit 1; }
	PATH="$(PY312):$$PATH" $(SAM_VENV)/bin/sam build --template template.yaml --build-dir .aws-sam/build

# The API contract as SaaS frontends use it (README "Generated clients"). Node tools are pinned in package-lock.json
# (npm ci), the Python generator in clients/python/requirements.txt (its own venv: it pins its own dependencies).
NPM_STAMP := node_modules/.installed-stamp
CLIENTS_VENV ?= .venv-clients
CLIENTS_STAMP := $(CLIENTS_VENV)/.installed-stamp
GENERATED := clients/generated
NODE_ENV_QUIET := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

$(CLIENTS_STAMP): clients/python/requirements.txt
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/pip install --quiet --upgrade pip
	$(CLIENTS_VENV)/bin/pip install --quiet -r clients/python/requirements.txt
	touch $(CLIENTS_STAMP)

# redocly (recommended-strict, redocly.yaml) and spectral (spectral:oas, .spectral.yaml): any warning fails.
contract-lint: $(NPM_STAMP)
	$(NODE_ENV_QUIET) npx --no-install redocly lint openapi.json
	npx --no-install spectral lint openapi.json --fail-severity=warn

# Clients generated from the committed spec into clients/generated (not committed); tsc type-checks the TypeScript
# walk-through against the generated types, then builds it. tests/e2e/test_generated_clients.py runs both walk-throughs.
clients: $(NPM_STAMP) $(CLIENTS_STAMP)
	rm -rf $(GENERATED)
	$(CLIENTS_VENV)/bin/openapi-python-client generate --path openapi.json --config clients/python/config.yaml \
		--meta none --output-path $(GENERATED)/python/vpbx_client
	npx --no-install openapi-typescript openapi.json --default-non-nullable false -o $(GENERATED)/typescript/schema.d.ts
	npx --no-install tsc -p clients/typescript --noEmit
	npx --no-install tsc -p clients/typescript

contract: contract-lint clients
