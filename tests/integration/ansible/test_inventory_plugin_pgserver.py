"""The ``controlplane`` inventory plugin through the real ``ansible-inventory``, against a real PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

from controlplane.db.embedded import DatabaseUrls
from tests.integration.ansible.runner import REPO, ansible_env, groups_of, inventory_list, plain, run
from tests.integration.ansible.seed import GuestRow, seed

GUESTS = [
    GuestRow("web-1", vmid=100, ipv4="10.0.0.11", tags=["web", "prod"], labels={"tier": "web"}),
    GuestRow("cache-1", kind="container", vmid=101, node="pve2", power="stopped"),
    GuestRow("erp-1", tenant="globex", project="erp", vmid=102, ipv4="10.0.1.5"),
    GuestRow("gone-1", vmid=103, deleted=True),
]


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_list_has_every_guest_and_node_with_groups_and_hostvars(database: DatabaseUrls) -> None:
    seed(database.owner, GUESTS)
    listing = inventory_list(ansible_env(CONTROLPLANE_DATABASE_URL=database.owner))
    hostvars = plain(listing["_meta"]["hostvars"])
    assert set(hostvars) == {"web-1.shop.acme", "cache-1.shop.acme", "erp-1.erp.globex", "pve1", "pve2"}
    web = hostvars["web-1.shop.acme"]
    assert web["ansible_host"] == "10.0.0.11"
    assert {k: web[k] for k in ("vmid", "node", "cluster", "tenant", "project", "kind", "power_state")} == {
        "vmid": 100, "node": "pve1", "cluster": "demo", "tenant": "acme", "project": "shop", "kind": "vm",
        "power_state": "running",
    }
    assert web["guest_tags"] == ["web", "prod"] and web["labels"] == {"tier": "web"}
    assert "spec" not in web  # bulky: only with want_spec
    assert (web["ostype"], web["image"]) == ("l26", "debian-12")  # the Proxmox OS type, and the image
    assert (hostvars["cache-1.shop.acme"]["ostype"], hostvars["cache-1.shop.acme"]["image"]) == ("debian", "debian-12")
    assert "ansible_host" not in hostvars["cache-1.shop.acme"]  # no observed address yet
    groups = groups_of(listing)
    assert groups["proxmox_nodes"] == {"pve1", "pve2"}
    assert groups["cluster_demo"] == set(hostvars)
    assert groups["node_pve2"] == {"cache-1.shop.acme"}
    assert groups["tenant_acme"] == {"web-1.shop.acme", "cache-1.shop.acme"}
    assert groups["project_globex_erp"] == {"erp-1.erp.globex"}
    assert groups["tag_web"] == groups["tag_prod"] == groups["label_tier_web"] == {"web-1.shop.acme"}
    assert groups["virtual_machines"] == {"web-1.shop.acme", "erp-1.erp.globex"}
    assert groups["containers"] == {"cache-1.shop.acme"}
    assert groups["power_stopped"] == {"cache-1.shop.acme"}
    assert not any("gone" in host for host in hostvars)


def test_tenant_option_shows_only_that_tenant_through_row_level_security(
    database: DatabaseUrls, tmp_path: Path
) -> None:
    seed(database.owner, GUESTS)
    inventory = _write(tmp_path, "acme.controlplane.yml", "plugin: controlplane\ntenant: acme\nnodes: false\n")
    env = ansible_env(CONTROLPLANE_INVENTORY_DSN=database.owner)
    hosts = set(inventory_list(env, inventory)["_meta"]["hostvars"])
    assert hosts == {"web-1.shop.acme", "cache-1.shop.acme"}
    by_env = _write(tmp_path, "env.controlplane.yml", "plugin: controlplane\nnodes: false\n")
    other = set(inventory_list(env | {"CONTROLPLANE_INVENTORY_TENANT": "globex"}, by_env)["_meta"]["hostvars"])
    assert other == {"erp-1.erp.globex"}
    unknown = _write(tmp_path, "nobody.controlplane.yml", "plugin: controlplane\ntenant: nobody\n")
    failed = run("ansible-inventory", "-i", unknown, "--list", env=env | {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"},
                 check=False)
    assert failed.returncode != 0 and "no tenant named 'nobody'" in failed.stderr
    assert database.owner not in failed.stderr + failed.stdout  # the DSN is never printed


def test_an_injection_attempt_in_a_tag_is_never_templated(database: DatabaseUrls, tmp_path: Path) -> None:
    marker = Path(f"/tmp/pwned-{uuid.uuid4().hex}")
    attack = "{{ lookup('pipe', 'touch " + str(marker) + "') }}"
    seed(database.owner, [GuestRow("web-1", tags=[attack], labels={"note": attack}, ipv4="10.0.0.11")])
    env = ansible_env(CONTROLPLANE_DATABASE_URL=database.owner)
    inventory = _write(tmp_path, "inj.controlplane.yml", (
        "plugin: controlplane\ncompose:\n  first_tag: guest_tags[0]\n"
        "keyed_groups:\n  - key: guest_tags\n    prefix: kt\n"
        f"cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: {tmp_path / 'cache'}\n"
    ))
    listing = inventory_list(env, inventory)
    web = listing["_meta"]["hostvars"]["web-1.shop.acme"]
    assert plain(web["guest_tags"]) == [attack] and plain(web["first_tag"]) == attack
    assert plain(web["labels"]) == {"note": attack}
    # A play that uses the variables renders them literally, without running the lookup; the second time
    # the values come from the inventory cache, and are no more trusted for that.
    for fresh in (["--flush-cache"], []):
        shown = run("ansible", *fresh, "-i", inventory, "web-1.shop.acme", "-m", "ansible.builtin.debug",
                    "-a", '{"msg": "{{ guest_tags[0] }} | {{ first_tag }} | {{ labels.note }}"}', env=env)
        assert shown.stdout.count("lookup('pipe', 'touch") == 3, shown.stdout
    assert any((tmp_path / "cache").iterdir())
    assert not marker.exists()


def test_constructed_features_and_filters(database: DatabaseUrls, tmp_path: Path) -> None:
    seed(database.owner, GUESTS)
    inventory = _write(tmp_path, "c.controlplane.yml", """\
