"""``controlplane db upgrade`` on the PostgreSQL an operator installs from Debian (15 on Debian 12, which has no
``SET`` privilege in ``pg_has_role``): an owner that may not use the application role is told what to grant;
once granted, the schema migrates to head. Real Debian PostgreSQL (initdb + pg_ctl)."""

from __future__ import annotations

import psycopg
import pytest

from controlplane.db import migrate
from controlplane.db.roles import APP_ROLE, OWNER_ROLE
from controlplane.errors import ComponentError
from tests.fixtures.debian_postgres import debian_postgres


def test_upgrade_checks_the_app_role_and_migrates_on_debian_postgres() -> None:
    with debian_postgres() as (server, urls):
        with psycopg.connect(urls.superuser, autocommit=True) as conn:
            conn.execute(f"REVOKE {APP_ROLE} FROM {OWNER_ROLE}")
            version = conn.info.server_version
        with pytest.raises(ComponentError, match=f"GRANT {APP_ROLE} TO"):
            migrate.upgrade(urls.owner)
        with psycopg.connect(urls.superuser, autocommit=True) as conn:
            conn.execute(f"GRANT {APP_ROLE} TO {OWNER_ROLE}")
        migrate.upgrade(urls.owner)
        assert migrate.current_revision(urls.owner) == migrate.head_revision()
        with psycopg.connect(urls.owner) as conn:
            assert conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (APP_ROLE,)).fetchone() == (True,)
            expected = "SET" if version >= 160000 else "MEMBER"
            assert migrate.set_role_privilege(conn) == expected
            conn.execute(f"SET ROLE {APP_ROLE}")  # what the membership is for
        assert server.port > 0
