"""Access tokens, cursors, If-Match parsing and the in-process rate limiter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import jwt
import pytest

from controlplane.api.etag import parse_if_match
from controlplane.api.ratelimit import MemoryLimiter
from controlplane.errors import InvalidInput, PreconditionFailed, Unauthenticated
from controlplane.services.listing import _decode, _encode
from controlplane.services.secrets_hash import hash_password, hash_token, token_matches, verify_password
from controlplane.services.tokens import TokenIssuer, split_opaque

KEY = b"k" * 32


def test_access_token_roundtrip() -> None:
    issuer = TokenIssuer(KEY, ttl_seconds=60)
    user, tenant = uuid.uuid4(), uuid.uuid4()
    caller = issuer.verify(issuer.issue(user, tenant, "manager", "m@x.test"))
    assert (caller.user_id, caller.tenant_id, caller.role, caller.email) == (user, tenant, "manager", "m@x.test")


def test_access_token_carries_the_token_version_and_the_login() -> None:
    issuer = TokenIssuer(KEY, ttl_seconds=60)
    family = uuid.uuid4()
    token = issuer.decode(issuer.issue(uuid.uuid4(), None, "admin", "a@x.test", version=7, session_id=family))
    assert (token.version, token.session_id) == (7, family)
    forged = jwt.encode({"iss": "controlplane", "aud": "controlplane-api", "sub": str(uuid.uuid4()), "role": "admin",
                         "iat": 1, "exp": 2**40, "typ": "access", "email": "a", "ver": "7"}, KEY, algorithm="HS256")
    with pytest.raises(Unauthenticated):
        issuer.decode(forged)


def test_tokens_signed_otherwise_expired_or_unsigned_are_refused() -> None:
    issuer = TokenIssuer(KEY, ttl_seconds=60)
    token = TokenIssuer(b"x" * 32).issue(uuid.uuid4(), None, "admin", "a@x.test")
    with pytest.raises(Unauthenticated):
        issuer.verify(token)
    expired = jwt.encode({"iss": "controlplane", "aud": "controlplane-api", "sub": str(uuid.uuid4()), "role": "admin",
                          "iat": 1, "exp": 2, "typ": "access", "email": "a"}, KEY, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="expired"):
        issuer.verify(expired)
    unsigned = jwt.encode({"sub": str(uuid.uuid4()), "role": "admin"}, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        issuer.verify(unsigned)


def test_opaque_tokens_and_hashes() -> None:
    ident = uuid.uuid4()
    assert split_opaque(f"{ident}.abc") == (ident, "abc")
    with pytest.raises(Unauthenticated):
        split_opaque("nope")
    assert token_matches(hash_token("s3cret"), "s3cret") and not token_matches(hash_token("s3cret"), "other")
    stored = hash_password("a long enough password")
    assert stored.startswith("$argon2id$") and verify_password(stored, "a long enough password")
    assert not verify_password(stored, "wrong") and not verify_password(None, "anything")


def test_cursor_roundtrip_and_tamper() -> None:
    now = datetime.now(UTC)
    ident = uuid.uuid4()
    assert _decode(_encode("-created_at", now, ident), "-created_at") == (now, str(ident))
    with pytest.raises(InvalidInput):
        _decode(_encode("name", "a", ident), "-name")
    with pytest.raises(InvalidInput):
        _decode("!!!", "name")


def test_if_match_parsing() -> None:
    assert parse_if_match('"3"') == 3 and parse_if_match('W/"4"') == 4
    assert parse_if_match(None) is None and parse_if_match("*") is None
    with pytest.raises(PreconditionFailed):
        parse_if_match('"abc"')


def test_memory_limiter_counts_per_key_and_resets() -> None:
    limiter = MemoryLimiter()
    assert [limiter.hit("a", 2, 60) for _ in range(2)] == [None, None]
    retry = limiter.hit("a", 2, 60)
    assert retry is not None and 0 < retry <= 60
    assert limiter.hit("b", 2, 60) is None
    limiter.reset("a")
    assert limiter.hit("a", 2, 60) is None
