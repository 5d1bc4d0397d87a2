"""Secrets in Vault/OpenBao KV v2 through hvac; rows of the database keep only the path.

hvac and requests errors are translated into :mod:`controlplane.errors` here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import hvac
import hvac.exceptions
import requests

from controlplane.drivers.vault_approle import LoginCredentials, TokenKeeper
from controlplane.errors import ComponentError, NotFound, PermanentError, TemporaryError

COMPONENT = "vault"


@contextmanager
def _translated(path: str = "") -> Iterator[None]:
    try:
        yield
    except hvac.exceptions.InvalidPath as exc:
        raise NotFound(f"no secret at {path!r}") from exc
    except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
        raise PermanentError(f"Vault refused the token: {exc}", component=COMPONENT) from exc
    except (hvac.exceptions.VaultDown, hvac.exceptions.InternalServerError) as exc:
        raise TemporaryError(f"Vault is unavailable: {exc}", component=COMPONENT) from exc
    except requests.RequestException as exc:
        raise TemporaryError(f"cannot reach Vault: {exc}", component=COMPONENT) from exc
    except hvac.exceptions.VaultError as exc:
        raise ComponentError(f"Vault error: {exc}", component=COMPONENT) from exc


@dataclass
class VaultHealth:
    """What ``/readyz`` reports about Vault."""

    ready: bool
    version: str
    detail: str = ""


class VaultStore:
    """Read and write secrets under one KV v2 mount."""

    def __init__(self, addr: str, token: str, *, mount: str = "secret", timeout: float = 5.0) -> None:
        self.addr = addr
        self.mount = mount
        self._client = hvac.Client(url=addr, token=token, timeout=timeout)
        self.keeper: TokenKeeper | None = None

    @classmethod
    def with_login(cls, addr: str, credentials: LoginCredentials, *, mount: str = "secret",
                   timeout: float = 5.0) -> VaultStore:
        """A store logged in with ``credentials`` (AppRole or Kubernetes) whose token is renewed in the
        background until :meth:`close`."""
        store = cls(addr, "", mount=mount, timeout=timeout)
        store.keeper = TokenKeeper(store._client, credentials)
        store.keeper.login()
        store.keeper.start()
        return store

    with_approle = with_login

    def close(self) -> None:
        """Stop renewing the token (stores that logged in)."""
        if self.keeper is not None:
            self.keeper.stop()

    def write(self, path: str, data: dict[str, str]) -> None:
        """Store ``data`` at ``path`` (a new version when it exists)."""
        with _translated(path):
            self._client.secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=self.mount)

    def create(self, path: str, data: dict[str, str]) -> bool:
        """Store ``data`` at ``path`` only when nothing is there yet (check-and-set ``cas=0``): of writers racing
        for the same path exactly one wins. True when this call created it, False when a version existed."""
        with _translated(path):
            try:
                self._client.secrets.kv.v2.create_or_update_secret(
                    path=path, secret=data, cas=0, mount_point=self.mount
                )
            except hvac.exceptions.InvalidRequest as exc:
                if "check-and-set" not in str(exc):
                    raise
                return False
            except hvac.exceptions.Forbidden:
                # a create-only policy refuses a write to an existing path outright: the path is taken
                if self._exists(path):
                    return False
                raise
        return True

    def _exists(self, path: str) -> bool:
        try:
            self.read(path)
        except NotFound:
            return False
        return True

    def read(self, path: str) -> dict[str, str]:
        """The latest version of the secret at ``path``; NotFound when there is none."""
        with _translated(path):
            response = self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.mount, raise_on_deleted_version=True
            )
        return dict(response["data"]["data"])

    def list_keys(self, prefix: str) -> list[str]:
        """The names directly under ``prefix`` (a folder's name ends with ``/``); empty when there are none."""
        with _translated(prefix):
            try:
                response = self._client.secrets.kv.v2.list_secrets(path=prefix, mount_point=self.mount)
            except hvac.exceptions.InvalidPath:
                return []
        return [str(key) for key in response["data"]["keys"]]

    def walk(self, prefix: str) -> list[str]:
        """Every secret's path under ``prefix`` (a folder, ending with ``/``), sorted."""
        found: list[str] = []
        for key in self.list_keys(prefix):
            found.extend(self.walk(prefix + key) if key.endswith("/") else [prefix + key])
        return sorted(found)

    def delete(self, path: str) -> None:
        """Remove the secret at ``path`` with all its versions; no error when it is absent."""
        with _translated(path):
            try:
                self._client.secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point=self.mount)
            except hvac.exceptions.InvalidPath:
                return

    def health(self) -> VaultHealth:
        """Whether Vault is initialised, unsealed and accepts our token."""
        try:
            with _translated():
                status = self._client.sys.read_health_status(method="GET")
                body = status.json() if hasattr(status, "json") else status
                version = str(body.get("version", ""))
                if body.get("sealed") or not body.get("initialized", False):
                    return VaultHealth(False, version, "sealed" if body.get("sealed") else "not initialised")
                if not self._client.is_authenticated():
                    return VaultHealth(False, version, "token not accepted")
                return VaultHealth(True, version)
        except ComponentError as exc:
            return VaultHealth(False, "", exc.message)
