"""Settings: read from CONTROLPLANE_* variables, errors name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.config import get_settings, require_vault_login
from controlplane.errors import ConfigError


def test_defaults_match_the_documented_interface(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DATA_DIR", "HTTP_HOST", "HTTP_PORT", "DATABASE_URL", "VAULT_ADDR"):
        monkeypatch.delenv(f"CONTROLPLANE_{name}", raising=False)
    settings = get_settings()
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.data_dir == Path(".data")
    assert settings.embedded_database and settings.embedded_vault


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTROLPLANE_HTTP_PORT", "9999")
    monkeypatch.setenv("CONTROLPLANE_DATABASE_URL", "postgresql://u@db/x")
    settings = get_settings()
    assert settings.http_port == 9999
    assert not settings.embedded_database


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONTROLPLANE_HTTP_HOST", raising=False)
    (tmp_path / ".env").write_text("CONTROLPLANE_HTTP_HOST=127.0.0.2\n")
    assert get_settings().http_host == "127.0.0.2"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CONTROLPLANE_HTTP_PORT", "eighty"), ("CONTROLPLANE_HTTP_PORT", "70000"),
     ("CONTROLPLANE_DATABASE_URL", "mysql://x"), ("CONTROLPLANE_VAULT_ADDR", "bao.local:8200")],
)
def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("CONTROLPLANE_VAULT_TOKEN", "t")
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert variable in info.value.message


def test_vault_address_needs_a_login_where_vault_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTROLPLANE_VAULT_ADDR", "http://127.0.0.1:8200")
    monkeypatch.delenv("CONTROLPLANE_VAULT_TOKEN", raising=False)
    settings = get_settings()  # enough for `db upgrade` and `user create`, which need no Vault
    with pytest.raises(ConfigError, match="CONTROLPLANE_VAULT_TOKEN"):
        require_vault_login(settings)
    monkeypatch.setenv("CONTROLPLANE_VAULT_TOKEN", "t")
    require_vault_login(get_settings())
