"""Conditions are stored once: in the ``conditions`` column of ``virtual_machines`` and ``containers``.

The reconciler used to write them into ``status.conditions`` as well; the API composes the document's
``status.conditions`` from the column, so the copy inside ``status`` is removed.

Revision ID: 0012_conditions_once
Revises: 0011_tenant_quotas
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0012_conditions_once"
down_revision = "0011_tenant_quotas"
branch_labels = None
depends_on = None

TABLES = ("virtual_machines", "containers")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"UPDATE {table} SET status = status - 'conditions' WHERE status ? 'conditions';")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"UPDATE {table} SET status = status || jsonb_build_object('conditions', conditions);")
