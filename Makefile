# The commands of this project. `make help` lists them and the variables they take.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE ?= node
NPM ?= npm

.PHONY: help install check format test node-version docker-running test-image

help: ## List the commands and the variables they take
	@echo 'Commands (make <command> [VARIABLE=value ...]):'
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'
	@echo 'Variables (now: the value this make would use):'
	@printf '  %-26s %s\n' 'PROFILE=$(PROFILE)' 'make load: the load profile, one of loadtests/scenarios.json (smoke is a quick check, small fits 2 cores)'
	@printf '  %-26s %s\n' 'MODELS=$(MODELS)' 'make load / resilience: only these models, comma-separated (empty: all of models.json)'
	@printf '  %-26s %s\n' 'EXPERIMENTS=$(EXPERIMENTS)' 'make resilience: outage,overload,shutdown,slowloris (empty: outage,overload,shutdown)'
	@printf '  %-26s %s\n' 'RUN=$(RUN)' 'make check-report: the results folder to check'
	@printf '  %-26s %s\n' 'SERVICE=$(SERVICE)' 'make logs: one service only (empty: all)'
	@printf '  %-26s %s\n' 'TEST_RUNNER=$(TEST_RUNNER)' 'make check / test: host (this Node 24) or docker (the test runner container; the default without Node 24)'
	@printf '  %-26s %s\n' 'COMPOSE=$(COMPOSE)' 'the compose command of make up / down / ps / logs / load'

