"""The inventory's bulky ``spec`` variable is opt-in: by default a host carries what a play needs to reach
and sort it and the guest's configure vars; ``want_spec: true`` (plugin) or ``--want-spec`` (CLI) adds the
whole spec. Through the real ``ansible-inventory`` and ``controlplane inventory``, against a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from controlplane.db.embedded import DatabaseUrls
from tests.integration.ansible.runner import ansible_env, inventory_list, plain, run
from tests.integration.ansible.seed import GuestRow, seed

WEB = GuestRow("web-1", vmid=100, ipv4="10.0.0.11", tags=["web"], labels={"tier": "web"},
               configure={"playbook": "site.yml", "vars": {"motd": "hello", "ansible_user": "evil"}})
DEFAULT_VARS = {"ansible_host", "id", "kind", "guest_name", "vmid", "node", "cluster", "tenant", "project",
                "guest_tags", "labels", "ostype", "image", "power_state", "motd"}


def test_spec_is_a_variable_only_when_asked_for(database: DatabaseUrls, tmp_path: Path) -> None:
    seed(database.owner, [WEB])
    env = ansible_env(CONTROLPLANE_DATABASE_URL=database.owner)
    web = plain(inventory_list(env)["_meta"]["hostvars"])["web-1.shop.acme"]
    assert set(web) == DEFAULT_VARS, set(web) ^ DEFAULT_VARS
    assert (web["ansible_host"], web["vmid"], web["power_state"], web["motd"]) == ("10.0.0.11", 100, "running", "hello")

    full = tmp_path / "full.controlplane.yml"
    full.write_text("plugin: controlplane\nwant_spec: true\n")
    with_spec = plain(inventory_list(env, str(full))["_meta"]["hostvars"])["web-1.shop.acme"]
    assert set(with_spec) == DEFAULT_VARS | {"spec"}
    assert with_spec["spec"]["configure"]["vars"]["motd"] == "hello" and with_spec["spec"]["cores"]

    cli = json.loads(run("controlplane", "inventory", "--list", "--want-spec", env=env).stdout)
    assert cli["_meta"]["hostvars"]["web-1.shop.acme"] == with_spec
    assert "spec" not in json.loads(run("controlplane", "inventory", "--host", "web-1.shop.acme", env=env).stdout)
