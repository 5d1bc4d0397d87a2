"""``controlplane user create`` against an external PostgreSQL whose application role logs in with a password
(``CONTROLPLANE_APP_DATABASE_URL``): the first admin of a production installation is created with the URL
the API and workers use, and a login with the owner URL's host but no password is refused by the server.
Real Debian PostgreSQL (initdb + pg_ctl), the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from controlplane.db import migrate
from controlplane.db.roles import APP_ROLE
from tests.fixtures.api import PASSWORD
from tests.fixtures.debian_postgres import debian_postgres

CONTROLPLANE = str(Path(sys.executable).parent / "controlplane")


def test_user_create_logs_in_with_the_app_database_url(tmp_path: Path) -> None:
    with debian_postgres() as (server, urls):
        migrate.upgrade(urls.owner)
        server.require_password(APP_ROLE, "app-s3cret")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(urls.app).close()
        app_url = urls.app.replace(f"{APP_ROLE}@", f"{APP_ROLE}:app-s3cret@")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
        env.update(CONTROLPLANE_DATABASE_URL=urls.owner, CONTROLPLANE_APP_DATABASE_URL=app_url)
        done = subprocess.run([CONTROLPLANE, "user", "create", "first@example.test", "--role", "admin"],
                              input=PASSWORD + "\n", env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "created admin first@example.test" in done.stdout
        assert "app-s3cret" not in done.stdout + done.stderr
        with psycopg.connect(urls.owner) as conn:
            assert conn.execute("SELECT role FROM users WHERE email = %s", ("first@example.test",)).fetchone() \
                == ("admin",)
