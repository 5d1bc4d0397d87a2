"""The JWT signing key: kept in Vault (``controlplane/system/jwt``), created on first start, cached here.

The first start writes the key with a check-and-set write that only succeeds when no version exists, so
replicas that start at once all end up with the one key that won.
"""

from __future__ import annotations

import secrets

from controlplane.drivers.vault import VaultStore
from controlplane.errors import NotFound

JWT_SECRET_PATH = "controlplane/system/jwt"


def load_or_create_key(vault: VaultStore) -> bytes:
    """The signing key from Vault; a new random one is stored first when there is none (whoever stores first
    wins; every caller returns the stored key)."""
    try:
        return bytes.fromhex(vault.read(JWT_SECRET_PATH)["key"])
    except NotFound:
        vault.create(JWT_SECRET_PATH, {"key": secrets.token_hex(32)})
        return bytes.fromhex(vault.read(JWT_SECRET_PATH)["key"])
