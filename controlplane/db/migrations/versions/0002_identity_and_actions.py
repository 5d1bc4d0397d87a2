"""Identity bookkeeping and guest actions: refresh tokens, password resets, action requests, narrow
pre-authentication lookups, and per-user visibility of guests.

- ``refresh_tokens`` (hashed, grouped in families so a reused token revokes its family) and
  ``password_resets`` (hashed, single use, expiring) carry ``tenant_id`` and the tenant policy.
- ``guest_actions`` records each power action a client asks for (start/stop/shutdown/reboot).
- Login has to find a user before any tenant is known, and an API key or a refresh token has to be
  resolved to its owner. Three SECURITY DEFINER functions (owned by the owner role, fixed search_path)
  return just the columns those steps need, for one exact email or one exact key prefix / token id.
  Nothing else of the tables becomes visible.
- The audit chain is ordered by ``chain_seq``, assigned under the chain lock (identity values are taken
  before the lock, so two concurrent inserts could otherwise link to the same predecessor), and audit
  events no longer reference ``tenants`` (deleting a tenant must not rewrite, and so break, the chain).
- A restrictive policy on ``virtual_machines`` and ``containers`` limits the ``user`` role to guests of
  projects they are a member of and guests assigned to them (the service layer checks this too).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from controlplane.db.rls import grant_sql, tenant_policy_sql
from controlplane.db.roles import APP_ROLE

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES_SQL = """
CREATE TABLE refresh_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  family_id uuid NOT NULL,
  token_hash text NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE TABLE password_resets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash text NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE guest_actions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  target_kind text NOT NULL CHECK (target_kind IN ('VirtualMachine', 'Container')),
  target_id uuid NOT NULL,
  action text NOT NULL CHECK (action IN ('start', 'stop', 'shutdown', 'reboot')),
  requested_by uuid,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
  created_at timestamptz NOT NULL DEFAULT now(),
  handled_at timestamptz
);
CREATE INDEX guest_actions_target_idx ON guest_actions (target_kind, target_id, created_at DESC);
CREATE INDEX virtual_machines_project_idx ON virtual_machines (project_id);
CREATE INDEX containers_project_idx ON containers (project_id);
CREATE INDEX audit_events_action_idx ON audit_events (action, created_at DESC);
"""

LOOKUP_FUNCTIONS_SQL = f"""
CREATE FUNCTION cp_login_lookup(p_email text)
RETURNS TABLE (user_id uuid, tenant_id uuid, role text, password_hash text, is_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT id, tenant_id, role, password_hash, is_active FROM users WHERE lower(email) = lower(p_email)
$$;
CREATE FUNCTION cp_api_key_lookup(p_prefix text)
RETURNS TABLE (key_id uuid, user_id uuid, tenant_id uuid, role text, secret_hash text, scopes text[],
               expires_at timestamptz, revoked_at timestamptz, is_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT k.id, k.user_id, u.tenant_id, u.role, k.secret_hash, k.scopes, k.expires_at, k.revoked_at, u.is_active
  FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = p_prefix
$$;
CREATE FUNCTION cp_token_owner(p_kind text, p_id uuid)
RETURNS TABLE (user_id uuid, tenant_id uuid, role text, is_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u.id, u.tenant_id, u.role, u.is_active FROM users u
  WHERE u.id = CASE p_kind
    WHEN 'refresh' THEN (SELECT t.user_id FROM refresh_tokens t WHERE t.id = p_id)
    WHEN 'reset' THEN (SELECT r.user_id FROM password_resets r WHERE r.id = p_id)
  END
$$;
REVOKE ALL ON FUNCTION cp_login_lookup(text), cp_api_key_lookup(text), cp_token_owner(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cp_login_lookup(text), cp_api_key_lookup(text), cp_token_owner(text, uuid)
  TO {APP_ROLE};
"""

AUDIT_CHAIN_SQL = """
ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS audit_events_tenant_id_fkey;
ALTER TABLE audit_events ADD COLUMN chain_seq bigint;
UPDATE audit_events SET chain_seq = id;
ALTER TABLE audit_events ALTER COLUMN chain_seq SET NOT NULL;
CREATE UNIQUE INDEX audit_events_chain_seq_key ON audit_events (chain_seq);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, created_at DESC);
CREATE OR REPLACE FUNCTION cp_audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
  last_seq bigint;
  last_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock(7325001);
  SELECT chain_seq, hash INTO last_seq, last_hash FROM audit_events ORDER BY chain_seq DESC LIMIT 1;
  NEW.chain_seq := coalesce(last_seq, 0) + 1;
  NEW.prev_hash := coalesce(last_hash, '');
  NEW.hash := encode(sha256(convert_to(concat_ws('|', NEW.prev_hash, NEW.id::text,
      coalesce(NEW.tenant_id::text, ''), NEW.actor, coalesce(NEW.actor_id::text, ''), NEW.action,
      NEW.target_kind, NEW.target_id, NEW.target_name, NEW.result, NEW.ip, NEW.user_agent, NEW.request_id,
      NEW.details::text, to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')), 'UTF8')),
      'hex');
  RETURN NEW;
END
$$;
"""

USER_VISIBILITY = (
    "cp_role() <> 'user' OR assigned_user_id = cp_user_id() OR project_id IN "
    "(SELECT m.project_id FROM memberships m WHERE m.user_id = cp_user_id())"
)


def upgrade() -> None:
    op.execute(TABLES_SQL)
    for table in ("refresh_tokens", "password_resets", "guest_actions"):
        op.execute(tenant_policy_sql(table) + grant_sql(table))
    op.execute(LOOKUP_FUNCTIONS_SQL)
    op.execute(AUDIT_CHAIN_SQL)
    for table in ("virtual_machines", "containers"):
        op.execute(
            f"CREATE POLICY {table}_user_visibility ON {table} AS RESTRICTIVE "
            f"USING ({USER_VISIBILITY}) WITH CHECK ({USER_VISIBILITY});"
        )


OLD_AUDIT_CHAIN_SQL = """
CREATE OR REPLACE FUNCTION cp_audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7325001);
  SELECT hash INTO NEW.prev_hash FROM audit_events ORDER BY id DESC LIMIT 1;
  NEW.prev_hash := coalesce(NEW.prev_hash, '');
  NEW.hash := encode(sha256(convert_to(concat_ws('|', NEW.prev_hash, NEW.id::text,
      coalesce(NEW.tenant_id::text, ''), NEW.actor, coalesce(NEW.actor_id::text, ''), NEW.action,
      NEW.target_kind, NEW.target_id, NEW.target_name, NEW.result, NEW.ip, NEW.user_agent, NEW.request_id,
      NEW.details::text, to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')), 'UTF8')),
      'hex');
  RETURN NEW;
END
$$;
"""


def downgrade() -> None:
    op.execute(OLD_AUDIT_CHAIN_SQL)
    for table in ("virtual_machines", "containers"):
        op.execute(f"DROP POLICY IF EXISTS {table}_user_visibility ON {table};")
    op.execute(
        "DROP FUNCTION IF EXISTS cp_login_lookup(text), cp_api_key_lookup(text), cp_token_owner(text, uuid);"
        "DROP INDEX IF EXISTS audit_events_actor_idx, audit_events_chain_seq_key;"
        "ALTER TABLE audit_events DROP COLUMN IF EXISTS chain_seq;"
        "DROP INDEX IF EXISTS audit_events_action_idx, virtual_machines_project_idx, containers_project_idx;"
        "DROP TABLE IF EXISTS guest_actions, password_resets, refresh_tokens;"
    )
