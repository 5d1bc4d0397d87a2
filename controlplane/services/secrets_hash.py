"""Hashing of passwords (argon2) and of high-entropy tokens (SHA-256), and token generation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, made on first use (not at import) to time unknown logins alike."""
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash, spends the same time and says no (no user enumeration)."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def hash_token(secret: str) -> str:
    """SHA-256 of a high-entropy secret (refresh tokens, reset tokens, API keys)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_matches(stored_hash: str, secret: str) -> bool:
    """Constant-time comparison of a secret against its stored hash."""
    return hmac.compare_digest(stored_hash, hash_token(secret))


def new_secret(nbytes: int = 32) -> str:
    """A random secret (hex)."""
    return secrets.token_hex(nbytes)
