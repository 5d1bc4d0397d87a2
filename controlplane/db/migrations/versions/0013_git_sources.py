"""Git sources: repositories the control plane follows (pull-based GitOps), one tenant each, with RLS.

A source names its repository URL (https, ssh or file), branch, path and include/exclude globs, its poll
interval, prune and suspend switches, and where its credentials and webhook secret live in Vault (the
secrets themselves never reach the database). The sync records the last seen and applied commits, a
state (Synced, OutOfSync, Failed, Suspended) and the last error; each sync is a run in ``runs``.

Revision ID: 0013_git_sources
Revises: 0012_conditions_once
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from controlplane.db.rls import grant_sql, tenant_policy_sql

revision = "0013_git_sources"
down_revision = "0012_conditions_once"
branch_labels = None
depends_on = None

UPGRADE_SQL = """
CREATE TABLE git_sources (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'),
  url text NOT NULL CHECK (url ~ '^(https?|ssh|file)://'),
  branch text NOT NULL DEFAULT 'main',
  path text NOT NULL DEFAULT '',
  include jsonb NOT NULL DEFAULT '[]',
  exclude jsonb NOT NULL DEFAULT '[]',
  poll_interval_s integer NOT NULL DEFAULT 180 CHECK (poll_interval_s BETWEEN 10 AND 86400),
  prune boolean NOT NULL DEFAULT false,
  suspended boolean NOT NULL DEFAULT false,
  credential_path text,
  webhook_secret_path text,
  state text NOT NULL DEFAULT 'OutOfSync' CHECK (state IN ('Synced', 'OutOfSync', 'Failed', 'Suspended')),
  last_seen_commit text,
  last_applied_commit text,
  last_error text,
  last_polled_at timestamptz,
  refresh_requested_at timestamptz,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  resource_version bigint NOT NULL DEFAULT 1,
  UNIQUE (name)
);
"""


def upgrade() -> None:
    """Create ``git_sources`` with the tenant policy (source names are unique: they name managers)."""
    op.execute(UPGRADE_SQL + tenant_policy_sql("git_sources") + grant_sql("git_sources"))


def downgrade() -> None:
    """Drop ``git_sources``."""
    op.execute("DROP TABLE IF EXISTS git_sources;")
