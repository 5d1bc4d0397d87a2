"""The SSH key of a configuration run comes from Vault, the project's before the tenant's before the default
one; a key without its ``private_key`` field does not count. A private OpenBao (the default path is shared by
every tenant, so the session's Vault is left alone)."""

from __future__ import annotations

import uuid

import pytest

from controlplane.drivers.vault import VaultStore
from controlplane.errors import TemporaryError
from controlplane.reconciler.configurator import read_ssh_key, ssh_key_paths
from tests.fixtures.vault import dev_vault


def test_project_key_before_tenant_key_before_default_key() -> None:
    tenant, project = uuid.uuid4(), uuid.uuid4()
    project_path, tenant_path, default_path = ssh_key_paths(tenant, project)
    with dev_vault() as (server, _process):
        vault = VaultStore(server.addr, server.token)
        with pytest.raises(TemporaryError, match=project_path):
            read_ssh_key(vault, tenant, project)
        vault.write(default_path, {"private_key": "default key"})
        assert read_ssh_key(vault, tenant, project) == (default_path, "default key")
        vault.write(tenant_path, {"private_key": "tenant key"})
        assert read_ssh_key(vault, tenant, project) == (tenant_path, "tenant key")
        vault.write(project_path, {"note": "no key here"})
        assert read_ssh_key(vault, tenant, project) == (tenant_path, "tenant key")
        vault.write(project_path, {"private_key": "project key"})
        assert read_ssh_key(vault, tenant, project) == (project_path, "project key")
        other_project = uuid.uuid4()
        assert read_ssh_key(vault, tenant, other_project) == (tenant_path, "tenant key")
        assert read_ssh_key(vault, uuid.uuid4(), other_project) == (default_path, "default key")
