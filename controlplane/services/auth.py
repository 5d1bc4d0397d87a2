"""Authentication use cases: login, refresh-token rotation, logout, password reset, API key checks.

Login, refresh and reset happen before any tenant is known: the narrow SECURITY DEFINER lookups of
migration 0002 find the user, then everything else runs in that user's own tenant context.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from controlplane.db.engine import RequestContext, session_scope
from controlplane.errors import RateLimited, Unauthenticated
from controlplane.models import tables as t
from controlplane.services import audit, sessions
from controlplane.services.caller import Caller, client_bucket, system_caller
from controlplane.services.secrets_hash import (
    hash_password,
    hash_token,
    needs_rehash,
    new_secret,
    token_matches,
    verify_password,
)
from controlplane.services.tokens import TokenIssuer, split_opaque

ANONYMOUS = RequestContext(role="anonymous")
FAILURE_RATE = "denied"
KEY_USE_RECORD_INTERVAL = timedelta(minutes=1)


class Limiter(Protocol):
    """Counts attempts per key: fixed windows (``hit``) and exponential back-off (``attempt``)."""

    def hit(self, key: str, limit: int, window: int) -> int | None:
        """Count one attempt; the seconds to wait when over ``limit`` in the window, else None."""

    def attempt(self, key: str, free: int, base: float, cap: float, memory: int) -> int | None:
        """The seconds to wait while ``key`` backs off; else count this attempt and return None."""

    def forgive(self, key: str) -> None:
        """Take back the last attempt of ``key`` (it succeeded)."""

    def reset(self, key: str) -> None:
        """Forget the attempts of ``key``."""


class Mailer(Protocol):
    """Sends one plain-text email."""

    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver the message or raise a ComponentError."""


@dataclass
class AuthPolicy:
    """Lifetimes and limits of authentication."""

    refresh_ttl: timedelta = timedelta(days=14)
    reset_ttl: timedelta = timedelta(minutes=30)
    login_limit_account: int = 5  # free failures per (account, client) before back-off
    login_limit_ip: int = 20  # free failures per client (any account) before back-off
    login_window: int = 3600  # failures are forgotten after this long without one
    login_backoff_base: float = 1.0
    login_backoff_max: float = 900.0
    login_audit_limit: int = 30  # failed-login events recorded per client per window

    @property
    def login_memory(self) -> int:
        """How long failures are remembered (at least twice the longest wait, so back-off keeps growing)."""
        return max(self.login_window, int(2 * self.login_backoff_max))


@dataclass
class Tokens:
    """The result of a login or refresh."""

    access_token: str
    refresh_token: str
    expires_in: int


@dataclass
class Owner:
    """The user a credential belongs to."""

    user_id: UUID
    tenant_id: UUID | None
    role: str


def _now() -> datetime:
    return datetime.now(UTC)


def owner_caller(owner: Owner, meta: Caller, email: str = "") -> Caller:
    """The caller ``owner`` is, with this request's metadata."""
    return Caller(
        user_id=owner.user_id, tenant_id=owner.tenant_id, role=owner.role, email=email,
        ip=meta.ip, user_agent=meta.user_agent, request_id=meta.request_id,
    )


def _new_refresh(session: Session, caller: Caller, family: UUID, policy: AuthPolicy) -> str:
    secret = new_secret()
    token_id = uuid.uuid4()
    session.execute(
        sa.insert(t.refresh_tokens).values(
            id=token_id, tenant_id=caller.tenant_id, user_id=caller.user_id, family_id=family,
            token_hash=hash_token(secret), expires_at=_now() + policy.refresh_ttl,
        )
    )
    return f"{token_id}.{secret}"


def normalized_email(email: str) -> str:
    """The form an email address is looked up and throttled by: trimmed, lower case."""
    return email.strip().lower()


def _login_keys(email_key: str, ip: str) -> tuple[str, str]:
    client = client_bucket(ip)
    return f"login:account-client:{email_key}|{client}", f"login:client:{client}"


