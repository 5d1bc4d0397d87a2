"""An index in the guest lists' default order, so a page reads its rows in order and stops.

``GET /api/v1/vms`` (and the portal, and ``/containers``) sorts live guests by ``(name, id)`` and takes
one page. Without an index in that order PostgreSQL reads and sorts every visible guest for each page
(65 ms for the first 50 of 10,000 VMs of one project); with it, it walks the index and stops after the
page.

Revision ID: 0016_guest_list_order
Revises: 0015_git_source_known_hosts
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0016_guest_list_order"
down_revision = "0015_git_source_known_hosts"
branch_labels = None
depends_on = None

TABLES = ("virtual_machines", "containers")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"CREATE INDEX {table}_name_order_idx ON {table} (name, id) WHERE deleted_at IS NULL")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP INDEX IF EXISTS {table}_name_order_idx")
