"""Ansible inventory plugin: every guest and Proxmox node the control plane manages, read from its database."""

from __future__ import annotations

DOCUMENTATION = r"""
name: controlplane
short_description: Guests and Proxmox nodes managed by controlplane, read from its PostgreSQL database
description:
  - Reads VMs, containers and Proxmox nodes straight from the controlplane database in a fixed number of
    queries whatever the number of hosts, and groups them by cluster, node, tenant, project, tag, label,
    kind and power state.
  - The database is the C(dsn) option, else C(CONTROLPLANE_DATABASE_URL) (or C(.env)), else the embedded
    PostgreSQL of a running C(controlplane up) in C(CONTROLPLANE_DATA_DIR).
  - Every value read from the database is marked unsafe, so a VM name, tag or label is never templated.
  - The inventory file must be named C(controlplane.yml) or end in C(.controlplane.yml).
  - "Installed as the collection C(controlplane.controlplane) it is C(plugin: controlplane.controlplane.inventory),
    usable from any directory; from the repository (its C(ansible.cfg)) it is also C(plugin: controlplane)."
  - Proxmox nodes are hosts too (group C(proxmox_nodes)), so the group C(all) includes them; set O(nodes)
    to C(false) to leave them out.
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; makes the file an inventory of this plugin.
    required: true
    choices: [controlplane, controlplane.controlplane.inventory]
    type: str
  dsn:
    description:
      - PostgreSQL URL to read from. With O(tenant) it must be the owner role's URL (it signs the tenant
        claim, then acts as the application role).
      - It may hold a password; it is never printed.
    type: str
    env:
      - name: CONTROLPLANE_INVENTORY_DSN
  tenant:
    description:
      - Show only this tenant's hosts (name or id). The connection acts as the application role in that
        tenant, so PostgreSQL Row-Level Security decides what is visible.
    type: str
    env:
      - name: CONTROLPLANE_INVENTORY_TENANT
  hostnames:
    description:
      - C(qualified) names guests C(name.project.tenant); C(short) uses the guest name alone unless two
        hosts share it.
    type: str
    default: qualified
    choices: [qualified, short]
  vars_prefix:
    description: Prefix for the host variables this plugin sets (not for C(ansible_host)).
    type: str
    default: ''
  want_spec:
    description:
      - Also give every guest its whole desired state as the variable C(spec) (disks, network, SSH keys,
        configure, ...). It is bulky, so it is off by default; the default variables are C(ansible_host),
        C(id), C(kind), C(guest_name), C(vmid), C(node), C(cluster), C(tenant), C(project), C(guest_tags),
        C(labels), C(ostype), C(image), C(power_state) and the guest's C(spec.configure.vars).
    type: bool
    default: false
  nodes:
    description:
      - Include the Proxmox nodes as hosts (group C(proxmox_nodes)). They are then members of C(all) as
        well, so C(ansible all -m ping) reaches the hypervisors too; C(false) leaves them out.
    type: bool
    default: true
  filters:
    description:
      - Include only matching guests; each key takes a list, an empty or missing list matches everything.
      - C(tenants), C(projects) (C(name) or C(tenant/name)), C(clusters), C(kinds) (C(vm), C(container)),
        C(power_states) (e.g. C(running)).
    type: dict
    default: {}
"""

EXAMPLES = r"""
# controlplane.yml
plugin: controlplane.controlplane.inventory
nodes: false        # guests only: `all` is then the guests
filters:
  power_states: [running]
keyed_groups:
  - key: labels.tier | default('none')
    prefix: tier
compose:
  ansible_user: "'debian'"
"""

import hashlib  # noqa: E402

from ansible.errors import AnsibleError, AnsibleParserError  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable  # noqa: E402
from ansible.utils.unsafe_proxy import wrap_var  # noqa: E402

try:  # ansible-core >= 2.19: data is never a template unless trusted, so plain values are already safe
    from ansible._internal._datatag._tags import TrustedAsTemplate  # noqa: F401

    def _unsafe(value):  # type: ignore[no-untyped-def]
        return value
except ImportError:  # older ansible-core templates any string it is not told is unsafe
    _unsafe = wrap_var

