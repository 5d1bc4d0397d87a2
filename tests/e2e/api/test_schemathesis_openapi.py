"""Property-based tests of the whole ``/api/v1`` surface with schemathesis, from ``/openapi.json``.

Requests are generated from the schema and sent with valid credentials (an admin, and a plain user) to
the app on real PostgreSQL and OpenBao; no response may be a 5xx, have a status the document does not
declare for its operation, or violate the documented schema.
Runs are bounded (a few examples per operation, no Hypothesis database); cluster registration is
pointed at a closed loopback port, so no generated host name is ever contacted.

Two classes of hostile input are added to every operation: forged list cursors (well-formed base64 JSON
whose values have the wrong type) and NUL characters in every path parameter, string query parameter and
string in the body, sent with a JWT and with an API key: each must get 422, never a 500.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from controlplane.drivers.vault import VaultStore
from controlplane.util.net import free_port
from tests.fixtures.api import PASSWORD, World, build_api, build_world
from tests.fixtures.postgres import create_database

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
MAX_EXAMPLES = 15
LOOPBACK_ENDPOINT = f"https://127.0.0.1:{free_port()}"
EMAILS = {"admin": "admin@example.test", "user": "member@acme.test"}
SIGN_OUT = "POST /api/v1/auth/logout"


@pytest.fixture(scope="module")
def st_world(pg_server: Any, pg_template: str, vault_server: Any, pvesim: Any) -> Iterator[World]:
    database = create_database(pg_server, pg_template)
    api = build_api(database, VaultStore(vault_server.addr, vault_server.token), login_limit_account=10_000)
    world = build_world(api, pvesim)
    assert world.acme.member.post("/api/v1/vms", json=world.vm_doc("web-1")).status_code == 201
    yield world
    api.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(st_world: World) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", st_world.api.app)


def _login(world: World, email: str) -> str:
    resp = world.api.client().post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


@pytest.fixture
def tokens(st_world: World) -> dict[str, str]:
    """Fresh credentials for each test (a generated logout ends the caller's logins)."""
    out = {role: _login(st_world, email) for role, email in EMAILS.items()}
    key = st_world.api.client(out["user"]).post("/api/v1/api-keys", json={"name": "schemathesis"})
    assert key.status_code == 201, key.text
    out["api_key"] = key.json()["key"]
    return out


def _exercise(schema: Any, token: str, fresh: Callable[[], str]) -> list[str]:
    """Run every operation's generated cases; return one line per failing operation. Each logout gets a
    ``fresh`` token of its own, so the operations after it still run signed in."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case: Any) -> None:
            if case.operation.label == "POST /api/v1/clusters" and isinstance(case.body, dict):
                case.body["endpoint"] = LOOPBACK_ENDPOINT  # tests reach loopback addresses only
            bearer = fresh() if case.operation.label == SIGN_OUT else token
            case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"}, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


@pytest.mark.parametrize("role", ["admin", "user"])
def test_no_5xx_and_no_schema_violation(st_world: World, api_schema: Any, tokens: dict[str, str], role: str) -> None:
    failures = _exercise(api_schema, tokens[role], lambda: _login(st_world, EMAILS[role]))
    assert not failures, "\n\n".join(failures)


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


FORGED_CURSORS = [
    _cursor(["created_at", "x", "00000000-0000-0000-0000-000000000000"]),
    _cursor(["created_at", {"dt": "not a time"}, "1"]),
    _cursor(["name", 7, "00000000-0000-0000-0000-000000000000"]),
    _cursor(["name", "a", "not-an-id"]),
    _cursor(["created_at", {"dt": "2026-01-01T00:00:00+00:00"}, 10**40]),
    _cursor({"a": 1, "b": 2, "c": 3}),
    "%%%",
]


def test_forged_cursors_get_422_on_every_list_operation(api_schema: Any, tokens: dict[str, str]) -> None:
    lists = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if "cursor" not in {p.name for p in operation.query}:
            continue
        lists += 1
        for cursor in FORGED_CURSORS:
            for sort in ("created_at", "name"):
                case = operation.Case(query={"cursor": cursor, "sort": sort})
                response = case.call(headers={"Authorization": f"Bearer {tokens['admin']}"})
                assert response.status_code == 422, (operation.label, cursor, response.text)
                assert response.json()["field"] in ("cursor", "sort"), response.text
    assert lists >= 9


def _with_nul(value: Any) -> tuple[Any, bool]:
    """``value`` with a NUL character appended to every string in it, and whether there was one."""
    if isinstance(value, str):
        return value + "\x00", True
    if isinstance(value, list):
        pairs = [_with_nul(v) for v in value]
        return [v for v, _ in pairs], any(c for _, c in pairs)
    if isinstance(value, dict):
        pairs = {k: _with_nul(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(c for _, c in pairs.values())
    return value, False


@pytest.mark.parametrize("role", ["user", "api_key"])
def test_nul_in_every_parameter_and_body_gets_422(api_schema: Any, tokens: dict[str, str], role: str) -> None:
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case: Any) -> None:
            injected = False
            for part in ("path_parameters", "query", "body"):
                value = getattr(case, part, None)
                if isinstance(value, dict | list | str):
                    changed, hit = _with_nul(value)
                    setattr(case, part, changed)
                    injected = injected or hit
            response = case.call(headers={"Authorization": f"Bearer {tokens[role]}"})
            assert response.status_code < 500, response.text
            if injected:
                assert response.status_code == 422, response.text

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {str(exc)[:800]}")
    assert not failures, "\n\n".join(failures)
