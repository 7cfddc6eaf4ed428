# The commands of this project. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE ?= node
NPM ?= npm

.PHONY: help install check test node-version

help: ## List the commands
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

node-version:
	@$(NODE) -e 'const [major] = process.versions.node.split(".").map(Number); if (major < 24) { console.error(`Node 24 or newer is required (this is ${process.version}): see README, Prerequisites`); process.exit(1); }'

node_modules/.package-lock.json: package-lock.json package.json | node-version
	$(NPM) ci --no-audit --no-fund

install: node-version node_modules/.package-lock.json ## Install the workspace from the lockfile (npm ci)

check: install ## Type check (tsc --noEmit) and lint (eslint)
	$(NPM) run --silent typecheck
	$(NPM) run --silent lint

test: check ## Run every test (needs Docker: tests start a real Postgres with testcontainers)
	$(NPM) test

# --- containers (docker-compose.yml). One compose project for make up/down/ps/logs.
COMPOSE ?= docker compose
export COMPOSE_PROJECT_NAME ?= concurrency-models
# down/ps/logs do not use the password, but compose checks it is set: give them a stand-in
# so they work before .env exists.
COMPOSE_NO_SECRET = DB_PASSWORD=$${DB_PASSWORD:-unused} $(COMPOSE)

.PHONY: up down ps logs

up: ## Build and start db, the six models and nginx; wait until healthy; print URLs and limits
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

check-report: node-version ## Check a load run (RUN=results/latest): report.md exists and every row has a validity and a seed verdict
	$(NODE) loadtests/src/check-report.ts $(RUN)

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
