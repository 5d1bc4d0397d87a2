"""Password reset over a real local SMTP server (aiosmtpd), and login rate limits in process and in Redis."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from controlplane.api.deps import AppDeps
from controlplane.api.ratelimit import RedisLimiter
from controlplane.db.embedded import DatabaseUrls
from controlplane.drivers.vault import VaultStore
from controlplane.util.net import start_on_free_port, wait_for
from tests.fixtures.api import PASSWORD, Api, build_api, seed_user

NEW_PASSWORD = "another long passphrase"


class Inbox:
    """An aiosmtpd handler that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    def start(port: int) -> Controller:
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        return controller

    controller = start_on_free_port(start)
    yield controller.port, inbox
    controller.stop()


@pytest.fixture
def mail_api(database: DatabaseUrls, vault: VaultStore, smtp: tuple[int, Inbox]) -> Iterator[Api]:
    built = build_api(database, vault, smtp_host="127.0.0.1", smtp_port=smtp[0])
    yield built
    built.engine.dispose()


def _token_from(inbox: Inbox) -> str:
    wait_for(lambda: inbox.messages, timeout=60, what="reset mail")
    body = inbox.messages[-1].get_payload(decode=True).decode().replace("\r\n", "\n")
    match = re.search(r"^([0-9a-f-]{36}\.[0-9a-f]{64})$", str(body), re.M)
    assert match, body
    return match.group(1)


def test_password_reset_by_email_is_single_use(mail_api: Api, smtp: tuple[int, Inbox]) -> None:
    seed_user(mail_api.engine, "u@example.test", "admin")
    client = mail_api.client()
    assert client.post("/api/v1/auth/password-reset", json={"email": "u@example.test"}).status_code == 202
    token = _token_from(smtp[1])
    assert smtp[1].messages[-1]["To"] == "u@example.test"
    done = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 204, done.text
    again = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert again.status_code == 401
    assert client.post("/api/v1/auth/login", json={"email": "u@example.test", "password": PASSWORD}).status_code == 401
    ok = client.post("/api/v1/auth/login", json={"email": "u@example.test", "password": NEW_PASSWORD})
    assert ok.status_code == 200


def test_reset_for_unknown_email_answers_the_same_and_sends_nothing(mail_api: Api, smtp: tuple[int, Inbox]) -> None:
    resp = mail_api.client().post("/api/v1/auth/password-reset", json={"email": "ghost@example.test"})
    assert resp.status_code == 202
    assert smtp[1].messages == []


def test_expired_reset_token_is_refused(mail_api: Api, smtp: tuple[int, Inbox], database: DatabaseUrls) -> None:
    import psycopg

    seed_user(mail_api.engine, "u@example.test", "admin")
    mail_api.client().post("/api/v1/auth/password-reset", json={"email": "u@example.test"})
    token = _token_from(smtp[1])
    with psycopg.connect(database.owner, autocommit=True) as conn:
        conn.execute("UPDATE password_resets SET expires_at = now() - interval '1 second'")
    resp = mail_api.client().post("/api/v1/auth/password-reset/confirm",
                                  json={"token": token, "password": NEW_PASSWORD})
    assert resp.status_code == 401


def _hammer(api: Api, email: str, times: int) -> list[Any]:
    client = api.client()
    return [client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password!"})
            for _ in range(times)]


def test_login_is_rate_limited_per_account_with_retry_after(api: Api) -> None:
    seed_user(api.engine, "u@example.test", "admin")
    responses = _hammer(api, "u@example.test", 6)
    assert [r.status_code for r in responses] == [401] * 5 + [429]
    assert 0 < int(responses[-1].headers["Retry-After"]) <= 300
    # the right password does not get through while the account is limited
    blocked = api.client().post("/api/v1/auth/login", json={"email": "u@example.test", "password": PASSWORD})
    assert blocked.status_code == 429
    # another account from the same address is not affected
    seed_user(api.engine, "v@example.test", "admin")
    assert api.client().post("/api/v1/auth/login", json={"email": "v@example.test", "password": PASSWORD}
                             ).status_code == 200


def test_login_is_rate_limited_per_ip(database: DatabaseUrls, vault: VaultStore) -> None:
    api = build_api(database, vault, login_limit_ip=4, login_limit_account=100)
    codes = [r.status_code for r in _hammer(api, "a@example.test", 3) + _hammer(api, "b@example.test", 2)]
    assert codes == [401, 401, 401, 401, 429]
    api.engine.dispose()


def test_limits_live_in_redis_and_are_shared_between_apps(database: DatabaseUrls, vault: VaultStore,
                                                          redis_url: str) -> None:
    first = build_api(database, vault, redis_url=redis_url, login_limit_account=3)
    second = build_api(database, vault, redis_url=redis_url, login_limit_account=3)
    assert isinstance(first.app.state.runtime.limiter, RedisLimiter)
    seed_user(first.engine, "shared@example.test", "admin")
    responses = _hammer(first, "shared@example.test", 2) + _hammer(second, "shared@example.test", 2)
    codes = [r.status_code for r in responses]
    assert codes == [401, 401, 401, 429]
    assert isinstance(first.deps, AppDeps)
    first.engine.dispose()
    second.engine.dispose()
