#!/usr/bin/env bash
# Every model of models.json, one line each, in the file's order: "<name> <language>".
# bash and sed only, because `make up` needs nothing but bash and Docker on the host: it
# reads the "name" and "language" keys, which only the model entries have.
# deploy/test/models-as-data.test.ts checks this output against a real JSON parse.
set -euo pipefail
cd "$(dirname "$0")/.."
sed -n 's/^[[:space:]]*"\(name\|language\)":[[:space:]]*"\([^"]*\)".*/\2/p' models.json | paste -d' ' - -
