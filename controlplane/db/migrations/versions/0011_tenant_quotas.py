"""Tenant quotas: limits on what all of a tenant's guests together may take up (``NULL`` = no limit).

Only admins set them; new tenants get the configured default (``CONTROLPLANE_DEFAULT_TENANT_QUOTA_*``).
Tenants that exist before this migration keep no limit until an admin sets one.

Revision ID: 0011_tenant_quotas
Revises: 0010_guest_ownership
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0011_tenant_quotas"
down_revision = "0010_guest_ownership"
branch_labels = None
depends_on = None

COLUMNS = [("quota_vcpus", "integer"), ("quota_memory_mb", "bigint"), ("quota_disk_gb", "bigint"),
           ("quota_guests", "integer")]


def upgrade() -> None:
    for name, sql_type in COLUMNS:
        op.execute(f"ALTER TABLE tenants ADD COLUMN IF NOT EXISTS {name} {sql_type} CHECK ({name} >= 0);")


def downgrade() -> None:
    for name, _ in COLUMNS:
        op.execute(f"ALTER TABLE tenants DROP COLUMN IF EXISTS {name};")
