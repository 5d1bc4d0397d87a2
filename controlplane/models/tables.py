"""SQLAlchemy Core descriptions of the tables the migrations create, for typed queries in services.

The schema itself is owned by the Alembic migrations (``controlplane/db/migrations``); these objects only
name the columns, so a typo in a column name fails at import time rather than in a query.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = sa.MetaData()

_uuid = UUID(as_uuid=True)
_ts = sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", _uuid, primary_key=True, server_default=sa.text("gen_random_uuid()"))


tenants = sa.Table(
    "tenants", metadata, _id(), sa.Column("name", sa.Text), sa.Column("display_name", sa.Text),
    sa.Column("created_at", _ts), sa.Column("updated_at", _ts), sa.Column("resource_version", sa.BigInteger),
    sa.Column("quota_vcpus", sa.Integer), sa.Column("quota_memory_mb", sa.BigInteger),
    sa.Column("quota_disk_gb", sa.BigInteger), sa.Column("quota_guests", sa.Integer),
)

projects = sa.Table(
    "projects", metadata, _id(), sa.Column("tenant_id", _uuid), sa.Column("name", sa.Text),
    sa.Column("description", sa.Text), sa.Column("quota_vcpus", sa.Integer),
    sa.Column("quota_memory_mb", sa.BigInteger), sa.Column("quota_disk_gb", sa.BigInteger),
    sa.Column("quota_guests", sa.Integer), sa.Column("created_at", _ts), sa.Column("updated_at", _ts),
    sa.Column("resource_version", sa.BigInteger),
)

users = sa.Table(
    "users", metadata, _id(), sa.Column("tenant_id", _uuid), sa.Column("email", sa.Text),
    sa.Column("password_hash", sa.Text), sa.Column("role", sa.Text), sa.Column("is_active", sa.Boolean),
    sa.Column("created_at", _ts), sa.Column("updated_at", _ts), sa.Column("last_login_at", _ts),
    sa.Column("resource_version", sa.BigInteger), sa.Column("token_version", sa.BigInteger),
)

memberships = sa.Table(
    "memberships", metadata, _id(), sa.Column("tenant_id", _uuid), sa.Column("user_id", _uuid),
    sa.Column("project_id", _uuid), sa.Column("created_at", _ts),
)

api_keys = sa.Table(
    "api_keys", metadata, _id(), sa.Column("tenant_id", _uuid), sa.Column("user_id", _uuid),
    sa.Column("name", sa.Text), sa.Column("prefix", sa.Text), sa.Column("secret_hash", sa.Text),
    sa.Column("scopes", ARRAY(sa.Text)), sa.Column("expires_at", _ts), sa.Column("revoked_at", _ts),
    sa.Column("last_used_at", _ts), sa.Column("created_at", _ts), sa.Column("resource_version", sa.BigInteger),
)

refresh_tokens = sa.Table(
    "refresh_tokens", metadata, _id(), sa.Column("tenant_id", _uuid), sa.Column("user_id", _uuid),
    sa.Column("family_id", _uuid), sa.Column("token_hash", sa.Text), sa.Column("expires_at", _ts),
    sa.Column("used_at", _ts), sa.Column("revoked_at", _ts), sa.Column("created_at", _ts),
)

password_resets = sa.Table(
    "password_resets", metadata, _id(), sa.Column("tenant_id", _uuid), sa.Column("user_id", _uuid),
    sa.Column("token_hash", sa.Text), sa.Column("expires_at", _ts), sa.Column("used_at", _ts),
    sa.Column("created_at", _ts),
)

clusters = sa.Table(
    "clusters", metadata, _id(), sa.Column("name", sa.Text), sa.Column("endpoint", sa.Text),
    sa.Column("token_id", sa.Text), sa.Column("secret_path", sa.Text), sa.Column("verify_tls", sa.Boolean),
    sa.Column("ca_cert", sa.Text), sa.Column("status", JSONB), sa.Column("created_at", _ts),
    sa.Column("updated_at", _ts), sa.Column("resource_version", sa.BigInteger),
)

nodes = sa.Table(
    "nodes", metadata, _id(), sa.Column("cluster_id", _uuid), sa.Column("name", sa.Text),
    sa.Column("status", sa.Text), sa.Column("cpus", sa.Integer), sa.Column("cpu_usage", sa.Float),
    sa.Column("memory_total_mb", sa.BigInteger), sa.Column("memory_used_mb", sa.BigInteger),
    sa.Column("storages", JSONB), sa.Column("updated_at", _ts),
)


def _guest_table(name: str) -> sa.Table:
    return sa.Table(
        name, metadata, _id(), sa.Column("tenant_id", _uuid), sa.Column("project_id", _uuid),
        sa.Column("cluster_id", _uuid), sa.Column("name", sa.Text), sa.Column("labels", JSONB),
        sa.Column("spec", JSONB), sa.Column("status", JSONB), sa.Column("conditions", JSONB),
        sa.Column("generation", sa.BigInteger), sa.Column("observed_generation", sa.BigInteger),
        sa.Column("resource_version", sa.BigInteger), sa.Column("finalizers", ARRAY(sa.Text)),
        sa.Column("deleted_at", _ts), sa.Column("assigned_user_id", _uuid), sa.Column("expires_at", _ts),
        sa.Column("created_by", _uuid), sa.Column("created_at", _ts), sa.Column("updated_at", _ts),
        sa.Column("managed_by", sa.Text), sa.Column("source_repository", sa.Text),
        sa.Column("source_file", sa.Text), sa.Column("source_commit", sa.Text),
    )


virtual_machines = _guest_table("virtual_machines")
containers = _guest_table("containers")

guest_actions = sa.Table(
    "guest_actions", metadata, _id(), sa.Column("tenant_id", _uuid), sa.Column("target_kind", sa.Text),
    sa.Column("target_id", _uuid), sa.Column("action", sa.Text), sa.Column("requested_by", _uuid),
    sa.Column("state", sa.Text), sa.Column("created_at", _ts), sa.Column("handled_at", _ts),
)

runs = sa.Table(
    "runs", metadata, _id(), sa.Column("tenant_id", _uuid), sa.Column("target_kind", sa.Text),
    sa.Column("target_id", _uuid), sa.Column("target_name", sa.Text), sa.Column("action", sa.Text),
    sa.Column("generation", sa.BigInteger), sa.Column("state", sa.Text), sa.Column("attempt", sa.Integer),
    sa.Column("worker", sa.Text), sa.Column("summary", JSONB), sa.Column("error", sa.Text),
    sa.Column("created_at", _ts), sa.Column("started_at", _ts), sa.Column("finished_at", _ts),
)

run_log_entries = sa.Table(
    "run_log_entries", metadata, sa.Column("run_id", _uuid, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True), sa.Column("tenant_id", _uuid), sa.Column("created_at", _ts),
    sa.Column("stream", sa.Text), sa.Column("line", sa.Text),
)

audit_events = sa.Table(
    "audit_events", metadata, sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("tenant_id", _uuid),
    sa.Column("actor", sa.Text), sa.Column("actor_id", _uuid), sa.Column("action", sa.Text),
    sa.Column("target_kind", sa.Text), sa.Column("target_id", sa.Text), sa.Column("target_name", sa.Text),
    sa.Column("result", sa.Text), sa.Column("ip", sa.Text), sa.Column("user_agent", sa.Text),
    sa.Column("request_id", sa.Text), sa.Column("details", JSONB), sa.Column("created_at", _ts),
    sa.Column("prev_hash", sa.Text), sa.Column("hash", sa.Text),
)

TENANT_OWNED = [
    "projects", "users", "memberships", "api_keys", "refresh_tokens", "password_resets", "virtual_machines",
    "containers", "guest_actions", "runs", "run_log_entries", "work_leases", "audit_events",
]
"""Every table whose rows belong to one tenant (``tenants`` itself is keyed by ``id``)."""
