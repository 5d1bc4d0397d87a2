"""The database roles: the owner that migrates, the application role that does not own tables, and the
Terraform state role that OpenTofu's ``pg`` backend logs in as.

Row-Level Security applies to the application role because it owns nothing. The state role can read and
write the rows of the state table (and take advisory locks) and nothing else: no other table, no DDL, so
an OpenTofu process never holds a connection that can reach the control plane's data.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

OWNER_ROLE = "controlplane_owner"
APP_ROLE = "controlplane_app"
STATE_ROLE = "controlplane_tfstate"
STATE_SCHEMA = "terraform_remote_state"
STATE_TABLE = "states"
STATE_SEQUENCE = "public.global_states_id_seq"
DATABASE_NAME = "controlplane"


def ensure_role_sql(name: str, attributes: str) -> str:
    """SQL that creates the login role ``name`` with ``attributes`` unless it exists."""
    return f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN
    CREATE ROLE {name} LOGIN {attributes};
  END IF;
END
$$;
"""


ENSURE_APP_ROLE_SQL = ensure_role_sql(APP_ROLE, "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS")
ENSURE_OWNER_ROLE_SQL = ensure_role_sql(OWNER_ROLE, "NOSUPERUSER NOCREATEROLE NOBYPASSRLS CREATEDB")
GRANT_APP_ROLE_TO_OWNER_SQL = f"GRANT {APP_ROLE} TO {OWNER_ROLE}"
ENSURE_STATE_ROLE_SQL = ensure_role_sql(STATE_ROLE, "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT")

# What the pg backend would create on its first ``init`` (same names and shape), made by the owner instead,
# so that the state role needs no DDL privilege.
STATE_SCHEMA_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA};
CREATE SEQUENCE IF NOT EXISTS {STATE_SEQUENCE} AS bigint;
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.{STATE_TABLE} (
  id bigint NOT NULL DEFAULT nextval('{STATE_SEQUENCE}') PRIMARY KEY,
  name text UNIQUE,
  data text
);
CREATE UNIQUE INDEX IF NOT EXISTS states_by_name ON {STATE_SCHEMA}.{STATE_TABLE} (name);
"""

GRANT_STATE_ROLE_SQL = f"""
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{STATE_ROLE}') THEN
    GRANT USAGE ON SCHEMA {STATE_SCHEMA} TO {STATE_ROLE};
    GRANT SELECT, INSERT, UPDATE, DELETE ON {STATE_SCHEMA}.{STATE_TABLE} TO {STATE_ROLE};
    GRANT USAGE ON SEQUENCE {STATE_SEQUENCE} TO {STATE_ROLE};
  END IF;
END
$$;
"""


def state_role_url(owner_url: str) -> str:
    """The owner's URL with the state role as its user and no password (a Unix socket or a server that
    authenticates the role otherwise, e.g. by certificate or ``.pgpass``); give one explicitly elsewhere."""
    parts = urlsplit(owner_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{STATE_ROLE}@{host}", parts.path, parts.query, parts.fragment))
