"""``ansible-playbook -i controlplane.yml playbooks/site.yml`` over real SSH to a confined sshd test host.

The guest's address is the one the Proxmox simulator reports for it (through the qemu guest agent API),
copied into the database row's status as the reconciler does; the inventory plugin reads it from there.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

from controlplane.db.embedded import DatabaseUrls
from controlplane.pvesim import Simulator
from tests.fixtures.pvesim import SimClient
from tests.fixtures.sshd import SshHost, SshKeyPair
from tests.integration.ansible.runner import ansible_env, run
from tests.integration.ansible.seed import GuestRow, seed

RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def _reported_ip(sim: Simulator, node: str, vmid: int) -> str:
    """The guest's IPv4 as a client of the Proxmox API sees it (qemu guest agent)."""
    data = SimClient(sim).data("GET", f"/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces")
    for iface in data["result"]:
        for addr in iface.get("ip-addresses", []):
            if addr["ip-address-type"] == "ipv4" and not addr["ip-address"].startswith("127.0.0.1"):
                return addr["ip-address"]
    raise AssertionError(f"no IPv4 reported for {vmid}: {data}")


def _recap(output: str) -> dict[str, tuple[int, int, int, int]]:
    return {m[1]: (int(m[2]), int(m[3]), int(m[4]), int(m[5])) for m in RECAP.finditer(output)}


def ssh_env(host: SshHost, keys: SshKeyPair, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Ansible settings to reach test hosts as root with the session key, checking the host key strictly."""
    return ansible_env(
        ANSIBLE_REMOTE_USER="root", ANSIBLE_PRIVATE_KEY_FILE=str(keys.private_key_file),
        ANSIBLE_SSH_ARGS=f"-o UserKnownHostsFile={host.known_hosts} -o StrictHostKeyChecking=yes "
                         "-o ControlMaster=auto -o ControlPersist=30s",
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cp"), **extra,
    )


def test_site_playbook_configures_the_guest_then_changes_nothing(
    database: DatabaseUrls, ssh_host: SshHost, ssh_keys: SshKeyPair, pvesim_factory, tmp_path: Path
) -> None:
    sim = pvesim_factory(nodes=1, guests=1)
    guest = next(iter(sim.state.guests_on("pve1", "qemu")))
    sim.state.start_guest(guest.vmid)
    sim.set_guest_ip(guest.vmid, ssh_host.address)
    user = f"cpt{uuid.uuid4().hex[:8]}"
    user_key = ssh_keys.public_line
    seed(database.owner, [GuestRow(
        "web-1", vmid=guest.vmid, node="pve1", ipv4=_reported_ip(sim, "pve1", guest.vmid),
        configure={"playbook": "site.yml", "vars": {
            "baseline_users": [{"name": user, "ssh_keys": [user_key]}],
            "baseline_timezone": "Europe/Berlin", "baseline_packages": ["openssh-server"], "connection_timeout": 30,
        }},
    )])
    env = ssh_env(ssh_host, ssh_keys, tmp_path, CONTROLPLANE_DATABASE_URL=database.owner)

    first = run("ansible-playbook", "-i", "controlplane.yml", "playbooks/site.yml", env=env)
    _ok, changed, unreachable, failed = _recap(first.stdout)["web-1.shop.acme"]
    assert changed >= 5 and unreachable == failed == 0, first.stdout
    assert ssh_host.in_namespace("hostname").strip() == "web-1"
    assert (ssh_host.etc / "hostname").read_text().strip() == "web-1"
    assert f"\n{user}:" in (ssh_host.etc / "passwd").read_text()
    assert (ssh_host.home / user / ".ssh" / "authorized_keys").read_text() == user_key + "\n"
    assert (ssh_host.etc / "localtime").readlink() == Path("/usr/share/zoneinfo/Europe/Berlin")
    assert Path("/etc/localtime").readlink() != Path("/usr/share/zoneinfo/Europe/Berlin")  # confined
    assert f"\n{user}:" not in Path("/etc/passwd").read_text()

    # The new user can log in with its key.
    login = subprocess.run(
        ["ssh", "-i", str(ssh_keys.private_key_file), "-o", f"UserKnownHostsFile={ssh_host.known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"{user}@{ssh_host.address}", "id -un"],
        capture_output=True, text=True, timeout=60,
    )
    assert login.stdout.strip() == user, login.stderr

    second = run("ansible-playbook", "-i", "controlplane.yml", "playbooks/site.yml", env=env)
    assert _recap(second.stdout)["web-1.shop.acme"][1:] == (0, 0, 0), second.stdout
