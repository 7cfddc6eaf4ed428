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
