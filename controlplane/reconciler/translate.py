"""From a managed object's spec (plus its recorded vmid and node) to the variables of our Terraform modules
(``terraform/modules/proxmox-vm`` and ``proxmox-lxc``).

Images: a container's ``image`` is an OS template volume (``local:vztmpl/...``) or a short name from
:data:`CONTAINER_IMAGES`; a VM's ``image`` is ``template:<vmid>`` (clone that template) or a name, in which
case the VM gets empty disks and the name goes to its description. Power after creation is not
Terraform's: ``started`` only says whether a new guest starts.
"""

from __future__ import annotations

from typing import Any

from controlplane.errors import InvalidInput

from .store import ManagedObject

CONTAINER_IMAGES = {
    "debian-12": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
    "ubuntu-24.04": "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
    "alpine-3.20": "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz",
}
OS_TYPES = ("alpine", "archlinux", "centos", "debian", "devuan", "fedora", "gentoo", "nixos", "opensuse", "ubuntu")


def _networks(spec: dict[str, Any]) -> list[dict[str, Any]]:
    nets = []
    for nic in spec.get("network") or [{}]:
        net: dict[str, Any] = {"bridge": nic.get("bridge", "vmbr0"), "ipv4": nic.get("ipv4", "dhcp")}
        if nic.get("vlan") is not None:
            net["vlan_id"] = nic["vlan"]
        if nic.get("gateway"):
            net["gateway"] = nic["gateway"]
        nets.append(net)
    return nets


MIN_MEMORY_MB = 64  # the provider refuses less (and Proxmox cannot boot a guest with it)


def _common(obj: ManagedObject, vmid: int, node: str) -> dict[str, Any]:
    spec = obj.spec
    if int(spec.get("memory_mb", 1024)) < MIN_MEMORY_MB:
        raise InvalidInput(f"spec.memory_mb must be at least {MIN_MEMORY_MB} MiB, not {spec['memory_mb']}",
                           field="spec.memory_mb")
    return {
        "node_name": node, "vm_id": int(vmid), "cores": int(spec.get("cores", 1)),
        "memory_mb": int(spec.get("memory_mb", 1024)), "networks": _networks(spec),
        "ssh_keys": list(spec.get("ssh_keys") or []), "started": spec.get("power", "running") == "running",
        "description": f"managed by controlplane: {obj.kind.name} {obj.id}",
    }


def container_template(image: str) -> str:
    """The template volume of a container image name."""
    if ":vztmpl/" in image:
        return image
    if image in CONTAINER_IMAGES:
        return CONTAINER_IMAGES[image]
    raise InvalidInput(f"unknown container image {image!r}: use one of {', '.join(CONTAINER_IMAGES)} "
                       "or a template volume like local:vztmpl/<file>", field="spec.image")


def module_variables(obj: ManagedObject, vmid: int, node: str, *, agent_timeout: float | None = None
                     ) -> dict[str, Any]:
    """The module variables for ``obj`` placed on ``node`` as ``vmid``; a VM's reads wait at most
    ``agent_timeout`` seconds for its guest agent to report an address (the module's default otherwise)."""
    spec = obj.spec
    disks = spec.get("disks") or [{"size_gb": 8}]
    variables = _common(obj, vmid, node)
    image = str(spec.get("image", ""))
    if obj.kind.name == "VirtualMachine":
        variables.update(name=obj.name, agent_enabled=True,
                         disks=[{"size_gb": int(d["size_gb"]), "storage": d.get("storage", "local-lvm")}
                                for d in disks])
        if image.startswith("template:"):
            variables["clone_vm_id"] = int(image.split(":", 1)[1])
        elif image:
            variables["description"] += f" (image {image})"
        if spec.get("user"):
            variables["cloud_init_user"] = spec["user"]
        if agent_timeout is not None:
            variables["agent_timeout"] = f"{max(1, int(agent_timeout))}s"
        return variables
    template = container_template(image)
    os_type = next((o for o in OS_TYPES if template.split("/")[-1].startswith(o)), "unmanaged")
    variables.update(hostname=obj.name, template_file_id=template, os_type=os_type,
                     disk={"size_gb": int(disks[0]["size_gb"]), "storage": disks[0].get("storage", "local-lvm")})
    return variables


def storages_of(spec: dict[str, Any]) -> frozenset[str]:
    """Every storage the guest's disks need."""
    return frozenset(str(d.get("storage", "local-lvm")) for d in (spec.get("disks") or [{}]))
