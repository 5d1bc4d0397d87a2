"""Signed claims for Row-Level Security: the tenant scope is no longer a setting the application role
sets for itself.

Before, the policies trusted ``app.role`` / ``app.tenant_id`` / ``app.user_id``, which any SQL run as the
application role could set (``app.role = 'admin'`` saw every tenant). Now they trust only ``app.claim``,
HMAC-signed with a key in ``cp_claim_key`` (readable by the owner role alone) and checked by the SECURITY
DEFINER function ``cp_claim()`` (see ``controlplane.db.claims``). The policies themselves, and their
InitPlan form from 0004, do not change: the context functions they call now read the verified claim.

Revision ID: 0007_signed_claims
Revises: 0006_token_version
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controlplane.db.claims import CONTEXT_FUNCTIONS_SQL, VERIFY_FUNCTION_SQL, ClaimKey
from controlplane.db.roles import APP_ROLE

revision = "0007_signed_claims"
down_revision = "0006_token_version"
branch_labels = None
depends_on = None

KEY_TABLE_SQL = """
CREATE TABLE cp_claim_key (
  id integer PRIMARY KEY CHECK (id = 1),
  key bytea NOT NULL,
  inner_pad bytea NOT NULL,
  outer_pad bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON cp_claim_key FROM PUBLIC;
"""

OLD_CONTEXT_FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION cp_role() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT coalesce(nullif(current_setting('app.role', true), ''), 'anonymous') $$;
CREATE OR REPLACE FUNCTION cp_tenant_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION cp_user_id() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
"""


def upgrade() -> None:
    op.execute(KEY_TABLE_SQL)
    key = ClaimKey.generate()
    op.get_bind().execute(
        sa.text("INSERT INTO cp_claim_key (id, key, inner_pad, outer_pad) VALUES (1, :k, :i, :o)"),
        {"k": key.key, "i": key.inner_pad, "o": key.outer_pad},
    )
    op.execute(VERIFY_FUNCTION_SQL)
    op.execute(f"REVOKE ALL ON FUNCTION cp_claim() FROM PUBLIC; GRANT EXECUTE ON FUNCTION cp_claim() TO {APP_ROLE};")
    op.execute(CONTEXT_FUNCTIONS_SQL)


def downgrade() -> None:
    op.execute(OLD_CONTEXT_FUNCTIONS_SQL)
    op.execute("DROP FUNCTION IF EXISTS cp_claim(); DROP TABLE IF EXISTS cp_claim_key;")
