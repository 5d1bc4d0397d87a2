"""SQL for Row-Level Security: the context functions and the policies that migrations install.

The policies ask the context functions ``cp_role()``, ``cp_tenant_id()``, ``cp_user_id()`` and
``cp_is_global()`` who is acting. ``admin`` and ``system`` see every tenant; anyone else sees rows of their
own tenant only. The application role owns no table, so the database enforces this even when our code
forgets a ``WHERE``. Migration 0001 created the functions over plain settings; since 0007 they read a
signed claim (``controlplane.db.claims``), which SQL run as the application role cannot forge.
"""

from __future__ import annotations

from controlplane.db.roles import APP_ROLE

# The functions as 0001 created them (0007 replaces cp_role, cp_tenant_id and cp_user_id).
CONTEXT_FUNCTIONS_SQL = """
CREATE FUNCTION cp_role() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT coalesce(nullif(current_setting('app.role', true), ''), 'anonymous') $$;
CREATE FUNCTION cp_tenant_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
CREATE FUNCTION cp_user_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
CREATE FUNCTION cp_is_global() RETURNS boolean LANGUAGE sql STABLE AS
  $$ SELECT cp_role() IN ('admin', 'system') $$;
"""

DROP_CONTEXT_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS cp_is_global();
DROP FUNCTION IF EXISTS cp_user_id();
DROP FUNCTION IF EXISTS cp_tenant_id();
DROP FUNCTION IF EXISTS cp_role();
"""


def tenant_policy_sql(table: str, tenant_column: str = "tenant_id") -> str:
    """Enable RLS on ``table`` and let callers touch only rows of their own tenant (global roles: all)."""
    rule = f"cp_is_global() OR {tenant_column} = cp_tenant_id()"
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n"
        f"CREATE POLICY {table}_tenant_isolation ON {table} USING ({rule}) WITH CHECK ({rule});\n"
    )


def global_readable_policy_sql(table: str) -> str:
    """Enable RLS on a shared table: everyone with a role reads, only global roles write."""
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n"
        f"CREATE POLICY {table}_read ON {table} FOR SELECT USING (cp_role() <> 'anonymous');\n"
        f"CREATE POLICY {table}_write ON {table} FOR ALL USING (cp_is_global()) WITH CHECK (cp_is_global());\n"
    )


def append_only_policy_sql(table: str) -> str:
    """Enable RLS on an append-only table: read and insert within the tenant, never update or delete."""
    rule = "cp_is_global() OR tenant_id = cp_tenant_id()"
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n"
        f"CREATE POLICY {table}_read ON {table} FOR SELECT USING ({rule});\n"
        f"CREATE POLICY {table}_insert ON {table} FOR INSERT WITH CHECK ({rule});\n"
    )


def grant_sql(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> str:
    """Grant the application role ``privileges`` on ``table``."""
    return f"GRANT {privileges} ON {table} TO {APP_ROLE};\n"
