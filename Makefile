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
