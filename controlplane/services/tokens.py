"""Short-lived JWT access tokens (HS256, key from Vault) and opaque ``<id>.<secret>`` tokens.

An access token names its user, tenant and role, the user's token version when it was issued (``ver``)
and the login it belongs to (``sid``, the refresh-token family). The signature proves only who issued it;
:mod:`controlplane.services.sessions` checks on every request that those facts are still true.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

import jwt

from controlplane.errors import Unauthenticated
from controlplane.services.caller import Caller

ISSUER = "controlplane"
AUDIENCE = "controlplane-api"


@dataclass(frozen=True)
class AccessToken:
    """A verified access token: the caller it names, the token version and the login it came from."""

    caller: Caller
    version: int
    session_id: UUID | None


@dataclass(frozen=True)
class TokenIssuer:
    """Signs and checks access tokens with one symmetric key that never leaves memory and Vault."""

    key: bytes
    ttl_seconds: int = 900

    def issue(self, user_id: UUID, tenant_id: UUID | None, role: str, email: str, *, version: int = 1,
              session_id: UUID | None = None) -> str:
        """An access token for the user, valid for ``ttl_seconds``, bound to ``version`` and ``session_id``."""
        now = int(time.time())
        claims = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": str(user_id), "tid": str(tenant_id) if tenant_id else None,
            "role": role, "email": email, "iat": now, "exp": now + self.ttl_seconds, "typ": "access",
            "ver": version, "sid": str(session_id) if session_id else None,
        }
        return jwt.encode(claims, self.key, algorithm="HS256")

    def decode(self, token: str) -> AccessToken:
        """The signed content of an access token; Unauthenticated when invalid or expired."""
        try:
            claims = jwt.decode(
                token, self.key, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
                options={"require": ["exp", "sub", "role", "iat"]},
            )
            if claims.get("typ") != "access" or claims["role"] not in ("admin", "manager", "user"):
                raise Unauthenticated("not an access token")
            tenant = UUID(claims["tid"]) if claims.get("tid") else None
            version = claims.get("ver", 1)
            if not isinstance(version, int) or isinstance(version, bool):
                raise Unauthenticated("invalid access token")
            caller = Caller(user_id=UUID(claims["sub"]), tenant_id=tenant, role=claims["role"],
                            email=claims["email"])
            return AccessToken(caller, version, UUID(claims["sid"]) if claims.get("sid") else None)
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the access token has expired") from exc
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise Unauthenticated("invalid access token") from exc

    def verify(self, token: str) -> Caller:
        """The caller an access token names (signature and expiry only; see ``sessions.check_in``)."""
        return self.decode(token).caller


def split_opaque(token: str) -> tuple[UUID, str]:
    """``<uuid>.<secret>`` into its parts; Unauthenticated when malformed."""
    ident, _, secret = token.partition(".")
    try:
        return UUID(ident), secret
    except ValueError as exc:
        raise Unauthenticated("malformed token") from exc
