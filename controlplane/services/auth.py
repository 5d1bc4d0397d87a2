"""Authentication use cases: login, refresh-token rotation, logout, password reset, API key checks.

Login, refresh and reset happen before any tenant is known: the narrow SECURITY DEFINER lookups of
migration 0002 find the user, then everything else runs in that user's own tenant context.
"""

from __future__ import annotations

import dataclasses
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
from controlplane.services import audit
from controlplane.services.caller import Caller, system_caller
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


class Limiter(Protocol):
    """Counts attempts per key in fixed windows."""

    def hit(self, key: str, limit: int, window: int) -> int | None:
        """Count one attempt; the seconds to wait when over ``limit`` in the window, else None."""

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
    login_limit_account: int = 5
    login_limit_ip: int = 20
    login_window: int = 300


@dataclass
class Tokens:
    """The result of a login or refresh."""

    access_token: str
    refresh_token: str
    expires_in: int


@dataclass
class _Owner:
    user_id: UUID
    tenant_id: UUID | None
    role: str


def _now() -> datetime:
    return datetime.now(UTC)


def _owner_caller(owner: _Owner, meta: Caller, email: str = "") -> Caller:
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


def login(
    engine: Engine, issuer: TokenIssuer, limiter: Limiter, policy: AuthPolicy, meta: Caller, email: str, password: str
) -> Tokens:
    """Check email and password (rate limited per account and per IP) and open a new refresh-token family."""
    email_key = email.strip().lower()
    for key, limit in ((f"login:account:{email_key}", policy.login_limit_account),
                       (f"login:ip:{meta.ip}", policy.login_limit_ip)):
        retry_after = limiter.hit(key, limit, policy.login_window)
        if retry_after is not None:
            with session_scope(engine, system_caller().context()) as session:
                audit.record(session, meta, "auth.login", target_kind="User", target_name=email_key[:254],
                             result=FAILURE_RATE, details={"reason": "rate limited"})
            raise RateLimited("too many login attempts; try again later", retry_after=retry_after)
    with session_scope(engine, ANONYMOUS) as session:
        row = session.execute(sa.text("SELECT * FROM cp_login_lookup(:email)"), {"email": email_key}).first()
    ok = verify_password(row.password_hash if row else None, password)
    if row is None or not ok or not row.is_active:
        ctx_caller = _owner_caller(_Owner(row.user_id, row.tenant_id, row.role), meta, email_key) if row else None
        with session_scope(engine, (ctx_caller or system_caller()).context()) as session:
            audit.record(session, ctx_caller or meta, "auth.login", target_kind="User",
                         target_id=row.user_id if row else "", target_name=email_key[:254], result=audit.FAILURE,
                         tenant_id=row.tenant_id if row else None,
                         details={"reason": "inactive" if row is not None and ok else "bad credentials"})
        raise Unauthenticated("wrong email or password")
    limiter.reset(f"login:account:{email_key}")
    caller = _owner_caller(_Owner(row.user_id, row.tenant_id, row.role), meta, email_key)
    with session_scope(engine, caller.context()) as session:
        values: dict[str, object] = {"last_login_at": _now()}
        if needs_rehash(row.password_hash):
            values["password_hash"] = hash_password(password)
        session.execute(sa.update(t.users).where(t.users.c.id == row.user_id).values(**values))
        refresh = _new_refresh(session, caller, uuid.uuid4(), policy)
        audit.record(session, caller, "auth.login", target_kind="User", target_id=row.user_id, target_name=email_key)
    access = issuer.issue(row.user_id, row.tenant_id, row.role, email_key)
    return Tokens(access, refresh, issuer.ttl_seconds)



def _token_owner(engine: Engine, kind: str, token_id: UUID) -> _Owner:
    with session_scope(engine, ANONYMOUS) as session:
        row = session.execute(
            sa.text("SELECT * FROM cp_token_owner(:kind, :id)"), {"kind": kind, "id": token_id}
        ).first()
    if row is None or not row.is_active:
        raise Unauthenticated("invalid or expired token")
    return _Owner(row.user_id, row.tenant_id, row.role)


def _email_of(session: Session, user_id: UUID) -> str:
    return str(session.execute(sa.select(t.users.c.email).where(t.users.c.id == user_id)).scalar_one()).lower()


def refresh(engine: Engine, issuer: TokenIssuer, policy: AuthPolicy, meta: Caller, token: str) -> Tokens:
    """Rotate a refresh token; presenting one that was already used revokes its whole family."""
    token_id, secret = split_opaque(token)
    owner = _token_owner(engine, "refresh", token_id)
    caller = _owner_caller(owner, meta)
    new_token: str | None = None
    with session_scope(engine, caller.context()) as session:
        rt = t.refresh_tokens
        row = session.execute(sa.select(rt).where(rt.c.id == token_id).with_for_update()).first()
        if row is None or not token_matches(row.token_hash, secret):
            raise Unauthenticated("invalid or expired token")
        email = _email_of(session, owner.user_id)
        caller = _owner_caller(owner, meta, email)
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
            audit.record(session, caller, "auth.refresh", target_kind="User", target_id=owner.user_id,
                         target_name=email)
    if new_token is None:  # committed the revocation above; now refuse
        raise Unauthenticated("refresh token already used or revoked; every token of this login is revoked")
    return Tokens(issuer.issue(owner.user_id, owner.tenant_id, owner.role, email), new_token, issuer.ttl_seconds)


