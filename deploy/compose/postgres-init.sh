#!/usr/bin/env bash
# First start of the compose PostgreSQL (run by the image's entrypoint from /docker-entrypoint-initdb.d):
# creates the control plane's three login roles with their passwords and its database, owned by the owner.
# `controlplane db upgrade` then creates the schema and grants what each role may do.
# The passwords come from the environment and reach SQL only as psql variables (quoted literals).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$DB_OWNER_PASSWORD" -v app_password="$DB_APP_PASSWORD" \
  -v tfstate_password="$DB_TFSTATE_PASSWORD" <<'SQL'
CREATE ROLE controlplane_owner LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS CREATEDB PASSWORD :'owner_password';
CREATE ROLE controlplane_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'app_password';
CREATE ROLE controlplane_tfstate LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT
  PASSWORD :'tfstate_password';
GRANT controlplane_app TO controlplane_owner;
CREATE DATABASE controlplane OWNER controlplane_owner;
REVOKE ALL ON DATABASE controlplane FROM PUBLIC;
GRANT CONNECT ON DATABASE controlplane TO controlplane_app, controlplane_tfstate;
SQL
