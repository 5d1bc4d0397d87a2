"""The audit chain readable for verification by admins through the application role.

``controlplane audit verify`` reads every tenant's events as the owner. The portal runs as the application
role, whose Row-Level Security shows a tenant its own events only, so it could not verify the chain.
``cp_audit_chain_rows()`` is a SECURITY DEFINER function that returns, for each event in chain order, its stored
hash and link and the hash recomputed from its content (nothing else of the event), and only when the
transaction's signed claim is an admin's (``cp_role()``, see 0007); anyone else gets an error.

Revision ID: 0014_audit_chain_for_admins
Revises: 0013_git_sources
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from controlplane.db.roles import APP_ROLE

revision = "0014_audit_chain_for_admins"
down_revision = "0013_git_sources"
branch_labels = None
depends_on = None

UPGRADE_SQL = f"""
CREATE FUNCTION cp_audit_chain_rows()
RETURNS TABLE (id bigint, chain_seq bigint, prev_hash text, hash text, recomputed text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF cp_role() IS DISTINCT FROM 'admin' THEN
    RAISE EXCEPTION 'only admins may verify the audit chain' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN QUERY
  SELECT e.id, e.chain_seq, e.prev_hash, e.hash,
    encode(sha256(convert_to(concat_ws('|', e.prev_hash, e.id::text, coalesce(e.tenant_id::text, ''), e.actor,
      coalesce(e.actor_id::text, ''), e.action, e.target_kind, e.target_id, e.target_name, e.result, e.ip,
      e.user_agent, e.request_id, e.details::text,
      to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')), 'UTF8')), 'hex')
  FROM audit_events e ORDER BY e.chain_seq;
END
$$;
REVOKE ALL ON FUNCTION cp_audit_chain_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cp_audit_chain_rows() TO {APP_ROLE};
"""


def upgrade() -> None:
    """Create ``cp_audit_chain_rows()`` for the application role (admins' claims only)."""
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    """Drop ``cp_audit_chain_rows()``."""
    op.execute("DROP FUNCTION IF EXISTS cp_audit_chain_rows();")
