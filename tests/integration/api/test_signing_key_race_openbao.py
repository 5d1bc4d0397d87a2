"""The JWT signing key on a real OpenBao: replicas starting at once for the first time end with one key."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import hvac

from controlplane.api.signing import JWT_SECRET_PATH, load_or_create_key
from controlplane.drivers.vault import VaultStore
from tests.fixtures.vault import VaultServer

STARTS = 8


def _fresh_mount(server: VaultServer) -> str:
    mount = f"kv-{secrets.token_hex(4)}"
    hvac.Client(url=server.addr, token=server.token).sys.enable_secrets_engine(
        "kv", path=mount, options={"version": "2"}
    )
    return mount


def test_concurrent_first_starts_share_one_signing_key(vault_server: VaultServer) -> None:
    mount = _fresh_mount(vault_server)
    stores = [VaultStore(vault_server.addr, vault_server.token, mount=mount) for _ in range(STARTS)]
    barrier = threading.Barrier(STARTS)

    def first_start(store: VaultStore) -> bytes:
        barrier.wait(timeout=60)
        return load_or_create_key(store)

    with ThreadPoolExecutor(STARTS) as pool:
        keys = list(pool.map(first_start, stores))
    assert len(set(keys)) == 1 and len(keys[0]) == 32
    assert bytes.fromhex(stores[0].read(JWT_SECRET_PATH)["key"]) == keys[0]
    metadata = hvac.Client(url=vault_server.addr, token=vault_server.token).secrets.kv.v2.read_secret_metadata(
        path=JWT_SECRET_PATH, mount_point=mount
    )
    assert metadata["data"]["current_version"] == 1  # written once: no start replaced another's key


def test_create_refuses_to_replace_an_existing_secret(vault_server: VaultServer) -> None:
    store = VaultStore(vault_server.addr, vault_server.token, mount=_fresh_mount(vault_server))
    assert store.create("controlplane/probe", {"value": "first"}) is True
    assert store.create("controlplane/probe", {"value": "second"}) is False
    assert store.read("controlplane/probe") == {"value": "first"}
