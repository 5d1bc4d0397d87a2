"""Credentials that end when their user's powers end: a token version per user and a per-request session check.

- ``users.token_version`` is bumped whenever every session of a user must end (password change or reset,
  deactivation, role change, logout everywhere). Access tokens carry the version they were issued with.
- ``cp_session_state(user, family)`` returns, in one indexed lookup, what an access token is checked
  against on every request: the user's tenant, role, activity and token version, and whether the login
  (refresh-token family) it came from was revoked (logout, refresh-token reuse). SECURITY DEFINER with a
  fixed search_path, like the other pre-authentication lookups, and it returns nothing else.
- ``cp_api_key_lookup`` also returns the owner's email and the key's last use, so that checking a key is
  one query and its use is recorded only when the last record is old.

Revision ID: 0006_token_version
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from controlplane.db.roles import APP_ROLE

revision = "0006_token_version"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE_SQL = f"""
ALTER TABLE users ADD COLUMN IF NOT EXISTS token_version bigint NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX IF NOT EXISTS password_resets_user_idx ON password_resets (user_id);
CREATE FUNCTION cp_session_state(p_user uuid, p_family uuid)
RETURNS TABLE (tenant_id uuid, role text, is_active boolean, token_version bigint, session_revoked boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u.tenant_id, u.role, u.is_active, u.token_version,
         p_family IS NOT NULL AND EXISTS (
           SELECT 1 FROM refresh_tokens t
           WHERE t.family_id = p_family AND t.user_id = p_user AND t.revoked_at IS NOT NULL)
  FROM users u WHERE u.id = p_user
$$;
DROP FUNCTION cp_api_key_lookup(text);
CREATE FUNCTION cp_api_key_lookup(p_prefix text)
RETURNS TABLE (key_id uuid, user_id uuid, tenant_id uuid, role text, secret_hash text, scopes text[],
               expires_at timestamptz, revoked_at timestamptz, is_active boolean, email text,
               last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT k.id, k.user_id, u.tenant_id, u.role, k.secret_hash, k.scopes, k.expires_at, k.revoked_at, u.is_active,
         lower(u.email), k.last_used_at
  FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = p_prefix
$$;
REVOKE ALL ON FUNCTION cp_session_state(uuid, uuid), cp_api_key_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cp_session_state(uuid, uuid), cp_api_key_lookup(text) TO {APP_ROLE};
"""

DOWNGRADE_SQL = f"""
DROP FUNCTION IF EXISTS cp_session_state(uuid, uuid);
DROP FUNCTION IF EXISTS cp_api_key_lookup(text);
CREATE FUNCTION cp_api_key_lookup(p_prefix text)
RETURNS TABLE (key_id uuid, user_id uuid, tenant_id uuid, role text, secret_hash text, scopes text[],
               expires_at timestamptz, revoked_at timestamptz, is_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT k.id, k.user_id, u.tenant_id, u.role, k.secret_hash, k.scopes, k.expires_at, k.revoked_at, u.is_active
  FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = p_prefix
$$;
REVOKE ALL ON FUNCTION cp_api_key_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cp_api_key_lookup(text) TO {APP_ROLE};
DROP INDEX IF EXISTS refresh_tokens_user_idx, password_resets_user_idx;
ALTER TABLE users DROP COLUMN IF EXISTS token_version;
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