FILTER_KEYS = ("tenants", "projects", "clusters", "kinds", "power_states")


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """The ``controlplane`` inventory: one read of the database, hosts and groups, then constructed features."""

    NAME = "controlplane"
    COLLECTION_NAME = "controlplane.controlplane.inventory"

    def _read_config_data(self, path):  # type: ignore[no-untyped-def]
        """Accept both names of this one file: ``controlplane`` (the repository's ``inventory_plugins/``) and
        the collection's ``controlplane.controlplane.inventory``, whichever of the two loaded it."""
        names = list(getattr(self, "_redirected_names", None) or [self.NAME])
        self._redirected_names = names + [n for n in (self.NAME, self.COLLECTION_NAME) if n not in names]
        return super()._read_config_data(path)

    def verify_file(self, path: str) -> bool:
        """Accept ``controlplane.yml`` / ``*.controlplane.yml`` (and ``.yaml``) files that exist."""
        if not super().verify_file(path):
            return False
        return path.endswith(("/controlplane.yml", "/controlplane.yaml", ".controlplane.yml", ".controlplane.yaml")) \
            or path in ("controlplane.yml", "controlplane.yaml")

    def parse(self, inventory, loader, path, cache=True):  # type: ignore[no-untyped-def]
        """Read the hosts (from the cache when allowed and present) and add them with their groups."""
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        key = self._cache_key(path)
        use_cache = self.get_option("cache") and cache
        data = None
        if use_cache:
            try:
                data = self._cache[key]
            except KeyError:
                data = None
        if data is None:
            data = self._load()
            if self.get_option("cache"):
                self._cache[key] = data
        self._populate(data)

    def _cache_key(self, path: str) -> str:
        """A key that changes with everything that changes the result (the DSN only as a digest)."""
        parts = [self.get_option(name) for name in ("dsn", "tenant", "hostnames", "vars_prefix", "nodes",
                                                    "want_spec")]
        parts.append(sorted((self.get_option("filters") or {}).items()))
        digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:12]
        return f"{self.get_cache_key(path)}_{digest}"

    def _filters(self):  # type: ignore[no-untyped-def]
        from controlplane.services.inventory import InventoryFilter

        raw = self.get_option("filters") or {}
        unknown = set(raw) - set(FILTER_KEYS)
        if unknown:
            raise AnsibleParserError(f"unknown filters {sorted(unknown)}; known: {list(FILTER_KEYS)}")

        def values(name: str) -> tuple[str, ...]:
            value = raw.get(name) or []
            return tuple(str(v) for v in ([value] if isinstance(value, str) else value))

        return InventoryFilter(**{k: values(k) for k in FILTER_KEYS}, include_nodes=self.get_option("nodes"))

    def _load(self) -> list[dict]:
        try:
            from controlplane.config import get_settings
            from controlplane.errors import ControlPlaneError
            from controlplane.services.inventory import load_inventory
            from controlplane.services.inventory_source import resolve_source
        except ImportError as exc:
            raise AnsibleError(f"the controlplane package is not importable by this Ansible: {exc}") from exc
        tenant = self.get_option("tenant")
        try:
            source = resolve_source(get_settings(), dsn=self.get_option("dsn"), tenant=bool(tenant))
            result = load_inventory(
                source, tenant=tenant, filters=self._filters(),
                hostnames=self.get_option("hostnames"), vars_prefix=self.get_option("vars_prefix"),
                want_spec=self.get_option("want_spec"),
            )
        except ControlPlaneError as exc:
            raise AnsibleError(f"controlplane inventory: {exc.message}") from None  # may quote the DSN
        self.display.vv(f"controlplane inventory: {len(result.hosts)} hosts in {result.queries} SQL queries")
        return result.to_data()

    def _populate(self, data: list[dict]) -> None:
        """Add the hosts, their groups and variables, then the constructed features (when configured).

        The per-host work is Ansible's: ``set_variable`` through ansible-core 2.19's inventory wrapper visits
        every value to tag its origin and trust, and checks every name, once per variable. Our values are plain
        JSON from the database (already untrusted, so never templated) under names we chose, so each host's
        variables are set in one step on the host itself, and each group is added once.
        """
        strict = self.get_option("strict")
        compose, groups, keyed = (self.get_option(n) for n in ("compose", "groups", "keyed_groups"))
        inventory = getattr(self.inventory, "__wrapped__", self.inventory)  # the InventoryData behind the wrapper
        known: set[str] = set()
        for entry in data:
            name = inventory.add_host(entry["name"])
            for group in entry["groups"]:
                if group not in known:
                    inventory.add_group(group)
                    known.add(group)
                inventory.add_child(group, name)
            host = inventory.get_host(name)
            host.vars.update({var: _unsafe(value) for var, value in entry["vars"].items()})
            if compose or groups or keyed:
                hostvars = host.get_vars()
                self._set_composite_vars(compose, hostvars, name, strict=strict)
                self._add_host_to_composed_groups(groups, hostvars, name, strict=strict)
                self._add_host_to_keyed_groups(keyed, hostvars, name, strict=strict)
