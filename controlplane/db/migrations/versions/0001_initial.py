"""Initial schema: tenancy, identity, clusters, managed guests, runs, audit, work leases; RLS everywhere.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from controlplane.db.rls import (
    CONTEXT_FUNCTIONS_SQL,
    DROP_CONTEXT_FUNCTIONS_SQL,
    append_only_policy_sql,
    global_readable_policy_sql,
    grant_sql,
    tenant_policy_sql,
)
from controlplane.db.roles import APP_ROLE

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DNS_LABEL = r"'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'"

TENANCY_SQL = f"""
CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE CHECK (name ~ {DNS_LABEL}),
  display_name text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE projects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name ~ {DNS_LABEL}),
  description text NOT NULL DEFAULT '',
  quota_vcpus integer CHECK (quota_vcpus >= 0),
  quota_memory_mb bigint CHECK (quota_memory_mb >= 0),
  quota_disk_gb bigint CHECK (quota_disk_gb >= 0),
  quota_guests integer CHECK (quota_guests >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);
CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
  email text NOT NULL,
  password_hash text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'manager', 'user')),
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz,
  CHECK (role = 'admin' OR tenant_id IS NOT NULL)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE TABLE memberships (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, project_id)
);
CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL,
  prefix text NOT NULL UNIQUE,
  secret_hash text NOT NULL,
  scopes text[] NOT NULL DEFAULT '{{}}',
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
"""

CLUSTERS_SQL = f"""
CREATE TABLE clusters (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE CHECK (name ~ {DNS_LABEL}),
  endpoint text NOT NULL,
  token_id text NOT NULL,
  secret_path text NOT NULL,
  verify_tls boolean NOT NULL DEFAULT true,
  ca_cert text,
  status jsonb NOT NULL DEFAULT '{{}}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE nodes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  cluster_id uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
  name text NOT NULL,
  status text NOT NULL DEFAULT 'unknown',
  cpus integer NOT NULL DEFAULT 0,
  cpu_usage double precision NOT NULL DEFAULT 0,
  memory_total_mb bigint NOT NULL DEFAULT 0,
  memory_used_mb bigint NOT NULL DEFAULT 0,
  storages jsonb NOT NULL DEFAULT '[]',
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (cluster_id, name)
);
"""


def guest_table_sql(table: str) -> str:
    """A table of managed guests (VMs or containers): desired spec, observed status, bookkeeping."""
    return f"""
CREATE TABLE {table} (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE RESTRICT,
  cluster_id uuid REFERENCES clusters(id) ON DELETE RESTRICT,
  name text NOT NULL CHECK (name ~ {DNS_LABEL}),
  labels jsonb NOT NULL DEFAULT '{{}}',
  spec jsonb NOT NULL,
  status jsonb NOT NULL DEFAULT '{{}}',
  conditions jsonb NOT NULL DEFAULT '[]',
  generation bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  resource_version bigint NOT NULL DEFAULT 1,
  finalizers text[] NOT NULL DEFAULT '{{}}',
  deleted_at timestamptz,
  assigned_user_id uuid REFERENCES users(id) ON DELETE SET NULL,
  expires_at timestamptz,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX {table}_project_name_key ON {table} (project_id, name) WHERE deleted_at IS NULL;
CREATE INDEX {table}_tenant_idx ON {table} (tenant_id);
CREATE INDEX {table}_pending_idx ON {table} (id) WHERE observed_generation < generation OR deleted_at IS NOT NULL;
"""


RUNS_SQL = """
CREATE TABLE runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
  target_kind text NOT NULL,
  target_id uuid NOT NULL,
  target_name text NOT NULL DEFAULT '',
  action text NOT NULL,
  generation bigint,
  state text NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  attempt integer NOT NULL DEFAULT 1,
  worker text,
  summary jsonb NOT NULL DEFAULT '{}',
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX runs_target_idx ON runs (target_kind, target_id, created_at DESC);
CREATE TABLE run_log_entries (
  run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq integer NOT NULL,
  tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  stream text NOT NULL DEFAULT 'stdout',
  line text NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE work_leases (
  object_kind text NOT NULL,
  object_id uuid NOT NULL,
  tenant_id uuid REFERENCES tenants(id) ON DELETE CASCADE,
  holder text,
  expires_at timestamptz,
  acquired_at timestamptz,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  PRIMARY KEY (object_kind, object_id)
);
"""

AUDIT_SQL = """
CREATE TABLE audit_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid REFERENCES tenants(id) ON DELETE SET NULL,
  actor text NOT NULL,
  actor_id uuid,
  action text NOT NULL,
  target_kind text NOT NULL DEFAULT '',
  target_id text NOT NULL DEFAULT '',
  target_name text NOT NULL DEFAULT '',
  result text NOT NULL,
  ip text NOT NULL DEFAULT '',
  user_agent text NOT NULL DEFAULT '',
  request_id text NOT NULL DEFAULT '',
  details jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  prev_hash text NOT NULL DEFAULT '',
  hash text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_tenant_idx ON audit_events (tenant_id, created_at DESC);

-- Each event's hash covers its content and the previous event's hash, so editing or removing any event
-- breaks the chain. The function runs as the table owner to see the whole chain through RLS, and an
-- advisory lock keeps concurrent inserts in one order.
CREATE FUNCTION cp_audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
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
CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION cp_audit_chain();
"""

TENANT_TABLES = [
    "projects", "users", "memberships", "api_keys", "virtual_machines", "containers",
    "runs", "run_log_entries", "work_leases",
]


def upgrade() -> None:
    op.execute(CONTEXT_FUNCTIONS_SQL)
    op.execute(TENANCY_SQL)
    op.execute(CLUSTERS_SQL)
    op.execute(guest_table_sql("virtual_machines"))
    op.execute(guest_table_sql("containers"))
    op.execute(RUNS_SQL)
    op.execute(AUDIT_SQL)

    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE};")
    op.execute(tenant_policy_sql("tenants", tenant_column="id") + grant_sql("tenants"))
    for table in TENANT_TABLES:
        op.execute(tenant_policy_sql(table) + grant_sql(table))
    for table in ("clusters", "nodes"):
        op.execute(global_readable_policy_sql(table) + grant_sql(table))
    op.execute(append_only_policy_sql("audit_events") + grant_sql("audit_events", "SELECT, INSERT"))


def downgrade() -> None:
    op.execute(
        """
DROP TABLE IF EXISTS audit_events, work_leases, run_log_entries, runs, containers, virtual_machines,
  nodes, clusters, api_keys, memberships, users, projects, tenants CASCADE;
DROP FUNCTION IF EXISTS cp_audit_chain();
"""
    )
    op.execute(DROP_CONTEXT_FUNCTIONS_SQL)
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE};")
