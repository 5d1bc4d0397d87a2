"""Live pages: NOTIFY ``controlplane_guest`` whenever what a guest's page shows changes (its status,
conditions, spec, assignment or deletion, the row's removal, or one of its runs), with the payload
``<table>:<guest id>:<tenant id>``, so the portal's event streams refresh at once.

Revision ID: 0009_guest_events
Revises: 0008_terraform_state_role
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0009_guest_events"
down_revision = "0008_terraform_state_role"
branch_labels = None
depends_on = None

CHANNEL = "controlplane_guest"
SHOWN = ("status", "conditions", "spec", "labels", "observed_generation", "deleted_at", "assigned_user_id")
CHANGED = " OR ".join(f"OLD.{col} IS DISTINCT FROM NEW.{col}" for col in SHOWN)

UPGRADE_SQL = f"""
CREATE FUNCTION cp_notify_guest_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME || ':' || r.id::text || ':' || coalesce(r.tenant_id::text, ''));
  RETURN NULL;
END
$$;
CREATE FUNCTION cp_notify_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', 'runs:' || NEW.target_id::text || ':' || coalesce(NEW.tenant_id::text, ''));
  RETURN NULL;
END
$$;
CREATE TRIGGER virtual_machines_guest_event AFTER INSERT OR DELETE ON virtual_machines
  FOR EACH ROW EXECUTE FUNCTION cp_notify_guest_event();
CREATE TRIGGER virtual_machines_guest_event_update AFTER UPDATE ON virtual_machines
  FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION cp_notify_guest_event();
CREATE TRIGGER containers_guest_event AFTER INSERT OR DELETE ON containers
  FOR EACH ROW EXECUTE FUNCTION cp_notify_guest_event();
CREATE TRIGGER containers_guest_event_update AFTER UPDATE ON containers
  FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION cp_notify_guest_event();
CREATE TRIGGER runs_guest_event AFTER INSERT ON runs
  FOR EACH ROW EXECUTE FUNCTION cp_notify_run_event();
CREATE TRIGGER runs_guest_event_update AFTER UPDATE ON runs
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION cp_notify_run_event();
"""

DOWNGRADE_SQL = """
DROP TRIGGER IF EXISTS runs_guest_event_update ON runs;
DROP TRIGGER IF EXISTS runs_guest_event ON runs;
DROP TRIGGER IF EXISTS containers_guest_event_update ON containers;
DROP TRIGGER IF EXISTS containers_guest_event ON containers;
DROP TRIGGER IF EXISTS virtual_machines_guest_event_update ON virtual_machines;
DROP TRIGGER IF EXISTS virtual_machines_guest_event ON virtual_machines;
DROP FUNCTION IF EXISTS cp_notify_run_event();
DROP FUNCTION IF EXISTS cp_notify_guest_event();
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
