"""Finding the inventory's database, and the pure parts of the inventory's shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.config import get_settings
from controlplane.errors import ConfigError
from controlplane.services.inventory import Host, Inventory, safe_group_name, script_json, user_vars
from controlplane.services.inventory_source import resolve_source


def _pid_file(data_dir: Path, socket_dir: str) -> None:
    (data_dir / "postgres").mkdir(parents=True)
    (data_dir / "postgres" / "postmaster.pid").write_text(f"4242\n{data_dir}\n1700000000\n5432\n{socket_dir}\n\n")


def test_explicit_dsn_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTROLPLANE_DATABASE_URL", "postgresql://env@/x")
    source = resolve_source(get_settings(data_dir=tmp_path), dsn="postgresql://given@/x")
    assert source.url == "postgresql://given@/x" and "given" not in repr(source)


def test_a_tenant_is_entered_through_the_owner_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTROLPLANE_DATABASE_URL", "postgresql://owner@/x")
    assert resolve_source(get_settings(data_dir=tmp_path)).url == "postgresql://owner@/x"
    as_tenant = resolve_source(get_settings(data_dir=tmp_path), tenant=True)
    assert as_tenant.url == "postgresql://owner@/x" and as_tenant.set_app_role
    monkeypatch.setenv("CONTROLPLANE_APP_DATABASE_URL", "postgresql://app@/x")  # it cannot sign the claim
    as_tenant = resolve_source(get_settings(data_dir=tmp_path), tenant=True)
    assert as_tenant.url == "postgresql://owner@/x" and as_tenant.set_app_role


def test_embedded_server_is_found_through_postmaster_pid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTROLPLANE_DATABASE_URL", raising=False)
    _pid_file(tmp_path, "/run/pg-sock")
    settings = get_settings(data_dir=tmp_path)
    assert resolve_source(settings).url == "postgresql://controlplane_owner@/controlplane?host=/run/pg-sock"
    as_tenant = resolve_source(settings, tenant=True)
    assert as_tenant.url.startswith("postgresql://controlplane_owner@/controlplane") and as_tenant.set_app_role


def test_no_database_at_all_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTROLPLANE_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="controlplane up"):
        resolve_source(get_settings(data_dir=tmp_path))


def test_connection_variables_cannot_come_from_a_guest_spec() -> None:
    spec = {"configure": {"vars": {"motd": "hi", "ansible_ssh_common_args": "-o ProxyCommand=evil",
                                   "ansible_connection": "local"}}}
    assert user_vars(spec) == {"motd": "hi"}
    assert user_vars({}) == {} and user_vars({"configure": {"vars": ["not", "a", "dict"]}}) == {}


@pytest.mark.parametrize("name", ["tag_{{ lookup('pipe', 'id') }}", "project_acme_web-shop", "1abc", "tag_é-ü"])
def test_group_names_follow_ansible_rules(name: str) -> None:
    from ansible.inventory.group import to_safe_group_name

    assert safe_group_name(name) == to_safe_group_name(name, force=True, silent=True)
    assert safe_group_name("project_acme_web-shop") == "project_acme_web_shop"


def test_script_json_has_ansible_inventory_shape() -> None:
    inv = Inventory([Host("a", {"x": 1}, ["g1", "g2"]), Host("b", {}, [])])
    assert script_json(inv) == {
        "_meta": {"hostvars": {"a": {"x": 1}, "b": {}}},
        "all": {"children": ["ungrouped", "g1", "g2"]},
        "g1": {"hosts": ["a"]}, "g2": {"hosts": ["a"]}, "ungrouped": {"hosts": ["b"]},
    }
