"""Password reset over a real local SMTP server (aiosmtpd), and login throttling in process and in Redis.

Throttling is exponential back-off per (account, client) and per client: an attacker slows down only
their own attempts, and the real user, from a client without failures, still logs in.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from controlplane.api.deps import AppDeps
from controlplane.api.ratelimit import RedisLimiter
from controlplane.db.embedded import DatabaseUrls
from controlplane.drivers.vault import VaultStore
from controlplane.services.resets import CONFIRM_API_PATH, RESET_LINK_PATH
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


def _reset(api: Api, inbox: Inbox, email: str) -> str:
    before = len(inbox.messages)
    assert api.client().post("/api/v1/auth/password-reset", json={"email": email}).status_code == 202
    wait_for(lambda: len(inbox.messages) > before, timeout=10, what="reset mail")
    return _token_from(inbox)


def _confirm(api: Api, token: str, **extra: Any) -> int:
    return api.client().post("/api/v1/auth/password-reset/confirm",
                             json={"token": token, "password": NEW_PASSWORD, **extra}).status_code


def test_reset_ends_sessions_and_by_default_revokes_api_keys(mail_api: Api, smtp: tuple[int, Inbox]) -> None:
    seed_user(mail_api.engine, "u@example.test", "admin")
    stolen = mail_api.client().post("/api/v1/auth/login", json={"email": "u@example.test", "password": PASSWORD}).json()
    key = mail_api.client(stolen["access_token"]).post("/api/v1/api-keys", json={"name": "planted"}).json()["key"]
    assert _confirm(mail_api, _reset(mail_api, smtp[1], "u@example.test")) == 204
    assert mail_api.client(stolen["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert mail_api.client().post("/api/v1/auth/refresh",
                                  json={"refresh_token": stolen["refresh_token"]}).status_code == 401
    assert mail_api.client(key).get("/api/v1/auth/me").status_code == 401


def test_reset_may_keep_api_keys_when_asked(mail_api: Api, smtp: tuple[int, Inbox]) -> None:
    seed_user(mail_api.engine, "u@example.test", "admin")
    session = mail_api.login("u@example.test")
    key = session.post("/api/v1/api-keys", json={"name": "ci"}).json()["key"]
    assert _confirm(mail_api, _reset(mail_api, smtp[1], "u@example.test"), revoke_api_keys=False) == 204
    assert session.get("/api/v1/auth/me").status_code == 401
    assert mail_api.client(key).get("/api/v1/auth/me").status_code == 200


def test_only_the_newest_reset_token_works(mail_api: Api, smtp: tuple[int, Inbox]) -> None:
    seed_user(mail_api.engine, "u@example.test", "admin")
    older = _reset(mail_api, smtp[1], "u@example.test")
    newer = _reset(mail_api, smtp[1], "u@example.test")
    assert older != newer
    assert _confirm(mail_api, older) == 401
    assert _confirm(mail_api, newer) == 204


def test_reset_mail_links_to_a_page_that_exists(mail_api: Api, smtp: tuple[int, Inbox]) -> None:
    seed_user(mail_api.engine, "u@example.test", "admin")
    token = _reset(mail_api, smtp[1], "u@example.test")
    body = smtp[1].messages[-1].get_payload(decode=True).decode()
    link = re.search(r"(https?://\S+)\?token=" + re.escape(token), body)
    assert link, body
    assert "/" + link.group(1).split("://", 1)[1].partition("/")[2] == RESET_LINK_PATH
    page = mail_api.client().get(RESET_LINK_PATH, params={"token": token})
    assert page.status_code == 200 and token in page.text
    # the API endpoint the mail names for scripts answers a browser too
    assert CONFIRM_API_PATH in body
    help_page = mail_api.client().get(CONFIRM_API_PATH)
    assert help_page.status_code == 200 and help_page.json()["method"] == "POST"


def _client(api: Api, ip: str) -> TestClient:
    client = TestClient(api.app, client=(ip, 40000))
    api.clients.append(client)
    return client


def _attempt(client: TestClient, email: str, password: str = "wrong password!") -> Any:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_failures_make_that_client_wait_and_no_other(database: DatabaseUrls, vault: VaultStore) -> None:
    api = build_api(database, vault, login_backoff_base=60)
    seed_user(api.engine, "u@example.test", "admin")
    attacker = _client(api, "127.0.0.2")
    codes = [_attempt(attacker, "u@example.test").status_code for _ in range(7)]
    assert codes == [401] * 6 + [429]  # five free failures; the sixth is checked and sets a wait
    assert 30 < int(_attempt(attacker, "u@example.test").headers["Retry-After"]) <= 60
    # the right password from the attacking client waits too
    assert _attempt(attacker, "u@example.test", PASSWORD).status_code == 429
    # the real user, from a client without failures, logs in at once
    assert _attempt(_client(api, "127.0.0.3"), "u@example.test", PASSWORD).status_code == 200
    api.engine.dispose()


def test_each_further_failure_doubles_the_wait(database: DatabaseUrls, vault: VaultStore) -> None:
    api = build_api(database, vault, login_backoff_base=1)
    seed_user(api.engine, "u@example.test", "admin")
    attacker = _client(api, "127.0.0.2")
    assert [_attempt(attacker, "u@example.test").status_code for _ in range(6)] == [401] * 6  # wait now 1 s

    def next_failure_gets_through() -> bool:
        return bool(_attempt(attacker, "u@example.test").status_code == 401)

    for wait in (1, 2, 4):  # each failure that gets through sets the next, doubled wait
        wait_for(next_failure_gets_through, timeout=wait + 60, interval=0.2, what=f"the {wait} s wait to pass")
    blocked = _attempt(attacker, "u@example.test")  # the wait is 8 s now
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 4
    api.engine.dispose()


def test_hammering_with_email_variants_does_not_lock_the_real_user_out(database: DatabaseUrls,
                                                                       vault: VaultStore) -> None:
    api = build_api(database, vault, login_backoff_base=60)
    seed_user(api.engine, "boss@example.test", "admin")
    attacker = _client(api, "127.0.0.2")
    variants = ["boss@example.test", "BOSS@example.test", " boss@Example.Test ", "Boss@EXAMPLE.test\t"]
    codes = [_attempt(attacker, variants[i % 4]).status_code for i in range(12)]
    assert codes.count(401) == 6 and codes[-1] == 429  # the variants share one (account, client) bucket
    assert _attempt(_client(api, "127.0.0.3"), " BOSS@example.test", PASSWORD).status_code == 200
    api.engine.dispose()


def test_login_is_throttled_per_client_across_accounts(database: DatabaseUrls, vault: VaultStore) -> None:
    api = build_api(database, vault, login_limit_ip=4, login_limit_account=100, login_backoff_base=60)
    client = _client(api, "127.0.0.2")
    codes = [_attempt(client, f"{name}@example.test").status_code for name in "abcdef"]
    assert codes == [401] * 5 + [429]
    assert _attempt(_client(api, "127.0.0.3"), "a@example.test").status_code == 401  # another client: unaffected
    api.engine.dispose()


def test_limits_live_in_redis_and_are_shared_between_apps(database: DatabaseUrls, vault: VaultStore,
                                                          redis_url: str) -> None:
    first = build_api(database, vault, redis_url=redis_url, login_limit_account=3, login_backoff_base=60)
    second = build_api(database, vault, redis_url=redis_url, login_limit_account=3, login_backoff_base=60)
    assert isinstance(first.app.state.runtime.limiter, RedisLimiter)
    seed_user(first.engine, "shared@example.test", "admin")
    one, two = _client(first, "127.0.0.2"), _client(second, "127.0.0.2")
    codes = [_attempt(c, "shared@example.test").status_code for c in (one, one, two, two, one)]
    assert codes == [401, 401, 401, 401, 429]
    assert int(_attempt(two, "shared@example.test").headers["Retry-After"]) >= 1
    assert _attempt(_client(second, "127.0.0.3"), "shared@example.test", PASSWORD).status_code == 200
    assert isinstance(first.deps, AppDeps)
    first.engine.dispose()
    second.engine.dispose()
