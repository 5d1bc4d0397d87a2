"""OpenTofu's state gets its own database role: the ``pg`` backend's schema, table, sequence and index are
created here by the owner (they exist already where OpenTofu made them), and ``controlplane_tfstate`` may
only read and write that table's rows. OpenTofu runs with ``skip_*_creation`` and never sees the owner.

Revision ID: 0008_terraform_state_role
Revises: 0007_signed_claims
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from controlplane.db.roles import GRANT_STATE_ROLE_SQL, STATE_ROLE, STATE_SCHEMA_SQL

revision = "0008_terraform_state_role"
down_revision = "0007_signed_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(STATE_SCHEMA_SQL)
    op.execute(GRANT_STATE_ROLE_SQL)


def downgrade() -> None:
    op.execute(f"""
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{STATE_ROLE}') THEN
    REVOKE ALL ON ALL TABLES IN SCHEMA terraform_remote_state FROM {STATE_ROLE};
    REVOKE ALL ON SCHEMA terraform_remote_state FROM {STATE_ROLE};
    REVOKE ALL ON SEQUENCE public.global_states_id_seq FROM {STATE_ROLE};
  END IF;
END
$$;
""")
