"""Optimistic concurrency for every mutable resource: tenants, projects, users, clusters and API keys get the
``resource_version`` the guest tables already have. Each write bumps it in the same statement that checks
it, so the API can send it as the ``ETag`` and refuse a stale ``If-Match`` with 412.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ["tenants", "projects", "users", "clusters", "api_keys"]


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS resource_version bigint NOT NULL DEFAULT 1;")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS resource_version;")
