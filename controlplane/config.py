"""Typed settings for every entry point (api, worker, cli), read from ``CONTROLPLANE_*`` and ``.env``.

Build them with :func:`get_settings`; nothing is read at import time.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from controlplane.errors import ConfigError

ENV_PREFIX = "CONTROLPLANE_"


class Settings(BaseSettings):
    """Every setting of the control plane; each maps to an environment variable ``CONTROLPLANE_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(Path(".data"), description="Where embedded PostgreSQL, OpenBao and run dirs live.")
    http_host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    http_port: int = Field(8080, ge=0, le=65535, description="Port the HTTP server binds to.")
    database_url: SecretStr | None = Field(
        None, description="PostgreSQL URL of the owner role (migrations); embedded pgserver when unset."
    )
    app_database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL of the application role; when unset, the owner URL with the user "
        "controlplane_app and no password (socket, trust, peer or .pgpass logins).",
    )
    inventory_dsn: SecretStr | None = Field(
        None, description="PostgreSQL URL `controlplane inventory` reads (default: the database URL); with "
        "--tenant it must be the owner role's."
    )
    vault_addr: str | None = Field(None, description="Vault/OpenBao address; embedded OpenBao when unset.")
    vault_token: SecretStr | None = Field(
        None, description="Vault token (with vault_addr, unless AppRole credentials are given)."
    )
    vault_role_id: str | None = Field(None, description="AppRole role id (instead of vault_token).")
    vault_role_id_file: Path | None = Field(None, description="File holding the AppRole role id.")
    vault_secret_id: SecretStr | None = Field(None, description="AppRole secret id (with vault_role_id).")
    vault_secret_id_file: Path | None = Field(None, description="File holding the AppRole secret id.")
    vault_kubernetes_role: str | None = Field(
        None, description="Vault role of the Kubernetes auth method: log in with the pod's service account "
        "token (instead of vault_token or AppRole)."
    )
    vault_kubernetes_token_file: Path = Field(
        Path("/var/run/secrets/kubernetes.io/serviceaccount/token"),
        description="The service account token file a Kubernetes auth login sends (re-read at every login).",
    )
    vault_kubernetes_mount: str = Field("kubernetes", description="Mount point of Vault's Kubernetes auth method.")
    vault_kv_mount: str = Field("secret", description="Mount point of the KV v2 secrets engine.")
    redis_url: SecretStr | None = Field(None, description="Redis URL (optional: cache, events, rate limits).")
    tf_binary: str | None = Field(None, description="tofu or terraform binary; found on PATH or in .tools/.")
    tf_state_database_url: SecretStr | None = Field(
        None, description="PostgreSQL URL of the Terraform state role (controlplane_tfstate) OpenTofu's pg "
        "backend uses; when unset, the owner URL's host with that role and no password."
    )
    run_dir: Path | None = Field(
        None, description="Where OpenTofu run directories are made; a private temporary directory (outside "
        "the data directory) when unset."
    )
    run_dir_retention: int = Field(
        0, ge=0, description="Seconds a finished run's directory is kept for debugging; 0 removes it at once."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    log_format: Literal["text", "json"] = Field(
        "text", description="Log format: text for humans, or json (one object per line, for a log collector)."
    )
    access_token_ttl: int = Field(900, ge=30, le=86400, description="Lifetime of JWT access tokens, in seconds.")
    refresh_token_ttl: int = Field(
        1_209_600, ge=300, le=31_536_000, description="Lifetime of refresh tokens, in seconds (rotated on use)."
    )
    login_limit_account: int = Field(
        5, ge=1, description="Failed logins per account and client before each further attempt of that client "
        "waits (1 s, doubling); other clients are not slowed."
    )
    login_limit_ip: int = Field(
        20, ge=1, description="Failed logins per client (any account) before its attempts wait (doubling); "
        "also reset requests per client per window."
    )
    login_window: int = Field(
        3600, ge=1, description="Seconds after which login failures are forgotten (at least twice "
        "login_backoff_max); the window of reset requests and of failed-login audit events."
    )
    login_backoff_base: float = Field(
        1.0, gt=0, le=60, description="First wait after the free login failures, in seconds; doubles each time."
    )
    login_backoff_max: int = Field(900, ge=1, le=86400, description="Longest wait between login attempts (s).")
    login_audit_limit: int = Field(
        30, ge=1, description="Failed-login audit events per client per window; beyond, one summary event."
    )
    trusted_proxies: str = Field(
        "", description="Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For "
        "names the client; empty: the peer address is the client."
    )
    password_reset_ttl: int = Field(1800, ge=60, le=86400, description="Lifetime of password reset tokens (s).")
    public_url: str = Field(
        "http://127.0.0.1:8080", description="Base URL users reach the control plane at (links in emails)."
    )
    smtp_host: str | None = Field(None, description="SMTP server for password reset mail; no mail when unset.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    smtp_from: str = Field("controlplane@localhost", description="Sender address of outgoing mail.")
    smtp_username: str | None = Field(None, description="SMTP user name (optional).")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (optional).")
    smtp_starttls: bool = Field(False, description="Use STARTTLS with the SMTP server.")
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=1_073_741_824, description="Largest request body accepted (bytes); larger ones get 413."
    )
    body_read_timeout: float = Field(
        30.0, gt=0, le=3600, description="Seconds a client may take to send a request body (408 after)."
    )
    header_read_timeout: float = Field(
        10.0, gt=0, le=3600, description="Seconds a client may take to send a request's headers (closed after)."
    )
    keep_alive_timeout: int = Field(5, ge=1, le=3600, description="Seconds an idle keep-alive connection stays open.")
    api_docs: bool = Field(True, description="Serve the interactive API docs at /docs (assets served locally).")
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token a scraper sends to read /metrics on the HTTP port; unset: nobody can."
    )
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Serve /metrics without a token on this port alone (bound to "
        "http_host) instead of the HTTP port; the way a `controlplane worker` process exposes its metrics."
    )
    readyz_details: bool = Field(
        False, description="Show component versions and errors in /readyz to anonymous callers (admins see them)."
    )

    default_tenant_quota_guests: int | None = Field(
        100, ge=0, le=1_000_000, description="Guests a new tenant may have unless an admin says otherwise."
    )
    default_tenant_quota_vcpus: int | None = Field(
        400, ge=0, le=1_000_000, description="vCPUs a new tenant may use unless an admin says otherwise."
    )
    default_tenant_quota_memory_mb: int | None = Field(
        1_048_576, ge=0, le=2**53, description="Memory (MiB) a new tenant may use unless an admin says otherwise."
    )
    default_tenant_quota_disk_gb: int | None = Field(
        20_480, ge=0, le=2**53, description="Disk (GiB) a new tenant may use unless an admin says otherwise."
    )

    @field_validator("default_tenant_quota_guests", "default_tenant_quota_vcpus", "default_tenant_quota_memory_mb",
                     "default_tenant_quota_disk_gb", mode="before")
    @classmethod
    def _unlimited(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "unlimited"):
            return None
        return value

    @field_validator("database_url", "app_database_url", "tf_state_database_url", "inventory_dsn")
    @classmethod
    def _postgres_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("postgresql", "postgres")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for entry in (part.strip() for part in value.split(",")):
            if entry:
                ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        """``trusted_proxies`` as a list of addresses or networks."""
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    def default_tenant_quota(self) -> dict[str, int | None]:
        """The quota a new tenant gets for every limit its creator does not name (None: no limit)."""
        return {"vcpus": self.default_tenant_quota_vcpus, "memory_mb": self.default_tenant_quota_memory_mb,
                "disk_gb": self.default_tenant_quota_disk_gb, "guests": self.default_tenant_quota_guests}

    @field_validator("vault_addr")
    @classmethod
    def _http_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    def vault_approle(self) -> tuple[str, str] | None:
        """The AppRole role id and secret id (from the settings or their files), or None when not configured."""
        role = self.vault_role_id or _read_file(self.vault_role_id_file)
        secret = (self.vault_secret_id.get_secret_value() if self.vault_secret_id
                  else _read_file(self.vault_secret_id_file))
        return (role, secret) if role and secret else None

    @property
    def embedded_database(self) -> bool:
        """True when the control plane runs its own PostgreSQL (no database URL configured)."""
        return self.database_url is None

    @property
    def embedded_vault(self) -> bool:
        """True when the control plane runs its own OpenBao (no Vault address configured)."""
        return self.vault_addr is None


def _read_file(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc


def env_name(field: str) -> str:
    """The environment variable that sets the named settings field."""
    return f"{ENV_PREFIX}{field.upper()}"


def get_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; a bad value raises ConfigError naming its variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{env_name(str(err['loc'][0]))}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
    return settings


def require_vault_login(settings: Settings) -> None:
    """Fail with a ConfigError naming the variables when an external Vault is set without a way to log in.

    Checked where Vault is used (``up``, ``api``, ``worker``, backups), not for every command: ``db
    upgrade`` and ``user create`` need only the database, so a migration job needs no Vault credentials.
    """
    if (settings.vault_addr and settings.vault_token is None and settings.vault_kubernetes_role is None
            and settings.vault_approle() is None):
        raise ConfigError(
            f"{env_name('vault_token')}, {env_name('vault_role_id')} and {env_name('vault_secret_id')} "
            f"(or their _FILE settings) or {env_name('vault_kubernetes_role')} are required when "
            f"{env_name('vault_addr')} is set"
        )
