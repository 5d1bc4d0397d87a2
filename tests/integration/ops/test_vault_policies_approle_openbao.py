"""``vault/`` on a real, non-dev OpenBao server (raft storage, initialised and unsealed here): the bootstrap
script runs twice without harm; the API and worker log in with AppRole; the worker's token reads cluster
tokens and SSH keys but cannot write a cluster secret or read the signing key; tokens are renewed; the
stack starts with AppRole settings."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest

from controlplane.api.signing import JWT_SECRET_PATH, load_or_create_key
from controlplane.config import get_settings
from controlplane.drivers.embedded_vault import EmbeddedOpenBao
from controlplane.drivers.vault import VaultStore
from controlplane.drivers.vault_approle import AppRoleCredentials
from controlplane.errors import PermanentError
from controlplane.util.binaries import PROJECT_ROOT, find_binary
from controlplane.util.net import wait_for

BOOTSTRAP = PROJECT_ROOT / "vault" / "bootstrap.sh"
CLUSTER = "controlplane/clusters/demo-1"


@pytest.fixture(scope="module")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedOpenBao]:
    """A real OpenBao server (not -dev) with raft storage, bootstrapped by vault/bootstrap.sh (run twice)."""
    server = EmbeddedOpenBao(tmp_path_factory.mktemp("bao") / "openbao")
    server.start()
    bao = find_binary("bao")
    assert bao is not None
    env = {"PATH": f"{Path(bao).parent}:/usr/bin:/bin", "VAULT_ADDR": server.addr, "VAULT_TOKEN": server.token,
           "TOKEN_TTL": "6s", "TOKEN_MAX_TTL": "1h", "HOME": str(server.data_dir)}
    try:
        for _ in range(2):  # idempotent: the second run changes nothing and still succeeds
            done = subprocess.run([str(BOOTSTRAP)], env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr + done.stdout
            assert "role controlplane-worker, role id" in done.stdout
        yield server
    finally:
        server.stop()


def credentials(server: EmbeddedOpenBao, role: str) -> AppRoleCredentials:
    """A fresh AppRole secret id for ``role``, made as an operator would."""
    root = hvac.Client(url=server.addr, token=server.token)
    role_id = root.auth.approle.read_role_id(f"controlplane-{role}")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(f"controlplane-{role}")["data"]["secret_id"]
    return AppRoleCredentials(role_id, secret_id)


def test_worker_token_reads_but_cannot_write_clusters_or_read_the_signing_key(openbao: EmbeddedOpenBao) -> None:
    root = VaultStore(openbao.addr, openbao.token)
    assert "secret/" in hvac.Client(url=openbao.addr, token=openbao.token).sys.list_mounted_secrets_engines()["data"]
    api = VaultStore.with_login(openbao.addr, credentials(openbao, "api"))
    worker = VaultStore.with_login(openbao.addr, credentials(openbao, "worker"))
    try:
        api.write(CLUSTER, {"token_id": "root@pam!cp", "token_secret": "s3cret"})
        key = load_or_create_key(api)
        assert load_or_create_key(api) == key  # read back; a second create does not replace it
        root.write("controlplane/ssh/default", {"private_key": "KEY"})

        assert worker.read(CLUSTER)["token_secret"] == "s3cret"
        assert worker.read("controlplane/ssh/default") == {"private_key": "KEY"}
        with pytest.raises(PermanentError):
            worker.write(CLUSTER, {"token_id": "evil", "token_secret": "evil"})
        with pytest.raises(PermanentError):
            worker.write("controlplane/clusters/new-one", {"token_id": "evil", "token_secret": "evil"})
        with pytest.raises(PermanentError):
            worker.read(JWT_SECRET_PATH)
        with pytest.raises(PermanentError):
            api.read("controlplane/ssh/default")  # the API has no business with SSH keys
        with pytest.raises(PermanentError):
            api.write(JWT_SECRET_PATH, {"key": "00" * 32})  # create-once: the key cannot be replaced
        assert root.read(CLUSTER)["token_secret"] == "s3cret"
        assert bytes.fromhex(root.read(JWT_SECRET_PATH)["key"]) == key
    finally:
        api.close()
        worker.close()


def test_tokens_are_renewed_in_the_background(openbao: EmbeddedOpenBao) -> None:
    worker = VaultStore.with_login(openbao.addr, credentials(openbao, "worker"))
    try:
        client = worker._client
        first = client.auth.token.lookup_self()["data"]
        assert first.get("last_renewal_time") in (None, 0)
        wait_for(lambda: client.auth.token.lookup_self()["data"].get("last_renewal_time"), timeout=30,
                 what="the token to be renewed")
        assert worker.read(CLUSTER)  # still valid after its first TTL
    finally:
        worker.close()


def test_the_stack_connects_with_approle_settings_from_files(openbao: EmbeddedOpenBao, tmp_path: Path,
                                                            empty_database) -> None:
    from controlplane.stack import Stack

    creds = credentials(openbao, "api")
    role_file, secret_file = tmp_path / "role-id", tmp_path / "secret-id"
    role_file.write_text(creds.role_id + "\n")
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(creds.secret_id)
    settings = get_settings(data_dir=tmp_path / "data", database_url=empty_database.owner,
                            vault_addr=openbao.addr, vault_role_id_file=role_file, vault_secret_id_file=secret_file)
    with Stack(settings, report=lambda _m: None) as stack:
        assert stack.vault is not None and stack.vault.keeper is not None
        assert stack.vault.health().ready
        assert stack.vault.read(CLUSTER)["token_id"] == "root@pam!cp"
