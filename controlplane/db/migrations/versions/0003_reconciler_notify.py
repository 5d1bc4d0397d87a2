"""Reconciler wake-ups: NOTIFY ``controlplane_work`` when a guest's spec or deletion changes, or a power
action is requested, so a listening worker starts at once (the periodic poll alone stays correct); and an
index for finding the leases that are due.

Revision ID: 0003_reconciler
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0003_reconciler"
down_revision = "0002"
branch_labels = None
depends_on = None

CHANNEL = "controlplane_work"

UPGRADE_SQL = f"""
CREATE FUNCTION cp_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME || ':' || NEW.target_id::text);
  RETURN NULL;
END
$$;
CREATE FUNCTION cp_notify_guest_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME || ':' || NEW.id::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER virtual_machines_notify_insert AFTER INSERT ON virtual_machines
  FOR EACH ROW EXECUTE FUNCTION cp_notify_guest_work();
CREATE TRIGGER virtual_machines_notify_update AFTER UPDATE ON virtual_machines
  FOR EACH ROW WHEN (OLD.generation IS DISTINCT FROM NEW.generation OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
  EXECUTE FUNCTION cp_notify_guest_work();
CREATE TRIGGER containers_notify_insert AFTER INSERT ON containers
  FOR EACH ROW EXECUTE FUNCTION cp_notify_guest_work();
CREATE TRIGGER containers_notify_update AFTER UPDATE ON containers
  FOR EACH ROW WHEN (OLD.generation IS DISTINCT FROM NEW.generation OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
  EXECUTE FUNCTION cp_notify_guest_work();
CREATE TRIGGER guest_actions_notify_insert AFTER INSERT ON guest_actions
  FOR EACH ROW EXECUTE FUNCTION cp_notify_work();
CREATE INDEX work_leases_due_idx ON work_leases (next_attempt_at) WHERE holder IS NULL;
CREATE INDEX guest_actions_pending_idx ON guest_actions (target_id) WHERE state = 'pending';
"""

DOWNGRADE_SQL = """
DROP INDEX IF EXISTS guest_actions_pending_idx, work_leases_due_idx;
DROP TRIGGER IF EXISTS guest_actions_notify_insert ON guest_actions;
DROP TRIGGER IF EXISTS containers_notify_update ON containers;
DROP TRIGGER IF EXISTS containers_notify_insert ON containers;
DROP TRIGGER IF EXISTS virtual_machines_notify_update ON virtual_machines;
DROP TRIGGER IF EXISTS virtual_machines_notify_insert ON virtual_machines;
DROP FUNCTION IF EXISTS cp_notify_guest_work();
DROP FUNCTION IF EXISTS cp_notify_work();
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