def _audit_failed_login(engine: Engine, limiter: Limiter, policy: AuthPolicy, meta: Caller, email_key: str,
                        result: str, reason: str, owner: Owner | None = None) -> None:
    key = f"audit:auth-failure:{client_bucket(meta.ip)}"
    if limiter.hit(key, policy.login_audit_limit, policy.login_window) is not None:
        if limiter.hit(key + ":summary", 1, policy.login_window) is not None:
            return
        email_key, result, reason, owner = "", FAILURE_RATE, "further failed logins from this client not logged", None
    caller = owner_caller(owner, meta, email_key) if owner else None
    with session_scope(engine, (caller or system_caller()).context()) as session:
        audit.record(session, caller or meta, "auth.login", target_kind="User",
                     target_id=owner.user_id if owner else "", target_name=email_key[:254], result=result,
                     tenant_id=owner.tenant_id if owner else None, details={"reason": reason})


def login(
    engine: Engine, issuer: TokenIssuer, limiter: Limiter, policy: AuthPolicy, meta: Caller, email: str, password: str
) -> Tokens:
    """Check email and password and open a new login (refresh-token family).

    Failures slow down the next attempts of the same (account, client) pair and, later, of the client;
    a client without failures always gets its attempt, so a guesser cannot lock the real user out.
    """
    email_key = normalized_email(email)
    pair_key, client_key = _login_keys(email_key, meta.ip)
    for key, free in ((client_key, policy.login_limit_ip), (pair_key, policy.login_limit_account)):
        retry_after = limiter.attempt(key, free, policy.login_backoff_base, policy.login_backoff_max,
                                      policy.login_memory)
        if retry_after is not None:
            _audit_failed_login(engine, limiter, policy, meta, email_key, FAILURE_RATE, "rate limited")
            raise RateLimited("too many failed login attempts from this client; try again later",
                              retry_after=retry_after)
    with session_scope(engine, ANONYMOUS) as session:
        row = session.execute(sa.text("SELECT * FROM cp_login_lookup(:email)"), {"email": email_key}).first()
    ok = verify_password(row.password_hash if row else None, password)
    if row is None or not ok or not row.is_active:
        owner = Owner(row.user_id, row.tenant_id, row.role) if row else None
        _audit_failed_login(engine, limiter, policy, meta, email_key, audit.FAILURE,
                            "inactive" if row is not None and ok else "bad credentials", owner)
        raise Unauthenticated("wrong email or password")
    limiter.reset(pair_key)
    limiter.forgive(client_key)
    caller = owner_caller(Owner(row.user_id, row.tenant_id, row.role), meta, email_key)
    family = uuid.uuid4()
    with session_scope(engine, caller.context()) as session:
        values: dict[str, object] = {"last_login_at": _now()}
        if needs_rehash(row.password_hash):
            values["password_hash"] = hash_password(password)
        session.execute(sa.update(t.users).where(t.users.c.id == row.user_id).values(**values))
        refresh = _new_refresh(session, caller, family, policy)
        version = sessions.current_version(session, row.user_id)
        audit.record(session, caller, "auth.login", target_kind="User", target_id=row.user_id, target_name=email_key)
    access = issuer.issue(row.user_id, row.tenant_id, row.role, email_key, version=version, session_id=family)
    return Tokens(access, refresh, issuer.ttl_seconds)


def token_owner(engine: Engine, kind: str, token_id: UUID) -> Owner:
    """The active user a refresh (``kind="refresh"``) or reset (``"reset"``) token belongs to."""
    with session_scope(engine, ANONYMOUS) as session:
        row = session.execute(
            sa.text("SELECT * FROM cp_token_owner(:kind, :id)"), {"kind": kind, "id": token_id}
        ).first()
    if row is None or not row.is_active:
        raise Unauthenticated("invalid or expired token")
    return Owner(row.user_id, row.tenant_id, row.role)


def email_of(session: Session, user_id: UUID) -> str:
    """The (lower-case) email address of a user."""
    return str(session.execute(sa.select(t.users.c.email).where(t.users.c.id == user_id)).scalar_one()).lower()


