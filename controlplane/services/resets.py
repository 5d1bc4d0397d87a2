"""Password reset by email: a single-use, expiring token; only the newest one works, and using it ends
every session of the account (and, when the user asks, revokes their API keys)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from controlplane.db.engine import session_scope
from controlplane.errors import RateLimited, Unauthenticated
from controlplane.models import tables as t
from controlplane.services import audit, sessions
from controlplane.services.auth import (
    ANONYMOUS,
    AuthPolicy,
    Limiter,
    Mailer,
    Owner,
    email_of,
    normalized_email,
    owner_caller,
    token_owner,
)
from controlplane.services.caller import Caller, client_bucket, system_caller
from controlplane.services.secrets_hash import hash_password, hash_token, new_secret, token_matches
from controlplane.services.tokens import split_opaque

PR = t.password_resets
# where the reset mail's link leads, under ``public_url``: the portal's page, which takes ``?token=``
RESET_LINK_PATH = "/reset"
# the API endpoint the mail names for scripts (POST ``{"token", "password", "revoke_api_keys"}``)
CONFIRM_API_PATH = "/api/v1/auth/password-reset/confirm"


def _now() -> datetime:
    return datetime.now(UTC)


def reset_link(public_url: str) -> str:
    """The address the reset mail links to (the token is appended as ``?token=``)."""
    return public_url.rstrip("/") + RESET_LINK_PATH


def reset_mail(email: str, token: str, public_url: str, minutes: int) -> str:
    """The body of the reset mail: the token, and where to use it."""
    api = public_url.rstrip("/") + CONFIRM_API_PATH
    return (
        f"Someone asked to reset the password of {email}.\n\n"
        f"Reset token (valid for {minutes} minutes, usable once; only the newest token works):\n{token}\n\n"
        f"Set a new password: {reset_link(public_url)}?token={token}\n"
        f"(or POST {{\"token\": \"...\", \"password\": \"...\"}} to {api})\n\n"
        "Every session of the account ends when the password is set.\n"
        "If this was not you, ignore this message.\n"
    )


def request_reset(
    engine: Engine, mailer: Mailer | None, limiter: Limiter, policy: AuthPolicy, meta: Caller, email: str,
    public_url: str,
) -> None:
    """Email a single-use reset token when the account exists (the answer never says whether it does);
    earlier tokens of the account stop working."""
    email_key = normalized_email(email)
    retry_after = limiter.hit(f"reset:client:{client_bucket(meta.ip)}", policy.login_limit_ip, policy.login_window)
    if retry_after is not None:
        raise RateLimited("too many reset requests; try again later", retry_after=retry_after)
    with session_scope(engine, ANONYMOUS) as session:
        row = session.execute(sa.text("SELECT * FROM cp_login_lookup(:email)"), {"email": email_key}).first()
    if row is None or not row.is_active:
        with session_scope(engine, system_caller().context()) as session:
            audit.record(session, meta, "auth.reset_request", target_kind="User", target_name=email_key[:254],
                         result=audit.FAILURE, details={"reason": "no such active account"})
        return
    caller = owner_caller(Owner(row.user_id, row.tenant_id, row.role), meta, email_key)
    secret = new_secret()
    token_id = uuid.uuid4()
    with session_scope(engine, caller.context()) as session:
        session.execute(sa.update(PR).where(PR.c.user_id == row.user_id, PR.c.used_at.is_(None))
                        .values(used_at=_now()))
        session.execute(
            sa.insert(PR).values(
                id=token_id, tenant_id=row.tenant_id, user_id=row.user_id, token_hash=hash_token(secret),
                expires_at=_now() + policy.reset_ttl,
            )
        )
        audit.record(session, caller, "auth.reset_request", target_kind="User", target_id=row.user_id,
                     target_name=email_key)
        if mailer is not None:
            minutes = int(policy.reset_ttl.total_seconds() // 60)
            mailer.send(email_key, "Password reset", reset_mail(email_key, f"{token_id}.{secret}", public_url, minutes))


def confirm_reset(engine: Engine, meta: Caller, token: str, password: str, *, revoke_api_keys: bool) -> None:
    """Set a new password with the newest reset token, once, before it expires. Every session of the
    account ends (refresh and access tokens); with ``revoke_api_keys`` its API keys are revoked too."""
    token_id, secret = split_opaque(token)
    owner = token_owner(engine, "reset", token_id)
    caller = owner_caller(owner, meta)
    with session_scope(engine, caller.context()) as session:
        row = session.execute(sa.select(PR).where(PR.c.id == token_id).with_for_update()).first()
        if row is None or not token_matches(row.token_hash, secret) or row.used_at is not None \
                or row.expires_at <= _now():
            raise Unauthenticated("invalid or expired token")
        session.execute(sa.update(PR).where(PR.c.user_id == owner.user_id, PR.c.used_at.is_(None))
                        .values(used_at=_now()))
        session.execute(
            sa.update(t.users).where(t.users.c.id == owner.user_id)
            .values(password_hash=hash_password(password), updated_at=_now(),
                    resource_version=t.users.c.resource_version + 1)
        )
        revoked_sessions = sessions.end_all(session, owner.user_id)
        revoked_keys = sessions.revoke_api_keys(session, owner.user_id) if revoke_api_keys else 0
        audit.record(session, caller, "auth.reset", target_kind="User", target_id=owner.user_id,
                     target_name=email_of(session, owner.user_id),
                     details={"revoked_refresh_tokens": revoked_sessions, "revoked_api_keys": revoked_keys})