plugin: controlplane
hostnames: short
vars_prefix: cp_
nodes: false
strict: true
filters:
  power_states: [running]
  projects: [acme/shop, erp]
compose:
  ansible_user: "'debian'"
  big: cp_vmid > 100
groups:
  web_tier: "'web' in cp_guest_tags"
keyed_groups:
  - key: cp_tenant
    prefix: owner
""")
    listing = inventory_list(ansible_env(CONTROLPLANE_DATABASE_URL=database.owner), inventory)
    hostvars = plain(listing["_meta"]["hostvars"])
    assert set(hostvars) == {"web-1", "erp-1"}  # cache-1 is stopped, the nodes are left out
    assert hostvars["web-1"]["ansible_user"] == "debian" and hostvars["web-1"]["big"] is False
    assert hostvars["erp-1"]["big"] is True and hostvars["erp-1"]["cp_project"] == "erp"
    groups = groups_of(listing)
    assert groups["web_tier"] == {"web-1"}
    assert groups["owner_acme"] == {"web-1"} and groups["owner_globex"] == {"erp-1"}


def test_strict_fails_on_a_broken_compose_expression(database: DatabaseUrls, tmp_path: Path) -> None:
    seed(database.owner, GUESTS[:1])
    broken = "compose:\n  x: no_such_var.y\n"
    inventory = _write(tmp_path, "s.controlplane.yml", "plugin: controlplane\nstrict: true\n" + broken)
    env = ansible_env(CONTROLPLANE_DATABASE_URL=database.owner, ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
    assert run("ansible-inventory", "-i", inventory, "--list", env=env, check=False).returncode != 0
    relaxed = _write(tmp_path, "r.controlplane.yml", "plugin: controlplane\nstrict: false\n" + broken)
    assert "web-1.shop.acme" in inventory_list(env, relaxed)["_meta"]["hostvars"]


def test_only_controlplane_named_files_are_accepted(database: DatabaseUrls, tmp_path: Path) -> None:
    seed(database.owner, GUESTS[:1])
    other = _write(tmp_path, "hosts.yml", "plugin: controlplane\n")
    env = ansible_env(CONTROLPLANE_DATABASE_URL=database.owner, ANSIBLE_INVENTORY_ENABLED="controlplane",
                      ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
    proc = run("ansible-inventory", "-i", other, "--list", env=env, check=False)
    assert proc.returncode != 0 and "web-1" not in proc.stdout


def test_cache_is_used_until_flush_cache(database: DatabaseUrls, tmp_path: Path) -> None:
    seed(database.owner, GUESTS[:1])
    inventory = _write(tmp_path, "cached.controlplane.yml", (
        "plugin: controlplane\ncache: true\ncache_plugin: ansible.builtin.jsonfile\n"
        f"cache_connection: {tmp_path / 'cache'}\ncache_timeout: 3600\n"
    ))
    env = ansible_env(CONTROLPLANE_DATABASE_URL=database.owner)
    assert "web-1.shop.acme" in inventory_list(env, inventory)["_meta"]["hostvars"]
    seed_more = [GuestRow("late-1", tenant="initech", project="ops", vmid=200)]
    seed(database.owner, seed_more, nodes=())
    assert "late-1.ops.initech" not in inventory_list(env, inventory)["_meta"]["hostvars"]
    assert "late-1.ops.initech" in inventory_list(env, inventory, "--flush-cache")["_meta"]["hostvars"]
    cached = (tmp_path / "cache").read_text() if (tmp_path / "cache").is_file() else "".join(
        p.read_text() for p in (tmp_path / "cache").iterdir())
    assert "late-1" in cached and database.owner not in cached


def test_repository_inventory_file_is_found_by_the_shipped_ansible_cfg(database: DatabaseUrls) -> None:
    seed(database.owner, GUESTS[:1])
    env = ansible_env(CONTROLPLANE_DATABASE_URL=database.owner)
    env.pop("ANSIBLE_CONFIG")  # found as ./ansible.cfg in the working directory, inventory from its defaults
    graph = run("ansible-inventory", "--graph", env=env, cwd=REPO).stdout
    assert "@proxmox_nodes:" in graph and "web-1.shop.acme" in graph


def test_short_names_fall_back_to_qualified_on_collision(database: DatabaseUrls, tmp_path: Path) -> None:
    seed(database.owner, [GuestRow("app", vmid=1), GuestRow("app", tenant="globex", project="erp", vmid=2),
                          GuestRow("solo", vmid=3)])
    inventory = _write(tmp_path, "n.controlplane.yml", "plugin: controlplane\nhostnames: short\n")
    hosts = set(inventory_list(ansible_env(CONTROLPLANE_DATABASE_URL=database.owner), inventory)["_meta"]["hostvars"])
    assert hosts == {"app.shop.acme", "app.erp.globex", "solo", "pve1", "pve2"}
