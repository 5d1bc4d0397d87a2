"""SQLAlchemy Core tables: the one description of the schema that code queries with.

The Alembic migrations (``controlplane/db/migrations``) build the schema step by step; these tables say
what the newest migration leaves: columns with their types, nullability and server defaults, keys,
unique constraints and indexes. A test (``tests/integration/db/test_models_match_migrations_pgserver.py``)
runs Alembic's autogenerate comparison against a migrated database and fails on any difference, so a
migration and this module change together. Row-Level Security policies, CHECK constraints, triggers and
functions live in the migrations only.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB, UUID

metadata = sa.MetaData()

_uuid = UUID(as_uuid=True)
_ts = sa.DateTime(timezone=True)
_NOW = sa.text("now()")
_CLOCK = sa.text("clock_timestamp()")


def _id() -> sa.Column:
    return sa.Column("id", _uuid, primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _text(name: str, default: str | None = None, *, nullable: bool = False) -> sa.Column:
    """A text column; ``default`` is its server default (a literal string)."""
    server_default = None if default is None else sa.text(f"'{default}'::text")
    return sa.Column(name, sa.Text, nullable=nullable, server_default=server_default)


def _json(name: str, default: str) -> sa.Column:
    return sa.Column(name, JSONB, nullable=False, server_default=sa.text(f"'{default}'::jsonb"))


def _int(name: str, type_: type[sa.types.TypeEngine] = sa.BigInteger, default: int | None = None) -> sa.Column:
    server_default = None if default is None else sa.text(str(default))
    return sa.Column(name, type_, nullable=False, server_default=server_default)


def _created(name: str = "created_at", default: sa.TextClause = _NOW) -> sa.Column:
    return sa.Column(name, _ts, nullable=False, server_default=default)


def _fk(name: str, target: str, ondelete: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, _uuid, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable)


def _flag(name: str, default: bool = False) -> sa.Column:
    return sa.Column(name, sa.Boolean, nullable=False, server_default=sa.text("true" if default else "false"))


def _version() -> sa.Column:
    return _int("resource_version", default=1)


tenants = sa.Table(
    "tenants", metadata, _id(), _text("name"), _text("display_name", ""), _created(), _created("updated_at"),
    _version(), sa.Column("quota_vcpus", sa.Integer), sa.Column("quota_memory_mb", sa.BigInteger),
    sa.Column("quota_disk_gb", sa.BigInteger), sa.Column("quota_guests", sa.Integer),
    sa.UniqueConstraint("name", name="tenants_name_key"),
)

projects = sa.Table(
    "projects", metadata, _id(), _fk("tenant_id", "tenants.id", "CASCADE", nullable=False), _text("name"),
    _text("description", ""), sa.Column("quota_vcpus", sa.Integer), sa.Column("quota_memory_mb", sa.BigInteger),
    sa.Column("quota_disk_gb", sa.BigInteger), sa.Column("quota_guests", sa.Integer), _created(),
    _created("updated_at"), _version(), sa.UniqueConstraint("tenant_id", "name", name="projects_tenant_id_name_key"),
)

users = sa.Table(
    "users", metadata, _id(), _fk("tenant_id", "tenants.id", "CASCADE"), _text("email"), _text("password_hash"),
    _text("role"), sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.text("true")),
    _created(), _created("updated_at"), sa.Column("last_login_at", _ts), _version(),
    _int("token_version", default=1),
)
sa.Index("users_email_key", sa.func.lower(users.c.email), unique=True)

memberships = sa.Table(
    "memberships", metadata, _id(), _fk("tenant_id", "tenants.id", "CASCADE", nullable=False),
    _fk("user_id", "users.id", "CASCADE", nullable=False), _fk("project_id", "projects.id", "CASCADE", nullable=False),
    _created(), sa.UniqueConstraint("user_id", "project_id", name="memberships_user_id_project_id_key"),
)

api_keys = sa.Table(
    "api_keys", metadata, _id(), _fk("tenant_id", "tenants.id", "CASCADE"),
    _fk("user_id", "users.id", "CASCADE", nullable=False), _text("name"), _text("prefix"), _text("secret_hash"),
    sa.Column("scopes", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
    sa.Column("expires_at", _ts), sa.Column("revoked_at", _ts), sa.Column("last_used_at", _ts), _created(),
    _version(), sa.UniqueConstraint("prefix", name="api_keys_prefix_key"),
)

refresh_tokens = sa.Table(
    "refresh_tokens", metadata, _id(), _fk("tenant_id", "tenants.id", "CASCADE"),
    _fk("user_id", "users.id", "CASCADE", nullable=False), sa.Column("family_id", _uuid, nullable=False),
    _text("token_hash"), sa.Column("expires_at", _ts, nullable=False), sa.Column("used_at", _ts),
    sa.Column("revoked_at", _ts), _created(),
)
sa.Index("refresh_tokens_family_idx", refresh_tokens.c.family_id)
sa.Index("refresh_tokens_user_idx", refresh_tokens.c.user_id)

password_resets = sa.Table(
    "password_resets", metadata, _id(), _fk("tenant_id", "tenants.id", "CASCADE"),
    _fk("user_id", "users.id", "CASCADE", nullable=False), _text("token_hash"),
    sa.Column("expires_at", _ts, nullable=False), sa.Column("used_at", _ts), _created(),
)
sa.Index("password_resets_user_idx", password_resets.c.user_id)

clusters = sa.Table(
    "clusters", metadata, _id(), _text("name"), _text("endpoint"), _text("token_id"), _text("secret_path"),
    sa.Column("verify_tls", sa.Boolean, nullable=False, server_default=sa.text("true")),
    _text("ca_cert", nullable=True), _json("status", "{}"), _created(), _created("updated_at"), _version(),
    sa.UniqueConstraint("name", name="clusters_name_key"),
)

nodes = sa.Table(
    "nodes", metadata, _id(), _fk("cluster_id", "clusters.id", "CASCADE", nullable=False), _text("name"),
    _text("status", "unknown"), _int("cpus", sa.Integer, 0),
    sa.Column("cpu_usage", sa.Float(precision=53), nullable=False, server_default=sa.text("0")),
    _int("memory_total_mb", default=0), _int("memory_used_mb", default=0), _json("storages", "[]"),
    _created("updated_at"), sa.UniqueConstraint("cluster_id", "name", name="nodes_cluster_id_name_key"),
)


def _guest_table(name: str) -> sa.Table:
    table = sa.Table(
        name, metadata, _id(), _fk("tenant_id", "tenants.id", "RESTRICT", nullable=False),
        _fk("project_id", "projects.id", "RESTRICT", nullable=False), _fk("cluster_id", "clusters.id", "RESTRICT"),
        _text("name"), _json("labels", "{}"), sa.Column("spec", JSONB, nullable=False), _json("status", "{}"),
        _json("conditions", "[]"), _int("generation", default=1), _int("observed_generation", default=0),
        _version(), sa.Column("finalizers", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'::text[]")),
        sa.Column("deleted_at", _ts), _fk("assigned_user_id", "users.id", "SET NULL"), sa.Column("expires_at", _ts),
        sa.Column("created_by", _uuid), _created(), _created("updated_at"), _text("managed_by", "api"),
        _text("source_repository", nullable=True), _text("source_file", nullable=True),
        _text("source_commit", nullable=True),
    )
    sa.Index(f"{name}_project_name_key", table.c.project_id, table.c.name, unique=True,
             postgresql_where=table.c.deleted_at.is_(None))
    sa.Index(f"{name}_tenant_idx", table.c.tenant_id)
    sa.Index(f"{name}_project_idx", table.c.project_id)
    sa.Index(f"{name}_name_order_idx", table.c.name, table.c.id, postgresql_where=table.c.deleted_at.is_(None))
    sa.Index(f"{name}_pending_idx", table.c.id, postgresql_where=sa.or_(
        table.c.observed_generation < table.c.generation, table.c.deleted_at.is_not(None)))
    return table


virtual_machines = _guest_table("virtual_machines")
containers = _guest_table("containers")

git_sources = sa.Table(
    "git_sources", metadata, _id(), _fk("tenant_id", "tenants.id", "CASCADE", nullable=False),
    _text("name"), _text("url"), _text("branch", "main"), _text("path", ""),
    _json("include", "[]"), _json("exclude", "[]"), _int("poll_interval_s", sa.Integer, 180),
    _flag("prune"), _flag("suspended"), _text("credential_path", nullable=True),
    _text("webhook_secret_path", nullable=True), _text("known_hosts", nullable=True), _text("state", "OutOfSync"),
    _text("last_seen_commit", nullable=True), _text("last_applied_commit", nullable=True),
    _text("last_error", nullable=True), sa.Column("last_polled_at", _ts), sa.Column("refresh_requested_at", _ts),
    sa.Column("created_by", _uuid), _created(), _created("updated_at"), _version(),
    sa.UniqueConstraint("name"),
)


guest_actions = sa.Table(
    "guest_actions", metadata, _id(), _fk("tenant_id", "tenants.id", "CASCADE", nullable=False),
    _text("target_kind"), sa.Column("target_id", _uuid, nullable=False), _text("action"),
    sa.Column("requested_by", _uuid), _text("state", "pending"), _created(), sa.Column("handled_at", _ts),
)
sa.Index("guest_actions_target_idx", guest_actions.c.target_kind, guest_actions.c.target_id,
         guest_actions.c.created_at.desc())
sa.Index("guest_actions_pending_idx", guest_actions.c.target_id, postgresql_where=guest_actions.c.state == "pending")

runs = sa.Table(
    "runs", metadata, _id(), _fk("tenant_id", "tenants.id", "CASCADE"), _text("target_kind"),
    sa.Column("target_id", _uuid, nullable=False), _text("target_name", ""), _text("action"),
    sa.Column("generation", sa.BigInteger), _text("state", "queued"), _int("attempt", sa.Integer, 1),
    _text("worker", nullable=True), _json("summary", "{}"), _text("error", nullable=True), _created(),
    sa.Column("started_at", _ts), sa.Column("finished_at", _ts),
)
sa.Index("runs_target_idx", runs.c.target_kind, runs.c.target_id, runs.c.created_at.desc())

run_log_entries = sa.Table(
    "run_log_entries", metadata,
    sa.Column("run_id", _uuid, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True), _fk("tenant_id", "tenants.id", "CASCADE"),
    _created(default=_CLOCK), _text("stream", "stdout"), _text("line"),
)

work_leases = sa.Table(
    "work_leases", metadata, sa.Column("object_kind", sa.Text, primary_key=True),
    sa.Column("object_id", _uuid, primary_key=True), _fk("tenant_id", "tenants.id", "CASCADE"),
    _text("holder", nullable=True), sa.Column("expires_at", _ts), sa.Column("acquired_at", _ts),
    _created("next_attempt_at"), _int("attempts", sa.Integer, 0), _text("last_error", nullable=True),
)
sa.Index("work_leases_due_idx", work_leases.c.next_attempt_at, postgresql_where=work_leases.c.holder.is_(None))

audit_events = sa.Table(
    "audit_events", metadata, sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("tenant_id", _uuid), _text("actor"), sa.Column("actor_id", _uuid), _text("action"),
    _text("target_kind", ""), _text("target_id", ""), _text("target_name", ""), _text("result"), _text("ip", ""),
    _text("user_agent", ""), _text("request_id", ""), _json("details", "{}"), _created(default=_CLOCK),
    _text("prev_hash", ""), _text("hash", ""), sa.Column("chain_seq", sa.BigInteger, nullable=False),
)
sa.Index("audit_events_tenant_idx", audit_events.c.tenant_id, audit_events.c.created_at.desc())
sa.Index("audit_events_action_idx", audit_events.c.action, audit_events.c.created_at.desc())
sa.Index("audit_events_actor_idx", audit_events.c.actor, audit_events.c.created_at.desc())
sa.Index("audit_events_chain_seq_key", audit_events.c.chain_seq, unique=True)

claim_key = sa.Table(
    "cp_claim_key", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("key", BYTEA, nullable=False), sa.Column("inner_pad", BYTEA, nullable=False),
    sa.Column("outer_pad", BYTEA, nullable=False), _created(),
)
"""The claim signing key (see ``controlplane.db.claims``): readable by the owner role only."""

TENANT_OWNED = [
    "projects", "users", "memberships", "api_keys", "refresh_tokens", "password_resets", "virtual_machines",
    "containers", "guest_actions", "git_sources", "runs", "run_log_entries", "work_leases", "audit_events",
]
"""Every table whose rows belong to one tenant (``tenants`` itself is keyed by ``id``)."""
