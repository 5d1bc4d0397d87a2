"""The application engine logs in as the application role itself, and a role that could step outside
Row-Level Security is refused at start."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from controlplane.db.embedded import DatabaseUrls
from controlplane.db.engine import app_role_url, check_app_role, create_app_engine, create_engine
from controlplane.errors import ComponentError


def test_the_app_engine_without_its_own_url_logs_in_as_the_app_role(database: DatabaseUrls) -> None:
    engine = create_app_engine(None, database.owner)
    try:
        check_app_role(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT session_user").scalar_one() == "controlplane_app"
    finally:
        engine.dispose()
    assert "controlplane_app@" in app_role_url("postgresql://controlplane_owner:s3cret@db.example:5432/cp")
    assert "s3cret" not in app_role_url("postgresql://controlplane_owner:s3cret@db.example:5432/cp")


def test_an_owner_login_or_a_role_with_memberships_is_refused(database: DatabaseUrls) -> None:
    owner = create_engine(database.owner)
    with pytest.raises(ComponentError, match="logs in as controlplane_owner"):
        check_app_role(owner)
    owner.dispose()
    wide = f"cp_wide_{uuid.uuid4().hex[:8]}"  # roles are server-wide: a name of this test's own
    with psycopg.connect(database.superuser, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {wide} BYPASSRLS")
        conn.execute(f"GRANT {wide} TO controlplane_app")
    try:
        engine = create_app_engine(database.app, database.owner)
        with pytest.raises(ComponentError, match="member of another role"):
            check_app_role(engine)
        engine.dispose()
    finally:
        with psycopg.connect(database.superuser, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {wide}")


def test_an_app_role_that_cannot_log_in_names_the_setting(database: DatabaseUrls) -> None:
    engine = create_app_engine(database.app.replace("/test_", "/missing_"), database.owner)
    with pytest.raises(ComponentError, match="CONTROLPLANE_APP_DATABASE_URL"):
        check_app_role(engine)
    engine.dispose()
