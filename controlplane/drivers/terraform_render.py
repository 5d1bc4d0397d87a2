"""The root module the reconciler writes for one managed object: ``main.tf.json`` with the provider
requirement, an empty provider block (endpoint and token come from the environment), the ``pg`` backend
(connection from the environment), one call of ``terraform/modules/proxmox-{vm,lxc}``, its outputs, and
optionally an ``import`` block to adopt a guest that exists without state.

Strings in ``*.tf.json`` are templates (``${...}`` and ``%{...}`` are evaluated), so no value that came from
a user is ever written there: the root module declares one ``variable`` per module input and passes
``var.<name>`` on, and the values go to ``guest.auto.tfvars.json``, whose strings OpenTofu takes literally.
The few strings of ours that the root module does hold (the module path, the import id) are escaped.
A destroy needs no values at all: its root module has no module call, so the plan removes what the
workspace's state holds, however broken the object's spec has become.
"""

from __future__ import annotations

import json
import os
import re
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
VARIABLES_FILE = "guest.auto.tfvars.json"
VARIABLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def escape_template(text: str) -> str:
    """``text`` as a literal inside a ``*.tf.json`` string: ``${`` and ``%{`` become ``$${`` and ``%%{``."""
    return text.replace("${", "$${").replace("%{", "%%{")


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
        for name in self.variables:
            if not VARIABLE_NAME.fullmatch(name):
                raise InvalidInput(f"module variable name {name!r} must match {VARIABLE_NAME.pattern}",
                                   field="variables")

    @property
    def resource_address(self) -> str:
        """The provider resource's address in the root module."""
        return f"module.{MODULE_NAME}.{KINDS[self.kind].resource}.this"

    @property
    def import_id(self) -> str:
        """The provider's import id, ``node/vmid``."""
        return f"{self.variables['node_name']}/{int(self.variables['vm_id'])}"


def state_only_module(*, provider_version: str = PROVIDER_VERSION) -> dict[str, Any]:
    """A root module with the provider and the backend but no guest: planning it (or a destroy of it)
    removes whatever the workspace's state holds, using only what the state recorded."""
    return {
        "terraform": {
            "required_providers": {"proxmox": {"source": PROVIDER_SOURCE, "version": provider_version}},
            "backend": {"pg": {}},
        },
        "provider": {"proxmox": {}},
    }


def root_module(guest: GuestModule, *, modules_dir: Path = MODULES_DIR, provider_version: str = PROVIDER_VERSION,
                adopt: bool = False) -> dict[str, Any]:
    """The ``main.tf.json`` document for ``guest``, which refers to its values only as ``var.<name>``
    (see :func:`variables_file`); with ``adopt`` it imports the existing guest first."""
    source = escape_template(str(modules_dir / KINDS[guest.kind].module))
    document = state_only_module(provider_version=provider_version)
    document.update({
        "variable": {name: {} for name in guest.variables},
        "module": {MODULE_NAME: {"source": source, **{name: f"${{var.{name}}}" for name in guest.variables}}},
        "output": {name: {"value": f"${{module.{MODULE_NAME}.{name}}}"} for name in OUTPUTS},
    })
    if adopt:
        document["import"] = [{"to": guest.resource_address, "id": escape_template(guest.import_id)}]
    return document


def variables_file(guest: GuestModule) -> dict[str, Any]:
    """The ``guest.auto.tfvars.json`` document: the module's values, taken literally by OpenTofu."""
    return dict(guest.variables)


@contextmanager
def run_directory(document: dict[str, Any], variables: dict[str, Any] | None = None, *,
                  parent: Path | None = None, keep: bool = False) -> Iterator[Path]:
    """A fresh private directory holding ``main.tf.json`` (and the variable values, when given) and
    nothing else; removed with everything in it afterwards unless ``keep`` (debugging)."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    workdir = Path(tempfile.mkdtemp(prefix="tf-run-", dir=parent))
    try:
        os.chmod(workdir, 0o700)
        (workdir / "main.tf.json").write_text(json.dumps(document, indent=2, sort_keys=True))
        if variables is not None:
            (workdir / VARIABLES_FILE).write_text(json.dumps(variables, indent=2, sort_keys=True))
        yield workdir
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
