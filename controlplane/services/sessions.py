"""Whether a credential still stands for what it says: the per-request check of access tokens, and the
writes that end a user's sessions at once (password change or reset, deactivation, role change, logout).

A signed access token lives for minutes; what it says (active user, role, tenant) can stop being true
sooner. Every request therefore compares the token with the user's row and its login in one indexed
lookup (``cp_session_state``): a deactivated, demoted, moved or deleted user, a bumped token version
(every session ended) or a revoked login (logout, refresh-token reuse) makes the token invalid at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import Session

from controlplane.db.engine import SET_CLAIM, claim_params
from controlplane.errors import Unauthenticated
from controlplane.models import tables as t
from controlplane.services.caller import Caller
from controlplane.services.tokens import AccessToken

REVOKED = "the access token was revoked (signed out, password changed, or the account changed)"


#: The credential check and, in the same statement, the transaction's claim to act as the token's caller.
CHECK_AND_CLAIM = sa.text(f"SELECT s.*, {SET_CLAIM} AS claimed FROM cp_session_state(:user, :family) s")


def check_in(session: Session, token: AccessToken) -> Caller:
    """The token's caller when its user and login are still as the token says; Unauthenticated otherwise.

    It is the first statement of ``session``'s transaction, which from then on acts as the token's caller
    (one round trip for both); on Unauthenticated the transaction must be rolled back."""
    caller = token.caller
    row = session.execute(CHECK_AND_CLAIM, {
        "user": caller.user_id, "family": token.session_id, **claim_params(session, caller.context()),
    }).first()
    return _verified(token, row)


def _verified(token: AccessToken, row: sa.Row[Any] | None) -> Caller:
    caller = token.caller
    if row is None or not row.is_active:
        raise Unauthenticated("the account no longer exists or is deactivated")
    if (row.role, row.tenant_id) != (caller.role, caller.tenant_id) or row.token_version != token.version \
            or row.session_revoked:
        raise Unauthenticated(REVOKED)
    return caller


def current_version(session: Session, user_id: UUID) -> int:
    """The user's token version, which new access tokens carry."""
    return int(session.execute(sa.select(t.users.c.token_version).where(t.users.c.id == user_id)).scalar_one())


def end_all(session: Session, user_id: UUID) -> int:
    """End every session of a user: revoke their refresh tokens and invalidate their access tokens.

    Returns how many refresh tokens were revoked.
    """
    rt = t.refresh_tokens
    count = session.execute(
        sa.update(rt).where(rt.c.user_id == user_id, rt.c.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
    ).rowcount
    session.execute(sa.update(t.users).where(t.users.c.id == user_id)
                    .values(token_version=t.users.c.token_version + 1))
    return int(count or 0)


def revoke_api_keys(session: Session, user_id: UUID) -> int:
    """Revoke every live API key of a user; returns how many."""
    k = t.api_keys
    return int(session.execute(
        sa.update(k).where(k.c.user_id == user_id, k.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC), resource_version=k.c.resource_version + 1)
    ).rowcount or 0)
