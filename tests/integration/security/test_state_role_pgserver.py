"""The role OpenTofu's pg backend logs in as reaches the Terraform state table and nothing else: it reads
and writes state rows and takes advisory locks, but cannot read the control plane's tables, create
schemas or tables, or become another role. Real PostgreSQL (pgserver), migrated."""

from __future__ import annotations

import psycopg
import pytest

from controlplane.db.roles import STATE_ROLE, state_role_url


def test_state_role_touches_the_state_table_only(database) -> None:
    url = state_role_url(database.owner)
    assert url.startswith(f"postgresql://{STATE_ROLE}@") and "controlplane_owner" not in url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO terraform_remote_state.states (name, data) VALUES ('ws-1', '{}')")
        conn.execute("UPDATE terraform_remote_state.states SET data = '{\"v\": 1}' WHERE name = 'ws-1'")
        assert conn.execute("SELECT pg_try_advisory_lock(42)").fetchone() == (True,)
        conn.execute("DELETE FROM terraform_remote_state.states WHERE name = 'ws-1'")
        for statement in ("SELECT * FROM users", "SELECT * FROM clusters", "SELECT * FROM runs",
                          "CREATE SCHEMA evil", "CREATE TABLE terraform_remote_state.evil (x int)",
                          "CREATE TABLE public.evil (x int)", "SET ROLE controlplane_owner",
                          "SET ROLE controlplane_app", "DROP TABLE terraform_remote_state.states"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