def refresh(engine: Engine, issuer: TokenIssuer, policy: AuthPolicy, meta: Caller, token: str) -> Tokens:
    """Rotate a refresh token; presenting one that was already used revokes its whole login, access
    tokens included."""
    token_id, secret = split_opaque(token)
    owner = token_owner(engine, "refresh", token_id)
    caller = owner_caller(owner, meta)
    new_token: str | None = None
    with session_scope(engine, caller.context()) as session:
        rt = t.refresh_tokens
        row = session.execute(sa.select(rt).where(rt.c.id == token_id).with_for_update()).first()
        if row is None or not token_matches(row.token_hash, secret):
            raise Unauthenticated("invalid or expired token")
        email = email_of(session, owner.user_id)
        caller = owner_caller(owner, meta, email)
        if row.used_at is not None or row.revoked_at is not None:
            session.execute(
                sa.update(rt)
                .where(rt.c.family_id == row.family_id, rt.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
            audit.record(session, caller, "auth.refresh", target_kind="User", target_id=owner.user_id,
                         target_name=email, result=audit.FAILURE, details={"reason": "token reused; family revoked"})
        elif row.expires_at <= _now():
            raise Unauthenticated("invalid or expired token")
        else:
            session.execute(sa.update(rt).where(rt.c.id == token_id).values(used_at=_now()))
            new_token = _new_refresh(session, caller, row.family_id, policy)
            version = sessions.current_version(session, owner.user_id)
            audit.record(session, caller, "auth.refresh", target_kind="User", target_id=owner.user_id,
                         target_name=email)
    if new_token is None:  # committed the revocation above; now refuse
        raise Unauthenticated("refresh token already used or revoked; every token of this login is revoked")
    access = issuer.issue(owner.user_id, owner.tenant_id, owner.role, email, version=version,
                          session_id=row.family_id)
    return Tokens(access, new_token, issuer.ttl_seconds)


def logout(session: Session, caller: Caller, token: str | None) -> int:
    """End the refresh token's login, or without one every login of the caller (access tokens included);
    returns how many refresh tokens were revoked."""
    rt = t.refresh_tokens
    if token is None:
        count = sessions.end_all(session, caller.user_id)  # type: ignore[arg-type]
    else:
        token_id, secret = split_opaque(token)
        row = session.execute(sa.select(rt).where(rt.c.id == token_id, rt.c.user_id == caller.user_id)).first()
        if row is None or not token_matches(row.token_hash, secret):
            raise Unauthenticated("invalid refresh token")
        count = session.execute(
            sa.update(rt).where(rt.c.family_id == row.family_id, rt.c.revoked_at.is_(None)).values(revoked_at=_now())
        ).rowcount
    audit.record(session, caller, "auth.logout", target_kind="User", target_id=caller.user_id,
                 target_name=caller.email, details={"revoked": count, "everywhere": token is None})
    return int(count or 0)


def authenticate_api_key(engine: Engine, meta: Caller, key: str, method: str, path: str) -> Caller:
    """The caller an API key ``cp_<prefix>_<secret>`` stands for, checked against its owner's current state.

    Its last use is recorded at most once a minute; the first use is audited (every state-changing call
    is audited by its own event, which names the key).
    """
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != "cp" or not parts[1] or not parts[2]:
        raise Unauthenticated("malformed API key")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM cp_api_key_lookup(:p)"), {"p": parts[1]}).first()
        conn.rollback()
    if row is None or not token_matches(row.secret_hash, parts[2]) or not row.is_active:
        raise Unauthenticated("invalid API key")
    now = _now()
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise Unauthenticated("the API key is revoked or expired")
    caller = Caller(
        user_id=row.user_id, tenant_id=row.tenant_id, role=row.role, api_key_id=row.key_id, email=row.email,
        scopes=frozenset(row.scopes), ip=meta.ip, user_agent=meta.user_agent, request_id=meta.request_id,
    )
    if row.last_used_at is None or row.last_used_at <= now - KEY_USE_RECORD_INTERVAL:
        _record_key_use(engine, caller, row.key_id, parts[1], details={"first_use": row.last_used_at is None,
                                                                   "method": method, "path": path[:256]})
    return caller


def _record_key_use(engine: Engine, caller: Caller, key_id: UUID, prefix: str, details: dict[str, object]) -> None:
    k = t.api_keys
    stale = sa.or_(k.c.last_used_at.is_(None), k.c.last_used_at <= sa.func.now() - KEY_USE_RECORD_INTERVAL)
    with session_scope(engine, caller.context()) as session:
        updated = session.execute(sa.update(k).where(k.c.id == key_id, stale).values(last_used_at=sa.func.now())
                                  ).rowcount
        if updated and details["first_use"]:
            audit.record(session, caller, "api_key.use", target_kind="ApiKey", target_id=key_id,
                         target_name=prefix, details=details)
