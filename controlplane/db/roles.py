"""The two database roles: the owner that migrates, and the application role that does not own tables.

Row-Level Security applies to the application role because it owns nothing.
"""

from __future__ import annotations

OWNER_ROLE = "controlplane_owner"
APP_ROLE = "controlplane_app"
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