def logout(session: Session, caller: Caller, token: str | None) -> int:
    """Revoke the refresh token's family (or all of the caller's refresh tokens); returns how many."""
    rt = t.refresh_tokens
    where = [rt.c.user_id == caller.user_id, rt.c.revoked_at.is_(None)]
    if token is not None:
        token_id, secret = split_opaque(token)
        row = session.execute(sa.select(rt).where(rt.c.id == token_id, rt.c.user_id == caller.user_id)).first()
        if row is None or not token_matches(row.token_hash, secret):
            raise Unauthenticated("invalid refresh token")
        where.append(rt.c.family_id == row.family_id)
    count = session.execute(sa.update(rt).where(*where).values(revoked_at=_now())).rowcount
    audit.record(session, caller, "auth.logout", target_kind="User", target_id=caller.user_id,
                 target_name=caller.email, details={"revoked": count})
    return count


def revoke_all(session: Session, user_id: UUID) -> None:
    """Revoke every refresh token of a user (password change, deactivation)."""
    rt = t.refresh_tokens
    session.execute(sa.update(rt).where(rt.c.user_id == user_id, rt.c.revoked_at.is_(None)).values(revoked_at=_now()))


def request_reset(
    engine: Engine, mailer: Mailer | None, limiter: Limiter, policy: AuthPolicy, meta: Caller, email: str,
    link_base: str,
) -> None:
    """Email a single-use reset token when the account exists (the answer never says whether it does)."""
    email_key = email.strip().lower()
    retry_after = limiter.hit(f"reset:ip:{meta.ip}", policy.login_limit_ip, policy.login_window)
    if retry_after is not None:
        raise RateLimited("too many reset requests; try again later", retry_after=retry_after)
    with session_scope(engine, ANONYMOUS) as session:
        row = session.execute(sa.text("SELECT * FROM cp_login_lookup(:email)"), {"email": email_key}).first()
    if row is None or not row.is_active:
        with session_scope(engine, system_caller().context()) as session:
            audit.record(session, meta, "auth.reset_request", target_kind="User", target_name=email_key[:254],
                         result=audit.FAILURE, details={"reason": "no such active account"})
        return
    caller = _owner_caller(_Owner(row.user_id, row.tenant_id, row.role), meta, email_key)
    secret = new_secret()
    token_id = uuid.uuid4()
    with session_scope(engine, caller.context()) as session:
        session.execute(
            sa.insert(t.password_resets).values(
                id=token_id, tenant_id=row.tenant_id, user_id=row.user_id, token_hash=hash_token(secret),
                expires_at=_now() + policy.reset_ttl,
            )
        )
        audit.record(session, caller, "auth.reset_request", target_kind="User", target_id=row.user_id,
                     target_name=email_key)
        if mailer is not None:
            token = f"{token_id}.{secret}"
            minutes = int(policy.reset_ttl.total_seconds() // 60)
            mailer.send(
                email_key, "Password reset",
                f"Someone asked to reset the password of {email_key}.\n\n"
                f"Reset token (valid for {minutes} minutes, usable once):\n{token}\n\n"
                f"Or open: {link_base}?token={token}\n\nIf this was not you, ignore this message.\n",
            )


def confirm_reset(engine: Engine, meta: Caller, token: str, password: str) -> None:
    """Set a new password with a reset token: once, before it expires; every refresh token is revoked."""
    token_id, secret = split_opaque(token)
    owner = _token_owner(engine, "reset", token_id)
    caller = _owner_caller(owner, meta)
    with session_scope(engine, caller.context()) as session:
        pr = t.password_resets
        row = session.execute(sa.select(pr).where(pr.c.id == token_id).with_for_update()).first()
        if row is None or not token_matches(row.token_hash, secret) or row.used_at is not None \
                or row.expires_at <= _now():
            raise Unauthenticated("invalid or expired token")
        session.execute(sa.update(pr).where(pr.c.id == token_id).values(used_at=_now()))
        session.execute(
            sa.update(t.users).where(t.users.c.id == owner.user_id)
            .values(password_hash=hash_password(password), updated_at=_now(),
                    resource_version=t.users.c.resource_version + 1)
        )
        revoke_all(session, owner.user_id)
        audit.record(session, caller, "auth.reset", target_kind="User", target_id=owner.user_id,
                     target_name=_email_of(session, owner.user_id))


def authenticate_api_key(engine: Engine, meta: Caller, key: str, method: str, path: str) -> Caller:
    """The caller an API key ``cp_<prefix>_<secret>`` stands for; records its use (and audits it)."""
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != "cp" or not parts[1] or not parts[2]:
        raise Unauthenticated("malformed API key")
    with session_scope(engine, ANONYMOUS) as session:
        row = session.execute(sa.text("SELECT * FROM cp_api_key_lookup(:p)"), {"p": parts[1]}).first()
    if row is None or not token_matches(row.secret_hash, parts[2]) or not row.is_active:
        raise Unauthenticated("invalid API key")
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= _now()):
        raise Unauthenticated("the API key is revoked or expired")
    caller = Caller(
        user_id=row.user_id, tenant_id=row.tenant_id, role=row.role, api_key_id=row.key_id,
        scopes=frozenset(row.scopes), ip=meta.ip, user_agent=meta.user_agent, request_id=meta.request_id,
    )
    with session_scope(engine, caller.context()) as session:
        email = _email_of(session, row.user_id)
        caller = dataclasses.replace(caller, email=email)
        session.execute(sa.update(t.api_keys).where(t.api_keys.c.id == row.key_id).values(last_used_at=_now()))
        audit.record(session, caller, "api_key.use", target_kind="ApiKey", target_id=row.key_id,
                     target_name=parts[1], details={"method": method, "path": path[:256]})
    return caller
