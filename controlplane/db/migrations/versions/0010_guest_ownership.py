"""Who owns a guest's spec: ``managed_by`` (``api``, or ``git:<source>``) and, for git-managed guests, the
repository, file and commit the spec came from. Existing guests are hand-made (``api``).

Revision ID: 0010_guest_ownership
Revises: 0009_guest_events
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_guest_ownership"
down_revision = "0009_guest_events"
branch_labels = None
depends_on = None

TABLES = ("virtual_machines", "containers")


def upgrade() -> None:
    """Add the ownership columns, with a check that ``managed_by`` is ``api`` or ``git:<name>``."""
    for table in TABLES:
        op.add_column(table, sa.Column("managed_by", sa.Text, nullable=False, server_default="api"))
        op.add_column(table, sa.Column("source_repository", sa.Text))
        op.add_column(table, sa.Column("source_file", sa.Text))
        op.add_column(table, sa.Column("source_commit", sa.Text))
        op.create_check_constraint(f"{table}_managed_by_known", table,
                                   "managed_by = 'api' OR managed_by ~ '^git:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'")


def downgrade() -> None:
    """Drop the ownership columns."""
    for table in TABLES:
        op.drop_constraint(f"{table}_managed_by_known", table)
        for column in ("source_commit", "source_file", "source_repository", "managed_by"):
            op.drop_column(table, column)