# --- tests. With Node 24 on the host they run here; without it (no node, or an older one)
# in the test runner container (testrunner/), so a host needs only Docker and make.
HOST_NODE_OK := $(shell $(NODE) -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' >/dev/null 2>&1 && echo yes)
TEST_RUNNER ?= $(if $(HOST_NODE_OK),host,docker)
# The same commands either way.
CHECK_COMMANDS = npm run --silent typecheck && npm run --silent lint && npm run --silent format:check
TEST_COMMANDS = npm test

node-version:
	@command -v $(NODE) >/dev/null 2>&1 || { echo 'make: no node command: install Node 24 (see README, Prerequisites), or use make test / make check, which need only Docker' >&2; exit 1; }
	@$(NODE) -e 'const [major] = process.versions.node.split(".").map(Number); if (major < 24) { console.error(`make: Node 24 or newer is required, this is node $${process.version} ($(NODE)): install Node 24 (see README, Prerequisites), or use make test / make check, which need only Docker`); process.exit(1); }'

docker-running:
	@command -v docker >/dev/null 2>&1 || { echo 'make: no docker command: install Docker Engine (https://docs.docker.com/engine/install/) and start it' >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo 'make: the Docker daemon does not answer (docker info failed): start it (e.g. sudo systemctl start docker), or add yourself to the docker group' >&2; exit 1; }

node_modules/.package-lock.json: package-lock.json package.json | node-version
	$(NPM) ci --no-audit --no-fund

ifeq ($(TEST_RUNNER),host)
install: node-version node_modules/.package-lock.json ## Install the workspace from the lockfile (npm ci; without a host Node 24: build the test runner image)

check: install ## Type check (tsc --noEmit), lint (eslint) and the formatting (prettier --check; make format rewrites)
	$(NPM) run --silent typecheck
	$(NPM) run --silent lint
	$(NPM) run --silent format:check

format: install ## Rewrite the sources in the project's format (prettier, .prettierrc.json)
	$(NPM) run --silent format

test: check ## Run every test after check (needs Docker: a real Postgres via testcontainers, the compose test; without a host Node 24 it all runs in a container)
	$(NPM) test
else ifeq ($(TEST_RUNNER),docker)
SAY_CONTAINER = @echo 'make $@: $(if $(HOST_NODE_OK),TEST_RUNNER=docker,no Node 24 here ($(NODE): $(or $(shell $(NODE) --version 2>/dev/null),not found))): running in the test runner container (testrunner/)'
install: test-image
check: docker-running
	$(SAY_CONTAINER)
	testrunner/run.sh sh -c '$(CHECK_COMMANDS)'
format: docker-running
	$(SAY_CONTAINER)
	testrunner/run.sh npm run --silent format
test: docker-running
	$(SAY_CONTAINER)
	TESTRUNNER_USER=root testrunner/run.sh sh -c '$(CHECK_COMMANDS) && $(TEST_COMMANDS)'
else
install check format test:
	@echo 'make: TEST_RUNNER=$(TEST_RUNNER): use host or docker' >&2; exit 1
endif

test-image: docker-running ## Build the test runner image (testrunner/Dockerfile: Node 24, the workspace, Go, Docker CLI, compose)
	testrunner/run.sh true

# --- what the container targets need, checked first with a one-line way out.
.PHONY: compose-ready k6-image
K6_IMAGE = $(shell grep -oE 'grafana/k6:[0-9.]+' loadtests/src/docker.ts | head -1)

compose-ready: docker-running
	@$(COMPOSE) version >/dev/null 2>&1 || { echo 'make: $(COMPOSE) does not work: install the compose plugin (Docker Engine docs, "Install the Compose plugin"), or set COMPOSE=docker-compose' >&2; exit 1; }

k6-image: docker-running
	@docker image inspect $(K6_IMAGE) >/dev/null 2>&1 || { echo 'pulling $(K6_IMAGE): make load runs k6 in it'; docker pull --quiet $(K6_IMAGE) >/dev/null; } \
	  || { echo 'make: the k6 image $(K6_IMAGE) is not here and docker pull failed: run docker pull $(K6_IMAGE) where the registry is reachable' >&2; exit 1; }

up down ps logs load resilience slowloris: compose-ready
resilience load: k6-image

# --- containers (docker-compose.yml). One compose project for make up/down/ps/logs.
COMPOSE ?= docker compose
export COMPOSE_PROJECT_NAME ?= concurrency-models
# down/ps/logs do not use the password, but compose checks it is set: give them a stand-in
# so they work before .env exists.
COMPOSE_NO_SECRET = DB_PASSWORD=$${DB_PASSWORD:-unused} DB_ADMIN_PASSWORD=$${DB_ADMIN_PASSWORD:-unused} $(COMPOSE)

.PHONY: up down ps logs

up: ## Build and start db, the seven models (models.json) and nginx; wait until healthy; print URLs and limits
	@COMPOSE='$(COMPOSE)' deploy/up.sh

down: ## Stop and remove the containers, networks and volumes of make up
	$(COMPOSE_NO_SECRET) down -v --remove-orphans

ps: ## The containers of make up and their health
	$(COMPOSE_NO_SECRET) ps

logs: ## Follow the containers' logs (SERVICE=name for one)
	$(COMPOSE_NO_SECRET) logs -f --tail=100 $(SERVICE)

# --- load (loadtests/): the runner and k6 run in containers, so the host needs only Docker and make.
PROFILE ?= auto
ISOLATE ?= auto
MODELS ?=
LOAD_COMPOSE = $(COMPOSE) -f docker-compose.yml -f loadtests/docker-compose.load.yml --profile load

.PHONY: load

load: ## Load-test the models of make up with k6 (PROFILE=auto|full|small|smoke, MODELS=eventloop,prefork, ISOLATE=auto|on|off): results/<UTC time>-<profile>/report.md
	@test -f .env || { echo 'make load: no .env here: run make up first' >&2; exit 1; }
	@export HOST_PROJECT_DIR='$(CURDIR)' PROFILE='$(PROFILE)' MODELS='$(MODELS)' ISOLATE='$(ISOLATE)' \
	  GIT_COMMIT="$$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
	  COMPOSE_VERSION="$$($(COMPOSE) version --short 2>/dev/null)" \
	  WORK_TREE_CLEAN="$$(git status --porcelain 2>/dev/null | grep -q . && echo 0 || { git rev-parse HEAD >/dev/null 2>&1 && echo 1; })"; \
	  $(LOAD_COMPOSE) build --quiet loadrunner && $(LOAD_COMPOSE) run --rm --no-deps loadrunner

.PHONY: check-report
RUN ?= results/latest

check-report: ## Check a load run (RUN=results/latest): report.md exists and every row has a validity and a seed verdict
	$(if $(filter host,$(TEST_RUNNER)),$(NODE),testrunner/run.sh node) loadtests/src/check-report.ts $(RUN)

# --- readme: the README's results section, written from a committed run (loadtests/src/readme.ts).
.PHONY: readme

readme: node-version ## Write the README's results table from a committed run (RUN=results/reference/<run>; default: the run the README names)
	$(NODE) loadtests/src/readme.ts $(if $(filter results/latest,$(RUN)),,$(RUN))

# --- resilience (loadtests/resilience/): the failure modes, in the same runner container.
EXPERIMENTS ?=

.PHONY: slowloris resilience

slowloris: ## Slowloris on every model, direct and through nginx, 1 / pool / 2x pool / 1,000 slow connections: results/<UTC time>-resilience/resilience.md
	@$(MAKE) --no-print-directory resilience EXPERIMENTS=slowloris

resilience: ## Database outage, overload and shutdown under load (EXPERIMENTS=outage,overload,shutdown,slowloris, MODELS=...): results/<UTC time>-resilience/resilience.md
	@test -f .env || { echo 'make $@: no .env here: run make up first' >&2; exit 1; }
	@export HOST_PROJECT_DIR='$(CURDIR)' MODELS='$(MODELS)' \
	  GIT_COMMIT="$$(git rev-parse HEAD 2>/dev/null || echo unknown)"; \
	  $(LOAD_COMPOSE) build --quiet loadrunner && $(LOAD_COMPOSE) run --rm --no-deps -e EXPERIMENTS='$(EXPERIMENTS)' \
	    $${OVERLOAD_MAX_RATE:+-e OVERLOAD_MAX_RATE=$$OVERLOAD_MAX_RATE} loadrunner node loadtests/resilience/main.ts
