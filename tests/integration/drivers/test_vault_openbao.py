"""The Vault driver against a real OpenBao dev server."""

from __future__ import annotations

import uuid

import pytest

from controlplane.drivers.vault import VaultStore
from controlplane.errors import NotFound, PermanentError
from tests.fixtures.vault import VaultServer


def test_write_read_delete_a_secret(vault: VaultStore) -> None:
    path = f"controlplane/clusters/{uuid.uuid4()}"
    vault.write(path, {"token_secret": "s3cr3t"})
    assert vault.read(path) == {"token_secret": "s3cr3t"}
    vault.write(path, {"token_secret": "rotated"})
    assert vault.read(path) == {"token_secret": "rotated"}
    vault.delete(path)
    with pytest.raises(NotFound):
        vault.read(path)


def test_health_reports_version(vault: VaultStore) -> None:
    health = vault.health()
    assert health.ready and health.version.startswith("2.")


def test_a_wrong_token_is_a_permanent_error(vault_server: VaultServer) -> None:
    store = VaultStore(vault_server.addr, "not-the-token")
    with pytest.raises(PermanentError):
        store.write("controlplane/x", {"a": "b"})
    assert not store.health().ready
