"""The JWT signing key: kept in Vault (``controlplane/system/jwt``), created on first start, cached here."""

from __future__ import annotations

import secrets

from controlplane.drivers.vault import VaultStore
from controlplane.errors import NotFound

JWT_SECRET_PATH = "controlplane/system/jwt"


def load_or_create_key(vault: VaultStore) -> bytes:
    """The signing key from Vault; a new random one is stored first when there is none."""
    try:
        return bytes.fromhex(vault.read(JWT_SECRET_PATH)["key"])
    except NotFound:
        vault.write(JWT_SECRET_PATH, {"key": secrets.token_hex(32)})
        return bytes.fromhex(vault.read(JWT_SECRET_PATH)["key"])
