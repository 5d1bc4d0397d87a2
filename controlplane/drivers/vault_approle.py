"""AppRole login for the services (``CONTROLPLANE_VAULT_ROLE_ID`` / ``..._SECRET_ID``), and a thread that keeps
the token alive: renewed at two thirds of its lifetime, a fresh login when renewal is refused (the token
reached its maximum lifetime) or failed. The keeper logs in with any :class:`LoginCredentials` (AppRole
here, Kubernetes service accounts in :mod:`.vault_kubernetes`).

hvac and requests errors are translated into :mod:`controlplane.errors` here.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import hvac
import hvac.exceptions
import requests

from controlplane.errors import PermanentError, TemporaryError

log = logging.getLogger(__name__)
COMPONENT = "vault"
RETRY_SECONDS = 5.0
"""Wait before the next try when neither renewal nor login worked (Vault away, say)."""


class LoginCredentials(Protocol):
    """What a Vault auth method needs to log in; ``method`` names it in messages."""

    method: str

    def login(self, client: hvac.Client) -> dict[str, Any]:
        """Log ``client`` in (it uses the new token from then on); returns Vault's response."""
        ...


@dataclass(frozen=True)
class AppRoleCredentials:
    """A role id and secret id, and where the AppRole auth method is mounted."""

    role_id: str
    secret_id: str
    mount: str = "approle"
    method: str = "AppRole"

    def login(self, client: hvac.Client) -> dict[str, Any]:
        """Log in with the role id and secret id."""
        return client.auth.approle.login(role_id=self.role_id, secret_id=self.secret_id, mount_point=self.mount)


class TokenKeeper:
    """Logs ``client`` in (AppRole, Kubernetes) and keeps its token valid until :meth:`stop`."""

    def __init__(self, client: hvac.Client, credentials: LoginCredentials) -> None:
        self.client = client
        self.credentials = credentials
        self.ttl = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def login(self) -> None:
        """Log in now; the client uses the new token from then on."""
        method = self.credentials.method
        try:
            response = self.credentials.login(self.client)
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
            raise PermanentError(f"Vault refused the {method} login: {exc}", component=COMPONENT) from exc
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            raise TemporaryError(f"{method} login failed: {exc}", component=COMPONENT) from exc
        self.ttl = float(response["auth"]["lease_duration"])

    def start(self) -> TokenKeeper:
        """Renew in a background thread."""
        self._thread = threading.Thread(target=self._run, name="vault-token-keeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing (the token then expires by itself)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def renew(self) -> None:
        """Renew the token once; log in again when Vault refuses (e.g. at its maximum lifetime)."""
        try:
            response = self.client.auth.token.renew_self()
            granted = float(response["auth"]["lease_duration"])
            if granted < self.ttl / 2:  # close to the maximum lifetime: a fresh token lasts longer
                self.login()
            else:
                self.ttl = granted
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            log.info("renewing the Vault token failed (%s); logging in again", exc)
            self.login()

    def _run(self) -> None:
        while not self._stop.wait(max(1.0, self.ttl * 2 / 3) if self.ttl else RETRY_SECONDS):
            try:
                self.renew()
            except (PermanentError, TemporaryError) as exc:
                log.warning("keeping the Vault token alive failed: %s", exc.message)
                self.ttl = 0.0
