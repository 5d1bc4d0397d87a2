"""The two database roles: the owner that migrates, and the application role that does not own tables.

Row-Level Security applies to the application role because it owns nothing.
"""

from __future__ import annotations

OWNER_ROLE = "controlplane_owner"
APP_ROLE = "controlplane_app"
DATABASE_NAME = "controlplane"

ENSURE_APP_ROLE_SQL = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
END
$$;
"""

ENSURE_OWNER_ROLE_SQL = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
    CREATE ROLE {OWNER_ROLE} LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS CREATEDB;
  END IF;
END
$$;
"""

GRANT_APP_ROLE_TO_OWNER_SQL = f"GRANT {APP_ROLE} TO {OWNER_ROLE}"
