"""Git sources over ssh: the host keys the server must present (``known_hosts`` lines).

A host key is public, so it lives on the row (the API shows it); the deploy key itself goes to Vault
like the HTTPS token. An ssh source without a host key is refused by the API, never accepted blindly.

Revision ID: 0015_git_source_known_hosts
Revises: 0014_audit_chain_for_admins
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0015_git_source_known_hosts"
down_revision = "0014_audit_chain_for_admins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``git_sources.known_hosts``."""
    op.execute("ALTER TABLE git_sources ADD COLUMN known_hosts text;")


def downgrade() -> None:
    """Drop ``git_sources.known_hosts``."""
    op.execute("ALTER TABLE git_sources DROP COLUMN IF EXISTS known_hosts;")
