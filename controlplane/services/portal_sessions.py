"""Browser sessions of the portal: a login (``auth.login``, with its rate limits and audit) whose refresh
token never leaves the server's cookie and is never rotated; it expires after an idle time, is renewed by
use, and ends for good on logout, password change or reset (all of which revoke refresh tokens).

The user's role, tenant and activity are read again on every request, so a demoted or deactivated user's
session loses its powers at once.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.db.engine import RequestContext, apply_context, session_scope
from controlplane.errors import Unauthenticated
from controlplane.models import tables as t
from controlplane.services import auth
from controlplane.services.auth import AuthPolicy, Limiter
from controlplane.services.caller import Caller
from controlplane.services.secrets_hash import token_matches
from controlplane.services.tokens import TokenIssuer, split_opaque

EXPIRED = "your session has ended; please log in again"
RENEW_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: ``idle`` without a request, ``max_age`` at most."""

    idle: timedelta = timedelta(minutes=30)
    max_age: timedelta = timedelta(hours=12)


def _now() -> datetime:
    return datetime.now(UTC)


def open_session(engine: Engine, issuer: TokenIssuer, limiter: Limiter, auth_policy: AuthPolicy, meta: Caller,
                 email: str, password: str, policy: SessionPolicy) -> str:
    """Log in (same checks and throttling as the API) and return the session token for the cookie."""
    tokens = auth.login(engine, issuer, limiter, auth_policy, meta, email, password)
    resume(engine, meta, tokens.refresh_token, policy)
    return tokens.refresh_token


def resume(engine: Engine, meta: Caller, token: str, policy: SessionPolicy) -> Caller:
    """The caller behind a session token, renewing its idle timeout; Unauthenticated when it has ended."""
    try:
        token_id, secret = split_opaque(token)
    except Unauthenticated as exc:
        raise Unauthenticated(EXPIRED) from exc
    rt, now = t.refresh_tokens, _now()
    with session_scope(engine, auth.ANONYMOUS) as session:  # one transaction: find the owner, then act as them
        owner = session.execute(
            sa.text("SELECT * FROM cp_token_owner('refresh', :id)"), {"id": token_id}
        ).first()
        if owner is None or not owner.is_active:
            raise Unauthenticated(EXPIRED)
        apply_context(session, RequestContext(role=owner.role, tenant_id=owner.tenant_id, user_id=owner.user_id))
        row = session.execute(sa.select(rt).where(rt.c.id == token_id)).first()
        if (row is None or not token_matches(row.token_hash, secret) or row.used_at is not None
                or row.revoked_at is not None or row.expires_at <= now or row.created_at + policy.max_age <= now):
            raise Unauthenticated(EXPIRED)
        renewed = min(now + policy.idle, row.created_at + policy.max_age)
        if renewed - row.expires_at > RENEW_AFTER:  # not a write on every request
            session.execute(sa.update(rt).where(rt.c.id == token_id).values(expires_at=renewed))
        email = session.execute(sa.select(t.users.c.email).where(t.users.c.id == owner.user_id)).scalar_one()
    return Caller(user_id=owner.user_id, tenant_id=owner.tenant_id, role=owner.role, email=str(email).lower(),
                  ip=meta.ip, user_agent=meta.user_agent, request_id=meta.request_id)


def close_session(engine: Engine, caller: Caller, token: str) -> None:
    """Log out: the session token (and its login) is revoked server-side."""
    with session_scope(engine, caller.context()) as session:
        auth.logout(session, caller, token)


def csrf_token(key: bytes, token: str) -> str:
    """The anti-forgery token of a session: bound to it, useless without it, never stored."""
    token_id = token.partition(".")[0]
    return hmac.new(key, f"portal-csrf:{token_id}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(key: bytes, token: str, given: str) -> bool:
    """Whether ``given`` is the session's anti-forgery token (constant-time comparison)."""
    return bool(given) and hmac.compare_digest(csrf_token(key, token), given)
