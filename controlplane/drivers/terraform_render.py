"""The root module the reconciler writes for one managed object: ``main.tf.json`` with the provider
requirement, an empty provider block (endpoint and token come from the environment), the ``pg`` backend
(connection from the environment), one call of ``terraform/modules/proxmox-{vm,lxc}`` with the object's
variables, its outputs, and optionally an ``import`` block to adopt a guest that exists without state.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlplane.errors import InvalidInput
from controlplane.util.binaries import PROJECT_ROOT

MODULES_DIR = PROJECT_ROOT / "terraform" / "modules"
PROVIDER_SOURCE = "bpg/proxmox"
PROVIDER_VERSION = "0.106.0"
MODULE_NAME = "guest"
OUTPUTS = ("vm_id", "node_name", "mac_address", "mac_addresses", "ipv4_address")


@dataclass(frozen=True)
class GuestKind:
    """Which module a kind of managed object uses, and the provider resource inside it."""

    module: str
    resource: str


KINDS = {
    "VirtualMachine": GuestKind("proxmox-vm", "proxmox_virtual_environment_vm"),
    "Container": GuestKind("proxmox-lxc", "proxmox_virtual_environment_container"),
}


@dataclass(frozen=True)
class GuestModule:
    """One managed guest as module input: ``kind`` (VirtualMachine|Container) and the module's variables
    (``node_name`` and ``vm_id`` are required by both modules)."""

    kind: str
    variables: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}", field="kind")
        for name in ("node_name", "vm_id"):
            if self.variables.get(name) in (None, ""):
                raise InvalidInput(f"{name} is required", field=name)

    @property
    def resource_address(self) -> str:
        """The provider resource's address in the root module."""
        return f"module.{MODULE_NAME}.{KINDS[self.kind].resource}.this"

    @property
    def import_id(self) -> str:
        """The provider's import id, ``node/vmid``."""
        return f"{self.variables['node_name']}/{int(self.variables['vm_id'])}"


def root_module(guest: GuestModule, *, modules_dir: Path = MODULES_DIR, provider_version: str = PROVIDER_VERSION,
                adopt: bool = False) -> dict[str, Any]:
    """The ``main.tf.json`` document for ``guest``; with ``adopt`` it imports the existing guest first."""
    document: dict[str, Any] = {
        "terraform": {
            "required_providers": {"proxmox": {"source": PROVIDER_SOURCE, "version": provider_version}},
            "backend": {"pg": {}},
        },
        "provider": {"proxmox": {}},
        "module": {MODULE_NAME: {"source": str(modules_dir / KINDS[guest.kind].module), **guest.variables}},
        "output": {name: {"value": f"${{module.{MODULE_NAME}.{name}}}"} for name in OUTPUTS},
    }
    if adopt:
        document["import"] = [{"to": guest.resource_address, "id": guest.import_id}]
    return document


@contextmanager
def run_directory(document: dict[str, Any], *, parent: Path | None = None) -> Iterator[Path]:
    """A fresh private directory holding ``main.tf.json``; removed with everything in it afterwards."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tf-run-", dir=parent))
    try:
        os.chmod(workdir, 0o700)
        (workdir / "main.tf.json").write_text(json.dumps(document, indent=2, sort_keys=True))
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
