#!/bin/bash
# The models' own database role: it may read `world` (all /db needs) and nothing else.
# The official image makes POSTGRES_USER a superuser; docker-compose.yml keeps that one
# (postgres, DB_ADMIN_PASSWORD) for the operator and the load runner (pg_stat_statements,
# pg_stat_activity) and gives the models APP_DB_USER with APP_DB_PASSWORD (DB_PASSWORD).
# Runs once, on an empty data directory, after 01-schema.sql (the entrypoint sorts by name).
# Without APP_DB_USER (the tests' testcontainers database, whose owner is the models' user)
# there is nothing to create.
# The entrypoint executes this file when it is executable and sources it otherwise (a copy
# may lose the mode): one function with `return`, no `exit`, no shell options changed.
create_app_role() {
  if [ -z "${APP_DB_USER:-}" ]; then
    echo "02-app-role: APP_DB_USER is not set: the models connect as the database owner ($POSTGRES_USER)"
    return 0
  fi
  if [ -z "${APP_DB_PASSWORD:-}" ]; then
    echo "02-app-role: APP_DB_USER=$APP_DB_USER needs APP_DB_PASSWORD" >&2
    return 1
  fi
  # psql variables (:'name' quotes a literal, :"name" an identifier): no value is pasted into SQL.
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_user="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" -v db="$POSTGRES_DB" <<'SQL' || return 1
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password'
  NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
-- Connect and read world, nothing more: no CREATE, no TEMP (PUBLIC's defaults revoked).
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app_user";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_user";
GRANT SELECT ON TABLE world TO :"app_user";
SQL
  echo "02-app-role: created $APP_DB_USER with SELECT on world only"
}
create_app_role
