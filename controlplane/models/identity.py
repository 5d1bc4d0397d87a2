"""API schemas of users, API keys and authentication (login, refresh, logout, password reset)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from controlplane.models.common import DnsLabel, ResourceVersion, ShortText, Strict

Role = Literal["admin", "manager", "user"]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
]
Password = Annotated[str, StringConstraints(min_length=12, max_length=1024)]
Scope = Literal["read", "write"]


class UserCreate(Strict):
    """A new user; ``tenant``/``tenant_id`` is required for managers and users."""

    email: Email
    password: Password
    role: Role = "user"
    tenant: DnsLabel | None = None
    tenant_id: UUID | None = None


class UserUpdate(Strict):
    """Fields of a user that may change."""

    role: Role | None = None
    is_active: bool | None = None
    password: Password | None = None


class UserPublic(BaseModel):
    """A user as the API returns it (never the password hash)."""

    id: UUID
    tenant_id: UUID | None
    email: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    resource_version: ResourceVersion


class LoginRequest(Strict):
    """Email and password."""

    email: Annotated[str, StringConstraints(max_length=254)]
    password: Annotated[str, StringConstraints(max_length=1024)]


class TokenPair(BaseModel):
    """A short-lived access token and a rotating refresh token."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshRequest(Strict):
    """A refresh token to exchange (or revoke, on logout)."""

    refresh_token: Annotated[str, StringConstraints(max_length=512)]


class LogoutRequest(Strict):
    """Logout revokes the refresh token's family; without one, every refresh token of the caller."""

    refresh_token: Annotated[str, StringConstraints(max_length=512)] | None = None


class ResetRequest(Strict):
    """Ask for a password reset email."""

    email: Annotated[str, StringConstraints(max_length=254)]


class ResetConfirm(Strict):
    """Set a new password with the emailed token."""

    token: Annotated[str, StringConstraints(max_length=512)]
    password: Password
    revoke_api_keys: bool = Field(
        True, description="Also revoke every API key of the account (sessions always end on a reset)."
    )


class Me(BaseModel):
    """Who the caller is."""

    user_id: UUID
    tenant_id: UUID | None
    role: Role
    email: str
    api_key_id: UUID | None = None
    scopes: list[str]


class ApiKeyCreate(Strict):
    """A new API key for the caller."""

    name: ShortText
    scopes: list[Scope] = Field(default_factory=lambda: ["read", "write"], min_length=1, max_length=2)
    expires_at: datetime | None = Field(None, description="Defaults to 90 days from now.")


class ApiKeyPublic(BaseModel):
    """An API key as the API returns it (never the secret)."""

    id: UUID
    user_id: UUID
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    resource_version: ResourceVersion


class ApiKeyCreated(ApiKeyPublic):
    """The one response that carries the key itself."""

    key: str = Field(description="Shown once: store it now.")
